/*
 * Ceremonies: one pending login or registration, reachable by a random
 * token in a URL.  The table bounds how many are pending per user, per
 * client address and in all, and keeps final states for a while so that a
 * page or the PAM module can be told "expired" or "used" rather than
 * "unknown".  No I/O here: the caller logs and stores.
 */
#ifndef PASSKEYD_CEREMONY_H
#define PASSKEYD_CEREMONY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define CEREMONY_TOKEN_BYTES	18	/* 144 random bits */
#define CEREMONY_TOKEN_LEN	24	/* base64url characters */
#define CEREMONY_CHALLENGE_LEN	32
#define CEREMONY_CODE_LEN	7	/* "4F7-K2Q" */
#define CEREMONY_KEEP_FINAL	600	/* seconds a final state is remembered */

enum ceremony_kind { CEREMONY_LOGIN, CEREMONY_REGISTER };

enum ceremony_state {
	CEREMONY_PENDING,
	CEREMONY_APPROVED,	/* verified; not yet collected by status */
	CEREMONY_USED,		/* approved and collected */
	CEREMONY_DENIED,
	CEREMONY_FAILED,
	CEREMONY_EXPIRED,
	CEREMONY_CANCELLED,
};

struct ceremony {
	char token[CEREMONY_TOKEN_LEN + 1];
	enum ceremony_kind kind;
	enum ceremony_state state;
	char *user, *rhost, *service;
	char code[CEREMONY_CODE_LEN + 1];
	uint8_t challenge[CEREMONY_CHALLENGE_LEN];
	time_t created, expires, finished;
	uid_t owner_uid;		/* may ask status / cancel */
	int consumes_enrollment;	/* registration that ends an enrollment */
	int replayed;			/* finish called after the end */
	const char *reason;		/* static code of a failure, or NULL */
	struct ceremony *hash_next;
	struct ceremony *prev, *next;	/* creation order */
};

enum ceremony_refusal {
	CEREMONY_OK,
	CEREMONY_LIMIT_USER,
	CEREMONY_LIMIT_ADDRESS,
	CEREMONY_LIMIT_TOTAL,
	CEREMONY_NO_MEMORY,
};

struct ceremony_limits {
	unsigned total, per_user, per_address;
};

struct ceremony_table;

struct ceremony_table *ceremony_table_new(struct ceremony_limits limits);
void ceremony_table_free(struct ceremony_table *t);

/*
 * Makes a pending ceremony expiring `lifetime` seconds after now.  The
 * per-address bound is not applied to an empty rhost (local services such
 * as sudo, and the CLI).
 */
enum ceremony_refusal ceremony_begin(struct ceremony_table *t,
    enum ceremony_kind kind, const char *user, const char *rhost,
    const char *service, uid_t owner, time_t now, unsigned lifetime,
    struct ceremony **out);
const char *ceremony_refusal_str(enum ceremony_refusal r);

/* NULL for an unknown or malformed token. Does not expire anything. */
struct ceremony *ceremony_find(struct ceremony_table *t, const char *token);

/* Ends a pending ceremony. */
void ceremony_finish(struct ceremony_table *t, struct ceremony *c,
    enum ceremony_state state, const char *reason, time_t now);

/*
 * Moves pending ceremonies past their expiry to EXPIRED (calling
 * on_expire for each) and forgets final ones older than CEREMONY_KEEP_FINAL.
 */
void ceremony_sweep(struct ceremony_table *t, time_t now,
    void (*on_expire)(struct ceremony *, void *), void *arg);

size_t ceremony_pending_count(const struct ceremony_table *t);
size_t ceremony_count(const struct ceremony_table *t);

const char *ceremony_state_str(enum ceremony_state s);
/* 1 when token has the shape of one of ours (length and alphabet). */
int ceremony_token_valid(const char *token);

#endif
