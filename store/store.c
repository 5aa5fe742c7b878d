/*
 * The backend-neutral half of the store: picks a backend from the spec,
 * checks arguments once for all backends, and frees what they hand out.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "store.h"
#include "store_backend.h"
#include "text.h"

static const char *const store_err_names[] = {
#define STORE_ERR_NAME(name, str) str,
	STORE_ERRORS(STORE_ERR_NAME)
#undef STORE_ERR_NAME
};

const char *
store_err_str(store_err_t err)
{
	if ((size_t)err >= sizeof(store_err_names) / sizeof(store_err_names[0]))
		return "unknown_error";
	return store_err_names[err];
}

/*
 * Schemes, tried in order; a spec matching none is a SQLite path.  A
 * PostgreSQL URI goes to libpq whole (its own parser, its own options).
 */
static const struct {
	const char *prefix;
	int strip;			/* hand the backend the rest only */
	store_err_t (*open)(const char *, store_t **, char *, size_t);
} store_schemes[] = {
	{ "sqlite:", 1, store_sqlite_open },
	{ "postgresql://", 0, store_pg_open },
	{ "postgres://", 0, store_pg_open },
};

store_err_t
store_open_why(const char *spec, store_t **out, char *why, size_t whylen)
{
	char none[1];

	if (why == NULL || whylen == 0) {
		why = none;
		whylen = sizeof(none);
	}
	why[0] = '\0';
	if (out == NULL)
		return STORE_ERR_INVALID;
	*out = NULL;
	if (spec == NULL || *spec == '\0')
		return STORE_ERR_INVALID;
	for (size_t i = 0; i < sizeof(store_schemes) / sizeof(store_schemes[0]); i++) {
		size_t n = strlen(store_schemes[i].prefix);
		const char *target = spec;

		if (strncmp(spec, store_schemes[i].prefix, n) != 0)
			continue;
		if (store_schemes[i].open == NULL)
			return STORE_ERR_UNSUPPORTED;
		if (store_schemes[i].strip)
			target += n;
		if (*target == '\0')
			return STORE_ERR_INVALID;
		return store_schemes[i].open(target, out, why, whylen);
	}
	return store_sqlite_open(spec, out, why, whylen);
}

static int
store_spec_is_pg(const char *spec)
{
	return spec != NULL && (strncmp(spec, "postgresql://", 13) == 0 ||
	    strncmp(spec, "postgres://", 11) == 0);
}

void
store_spec_display(const char *spec, char *out, size_t outlen)
{
	if (outlen == 0)
		return;
	if (store_spec_is_pg(spec))
		(void)store_pg_display(spec, out, outlen);
	else
		snprintf(out, outlen, "%s", spec != NULL ? spec : "");
}

int
store_spec_has_password(const char *spec)
{
	char shown[8];

	return store_spec_is_pg(spec) && store_pg_display(spec, shown, sizeof(shown));
}

store_err_t
store_open(const char *spec, store_t **out)
{
	return store_open_why(spec, out, NULL, 0);
}

store_err_t
store_set_busy_timeout(store_t *st, int ms)
{
	if (st == NULL || ms < 0)
		return STORE_ERR_INVALID;
	return st->ops->set_busy_timeout(st, ms);
}

store_err_t
store_set_cache_kib(store_t *st, int kib)
{
	if (st == NULL || kib < 64)
		return STORE_ERR_INVALID;
	return st->ops->set_cache_kib != NULL ? st->ops->set_cache_kib(st, kib) :
	    STORE_ERR_UNSUPPORTED;
}

store_err_t
store_set_lazy_commit(store_t *st, int on)
{
	if (st == NULL)
		return STORE_ERR_INVALID;
	return st->ops->set_lazy_commit != NULL ? st->ops->set_lazy_commit(st, on) :
	    STORE_ERR_UNSUPPORTED;
}

/* s: min to max lower-case hex digits, nothing else. */
static int
lower_hex(const char *s, size_t min, size_t max)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= min && n <= max && strspn(s, "0123456789abcdef") == n;
}

