/*
 * The ceremony table: a fixed array of hash buckets keyed by token, plus
 * lists for sweeping.  Tokens are random, so an attacker who can only
 * guess tokens cannot lengthen a chain.  Pending counts per user, address
 * and pair live in one countmap with a prefix per kind.
 *
 * The sweep must not walk every ceremony each second (100,000 pending
 * would hold the loop for milliseconds).  Ceremonies of the usual
 * lifetime (ceremony_limits.lifetime: logins, passkeyctl add) sit in one
 * list in creation order, which is also the order in which they expire
 * and are forgotten: the sweep expires from a cursor and forgets from the
 * head, and stops at the first that is not due.  Ceremonies of other
 * lifetimes (enrollment links, rare and root's only; adopted rows; logins
 * begun after a clock step back) sit in a second list that is walked
 * whole.  The bound on remembered ends covers both lists.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "addrkey.h"
#include "ceremony.h"
#include "countmap.h"
#include "rp_b64url.h"

#define BUCKETS 65536u

struct list {
	struct ceremony *head, *tail;
};

struct ceremony_table {
	struct ceremony *bucket[BUCKETS];
	struct ceremony **by_hash;	/* BUCKETS, by token hash; NULL: not kept */
	struct list usual;		/* the usual lifetime, in creation order */
	struct ceremony *expiry_cursor;	/* in usual: the first not yet past its expiry */
	struct list other;		/* other lifetimes */
	size_t count, pending;
	struct ceremony_limits limits;
	struct countmap *pending_by;	/* "u" user, "a" address, "p" user NUL address */
	void (*on_forget)(struct ceremony *, void *);	/* ceremony_table_on_forget */
	void *forget_arg;
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

