/*
 * The credential store: passkeys, pending enrollments, per-user handles and
 * the audit log.  One interface, several backends (SQLite now, PostgreSQL
 * for fleets later): callers never see SQL.
 *
 * Every function returns a store_err_t; STORE_OK is 0.  Strings handed in
 * are copied; records handed out are owned by the caller and freed with
 * the matching _free function.  Times are seconds since the epoch (UTC).
 */
#ifndef PASSKEY_STORE_H
#define PASSKEY_STORE_H

#include <stddef.h>
#include <stdint.h>

#define STORE_ERRORS(X) \
	X(STORE_OK, "ok") \
	X(STORE_ERR_NOT_FOUND, "not_found") \
	X(STORE_ERR_EXISTS, "exists") \
	X(STORE_ERR_INVALID, "invalid_argument") \
	X(STORE_ERR_BUSY, "busy") \
	X(STORE_ERR_IO, "io_error") \
	X(STORE_ERR_SCHEMA, "schema_error") \
	X(STORE_ERR_NOMEM, "out_of_memory") \
	X(STORE_ERR_UNSUPPORTED, "unsupported_backend") \
	X(STORE_ERR_LAST, "last_credential") \
	X(STORE_ERR_READONLY, "read_only") \
	X(STORE_ERR_FULL, "disk_full") \
	X(STORE_ERR_CONFLICT, "conflict") \
	X(STORE_ERR_NO_ENROLLMENT, "no_enrollment") \
	X(STORE_ERR_UNAVAILABLE, "unavailable") \
	X(STORE_ERR_LIMIT, "limit") \
	X(STORE_ERR_DENIED, "permission_denied")

typedef enum {
#define STORE_ERR_ENUM(name, str) name,
	STORE_ERRORS(STORE_ERR_ENUM)
#undef STORE_ERR_ENUM
} store_err_t;

/* Stable snake_case name of an error, e.g. "exists". */
const char *store_err_str(store_err_t err);

typedef struct store store_t;

#define STORE_USER_MAX 64          /* bytes of a user name */
#define STORE_CRED_ID_MAX 1023     /* bytes of a credential ID (WebAuthn) */
#define STORE_USER_HANDLE_LEN 32   /* random WebAuthn user.id per user */
#define STORE_NICKNAME_MAX 128     /* bytes of the name a user gives a passkey */
#define STORE_ID_HASH_LEN 64       /* hex SHA-256 of a credential ID */

struct store_credential {
	char *user;
	unsigned char *id;           /* credential ID, 1..STORE_CRED_ID_MAX bytes */
	size_t id_len;
	int alg;                     /* COSE: -7, -8, -257 */
	unsigned char *pubkey_cose;  /* the credential public key, COSE_Key bytes */
	size_t pubkey_len;
	uint32_t sign_count;
	char *fmt;                   /* attestation format, e.g. "packed" */
	unsigned char aaguid[16];
	int uv, be, bs;              /* flags at registration; bs updated on use */
	char *attestation;           /* "none" | "self" | "trusted" | "untrusted" */
	char *nickname;              /* may be NULL */
	int64_t created;
	int64_t last_used;           /* 0 = never */
	char *last_addr;             /* may be NULL */
	int64_t seq;                 /* set when read: its place in creation order */
};

struct store_credential_list {
	struct store_credential *items;
	size_t count;
};

struct store_event {
	int64_t time;
	const char *event;    /* e.g. "login_approved" */
	const char *user;     /* may be NULL */
	const char *addr;     /* client address, may be NULL or "" */
	const char *verdict;  /* "ok" | "fail" | "deny" | ... */
	const char *reason;   /* named code, may be NULL */
	const char *detail;   /* free text, may be NULL */
	int64_t id;           /* set when read back; ignored when adding */
};

/* One event read back; strings owned by the list. */
struct store_event_list {
	struct store_event *items;
	size_t count;
};