store_err_t
store_set_instance(store_t *st, const char *id)
{
	if (st == NULL || !lower_hex(id, 1, STORE_INSTANCE_MAX))
		return STORE_ERR_INVALID;
	return st->ops->set_instance != NULL ? st->ops->set_instance(st, id) :
	    STORE_ERR_UNSUPPORTED;
}

const char *
store_errmsg(store_t *st)
{
	return st != NULL ? st->ops->errmsg(st) : "no store";
}

void
store_errmsg_clear(store_t *st)
{
	if (st != NULL && st->ops->errmsg_clear != NULL)
		st->ops->errmsg_clear(st);
}

const char *
store_errmsg_new(store_t *st)
{
	if (st == NULL)
		return NULL;
	return st->ops->errmsg_new != NULL ? st->ops->errmsg_new(st) : st->ops->errmsg(st);
}

store_err_t
store_txn_begin(store_t *st)
{
	return st != NULL ? st->ops->txn_begin(st) : STORE_ERR_INVALID;
}

store_err_t
store_txn_commit(store_t *st)
{
	return st != NULL ? st->ops->txn_commit(st) : STORE_ERR_INVALID;
}

void
store_txn_rollback(store_t *st)
{
	if (st != NULL)
		st->ops->txn_rollback(st);
}

store_err_t
store_txn_mark(store_t *st)
{
	return st != NULL ? st->ops->txn_mark(st) : STORE_ERR_INVALID;
}

void
store_txn_mark_end(store_t *st, int keep)
{
	if (st != NULL)
		st->ops->txn_mark_end(st, keep != 0);
}

void
store_close(store_t *st)
{
	if (st != NULL)
		st->ops->close(st);
}

int
store_schema_version(const store_t *st)
{
	if (st == NULL)
		return -1;
	return st->ops->schema_version(st);
}

/* ------------------------------------------------------------------ */
/* Argument checks shared by every backend                            */
/* ------------------------------------------------------------------ */

/*
 * Text shown on terminals and in logs: the shared rule (common/text.h),
 * so a nickname can hold no control or bidi-override character.
 */
static int
valid_text(const char *s, size_t min, size_t max)
{
	return text_is_safe(s, min, max);
}

static int
valid_user(const char *user)
{
	return valid_text(user, 1, STORE_USER_MAX);
}

static int
valid_id(const unsigned char *id, size_t id_len)
{
	return id != NULL && id_len >= 1 && id_len <= STORE_CRED_ID_MAX;
}

/*
 * A word of printable ASCII without spaces and without any of `not`: the
 * keys a window is matched on (a PAM service, an address), compared byte
 * for byte, so nothing that could look like something else.
 */
static int
valid_word(const char *s, size_t min, size_t max, const char *not)
{
	size_t n = s != NULL ? strnlen(s, max + 1) : 0;

	if (s == NULL || n < min || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= ' ' || c > '~' || strchr(not, c) != NULL)
			return 0;
	}
	return 1;
}

/* An SSH key as OpenSSH shows it ("SHA256:" and 43 base64 characters), or "". */
static int
valid_client_key(const char *s)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789+/";

	if (s == NULL)
		return 0;
	if (*s == '\0')
		return 1;
	return strncmp(s, "SHA256:", 7) == 0 && strlen(s + 7) == 43 &&
	    strspn(s + 7, b64) == 43;
}

static int
valid_nickname(const char *nickname)
{
	return nickname == NULL || valid_text(nickname, 0, STORE_NICKNAME_MAX);
}

static int
valid_attestation(const char *att)
{
	static const char *const kinds[] = { "none", "self", "trusted", "untrusted" };

	if (att == NULL)
		return 0;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(att, kinds[i]) == 0)
			return 1;
	return 0;
}

static int
valid_cred(const struct store_credential *c)
{
	return c != NULL && valid_user(c->user) && valid_id(c->id, c->id_len) &&
	    c->pubkey_cose != NULL && c->pubkey_len > 0 &&
	    valid_text(c->fmt, 1, STORE_FMT_MAX) &&
	    valid_attestation(c->attestation) && valid_nickname(c->nickname) &&
	    c->created >= 0 && c->last_used >= 0;
}