void
ceremony_token_hash(const char *token, uint8_t out[CEREMONY_HASH_LEN])
{
	unsigned n = CEREMONY_HASH_LEN;

	if (EVP_Digest(token, strlen(token), out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, CEREMONY_HASH_LEN);	/* matches nothing a store holds */
}

static uint64_t
hash_key_of(const uint8_t hash[CEREMONY_HASH_LEN])
{
	uint64_t k;

	memcpy(&k, hash, sizeof(k));
	return k;
}

static unsigned
hash_bucket_of(uint64_t key)
{
	return (unsigned)(key & (BUCKETS - 1));
}

/* Into the indexes. */
static void
index_add(struct ceremony_table *t, struct ceremony *c)
{
	unsigned b = bucket_of(c->token);
	uint8_t hash[CEREMONY_HASH_LEN];

	c->hash_next = t->bucket[b];
	t->bucket[b] = c;
	if (t->by_hash == NULL)
		return;
	ceremony_token_hash(c->token, hash);
	c->hash_key = hash_key_of(hash);
	b = hash_bucket_of(c->hash_key);
	c->by_hash_next = t->by_hash[b];
	t->by_hash[b] = c;
}

int
ceremony_table_index_hashes(struct ceremony_table *t)
{
	if (t->by_hash == NULL && (t->by_hash = calloc(BUCKETS, sizeof(*t->by_hash))) == NULL)
		return -1;
	return 0;
}

struct ceremony_table *
ceremony_table_new(struct ceremony_limits limits)
{
	struct ceremony_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->limits = limits;
	if ((t->pending_by = countmap_new()) == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

/* The strings live in the same allocation, after the struct. */
static void
ceremony_free(struct ceremony *c)
{
	explicit_bzero(c, sizeof(*c));
	free(c);
}

/* Copies s after *at and returns the copy. */
static char *
put(char **at, const char *s, size_t n)
{
	char *p = *at;

	memcpy(p, s, n + 1);
	*at += n + 1;
	return p;
}

/* The three count keys of a (user, address); `which` is 'u', 'a' or 'p'. */
static size_t
count_key(char which, const char *user, const char *addr, char *buf, size_t cap)
{
	size_t ul = strlen(user), al = strlen(addr), n = 0;

	buf[n++] = which;
	if (which != 'a') {
		memcpy(buf + n, user, ul);
		n += ul;
	}
	if (which == 'p')
		buf[n++] = '\0';
	if (which != 'u') {
		memcpy(buf + n, addr, al);
		n += al;
	}
	(void)cap;
	return n;
}

#define COUNT_KEY_MAX	(2 + 64 + ADDR_KEY_MAX)

static unsigned
pending_of(const struct ceremony_table *t, char which, const char *user,
    const char *addr)
{
	char key[COUNT_KEY_MAX];

	return countmap_get(t->pending_by, key, count_key(which, user, addr, key, sizeof(key)));
}

/* Adds (+1) or removes (-1) a pending ceremony from the counts. */
static int
count_pending(struct ceremony_table *t, const struct ceremony *c, int delta)
{
	static const char kinds[] = { 'u', 'a', 'p' };
	size_t done = 0;
	char key[COUNT_KEY_MAX];

	for (; done < sizeof(kinds); done++) {
		size_t n;

		if (kinds[done] != 'u' && c->addr_key[0] == '\0')
			continue;	/* no address, no address counts */
		n = count_key(kinds[done], c->user, c->addr_key, key, sizeof(key));
		if (delta < 0)
			countmap_dec(t->pending_by, key, n);
		else if (countmap_inc(t->pending_by, key, n) != 0)
			break;
	}
	if (done == sizeof(kinds)) {
		if (delta < 0)
			t->pending--;
		else
			t->pending++;
		return 0;
	}
	/* out of memory half-way: undo what was counted */
	while (done-- > 0) {
		size_t n;

		if (kinds[done] != 'u' && c->addr_key[0] == '\0')
			continue;
		n = count_key(kinds[done], c->user, c->addr_key, key, sizeof(key));
		countmap_dec(t->pending_by, key, n);
	}
	return -1;
}

static struct list *
list_of(struct ceremony_table *t, const struct ceremony *c)
{
	return c->in_other ? &t->other : &t->usual;
}

static void
list_append(struct list *l, struct ceremony *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void
unlink_ceremony(struct ceremony_table *t, struct ceremony *c)
{
	struct ceremony **pp = &t->bucket[bucket_of(c->token)];
	struct list *l = list_of(t, c);

	while (*pp != c)
		pp = &(*pp)->hash_next;
	*pp = c->hash_next;
	if (t->by_hash != NULL) {
		pp = &t->by_hash[hash_bucket_of(c->hash_key)];
		while (*pp != c)
			pp = &(*pp)->by_hash_next;
		*pp = c->by_hash_next;
	}
	if (t->expiry_cursor == c)
		t->expiry_cursor = c->next;
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	t->count--;
	if (c->state == CTL_STATE_PENDING && !c->foreign)
		count_pending(t, c, -1);
}

void
ceremony_table_free(struct ceremony_table *t)
{
	struct ceremony *c, *next;

	if (t == NULL)
		return;
	for (c = t->usual.head; c != NULL; c = next) {
		next = c->next;
		ceremony_free(c);
	}
	for (c = t->other.head; c != NULL; c = next) {
		next = c->next;
		ceremony_free(c);
	}
	countmap_free(t->pending_by);
	free(t->by_hash);
	free(t);
}

void
ceremony_table_on_forget(struct ceremony_table *t, void (*fn)(struct ceremony *, void *),
    void *arg)
{
	t->on_forget = fn;
	t->forget_arg = arg;
}

/* The sweep's end of a ceremony: told first (ceremony_table_on_forget), then freed. */
static void
forget(struct ceremony_table *t, struct ceremony *c)
{
	if (t->on_forget != NULL)
		t->on_forget(c, t->forget_arg);
	unlink_ceremony(t, c);
	ceremony_free(c);
}

static enum ctl_refusal
check_limits(const struct ceremony_table *t, const char *user, const char *addr)
{
	if (t->pending >= t->limits.total)
		return CTL_REFUSAL_LIMIT_TOTAL;
	if (addr[0] != '\0' &&
	    pending_of(t, 'p', user, addr) >= t->limits.per_user_address)
		return CTL_REFUSAL_LIMIT_USER_ADDRESS;
	if (addr[0] != '\0' && pending_of(t, 'a', user, addr) >= t->limits.per_address)
		return CTL_REFUSAL_LIMIT_ADDRESS;
	if (pending_of(t, 'u', user, addr) >= t->limits.per_user)
		return CTL_REFUSAL_LIMIT_USER;
	return CTL_REFUSAL_NONE;
}

/* The token, the challenge and the code: independent bytes of one getrandom(2). */
static int
make_secrets(struct ceremony *c)
{
	uint8_t raw[CEREMONY_TOKEN_BYTES + sizeof(c->challenge) + 6];
	const uint8_t *challenge = raw + CEREMONY_TOKEN_BYTES;
	const uint8_t *code = challenge + sizeof(c->challenge);

	if (random_bytes(raw, sizeof(raw)) != 0) {
		explicit_bzero(raw, sizeof(raw));
		return -1;
	}
	rp_b64url_encode(raw, CEREMONY_TOKEN_BYTES, c->token);
	memcpy(c->challenge, challenge, sizeof(c->challenge));
	for (size_t i = 0, j = 0; i < 6; i++) {
		if (i == 3)
			c->code[j++] = '-';
		c->code[j++] = code_alphabet[code[i] & 31];
	}
	c->code[CEREMONY_CODE_LEN] = '\0';
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

enum ctl_refusal
ceremony_begin(struct ceremony_table *t, const struct ceremony_spec *spec,
    time_t now, struct ceremony **out)
{
	char addr[ADDR_KEY_MAX];
	enum ctl_refusal r;
	struct ceremony *c;
	size_t lu, lr, ls, la, lk, lq;
	const char *key = spec->client_key != NULL ? spec->client_key : "";
	const char *requester = spec->requester != NULL ? spec->requester : "";
	char *at;

	*out = NULL;
	addr_key_from_text(spec->rhost, addr);
	if ((r = check_limits(t, spec->user, addr)) != CTL_REFUSAL_NONE)
		return r;
	lu = strlen(spec->user);
	lr = strlen(spec->rhost);
	ls = strlen(spec->service);
	/* an address key that is the address itself is not stored twice */
	la = strcmp(addr, spec->rhost) == 0 ? 0 : strlen(addr) + 1;
	lk = strlen(key);
	lq = strlen(requester);
	/* one allocation: the struct, then its strings */
	if ((c = calloc(1, sizeof(*c) + lu + lr + ls + la + lk + lq + 5)) == NULL)
		return CTL_REFUSAL_INTERNAL_ERROR;
	at = (char *)(c + 1);
	c->user = put(&at, spec->user, lu);
	c->rhost = put(&at, spec->rhost, lr);
	c->service = put(&at, spec->service, ls);
	c->addr_key = la == 0 ? c->rhost : put(&at, addr, la - 1);
	c->client_key = put(&at, key, lk);
	c->requester = put(&at, requester, lq);
	c->reuse = spec->reuse;
	c->local = spec->local != 0;
	if (make_secrets(c) != 0 ||
	    /* 144 random bits make a clash unthinkable, but never alias one */
	    ceremony_find(t, c->token) != NULL || count_pending(t, c, 1) != 0) {
		ceremony_free(c);
		return CTL_REFUSAL_INTERNAL_ERROR;
	}
	c->kind = (uint8_t)spec->kind;
	c->state = CTL_STATE_PENDING;
	c->owner_uid = spec->owner;
	c->conn = spec->conn;
	c->hostname = spec->hostname != NULL ? spec->hostname : "";
	c->created = now;
	c->expires = now + (time_t)spec->lifetime;
	index_add(t, c);
	/* creation order is expiry order only for one lifetime and a clock that does not step back */
	c->in_other = spec->lifetime != t->limits.lifetime ||
	    (t->usual.tail != NULL && t->usual.tail->expires > c->expires);
	list_append(list_of(t, c), c);
	if (!c->in_other && t->expiry_cursor == NULL)
		t->expiry_cursor = c;
	t->count++;
	*out = c;
	return CTL_REFUSAL_NONE;
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
	/* in constant time: a token is the secret in its link (both are CEREMONY_TOKEN_LEN) */
	for (c = t->bucket[bucket_of(token)]; c != NULL; c = c->hash_next)
		if (CRYPTO_memcmp(c->token, token, CEREMONY_TOKEN_LEN) == 0)
			return c;
	return NULL;
}

struct ceremony *
ceremony_find_hash(struct ceremony_table *t, const uint8_t hash[CEREMONY_HASH_LEN])
{
	uint64_t key = hash_key_of(hash);
	uint8_t full[CEREMONY_HASH_LEN];
	struct ceremony *c;

	if (t->by_hash == NULL)
		return NULL;
	for (c = t->by_hash[hash_bucket_of(key)]; c != NULL; c = c->by_hash_next) {
		if (c->hash_key != key)
			continue;
		ceremony_token_hash(c->token, full);
		if (memcmp(full, hash, CEREMONY_HASH_LEN) == 0)
			return c;
	}
	return NULL;
}

struct ceremony *
ceremony_adopt(struct ceremony_table *t, const char *token, const char *user,
    const char *rhost, const char *service, const char *hostname, const char *client_key,
    const char *requester)
{
	size_t lu = strlen(user), lr = strlen(rhost), ls = strlen(service), lh = strlen(hostname);
	size_t lk = strlen(client_key), lq = strlen(requester);
	struct ceremony *c;
	char *at;

	if (!ceremony_token_valid(token) || ceremony_find(t, token) != NULL)
		return NULL;
	if ((c = calloc(1, sizeof(*c) + lu + lr + ls + lh + lk + lq + 6)) == NULL)
		return NULL;
	at = (char *)(c + 1);
	c->user = put(&at, user, lu);
	c->rhost = put(&at, rhost, lr);
	c->service = put(&at, service, ls);
	c->hostname = put(&at, hostname, lh);
	c->client_key = put(&at, client_key, lk);
	c->requester = put(&at, requester, lq);
	c->addr_key = "";
	memcpy(c->token, token, CEREMONY_TOKEN_LEN + 1);
	c->foreign = 1;
	c->state = CTL_STATE_PENDING;
	index_add(t, c);
	/* walked whole by the sweep, like other unusual lifetimes */
	c->in_other = 1;
	list_append(&t->other, c);
	t->count++;
	return c;
}

void
ceremony_finish(struct ceremony_table *t, struct ceremony *c,
    enum ctl_state state, const char *reason, time_t now)
{
	if (c->state == CTL_STATE_PENDING && state != CTL_STATE_PENDING && !c->foreign)
		count_pending(t, c, -1);
	c->state = (uint8_t)state;
	c->committing = 0;
	c->reason = reason;
	c->finished = now;
	/* the challenge is spent; nothing may verify against it again */
	explicit_bzero(c->challenge, sizeof(c->challenge));
}

static time_t
forget_at(const struct ceremony *c)
{
	return (c->finished > c->expires ? c->finished : c->expires) + CEREMONY_KEEP_FINAL;
}

/* Expires c when it is due; frees it when its final state is old enough. */
static int
sweep_one(struct ceremony_table *t, struct ceremony *c, time_t now,
    void (*on_expire)(struct ceremony *, void *), void *arg)
{
	if (c->state == CTL_STATE_PENDING && !c->committing && !c->calls && now >= c->expires) {
		ceremony_finish(t, c, CTL_STATE_EXPIRED, "expired", now);
		if (on_expire)
			on_expire(c, arg);
	}
	if (c->state != CTL_STATE_PENDING && !c->calls && now >= forget_at(c)) {
		forget(t, c);
		return 1;
	}
	return 0;
}

/* The oldest final ceremonies of list l, while the table is over bound. */
static void
forget_oldest_in(struct ceremony_table *t, struct list *l, size_t bound, int approvals_too)
{
	struct ceremony *c, *next;

	for (c = l->head; c != NULL && t->count > bound; c = next) {
		next = c->next;
		if (c->state != CTL_STATE_PENDING && !c->calls &&
		    (approvals_too || c->state != CTL_STATE_APPROVED))
			forget(t, c);
	}
}

/*
 * The usual lifetime first, where nearly all are; then the others, so
 * that no lifetime, clock step or adopted row escapes the bound.
 */
static void
forget_oldest(struct ceremony_table *t, size_t bound, int approvals_too)
{
	forget_oldest_in(t, &t->usual, bound, approvals_too);
	forget_oldest_in(t, &t->other, bound, approvals_too);
}

void
ceremony_sweep(struct ceremony_table *t, time_t now,
    void (*on_expire)(struct ceremony *, void *), void *arg)
{
	struct ceremony *c, *next;

	/*
	 * The usual lifetime: only what is due, then stop.  An approval being
	 * written, or a row being read off the loop (calls), is decided by the
	 * store within seconds; the cursor waits.
	 */
	for (c = t->expiry_cursor; c != NULL && now >= c->expires && !c->committing &&
	    !c->calls; c = next) {
		next = c->next;
		t->expiry_cursor = next;
		if (c->state == CTL_STATE_PENDING) {
			ceremony_finish(t, c, CTL_STATE_EXPIRED, "expired", now);
			if (on_expire)
				on_expire(c, arg);
		}
	}
	for (c = t->usual.head; c != NULL && c->state != CTL_STATE_PENDING &&
	    !c->calls && now >= forget_at(c); c = next) {
		next = c->next;
		forget(t, c);
	}
	for (c = t->other.head; c != NULL; c = next) {
		next = c->next;
		sweep_one(t, c, now, on_expire, arg);
	}
	/*
	 * Bound the memory of remembered final states too: the oldest go
	 * first, an approval the module has not collected yet last, since
	 * anyone who can reach sshd can churn abandoned logins, and dropping
	 * it would fail a login its user approved (unknown_ceremony).
	 */
	forget_oldest(t, 2 * (size_t)t->limits.total, 0);
	forget_oldest(t, 4 * (size_t)t->limits.total, 1);
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
