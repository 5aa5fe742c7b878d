/*
 * Ceremonies: one pending login or registration, reachable by a random
 * token in a URL.  The table bounds how many are pending per user, per
 * client address (an IPv6 /64 counts as one, addrkey.h), per (user,
 * address) pair and in all, with counts kept in hash maps so a begin costs
 * the same with 10 or 100,000 pending.  It keeps final states for a while
 * so that a page or the PAM module can be told "expired" or "used" rather
 * than "unknown".  No I/O here: the caller logs and stores.
 */
#ifndef PASSKEYD_CEREMONY_H
#define PASSKEYD_CEREMONY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "ctl_codes.h"

#define CEREMONY_TOKEN_BYTES	18	/* 144 random bits */
#define CEREMONY_TOKEN_LEN	24	/* base64url characters */
#define CEREMONY_CHALLENGE_LEN	32
#define CEREMONY_HANDLE_LEN	32	/* WebAuthn user.id, as the store keeps it */
#define CEREMONY_CODE_LEN	7	/* "4F7-K2Q" */
#define CEREMONY_KEEP_FINAL	600	/* seconds a final state is remembered */
#define CEREMONY_HASH_LEN	32	/* SHA-256 of the token: its name in a fleet's store */
#define CEREMONY_REQUESTER_MAX	128	/* "UID TTY NAME": 10 + 1 + 32 + 1 + 64 bytes, and room */

enum ceremony_kind { CEREMONY_LOGIN, CEREMONY_REGISTER };

/* The states are the protocol's (control/ctl_codes.h). */
typedef enum ctl_state ceremony_state_t;

struct ceremony {
	char token[CEREMONY_TOKEN_LEN + 1];
	char code[CEREMONY_CODE_LEN + 1];
	uint8_t kind;			/* enum ceremony_kind */
	uint8_t state;			/* enum ctl_state */
	/*
	 * Verified, and the store write that approves it is under way
	 * (passkeyd/journal.c): still pending to everyone asking, but no
	 * second answer, Deny or expiry may act on it meanwhile.
	 */
	uint8_t committing;
	uint8_t consumes_enrollment;	/* a registration that ends an enrollment */
	uint8_t replayed;		/* finish was posted after the end (logged once) */
	uint8_t client_cancelled;	/* the page reported a failed call (logged once) */
	uint8_t has_handle;		/* user_handle holds the registration's user.id */
	uint8_t in_other;		/* in the table's list of unusual lifetimes */
	/*
	 * Another instance's, read from the fleet's store (fleet.c) to serve
	 * a page: held under no limit here, and its owner logs its end.
	 */
	uint8_t foreign;
	/*
	 * Store calls for it off the loop (offload.h), and whether one of them
	 * is status's approved -> used: while any is out it is neither expired
	 * nor forgotten here (the row it reads may say approved), and no
	 * second use is tried.
	 */
	uint8_t calls;
	uint8_t using_row;
	/* a status used its row while its approval here was still being written */
	uint8_t used_early;
	/*
	 * Its rhost is the host itself (hostaddrs.h), as the host that began
	 * it decided: the page says the request is local.
	 */
	uint8_t local;
	/*
	 * The module left (cancel, its connection closed) while the approval
	 * was being written: the window it opens is ended once it is (flow.c
	 * end_uncollected); and whether that end was queued, so once only.
	 */
	uint8_t uncollected;
	uint8_t uncollected_ended;
	/*
	 * The first 8 bytes of the token's SHA-256 (ceremony_token_hash), the
	 * key of the table's second index; the whole hash is computed when
	 * needed rather than kept (memory per pending ceremony).
	 */
	uint64_t hash_key;
	uint8_t challenge[CEREMONY_CHALLENGE_LEN];
	uint8_t user_handle[CEREMONY_HANDLE_LEN];
	char *user, *rhost, *service;
	const char *hostname;		/* the SSH host the login is for, as pages show it */
	char *addr_key;			/* rhost as counted (addrkey.h); "" for none */
	time_t created, expires, finished;
	uid_t owner_uid;		/* may ask status / cancel */
	/*
	 * The control connection that began it (the PAM module's), or 0.
	 * When that connection closes (sshd killed its child on a client
	 * disconnect) the ceremony is cancelled at once: it holds no place
	 * under the limits for the rest of its lifetime.
	 */
	uint64_t conn;
	const char *reason;		/* static code of a failure, or NULL */
	/*
	 * The re-approval window its approval opens (flow.c): seconds, 0 for
	 * none, and the client's SSH key fingerprint ("" for none).
	 */
	uint32_t reuse;
	char *client_key;
	/*
	 * Who asked, for a request made on the host itself (su, login, sudo:
	 * no rhost), as the page shows it: "UID TTY NAME", TTY "?" and NAME
	 * empty when unknown; "" when not said (ssh, passkeyctl, an older
	 * module).
	 */
	char *requester;
	struct ceremony *hash_next, *by_hash_next;
	struct ceremony *prev, *next;	/* creation order */
};