static int
valid_event(const struct store_event *ev)
{
	/*
	 * Only what the log cannot do without: an event may name a user that
	 * does not exist (or is not even a valid name), and that is exactly
	 * what a failed login must be able to record.
	 */
	return ev != NULL && ev->event != NULL && *ev->event != '\0' &&
	    ev->verdict != NULL && *ev->verdict != '\0' && ev->time >= 0;
}

/* ------------------------------------------------------------------ */
/* Credentials                                                        */
/* ------------------------------------------------------------------ */

store_err_t
store_cred_add(store_t *st, const struct store_credential *cred)
{
	if (st == NULL || !valid_cred(cred))
		return STORE_ERR_INVALID;
	return st->ops->cred_add(st, cred);
}

store_err_t
store_cred_register(store_t *st, const struct store_credential *cred,
    const unsigned char handle[STORE_USER_HANDLE_LEN], int consume_enrollment,
    unsigned max_per_user, int64_t now)
{
	if (st == NULL || !valid_cred(cred) || handle == NULL)
		return STORE_ERR_INVALID;
	return st->ops->cred_register(st, cred, handle, consume_enrollment != 0,
	    max_per_user, now);
}

store_err_t
store_cred_get(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || !valid_id(id, id_len))
		return STORE_ERR_INVALID;
	return st->ops->cred_get(st, id, id_len, out);
}

store_err_t
store_cred_get_for_login(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out, unsigned char handle[STORE_USER_HANDLE_LEN])
{
	if (out == NULL || handle == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || !valid_id(id, id_len))
		return STORE_ERR_INVALID;
	return st->ops->cred_get_for_login(st, id, id_len, out, handle);
}

store_err_t
store_cred_list_user(store_t *st, const char *user,
    struct store_credential_list *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || !valid_user(user))
		return STORE_ERR_INVALID;
	return st->ops->cred_list_user(st, user, out);
}

store_err_t
store_cred_list_all(store_t *st, struct store_credential_list *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return STORE_ERR_INVALID;
	return st->ops->cred_list_user(st, NULL, out);
}

store_err_t
store_cred_page(store_t *st, const char *user, int64_t after, size_t limit,
    struct store_credential_list *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || (user != NULL && !valid_user(user)) || after < 0 || limit == 0)
		return STORE_ERR_INVALID;
	return st->ops->cred_page(st, user, after, limit, out);
}

static int
valid_hex_prefix(const char *p)
{
	return lower_hex(p, 1, STORE_ID_HASH_LEN);
}

