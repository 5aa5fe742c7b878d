/*
 * The account names of unprivileged control callers, cached per uid
 * (account_names.h says why).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>

#include "account_names.h"
#include "ctl_text.h"

struct slot {
	int used;
	uid_t uid;
	int64_t at_ms;			/* when NSS answered */
	char name[CTL_USER_MAX + 1];	/* "" when it has none */
};

struct account_names {
	struct slot slots[ACCOUNT_NAMES_SLOTS];
	uint64_t lookups;
};

struct account_names *
account_names_new(void)
{
	return calloc(1, sizeof(struct account_names));
}

void
account_names_free(struct account_names *n)
{
	free(n);
}

static void
lookup(uid_t uid, char *out, size_t len)
{
	struct passwd pw, *res = NULL;
	char buf[1024];

	out[0] = '\0';
	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res != NULL &&
	    ctl_user_name_valid(res->pw_name))
		snprintf(out, len, "%s", res->pw_name);
}

_Static_assert(ACCOUNT_NAMES_SLOTS == 1 << 8, "slot_of takes the hash's top 8 bits");

/* Fibonacci hashing: consecutive uids (one site's accounts) spread out. */
static struct slot *
slot_of(struct account_names *n, uid_t uid)
{
	return &n->slots[(uint32_t)(uid * 2654435761u) >> 24];
}

void
account_names_get(struct account_names *n, uid_t uid, int64_t now_ms, char *out, size_t len)
{
	struct slot *s;

	if (n == NULL) {
		lookup(uid, out, len);
		return;
	}
	s = slot_of(n, uid);
	if (!s->used || s->uid != uid || now_ms - s->at_ms >= ACCOUNT_NAMES_TTL_S * 1000 ||
	    now_ms < s->at_ms) {
		*s = (struct slot){ .used = 1, .uid = uid, .at_ms = now_ms };
		lookup(uid, s->name, sizeof(s->name));
		n->lookups++;
	}
	snprintf(out, len, "%s", s->name);
}

uint64_t
account_names_lookups(const struct account_names *n)
{
	return n != NULL ? n->lookups : 0;
}