/*
 * Opens a store.  spec is "sqlite:PATH" or a plain PATH (SQLite), or a
 * libpq URI "postgresql://..." (or "postgres://"), passed to libpq whole.
 * Creates the schema, or migrates an older one, inside one transaction; a newer schema than this code knows is
 * STORE_ERR_SCHEMA (never touched).  A store that could be opened only
 * for reading is STORE_ERR_READONLY: a daemon on it could approve
 * nothing, so it must not start.
 */
store_err_t store_open(const char *spec, store_t **out);
/* The same, with a one-line reason (the OS error included) in why. */
store_err_t store_open_why(const char *spec, store_t **out, char *why,
    size_t whylen);

/*
 * A store spec as it may be shown in logs and errors: a PostgreSQL URI
 * without its password (only user, host, port and database are kept);
 * a SQLite path as it is.
 */
void store_spec_display(const char *spec, char *out, size_t outlen);
/* Whether spec carries a password, which must not sit in a file others read. */
int store_spec_has_password(const char *spec);
void store_close(store_t *st);
/* The schema version of the open store. */
int store_schema_version(const store_t *st);
/*
 * How long one call may wait for another program's lock before it is
 * STORE_ERR_BUSY (default 5000 ms).  The daemon keeps it short: its loop
 * must not stall behind another writer.
 */
store_err_t store_set_busy_timeout(store_t *st, int ms);
/*
 * With on, a commit on this connection may return before it is on disk
 * (PostgreSQL's synchronous_commit = off): done and visible at once, but
 * a crash of the server within a fraction of a second may undo it.  Only
 * for a connection whose writes fail closed when lost: passkeyd's loop,
 * whose ceremony rows (a new pending one, a deny, a consumed approval)
 * either vanish or can no longer be redeemed, while approvals, counters,
 * passkeys and audit rows go through the journal's own, synchronous
 * connection.  STORE_ERR_UNSUPPORTED where every commit is synchronous.
 */
store_err_t store_set_lazy_commit(store_t *st, int on);
/*
 * Which instance of passkeyd this connection works for: 1 to
 * STORE_INSTANCE_MAX of [0-9a-f], the same on every connection of one
 * process.  A ceremony row that one instance made and then decided is not
 * announced (store_notices): nobody else waits for it, and every listener
 * of the host's role would wake for nothing.  STORE_ERR_UNSUPPORTED where
 * nothing is announced.
 */
#define STORE_INSTANCE_MAX	32
store_err_t store_set_instance(store_t *st, const char *id);
/* A new instance name: STORE_INSTANCE_MAX random hex digits. */
store_err_t store_instance_new(char out[STORE_INSTANCE_MAX + 1]);
/*
 * The connection's page cache, at most kib KiB (>= 64): a connection that
 * only appends and updates a few rows (the journal's writer) needs little.
 * STORE_ERR_UNSUPPORTED where the server keeps the cache.
 */
store_err_t store_set_cache_kib(store_t *st, int kib);
/* The backend's last error, one line, for logs; never NULL. */
const char *store_errmsg(store_t *st);
/*
 * Whose words: a thread that runs calls for another (passkeyd's offload
 * workers and journal writers) clears them before a call, and hands on
 * what store_errmsg_new says after it with the call's answer, so that an
 * error is logged with its own connection's text.  store_errmsg_new is
 * NULL when nothing failed since the clear; a backend that cannot tell
 * (SQLite) always says store_errmsg.
 */
void store_errmsg_clear(store_t *st);
const char *store_errmsg_new(store_t *st);

/*
 * Transactions.  Between store_txn_begin and store_txn_commit every call
 * joins one transaction, committed (durably) at once; passkeyd groups a
 * loop turn's writes this way.  store_txn_begin never waits: another
 * writer holding the lock is STORE_ERR_BUSY at once, to retry later
 * (PostgreSQL locks rows, statement by statement: there a statement waits
 * up to the busy timeout instead).  Inside, store_txn_mark /
 * store_txn_mark_end(keep) bound one caller's part, so that its failure
 * undoes only its own changes; after a failed call, end the part with
 * keep 0 (on PostgreSQL nothing else in the transaction runs until then).
 */