store_err_t
store_cred_find(store_t *st, const char *user, const char *hex_prefix,
    struct store_credential *out, size_t *matches)
{
	if (out == NULL || matches == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	*matches = 0;
	if (st == NULL || (user != NULL && !valid_user(user)) || !valid_hex_prefix(hex_prefix))
		return STORE_ERR_INVALID;
	return st->ops->cred_find(st, user, hex_prefix, out, matches);
}

void
store_id_hash(const unsigned char *id, size_t len, char out[STORE_ID_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	memset(md, 0, sizeof(md));
	EVP_Digest(id, len, md, &mdlen, EVP_sha256(), NULL);
	for (size_t i = 0; i < STORE_ID_HASH_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[STORE_ID_HASH_LEN] = '\0';
}

store_err_t
store_cred_count_user(store_t *st, const char *user, size_t *count)
{
	if (count == NULL)
		return STORE_ERR_INVALID;
	*count = 0;
	if (st == NULL || !valid_user(user))
		return STORE_ERR_INVALID;
	return st->ops->cred_count_user(st, user, count);
}

store_err_t
store_cred_below_bound(store_t *st, const char *user, unsigned max)
{
	size_t n = 0;
	store_err_t err;

	if (max == 0)
		return STORE_OK;
	if ((err = store_cred_count_user(st, user, &n)) != STORE_OK)
		return err;
	return n < max ? STORE_OK : STORE_ERR_LIMIT;
}

store_err_t
store_cred_record_use(store_t *st, const unsigned char *id, size_t id_len,
    uint32_t sign_count, int must_grow, int bs, int64_t when, const char *addr)
{
	if (st == NULL || !valid_id(id, id_len) || when < 0)
		return STORE_ERR_INVALID;
	return st->ops->cred_record_use(st, id, id_len, sign_count, must_grow != 0,
	    bs != 0, when, addr);
}

store_err_t
store_login_approve(store_t *st, const unsigned char *row_hash, int64_t now,
    const struct store_cred_use *use, const struct store_event *ev, int *failed)
{
	store_err_t err;

	if (failed == NULL)
		return STORE_ERR_INVALID;
	*failed = 0;
	if (st == NULL || use == NULL || !valid_id(use->id, use->id_len) || use->when < 0 ||
	    !valid_event(ev) || now < 0)
		return STORE_ERR_INVALID;
	if (row_hash != NULL && st->ops->ceremony_move == NULL)
		return STORE_ERR_UNSUPPORTED;
	if (st->ops->login_approve != NULL)
		return st->ops->login_approve(st, row_hash, now, use, ev, failed);
	if (row_hash != NULL && (err = st->ops->ceremony_move(st, row_hash, "pending",
	    "approved", NULL, now)) != STORE_OK)
		return err;
	*failed = 1;
	if ((err = store_cred_record_use(st, use->id, use->id_len, use->sign_count,
	    use->must_grow, use->bs, use->when, use->addr)) != STORE_OK)
		return err;
	*failed = 2;
	if ((err = st->ops->event_add(st, ev)) != STORE_OK)
		return err;
	*failed = 0;
	return STORE_OK;
}

int
store_nickname_valid(const char *nickname)
{
	return nickname != NULL && valid_nickname(nickname);
}

store_err_t
store_cred_rename(store_t *st, const unsigned char *id, size_t id_len,
    const char *nickname)
{
	if (st == NULL || !valid_id(id, id_len) || !valid_nickname(nickname))
		return STORE_ERR_INVALID;
	return st->ops->cred_rename(st, id, id_len, nickname);
}

store_err_t
store_cred_remove(store_t *st, const unsigned char *id, size_t id_len)
{
	if (st == NULL || !valid_id(id, id_len))
		return STORE_ERR_INVALID;
	return st->ops->cred_remove(st, id, id_len, 0);
}

store_err_t
store_cred_remove_not_last(store_t *st, const unsigned char *id, size_t id_len)
{
	if (st == NULL || !valid_id(id, id_len))
		return STORE_ERR_INVALID;
	return st->ops->cred_remove(st, id, id_len, 1);
}

void
store_credential_free(struct store_credential *cred)
{
	if (cred == NULL)
		return;
	free(cred->user);
	free(cred->id);
	free(cred->pubkey_cose);
	free(cred->fmt);
	free(cred->attestation);
	free(cred->nickname);
	free(cred->last_addr);
	memset(cred, 0, sizeof(*cred));
}

void
store_credential_list_free(struct store_credential_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->count; i++)
		store_credential_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* ------------------------------------------------------------------ */
/* Users, enrollments, events                                         */
/* ------------------------------------------------------------------ */

store_err_t
store_user_handle(store_t *st, const char *user, int create,
    unsigned char out[STORE_USER_HANDLE_LEN])
{
	if (st == NULL || !valid_user(user) || out == NULL)
		return STORE_ERR_INVALID;
	return st->ops->user_handle(st, user, create != 0, out);
}

/* n bytes from the kernel's generator (getrandom(2)). */
static store_err_t
random_fill(unsigned char *out, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = getrandom(out + got, len - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return STORE_ERR_IO;
		}
		got += (size_t)n;
	}
	return STORE_OK;
}

/* n random bytes as 2n lower-case hex digits, then a NUL (out: 2n + 1). */
static store_err_t
random_hex(char *out, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[STORE_INSTANCE_MAX / 2];
	store_err_t err;

	if (n > sizeof(r))
		return STORE_ERR_INVALID;
	if ((err = random_fill(r, n)) != STORE_OK)
		return err;
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[2 * n] = '\0';
	return STORE_OK;
}

store_err_t
store_instance_new(char out[STORE_INSTANCE_MAX + 1])
{
	return random_hex(out, STORE_INSTANCE_MAX / 2);
}

store_err_t
store_random_handle(unsigned char out[STORE_USER_HANDLE_LEN])
{
	return random_fill(out, STORE_USER_HANDLE_LEN);
}

store_err_t
store_enroll_add(store_t *st, const char *user, int64_t expires, const char *by)
{
	if (st == NULL || !valid_user(user))
		return STORE_ERR_INVALID;
	return st->ops->enroll_add(st, user, expires, by);
}

store_err_t
store_enroll_pending(store_t *st, const char *user, int64_t now, int *pending)
{
	if (pending == NULL)
		return STORE_ERR_INVALID;
	*pending = 0;
	if (st == NULL || !valid_user(user))
		return STORE_ERR_INVALID;
	return st->ops->enroll_pending(st, user, now, pending);
}

store_err_t
store_enroll_remove(store_t *st, const char *user)
{
	if (st == NULL || !valid_user(user))
		return STORE_ERR_INVALID;
	return st->ops->enroll_remove(st, user);
}

store_err_t
store_event_add(store_t *st, const struct store_event *ev)
{
	if (st == NULL || !valid_event(ev))
		return STORE_ERR_INVALID;
	return st->ops->event_add(st, ev);
}

store_err_t
store_event_list(store_t *st, const char *user, size_t limit, int64_t before_id,
    struct store_event_list *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || before_id < 0)
		return STORE_ERR_INVALID;
	if (limit == 0)
		return STORE_OK;
	return st->ops->event_list(st, user, limit, before_id, out);
}

store_err_t
store_event_prune(store_t *st, int64_t before_time, uint64_t max_rows,
    size_t batch, size_t *removed)
{
	if (removed == NULL)
		return STORE_ERR_INVALID;
	*removed = 0;
	if (st == NULL || batch == 0)
		return STORE_ERR_INVALID;
	return st->ops->event_prune(st, before_time, max_rows, batch, removed);
}

store_err_t
store_event_count(store_t *st, uint64_t *count)
{
	if (count == NULL)
		return STORE_ERR_INVALID;
	*count = 0;
	if (st == NULL)
		return STORE_ERR_INVALID;
	return st->ops->event_count(st, count);
}

void
store_event_list_free(struct store_event_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->count; i++) {
		struct store_event *ev = &list->items[i];

		/* The list owns these; const only tells callers not to. */
		free((char *)ev->event);
		free((char *)ev->user);
		free((char *)ev->addr);
		free((char *)ev->verdict);
		free((char *)ev->reason);
		free((char *)ev->detail);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

/* ------------------------------------------------------------------ */
/* Ceremonies (a fleet's shared state; PostgreSQL only)               */
/* ------------------------------------------------------------------ */

/* The control protocol's state names (control/ctl_codes.h). */
static int
valid_state(const char *s)
{
	static const char *const states[] = { "pending", "approved", "used", "denied",
	    "failed", "expired", "cancelled" };

	for (size_t i = 0; s != NULL && i < sizeof(states) / sizeof(states[0]); i++)
		if (strcmp(s, states[i]) == 0)
			return 1;
	return 0;
}

/* A reason is a stable code: lower-case letters, digits and '_'. */
static int
valid_code(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return n >= 1 && n <= 64 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int
valid_ceremony(const struct store_ceremony *c)
{
	return c != NULL && valid_user(c->user) && valid_text(c->hostname, 1, 253) &&
	    valid_text(c->rhost, 0, 255) && valid_text(c->service, 0, 64) &&
	    valid_text(c->addr_key, 0, 255) && valid_text(c->code, 1, STORE_CODE_MAX - 1) &&
	    (c->kind == 0 || c->kind == 1) && c->created >= 0 && c->expires > c->created &&
	    c->reuse >= 0 && c->reuse <= STORE_REUSE_MAX &&
	    strnlen(c->client_key, sizeof(c->client_key)) < sizeof(c->client_key) &&
	    valid_client_key(c->client_key);
}

#define CEREMONY_OP(st, op) ((st) != NULL && (st)->ops->op != NULL)

store_err_t
store_ceremony_add(store_t *st, const struct store_ceremony *c, char *refusal,
    size_t refusal_len)
{
	if (refusal != NULL && refusal_len > 0)
		refusal[0] = '\0';
	if (st == NULL || !valid_ceremony(c))
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, ceremony_add))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->ceremony_add(st, c, refusal, refusal_len);
}

store_err_t
store_ceremony_get(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    struct store_ceremony *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || hash == NULL)
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, ceremony_get))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->ceremony_get(st, hash, out);
}