struct ceremony_limits {
	unsigned total, per_user, per_address, per_user_address;
	/*
	 * A login's lifetime in seconds (ceremony_timeout): ceremonies of it
	 * are kept in creation order for the sweep (ceremony.c).  Set from
	 * the configuration, not by the first ceremony, which may be root's
	 * day-long enrollment link.
	 */
	unsigned lifetime;
};

/* What a new ceremony is for. */
struct ceremony_spec {
	enum ceremony_kind kind;
	const char *user, *rhost, *service;
	const char *hostname;		/* must outlive the ceremony (the config's) */
	uid_t owner;
	uint64_t conn;
	unsigned lifetime;		/* seconds */
	unsigned reuse;			/* the window its approval opens, or 0 */
	const char *client_key;		/* fingerprint, or NULL / "" */
	const char *requester;		/* "UID TTY NAME", or NULL / "" */
	int local;			/* rhost is the host itself (hostaddrs.h) */
};

struct ceremony_table;

struct ceremony_table *ceremony_table_new(struct ceremony_limits limits);
/*
 * Also index ceremonies by token hash (ceremony_find_hash), for a fleet's
 * change notices: 512 KiB of buckets that a single host does without.
 * Call before the first ceremony; -1 when out of memory.
 */
int ceremony_table_index_hashes(struct ceremony_table *t);
void ceremony_table_free(struct ceremony_table *t);

/*
 * Makes a pending ceremony expiring spec->lifetime seconds after now, or
 * says which bound refused it (CTL_REFUSAL_LIMIT_*; INTERNAL_ERROR when
 * out of memory or randomness).  The address bounds do not apply to an
 * empty rhost (local services such as sudo, and the CLI).
 */
enum ctl_refusal ceremony_begin(struct ceremony_table *t,
    const struct ceremony_spec *spec, time_t now, struct ceremony **out);

/* NULL for an unknown or malformed token. Does not expire anything. */
struct ceremony *ceremony_find(struct ceremony_table *t, const char *token);
/* The same by the token's SHA-256 (a fleet's change notices name it so). */
struct ceremony *ceremony_find_hash(struct ceremony_table *t,
    const uint8_t hash[CEREMONY_HASH_LEN]);
/* The SHA-256 of a token, as ceremonies keep it. */
void ceremony_token_hash(const char *token, uint8_t out[CEREMONY_HASH_LEN]);

/*
 * Another instance's ceremony, as the fleet's store holds it, taken in to
 * serve a page: `foreign`, under no limit, forgotten like a final one
 * (CEREMONY_KEEP_FINAL after its expiry).  The strings are copied; state,
 * secrets and times are the caller's to fill in.  NULL when out of memory
 * or when the token is malformed or already known.
 */
struct ceremony *ceremony_adopt(struct ceremony_table *t, const char *token,
    const char *user, const char *rhost, const char *service, const char *hostname,
    const char *client_key, const char *requester);

/* Ends a pending ceremony (approved, denied, failed, expired, cancelled). */
void ceremony_finish(struct ceremony_table *t, struct ceremony *c,
    enum ctl_state state, const char *reason, time_t now);

/*
 * Moves pending ceremonies past their expiry to EXPIRED (calling
 * on_expire for each; not those committing) and forgets final ones older
 * than CEREMONY_KEEP_FINAL.
 */
void ceremony_sweep(struct ceremony_table *t, time_t now,
    void (*on_expire)(struct ceremony *, void *), void *arg);

/*
 * fn is called for each ceremony the sweep forgets (its final state kept
 * long enough, or the oldest dropped under churn), before it is freed;
 * not by ceremony_table_free.  An approval still not collected then never
 * will be (flow.c, flow_on_forget).
 */
void ceremony_table_on_forget(struct ceremony_table *t,
    void (*fn)(struct ceremony *, void *), void *arg);

size_t ceremony_pending_count(const struct ceremony_table *t);
size_t ceremony_count(const struct ceremony_table *t);

/* 1 when token has the shape of one of ours (length and alphabet). */
int ceremony_token_valid(const char *token);

#endif