store_err_t store_txn_begin(store_t *st);
store_err_t store_txn_commit(store_t *st);	/* rolls back when it fails */
void store_txn_rollback(store_t *st);
store_err_t store_txn_mark(store_t *st);
void store_txn_mark_end(store_t *st, int keep);

/* Credentials. */
/* STORE_ERR_EXISTS when the ID is registered to anyone already. */
store_err_t store_cred_add(store_t *st, const struct store_credential *cred);
/*
 * A registration, as one transaction: the user's handle must be `handle`
 * (made now when the user has none; another one is STORE_ERR_CONFLICT),
 * the credential is added (STORE_ERR_EXISTS if its ID is taken) and, with
 * consume_enrollment, the user's enrollment must be pending at `now`
 * (else STORE_ERR_NO_ENROLLMENT) and is removed.  With max_per_user (0:
 * none), a user who has that many passkeys already is STORE_ERR_LIMIT,
 * counted under the user's lock: two registrations at once, on two
 * daemons of one store, cannot both take the last place.  All or nothing.
 */
store_err_t store_cred_register(store_t *st, const struct store_credential *cred,
    const unsigned char handle[STORE_USER_HANDLE_LEN], int consume_enrollment,
    unsigned max_per_user, int64_t now);
store_err_t store_cred_get(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out);
/*
 * The credential and its user's handle, as store_cred_get and
 * store_user_handle (create 0) would give them: what verifying a login
 * needs, in one query (on PostgreSQL one round trip on the loop fewer; on
 * SQLite one read lock of the WAL fewer).
 */
store_err_t store_cred_get_for_login(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out, unsigned char handle[STORE_USER_HANDLE_LEN]);
/* The user's credentials, oldest first. */
store_err_t store_cred_list_user(store_t *st, const char *user,
    struct store_credential_list *out);
/* Every user's credentials, by user, then oldest first: the inventory. */
store_err_t store_cred_list_all(store_t *st, struct store_credential_list *out);
/*
 * One page of credentials in creation order: those with seq > after (0
 * for the first page), at most limit; user NULL for every user's.  Pass
 * the last item's seq for the next page: each page costs the same.
 */
store_err_t store_cred_page(store_t *st, const char *user, int64_t after, size_t limit,
    struct store_credential_list *out);
/*
 * The credential whose ID hash (store_id_hash) starts with hex_prefix
 * (lower-case hex, 1..64 digits), among user's (NULL: everyone's).
 * *matches is 0, 1 or 2 (two or more: ambiguous); out is filled for 1.
 */
store_err_t store_cred_find(store_t *st, const char *user, const char *hex_prefix,
    struct store_credential *out, size_t *matches);
/* The lower-case hex SHA-256 of a credential ID: short IDs are its prefix. */
void store_id_hash(const unsigned char *id, size_t len, char out[STORE_ID_HASH_LEN + 1]);
store_err_t store_cred_count_user(store_t *st, const char *user, size_t *count);
/*
 * STORE_OK when user has fewer than max passkeys (max 0: no bound, nothing
 * counted), STORE_ERR_LIMIT when they have max or more, else the count's
 * error.  The backends' cred_register asks it in its transaction.
 */
store_err_t store_cred_below_bound(store_t *st, const char *user, unsigned max);
/*
 * After a verified assertion only: new count, BS flag, time and address.
 * With must_grow, the count is a compare-and-set: it is stored only while
 * the stored count is still below it (or both are 0, an authenticator
 * without a counter), in one statement; a concurrent use that stored the
 * same or a higher count first makes this STORE_ERR_CONFLICT (a replayed
 * or cloned assertion).  Without must_grow the stored count becomes the
 * higher of the two and never goes down.
 */