store_err_t
store_ceremony_move(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const char *from, const char *to, const char *reason, int64_t now)
{
	if (st == NULL || hash == NULL || !valid_state(from) || !valid_state(to) ||
	    strcmp(from, to) == 0 || (reason != NULL && !valid_code(reason)) || now < 0)
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, ceremony_move))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->ceremony_move(st, hash, from, to, reason, now);
}

store_err_t
store_ceremony_set_handle(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const unsigned char handle[STORE_USER_HANDLE_LEN], unsigned char out[STORE_USER_HANDLE_LEN])
{
	if (st == NULL || hash == NULL || handle == NULL || out == NULL)
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, ceremony_set_handle))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->ceremony_set_handle(st, hash, handle, out);
}

store_err_t
store_ceremony_sweep(store_t *st, int64_t now, int64_t forget_before, size_t batch,
    size_t *expired, size_t *forgotten)
{
	if (expired == NULL || forgotten == NULL)
		return STORE_ERR_INVALID;
	*expired = *forgotten = 0;
	if (st == NULL || batch == 0 || batch > INT32_MAX)
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, ceremony_sweep))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->ceremony_sweep(st, now, forget_before, batch, expired, forgotten);
}

void
store_ceremony_free(struct store_ceremony *c)
{
	if (c == NULL)
		return;
	free(c->host_role);
	free(c->hostname);
	free(c->reason);
	free(c->user);
	free(c->rhost);
	free(c->service);
	free(c->addr_key);
	free(c->requester);
	explicit_bzero(c, sizeof(*c));
}

