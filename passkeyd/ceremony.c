/*
 * The ceremony table: a fixed array of hash buckets keyed by token, plus a
 * list in creation order for sweeping.  Tokens are random, so an attacker
 * who can only guess tokens cannot lengthen a chain.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ceremony.h"
#include "rp_b64url.h"

#define BUCKETS 65536u

struct ceremony_table {
	struct ceremony *bucket[BUCKETS];
	struct ceremony *head, *tail;
	size_t count, pending;
	struct ceremony_limits limits;
};

static const char code_alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

static int
random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static unsigned
bucket_of(const char *token)
{
	uint32_t h = 2166136261u;

	for (const char *p = token; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	return h & (BUCKETS - 1);
}

struct ceremony_table *
ceremony_table_new(struct ceremony_limits limits)
{
	struct ceremony_table *t = calloc(1, sizeof(*t));

	if (t != NULL)
		t->limits = limits;
	return t;
}

static void
ceremony_free(struct ceremony *c)
{
	free(c->user);
	free(c->rhost);
	free(c->service);
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static void
unlink_ceremony(struct ceremony_table *t, struct ceremony *c)
{
	struct ceremony **pp = &t->bucket[bucket_of(c->token)];

	while (*pp != c)
		pp = &(*pp)->hash_next;
	*pp = c->hash_next;
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		t->tail = c->prev;
	t->count--;
	if (c->state == CEREMONY_PENDING)
		t->pending--;
}

void
ceremony_table_free(struct ceremony_table *t)
{
	struct ceremony *c, *next;

	if (t == NULL)
		return;
	for (c = t->head; c != NULL; c = next) {
		next = c->next;
		ceremony_free(c);
	}
	free(t);
}

static enum ceremony_refusal
check_limits(const struct ceremony_table *t, const char *user, const char *rhost)
{
	unsigned same_user = 0, same_addr = 0;

	if (t->pending >= t->limits.total)
		return CEREMONY_LIMIT_TOTAL;
	for (const struct ceremony *c = t->head; c != NULL; c = c->next) {
		if (c->state != CEREMONY_PENDING)
			continue;
		if (strcmp(c->user, user) == 0)
			same_user++;
		if (*rhost != '\0' && strcmp(c->rhost, rhost) == 0)
			same_addr++;
	}
	if (same_user >= t->limits.per_user)
		return CEREMONY_LIMIT_USER;
	if (same_addr >= t->limits.per_address)
		return CEREMONY_LIMIT_ADDRESS;
	return CEREMONY_OK;
}

static int
make_secrets(struct ceremony *c)
{
	uint8_t raw[CEREMONY_TOKEN_BYTES], code[6];

	if (random_bytes(raw, sizeof(raw)) != 0 ||
	    random_bytes(c->challenge, sizeof(c->challenge)) != 0 ||
	    random_bytes(code, sizeof(code)) != 0)
		return -1;
	rp_b64url_encode(raw, sizeof(raw), c->token);
	for (size_t i = 0, j = 0; i < 6; i++) {
		if (i == 3)
			c->code[j++] = '-';
		c->code[j++] = code_alphabet[code[i] & 31];
	}
	c->code[CEREMONY_CODE_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

enum ceremony_refusal
ceremony_begin(struct ceremony_table *t, enum ceremony_kind kind,
    const char *user, const char *rhost, const char *service, uid_t owner,
    time_t now, unsigned lifetime, struct ceremony **out)
{
	enum ceremony_refusal r;
	struct ceremony *c;
	unsigned b;

	*out = NULL;
	if ((r = check_limits(t, user, rhost)) != CEREMONY_OK)
		return r;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return CEREMONY_NO_MEMORY;
	c->user = strdup(user);
	c->rhost = strdup(rhost);
	c->service = strdup(service);
	if (c->user == NULL || c->rhost == NULL || c->service == NULL ||
	    make_secrets(c) != 0) {
		ceremony_free(c);
		return CEREMONY_NO_MEMORY;
	}
	/* 144 random bits make a clash unthinkable, but never alias one */
	if (ceremony_find(t, c->token) != NULL) {
		ceremony_free(c);
		return CEREMONY_NO_MEMORY;
	}
	c->kind = kind;
	c->state = CEREMONY_PENDING;
	c->owner_uid = owner;
	c->created = now;
	c->expires = now + (time_t)lifetime;
	b = bucket_of(c->token);
	c->hash_next = t->bucket[b];
	t->bucket[b] = c;
	c->prev = t->tail;
	if (t->tail)
		t->tail->next = c;
	else
		t->head = c;
	t->tail = c;
	t->count++;
	t->pending++;
	*out = c;
	return CEREMONY_OK;
}

int
ceremony_token_valid(const char *token)
{
	size_t n = strlen(token);

	if (n != CEREMONY_TOKEN_LEN)
		return 0;
	return strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") == n;
}

struct ceremony *
ceremony_find(struct ceremony_table *t, const char *token)
{
	struct ceremony *c;

	if (!ceremony_token_valid(token))
		return NULL;
	for (c = t->bucket[bucket_of(token)]; c != NULL; c = c->hash_next)
		if (strcmp(c->token, token) == 0)
			return c;
	return NULL;
}

void
ceremony_finish(struct ceremony_table *t, struct ceremony *c,
    enum ceremony_state state, const char *reason, time_t now)
{
	if (c->state == CEREMONY_PENDING && state != CEREMONY_PENDING)
		t->pending--;
	c->state = state;
	c->reason = reason;
	c->finished = now;
	/* the challenge is spent; nothing may verify against it again */
	explicit_bzero(c->challenge, sizeof(c->challenge));
}

void
ceremony_sweep(struct ceremony_table *t, time_t now,
    void (*on_expire)(struct ceremony *, void *), void *arg)
{
	struct ceremony *c, *next;
	for (c = t->head; c != NULL; c = next) {
		next = c->next;
		if (c->state == CEREMONY_PENDING && now >= c->expires) {
			ceremony_finish(t, c, CEREMONY_EXPIRED, "expired", now);
			if (on_expire)
				on_expire(c, arg);
		}
		if (c->state != CEREMONY_PENDING) {
			time_t end = c->finished > c->expires ? c->finished : c->expires;
			if (now >= end + CEREMONY_KEEP_FINAL) {
				unlink_ceremony(t, c);
				ceremony_free(c);
			}
		}
	}
	/* bound the memory of remembered final states too */
	for (c = t->head; c != NULL && t->count > 2 * (size_t)t->limits.total; c = next) {
		next = c->next;
		if (c->state != CEREMONY_PENDING) {
			unlink_ceremony(t, c);
			ceremony_free(c);
		}
	}
}

size_t
ceremony_pending_count(const struct ceremony_table *t)
{
	return t->pending;
}

size_t
ceremony_count(const struct ceremony_table *t)
{
	return t->count;
}

const char *
ceremony_state_str(enum ceremony_state s)
{
	static const char *names[] = { "pending", "approved", "used", "denied",
	    "failed", "expired", "cancelled" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "unknown";
}

const char *
ceremony_refusal_str(enum ceremony_refusal r)
{
	switch (r) {
	case CEREMONY_OK: return "ok";
	case CEREMONY_LIMIT_USER: return "limit_user";
	case CEREMONY_LIMIT_ADDRESS: return "limit_address";
	case CEREMONY_LIMIT_TOTAL: return "limit_total";
	default: return "internal_error";
	}
}