store_err_t store_cred_record_use(store_t *st, const unsigned char *id, size_t id_len,
    uint32_t sign_count, int must_grow, int bs, int64_t when, const char *addr);
/* A verified assertion's use of a passkey: store_cred_record_use's arguments. */
struct store_cred_use {
	const unsigned char *id;
	size_t id_len;
	uint32_t sign_count;
	int must_grow;
	int bs;
	int64_t when;
	const char *addr;
};
/*
 * A login's approval, in one round trip where the backend can (one SQL
 * statement on PostgreSQL): the ceremony row's pending -> approved
 * (row_hash: a fleet's; NULL for none, as with SQLite), then the
 * passkey's use (store_cred_record_use), then the audit row ev, each only
 * when the one before it held.  On an error, *failed says which did not
 * hold: 0 the row (STORE_ERR_CONFLICT: no longer pending, or past its
 * expiry; STORE_ERR_NOT_FOUND: none this role may change), 1 the use (as
 * store_cred_record_use says), 2 the audit row.  What held before it is
 * not undone here: call it inside a transaction, and roll back to a
 * savepoint (the journal's mark) on any error.
 */
store_err_t store_login_approve(store_t *st, const unsigned char *row_hash, int64_t now,
    const struct store_cred_use *use, const struct store_event *ev, int *failed);
store_err_t store_cred_rename(store_t *st, const unsigned char *id, size_t id_len,
    const char *nickname);
/* 1 when store_cred_rename takes this nickname (NULL, which clears it, is 0 here). */
int store_nickname_valid(const char *nickname);
store_err_t store_cred_remove(store_t *st, const unsigned char *id, size_t id_len);
/*
 * Removes the credential unless it is its user's only one (STORE_ERR_LAST).
 * One statement, so two removers racing on one store cannot both pass the
 * check and leave the user with none.
 */
store_err_t store_cred_remove_not_last(store_t *st, const unsigned char *id,
    size_t id_len);
void store_credential_free(struct store_credential *cred);   /* frees members */
void store_credential_list_free(struct store_credential_list *list);

/*
 * The user's WebAuthn user handle (32 random bytes), made on first use when
 * create is non-zero (else STORE_ERR_NOT_FOUND).
 */
store_err_t store_user_handle(store_t *st, const char *user, int create,
    unsigned char out[STORE_USER_HANDLE_LEN]);
/* Fills a user handle with fresh random bytes (getrandom(2)). */
store_err_t store_random_handle(unsigned char out[STORE_USER_HANDLE_LEN]);

/* Enrollments: at most one pending per user; adding again replaces it. */
store_err_t store_enroll_add(store_t *st, const char *user, int64_t expires,
    const char *by);
/* *pending = 1 when an enrollment exists with expires > now. */
store_err_t store_enroll_pending(store_t *st, const char *user, int64_t now,
    int *pending);
/* Removes the user's enrollment (consumed or revoked); NOT_FOUND if none. */
store_err_t store_enroll_remove(store_t *st, const char *user);

/* The audit log. */
store_err_t store_event_add(store_t *st, const struct store_event *ev);
/*
 * Newest first, at most limit; user NULL for all users.  before_id > 0
 * starts below that event id (keyset paging: pass the last id seen).
 */
store_err_t store_event_list(store_t *st, const char *user, size_t limit,
    int64_t before_id, struct store_event_list *out);
/*
 * Retention: removes at most `batch` of the oldest events that are older
 * than `before_time` or beyond the newest `max_rows` (0: no row bound).
 * Small batches keep each call short; call again while *removed == batch.
 */
store_err_t store_event_prune(store_t *st, int64_t before_time, uint64_t max_rows,
    size_t batch, size_t *removed);
/* About how many events the log holds (exact unless rows were removed out of order). */
store_err_t store_event_count(store_t *st, uint64_t *count);
void store_event_list_free(struct store_event_list *list);