store_err_t
store_ceremony_listen(store_t *st)
{
	if (st == NULL)
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, ceremony_listen))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->ceremony_listen(st);
}

int
store_notice_fd(store_t *st)
{
	return CEREMONY_OP(st, notice_fd) ? st->ops->notice_fd(st) : -1;
}

store_err_t
store_set_announcer(store_t *st, store_t *via)
{
	if (st == NULL || via == NULL)
		return STORE_ERR_INVALID;
	return CEREMONY_OP(st, set_announcer) ? st->ops->set_announcer(st, via) :
	    STORE_ERR_UNSUPPORTED;
}

store_err_t
store_announce(store_t *st)
{
	if (st == NULL)
		return STORE_ERR_INVALID;
	return CEREMONY_OP(st, announce) ? st->ops->announce(st) : STORE_ERR_UNSUPPORTED;
}

void
store_announce_counts(store_t *st, uint64_t *sent, uint64_t *dropped)
{
	*sent = *dropped = 0;
	if (st != NULL && CEREMONY_OP(st, announce_counts))
		st->ops->announce_counts(st, sent, dropped);
}

store_err_t
store_notices(store_t *st, void (*fn)(const unsigned char[STORE_TOKEN_HASH_LEN], void *),
    void *arg)
{
	if (st == NULL || fn == NULL)
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, notices))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->notices(st, fn, arg);
}

/* ------------------------------------------------------------------ */
/* Re-approval windows                                                */
/* ------------------------------------------------------------------ */

/* A PAM service name: it is a file name under /etc/pam.d. */
static int
valid_service(const char *s)
{
	return valid_word(s, 1, 64, "/");
}

/* An address as PAM_RHOST gives it; a window needs one. */
static int
valid_rhost(const char *s)
{
	return valid_word(s, 1, 255, "");
}

int
store_window_client_ok(const char *service, const char *rhost)
{
	return valid_service(service) && valid_rhost(rhost);
}

int
store_window_id_ok(const char *s)
{
	return lower_hex(s, STORE_WINDOW_ID_LEN, STORE_WINDOW_ID_LEN);
}

/* The approval's token prefix: printable ASCII, spaces included. */
static int
valid_source(const char *s)
{
	size_t n = s != NULL ? strnlen(s, STORE_SOURCE_MAX + 1) : 0;

	if (n < 1 || n > STORE_SOURCE_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < ' ' || (unsigned char)s[i] > '~')
			return 0;
	return 1;
}