/*
 * Ceremonies in the store: a fleet's shared state (PostgreSQL only; with
 * SQLite ceremonies live in the daemon's memory and these calls are
 * STORE_ERR_UNSUPPORTED).  A ceremony is keyed by the SHA-256 of its URL
 * token: the token itself is never stored.  States are the control
 * protocol's names ("pending", "approved", ...); a state changes only by a
 * conditional update from the state the caller saw, so two instances
 * acting on one ceremony at once cannot both succeed.  Who may do what is
 * the database's to enforce (roles and row-level security, see
 * store_fleet_sql): a host's role creates and reads back its own host's
 * ceremonies and may only cancel, expire or use them.
 */
#define STORE_TOKEN_HASH_LEN	32
#define STORE_CHALLENGE_LEN	32
#define STORE_STATE_MAX		16
#define STORE_CODE_MAX		16
#define STORE_CLIENT_KEY_MAX	64	/* "SHA256:" and 43 base64 characters */

struct store_ceremony {
	unsigned char token_hash[STORE_TOKEN_HASH_LEN];
	char *host_role;		/* the database role that made it (read only) */
	char *hostname;			/* shown on the page */
	int kind;			/* 0 login, 1 registration */
	char state[STORE_STATE_MAX];
	char *reason;			/* a failure's code, or NULL */
	char code[STORE_CODE_MAX];	/* the confirmation code shown on both sides */
	char *user, *rhost, *service, *addr_key;
	unsigned char challenge[STORE_CHALLENGE_LEN];	/* zero once final */
	unsigned char user_handle[STORE_USER_HANDLE_LEN];
	int has_handle;
	int consumes_enrollment;
	/* the re-approval window its approval opens: seconds (0: none) and client key */
	int reuse;
	char client_key[STORE_CLIENT_KEY_MAX + 1];
	/* who asked on the host itself, "UID TTY NAME" (passkeyd/ceremony.h), or "" */
	char *requester;
	/* its rhost is the host itself, as that host decided (passkeyd/hostaddrs.h) */
	int local;
	int64_t created, expires, finished;
};

/*
 * Adds a pending ceremony.  The database checks the fleet's limits
 * (per user, address, user and address, host, in all): over one it is
 * STORE_ERR_LIMIT with the limit's refusal code ("limit_user", ...) in
 * refusal.  Its host_role is the connection's role, and a host's
 * hostname is the one registered for it, whatever the caller says.
 */
store_err_t store_ceremony_add(store_t *st, const struct store_ceremony *c,
    char *refusal, size_t refusal_len);
/* STORE_ERR_NOT_FOUND for none (or one this role may not see). */
store_err_t store_ceremony_get(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    struct store_ceremony *out);
/*
 * Moves a ceremony from state `from` to `to` (with reason, at `now`); a
 * final state zeroes its challenge.  STORE_ERR_CONFLICT when it is no
 * longer in `from` (or is past its expiry while moving to "approved"),
 * STORE_ERR_NOT_FOUND when there is none this role may change.
 */
store_err_t store_ceremony_move(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const char *from, const char *to, const char *reason, int64_t now);
/*
 * A registration's user handle, chosen once: stores `handle` unless one
 * is already set, and gives back the one that stands in out.
 */
store_err_t store_ceremony_set_handle(store_t *st,
    const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const unsigned char handle[STORE_USER_HANDLE_LEN],
    unsigned char out[STORE_USER_HANDLE_LEN]);
/*
 * Housekeeping, in batches of at most `batch`: pending ceremonies past
 * their expiry become "expired"; final ones finished before `forget_before`
 * are deleted (roles that may not delete skip that part).
 */
store_err_t store_ceremony_sweep(store_t *st, int64_t now, int64_t forget_before,
    size_t batch, size_t *expired, size_t *forgotten);
void store_ceremony_free(struct store_ceremony *c);	/* frees members */

/*
 * Change notices: after store_ceremony_listen, a move out of pending of a
 * ceremony this role made is announced on a second connection;
 * store_notice_fd is its descriptor for poll(2) (-1 when there is none,
 * e.g. while it reconnects), and store_notices hands each announced token
 * hash to fn.  A notice is a hint to read the row again, never a verdict:
 * anyone connected can send one, and one may be lost.
 */
store_err_t store_ceremony_listen(store_t *st);
int store_notice_fd(store_t *st);
store_err_t store_notices(store_t *st,
    void (*fn)(const unsigned char hash[STORE_TOKEN_HASH_LEN], void *), void *arg);
/*
 * Sending them.  The instance that moves a row out of pending announces
 * it, after the commit and never inside it, unless it made the row itself
 * (store_set_instance).  A connection's moves are queued on via's queue
 * (its own unless set; via must outlive it; any thread may queue), and
 * store_announce sends what is queued on via's listening connection
 * without waiting: call it from via's thread after each turn of work.
 * At most 512 wait; more, or a batch the server refuses (its notify lock
 * not had within the lock timeout, its queue full), are dropped and
 * counted.  STORE_ERR_INVALID before store_ceremony_listen;
 * STORE_ERR_UNAVAILABLE while that connection is made again.
 */
store_err_t store_set_announcer(store_t *st, store_t *via);
store_err_t store_announce(store_t *st);
void store_announce_counts(store_t *st, uint64_t *sent, uint64_t *dropped);

/*
 * Re-approval windows (schema 3): after a passkey approval of a login
 * from one client, further logins of the same user, by the same PAM
 * service, from the same client skip the browser until the window ends.
 * "The same client" is the address (PAM_RHOST) and, when sshd exposed it,
 * the SSH public key the client already authenticated with, kept as its
 * OpenSSH fingerprint ("SHA256:...", or "" for none).  A window is written
 * in the approval's own transaction (so it exists only if the approval
 * does), names the credential that opened it (removing that credential
 * ends it, in the same transaction) and the approval it came from
 * (`source`: the ceremony's token prefix as the audit log shows it).
 * In a fleet the web role writes windows and hosts only read and count
 * their use: a host cannot open a window for itself.
 */
#define STORE_WINDOW_ID_LEN	16	/* lower-case hex characters */
#define STORE_SOURCE_MAX	16

struct store_window {
	char id[STORE_WINDOW_ID_LEN + 1];
	char *user, *service, *rhost;
	char *client_key;		/* a fingerprint, or "" */
	char *hostname;			/* the host whose login opened it */
	char *source;			/* the approval's token prefix */
	unsigned char *cred_id;		/* the credential that approved it */
	size_t cred_id_len;
	int64_t opened, expires, last_used;	/* last_used 0: never reused */
	uint64_t uses;
};

struct store_window_list {
	struct store_window *items;
	size_t count;
};

/*
 * Adds a window (w->id is made here, random, and written back); expired
 * windows are deleted in the same call.  user, service and rhost must be
 * valid and rhost not empty; expires > opened.
 */
store_err_t store_window_open(store_t *st, struct store_window *w);
/*
 * The newest window of this user, service, address and client key (exact
 * match; "" matches only ""), still open at `now`, opened at or after
 * `opened_after` and not after now + STORE_WINDOW_SKEW (a writer whose
 * clock runs ahead must not make a window last longer).  Only windows of
 * `hostname` count, unless `any_host`: then a window with a client key
 * opened by another host of a fleet counts too (one without never: an
 * address alone says nothing about a client of another host).
 * STORE_ERR_NOT_FOUND for none.
 */
#define STORE_WINDOW_SKEW	60	/* seconds */
store_err_t store_window_find(store_t *st, const char *user, const char *service,
    const char *rhost, const char *client_key, const char *hostname, int any_host,
    int64_t now, int64_t opened_after, struct store_window *out);
/* Counts one reuse (uses + 1, last_used = now); STORE_ERR_NOT_FOUND when gone or ended. */
store_err_t store_window_use(store_t *st, const char *id, int64_t now);
/*
 * A window's place in the listing (store_window_page): windows are listed
 * by (opened, id), oldest first, and a page starts after a key.
 */