static int
valid_window(const struct store_window *w)
{
	return w != NULL && valid_user(w->user) &&
	    store_window_client_ok(w->service, w->rhost) && valid_client_key(w->client_key) &&
	    text_hostname_chars(w->hostname, 253) && valid_source(w->source) &&
	    valid_id(w->cred_id, w->cred_id_len) && w->opened >= 0 &&
	    w->expires > w->opened;
}

/* The id is made here, so no backend (and no caller) can choose one. */
store_err_t
store_window_open(store_t *st, struct store_window *w)
{
	store_err_t err;

	if (st == NULL || !valid_window(w))
		return STORE_ERR_INVALID;
	if ((err = random_hex(w->id, STORE_WINDOW_ID_LEN / 2)) != STORE_OK)
		return err;
	if ((err = st->ops->window_open(st, w)) != STORE_OK)
		w->id[0] = '\0';
	return err;
}

store_err_t
store_window_find(store_t *st, const char *user, const char *service, const char *rhost,
    const char *client_key, const char *hostname, int any_host, int64_t now,
    int64_t opened_after, struct store_window *out)
{
	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || !valid_user(user) || !store_window_client_ok(service, rhost) ||
	    !valid_client_key(client_key) ||
	    !text_hostname_chars(hostname, 253) || now < 0)
		return STORE_ERR_INVALID;
	return st->ops->window_find(st, user, service, rhost, client_key, hostname,
	    any_host != 0, now, opened_after, out);
}

store_err_t
store_window_use(store_t *st, const char *id, int64_t now)
{
	if (st == NULL || !store_window_id_ok(id) || now < 0)
		return STORE_ERR_INVALID;
	return st->ops->window_use(st, id, now);
}

store_err_t
store_window_page(store_t *st, const char *user, int64_t now,
    const struct store_window_key *after, size_t limit, struct store_window_list *out)
{
	/* the first page starts after every key a window can have */
	static const struct store_window_key first = { INT64_MIN, "" };

	if (out == NULL)
		return STORE_ERR_INVALID;
	memset(out, 0, sizeof(*out));
	if (st == NULL || (user != NULL && !valid_user(user)) || now < 0 ||
	    (uint64_t)limit > (uint64_t)INT64_MAX || (after != NULL && !store_window_id_ok(after->id)))
		return STORE_ERR_INVALID;
	return st->ops->window_page(st, user, now, after != NULL ? after : &first,
	    limit == 0 ? INT64_MAX : (int64_t)limit, out);
}

store_err_t
store_window_revoke(store_t *st, const char *id, const char *user, size_t *n)
{
	if (n == NULL)
		return STORE_ERR_INVALID;
	*n = 0;
	if (st == NULL || (id != NULL && !store_window_id_ok(id)) ||
	    (user != NULL && !valid_user(user)))
		return STORE_ERR_INVALID;
	return st->ops->window_revoke(st, id, user, n);
}

store_err_t
store_window_end_source(store_t *st, const char *user, const char *hostname,
    const char *source, size_t *n)
{
	if (n == NULL)
		return STORE_ERR_INVALID;
	*n = 0;
	if (st == NULL || !valid_user(user) || !text_hostname_chars(hostname, 253) ||
	    !valid_source(source))
		return STORE_ERR_INVALID;
	return st->ops->window_end_source(st, user, hostname, source, n);
}

void
store_window_free(struct store_window *w)
{
	if (w == NULL)
		return;
	free(w->user);
	free(w->service);
	free(w->rhost);
	free(w->client_key);
	free(w->hostname);
	free(w->source);
	free(w->cred_id);
	memset(w, 0, sizeof(*w));
}

void
store_window_list_free(struct store_window_list *list)
{
	if (list == NULL)
		return;
	for (size_t i = 0; i < list->count; i++)
		store_window_free(&list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

store_err_t
store_exec_script(store_t *st, const char *sql, char *warn, size_t warnlen)
{
	if (warn == NULL || warnlen == 0)
		return STORE_ERR_INVALID;
	warn[0] = '\0';
	if (st == NULL || sql == NULL || *sql == '\0')
		return STORE_ERR_INVALID;
	if (!CEREMONY_OP(st, exec_script))
		return STORE_ERR_UNSUPPORTED;
	return st->ops->exec_script(st, sql, warn, warnlen);
}