struct store_window_key {
	int64_t opened;
	char id[STORE_WINDOW_ID_LEN + 1];
};
/*
 * Open windows at `now`, oldest first, after `after` (NULL: from the
 * first), at most `limit` (0: all); user NULL: everyone's.  A page costs
 * one indexed range of `limit` rows, however many windows there are:
 * pass the last window's key for the next.
 */
store_err_t store_window_page(store_t *st, const char *user, int64_t now,
    const struct store_window_key *after, size_t limit, struct store_window_list *out);
/*
 * Ends windows: the one `id` names (NULL: all), of `user` only (NULL:
 * anyone's).  *n is how many ended; 0 is not an error.
 */
store_err_t store_window_revoke(store_t *st, const char *id, const char *user, size_t *n);
/*
 * Ends the windows an approval opened: user's, on hostname, whose source
 * (the approval's token prefix) is `source`.  For an approval the PAM
 * module never collected.  *n is how many ended; 0 is not an error.
 */
store_err_t store_window_end_source(store_t *st, const char *user, const char *hostname,
    const char *source, size_t *n);
/*
 * Whether a window can name this client: the service and the address as
 * the store keeps them (printable ASCII without spaces, 1..64 and 1..255
 * bytes, no '/' in a service).  A caller checks before it asks for a
 * window it could not open.
 */
int store_window_client_ok(const char *service, const char *rhost);
/* Whether s has the shape of a window ID (STORE_WINDOW_ID_LEN lower-case hex digits). */
int store_window_id_ok(const char *s);
void store_window_free(struct store_window *w);		/* frees members */
void store_window_list_free(struct store_window_list *list);

/*
 * What a fleet's roles are made of (store_fleet_sql): the group roles'
 * prefix, a login role per host ("role=hostname": the host's name as its
 * pages show it) and per web instance ("role"), and how many connections
 * each host's role may hold at once (STORE_FLEET_HOST_CONNS_MIN..MAX);
 * and whether a host's registration needs an enrollment (migration 13).
 */
enum store_fleet_enrollment {
	STORE_FLEET_ENROLL_UNCHANGED = 0,	/* as the store has it: enrolled when new */
	STORE_FLEET_ENROLL_ENROLLED,	/* made at a web instance, or by an admin */
	STORE_FLEET_ENROLL_TRUSTED,	/* a host may add a user's first passkey alone */
};

struct store_fleet_spec {
	const char *prefix;
	const char *const *hosts;
	size_t n_hosts;
	const char *const *webs;
	size_t n_webs;
	int host_conns;
	enum store_fleet_enrollment host_enrollment;
};

/*
 * A host's passkeyd holds six connections (passkeyd/main.c
 * FLEET_CONNECTIONS, checked against the minimum when it is built); the
 * rest of the default is room for a reconnect while the server still
 * counts the old ones (a partition it has not noticed yet).
 */
#define STORE_FLEET_HOST_CONNS_DEFAULT	16
#define STORE_FLEET_HOST_CONNS_MIN	6
#define STORE_FLEET_HOST_CONNS_MAX	1000

/*
 * The SQL that sets up a fleet's roles on a PostgreSQL store (the schema
 * itself comes with store_open): group roles `prefix`_web and
 * `prefix`_hosts with their grants and row-level security policies, a
 * login role per host and per web instance, and every host role's
 * connection limit.  Running it again changes nothing but what it was
 * given anew.  A malloc'd string, or NULL with the reason in why (a name
 * that is not plain, a limit out of range).
 */
char *store_fleet_sql(const struct store_fleet_spec *spec, char *why, size_t whylen);
/*
 * Runs SQL text (store_fleet_sql's) on the store, as one transaction.
 * The server's warnings, if any, go to warn, one per line ("" if none).
 */
store_err_t store_exec_script(store_t *st, const char *sql, char *warn, size_t warnlen);

#endif
