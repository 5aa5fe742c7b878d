/*
 * The PostgreSQL backend's parts, shared by its files; not installed and
 * not part of the store's API.
 *
 *   store_pg.c           opening, the schema and its migrations, users,
 *                        credentials, enrollments, the audit log
 *   store_pg_ceremony.c  ceremonies and their change notices (a fleet)
 *   store_pg_announce.c  the notices this process sends, after the commit
 *   store_pg_conn.c      the connection: connecting, bounded execution,
 *                        reconnecting in a worker thread, errors, columns
 *
 * A store_t is one connection (and, after store_ceremony_listen, a second
 * one for notices): use it from one thread at a time.  Only the reconnect
 * worker runs beside it, on connections of its own, handed over under a
 * lock when they are ready.
 */
#ifndef PASSKEY_STORE_PG_H
#define PASSKEY_STORE_PG_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store.h"
#include "store_backend.h"

#define PG_STATEMENT_TIMEOUT_MS	5000	/* the default; set_busy_timeout shortens it */
/*
 * How long past the server's statement_timeout the client waits for an
 * answer before it gives the connection up: a server that stopped (or a
 * network that dropped the replies) cannot hold the caller longer.
 */
#define PG_CLIENT_GRACE_MS	2000
#define PG_RECONNECT_SLICE_MS	100	/* what the call starting a reconnect waits for it */
/*
 * A BEGIN waits for the next statement only on a connection that answered
 * this recently: on one idle longer, it goes alone, so that a connection
 * that died silently (a vanished host) is found at the BEGIN, where the
 * journal can wait for a new one, rather than under a batch's first
 * entry, which would fail the batch.
 */
#define PG_BEGIN_LATER_MS	1000
#define PG_RECONNECT_BACKOFF_MS	1000	/* after an attempt that timed out */

#define PG_CRED_COLUMNS \
	"user_name, id, alg, pubkey_cose, sign_count, fmt, aaguid, uv, be, bs," \
	" attestation, nickname, created, last_used, last_addr, seq"
#define PG_EVENT_COLUMNS "id, time, event, user_name, addr, verdict, reason, detail"
#define PG_CER_COLUMNS \
	"token_hash, host_role, hostname, kind, state, reason, code, user_name, rhost," \
	" service, addr_key, challenge, user_handle, consumes_enrollment, created, expires," \
	" finished, reuse, client_key, requester, local"
/*
 * a window's uses are its row's (before migration 7) and its uses rows',
 * summed without overflow (hosts could write the row's before)
 */
#define PG_WINDOW_COLUMNS \
	"id, user_name, service, rhost, client_key, hostname, source, cred_id, opened," \
	" expires, GREATEST(last_used, (SELECT max(u.last_used) FROM window_uses u" \
	" WHERE u.window_id = windows.id)), LEAST(uses::numeric + coalesce((SELECT" \
	" sum(u.uses) FROM window_uses u WHERE u.window_id = windows.id), 0)," \
	" 9223372036854775807)::bigint"
/* Up to $2 final rows of one range of ceremonies_final, locked (PG_CER_FORGET). */
#define PG_CER_FINAL_WHERE(cond) "ARRAY(SELECT token_hash FROM ceremonies WHERE state <>" \
	" 'pending' AND " cond " LIMIT $2 FOR UPDATE SKIP LOCKED)"
#define PG_ZERO32 "decode(repeat('00', 32), 'hex')"
/* the channel of the role that made a row (migration 12), NULL if it never listened */
#define PG_CER_CHANNEL \
	"(SELECT ch.channel FROM pk_channels AS ch WHERE ch.role = ceremonies.host_role)"

/*
 * Every statement, prepared once per connection: X(symbol, kind, SQL).
 * The kind says whether a statement lost with its connection may be sent
 * again (pg_run): PG_READ only for one that changes nothing, takes no row
 * lock and calls no function of ours (the recount and pk_windows_end
 * write behind a SELECT); anything else is PG_WRITE, which fails closed.
 */
#define PG_STATEMENTS(X) \
	X(PG_HANDLE_GET, PG_READ, "SELECT handle FROM users WHERE name = $1") \
	X(PG_HANDLE_MAKE, PG_WRITE, "INSERT INTO users (name, handle, created) VALUES ($1, $2, $3)" \
	    " ON CONFLICT (name) DO NOTHING") \
	X(PG_USER_LOCK, PG_WRITE, "SELECT 1 FROM users WHERE name = $1 FOR NO KEY UPDATE") \
	X(PG_CRED_INSERT, PG_WRITE, "INSERT INTO credentials (user_name, id, alg, pubkey_cose," \
	    " sign_count, fmt, aaguid, uv, be, bs, attestation, nickname, created, last_used," \
	    " last_addr, id_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12," \
	    " $13, $14, $15, $16)") \
	X(PG_CRED_GET, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials WHERE id = $1") \
	X(PG_CRED_GET_LOGIN, PG_READ, "SELECT " PG_CRED_COLUMNS ", (SELECT handle FROM users" \
	    " WHERE name = credentials.user_name) FROM credentials WHERE id = $1") \
	X(PG_CRED_OWNER, PG_READ, "SELECT user_name FROM credentials WHERE id = $1") \
	X(PG_CRED_LIST_USER, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials WHERE user_name = $1" \
	    " ORDER BY created, seq") \
	X(PG_CRED_LIST_ALL, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " ORDER BY user_name COLLATE \"C\", created, seq") \
	X(PG_CRED_COUNT_USER, PG_READ, "SELECT count(*) FROM credentials WHERE user_name = $1") \
	X(PG_CRED_PAGE_ALL, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE seq > $1 ORDER BY seq LIMIT $2") \
	X(PG_CRED_PAGE_USER, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE user_name = $1 AND seq > $2 ORDER BY seq LIMIT $3") \
	X(PG_CRED_FIND_ALL, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE id_hash >= $1 AND id_hash < $1 || 'g' LIMIT 2") \
	X(PG_CRED_FIND_USER, PG_READ, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE id_hash >= $1 AND id_hash < $1 || 'g' AND user_name = $2 LIMIT 2") \
	X(PG_CRED_USE_GROW, PG_WRITE, "UPDATE credentials SET sign_count = $1, bs = $2," \
	    " last_used = $3, last_addr = $4 WHERE id = $5" \
	    " AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))") \
	X(PG_CRED_USE_MAX, PG_WRITE, "UPDATE credentials SET sign_count = greatest(sign_count, $1)," \
	    " bs = $2, last_used = $3, last_addr = $4 WHERE id = $5") \
	/*
	 * store_login_approve: the ceremony row (none when $1 is NULL), the
	 * use (PG_CRED_USE_GROW or _MAX by $8) only after it, the audit row
	 * only after the use; what each did, counted, and whom to announce
	 * the row's move to (store_pg_announce.c)
	 */ \
	X(PG_LOGIN_APPROVE, PG_WRITE, "WITH d AS (UPDATE ceremonies SET state = 'approved'," \
	    " reason = NULL, finished = $2, challenge = " PG_ZERO32 \
	    " WHERE token_hash = $1 AND state = 'pending' AND expires > $2" \
	    " RETURNING " PG_CER_CHANNEL " AS channel, waiter)," \
	    " u AS (UPDATE credentials SET sign_count = CASE WHEN $8 THEN $3" \
	    " ELSE greatest(sign_count, $3) END, bs = $4, last_used = $5, last_addr = $6" \
	    " WHERE id = $7 AND ($1::bytea IS NULL OR EXISTS (SELECT 1 FROM d))" \
	    " AND (NOT $8 OR sign_count < $3 OR (sign_count = 0 AND $3 = 0)) RETURNING 1)," \
	    " e AS (INSERT INTO events (time, event, user_name, addr, verdict, reason, detail)" \
	    " SELECT $9::bigint, $10::text, $11::text, $12::text, $13::text, $14::text," \
	    " $15::text FROM u RETURNING 1)" \
	    " SELECT (SELECT count(*) FROM d), (SELECT count(*) FROM u)," \
	    " (SELECT count(*) FROM e), (SELECT channel FROM d), (SELECT waiter FROM d)") \
	X(PG_CRED_RENAME, PG_WRITE, "UPDATE credentials SET nickname = $1 WHERE id = $2") \
	X(PG_CRED_REMOVE, PG_WRITE, "DELETE FROM credentials WHERE id = $1 AND" \
	    " ($2 = false OR (SELECT count(*) FROM credentials AS o" \
	    "  WHERE o.user_name = credentials.user_name) > 1)") \
	X(PG_ENROLL_ADD, PG_WRITE, "INSERT INTO enrollments (user_name, created, expires, created_by)" \
	    " VALUES ($1, $2, $3, $4) ON CONFLICT (user_name) DO UPDATE SET" \
	    " created = excluded.created, expires = excluded.expires," \
	    " created_by = excluded.created_by") \
	X(PG_ENROLL_GET, PG_READ, "SELECT expires FROM enrollments WHERE user_name = $1") \
	X(PG_ENROLL_GET_LOCK, PG_WRITE, "SELECT expires FROM enrollments WHERE user_name = $1" \
	    " FOR UPDATE") \
	X(PG_ENROLL_REMOVE, PG_WRITE, "DELETE FROM enrollments WHERE user_name = $1") \
	X(PG_EVENT_ADD, PG_WRITE, "INSERT INTO events (time, event, user_name, addr, verdict, reason," \
	    " detail) VALUES ($1, $2, $3, $4, $5, $6, $7)") \
	X(PG_EVENT_LIST_ALL, PG_READ, "SELECT " PG_EVENT_COLUMNS " FROM events" \
	    " WHERE id < $2 ORDER BY id DESC LIMIT $1") \
	X(PG_EVENT_LIST_USER, PG_READ, "SELECT " PG_EVENT_COLUMNS " FROM events" \
	    " WHERE id < $2 AND user_name = $3 ORDER BY id DESC LIMIT $1") \
	X(PG_EVENT_BOUNDS, PG_READ, "SELECT min(id), max(id) FROM events") \
	X(PG_EVENT_OLDEST_TIME, PG_READ, "SELECT time FROM events ORDER BY id LIMIT 1") \
	X(PG_EVENT_NTH_NEWEST, PG_READ, "SELECT id FROM events ORDER BY id DESC OFFSET $1 LIMIT 1") \
	X(PG_EVENT_PRUNE_TIME, PG_WRITE, "DELETE FROM events WHERE id IN" \
	    " (SELECT id FROM events ORDER BY id LIMIT $2) AND time < $1") \
	X(PG_EVENT_PRUNE_BELOW, PG_WRITE, "DELETE FROM events WHERE id IN" \
	    " (SELECT id FROM events WHERE id < $1 ORDER BY id LIMIT $2)") \
	X(PG_CER_INSERT, PG_WRITE, "INSERT INTO ceremonies (token_hash, hostname, kind, state, code," \
	    " user_name, rhost, service, addr_key, challenge, user_handle, consumes_enrollment," \
	    " created, expires, reuse, client_key, requester, local) VALUES ($1, $2, $3," \
	    " 'pending', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)") \
	X(PG_CER_GET, PG_READ, "SELECT " PG_CER_COLUMNS " FROM ceremonies WHERE token_hash = $1") \
	X(PG_CER_MOVE, PG_WRITE, "UPDATE ceremonies SET state = $3::text, reason = $4, finished = $5," \
	    " challenge = CASE WHEN $3::text = 'pending' THEN challenge ELSE " PG_ZERO32 " END" \
	    " WHERE token_hash = $1 AND state = $2 AND ($3::text <> 'approved' OR expires > $5)" \
	    " RETURNING " PG_CER_CHANNEL ", waiter") \
	X(PG_CER_SET_HANDLE, PG_WRITE, "UPDATE ceremonies SET user_handle = coalesce(user_handle, $2)" \
	    " WHERE token_hash = $1 AND state = 'pending' RETURNING user_handle") \
	X(PG_CER_EXPIRE, PG_WRITE, "UPDATE ceremonies SET state = 'expired', reason = 'expired'," \
	    " finished = $1, challenge = " PG_ZERO32 " WHERE token_hash IN (SELECT token_hash" \
	    " FROM ceremonies WHERE state = 'pending' AND expires <= $1 LIMIT $2" \
	    " FOR UPDATE SKIP LOCKED) RETURNING token_hash, " PG_CER_CHANNEL ", waiter") \
	/* \
	 * An end a host left empty or put far ahead never comes: it goes now. \
	 * Three subqueries, each one range of the partial index on finished: \
	 * one with OR walked the whole index each second (45-145 ms at 133k \
	 * final rows, a review's EXPLAIN), and the IN a sequential scan. \
	 */ \
	X(PG_CER_FORGET, PG_WRITE, "DELETE FROM ceremonies WHERE token_hash = ANY (" \
	    PG_CER_FINAL_WHERE("finished < $1") " || " PG_CER_FINAL_WHERE("finished IS NULL") \
	    " || " PG_CER_FINAL_WHERE("finished > $3") ")") \
	/* the fleet's pending counts, again (migration 6): at most once a second */ \
	X(PG_CER_RECOUNT, PG_WRITE, "SELECT pk_pending_recount()") \
	X(PG_CER_MAY_RECOUNT, PG_READ, "SELECT has_function_privilege('pk_pending_recount()'," \
	    " 'EXECUTE')") \
	/*
	 * a host's sessions held open too long, ended (the roles' SQL makes
	 * the function, store_fleet.c watchdog): one missing is no call
	 */ \
	X(PG_CER_END_HELD, PG_WRITE, "SELECT pk_end_held($1::integer)") \
	X(PG_CER_MAY_END_HELD, PG_READ, "SELECT coalesce(has_function_privilege(" \
	    "to_regprocedure('pk_end_held(integer)'), 'EXECUTE'), false)") \
	/*
	 * the purge skips rows another transaction holds: two approvals at once
	 * must not wait on each other over a window that has ended anyway
	 */ \
	X(PG_WINDOW_OPEN, PG_WRITE, "WITH purge AS (DELETE FROM windows WHERE id IN (SELECT id" \
	    " FROM windows WHERE expires <= $9 FOR UPDATE SKIP LOCKED))" \
	    " INSERT INTO windows (id, user_name, service, rhost, client_key, hostname, source," \
	    " cred_id, opened, expires) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)") \
	X(PG_WINDOW_FIND, PG_READ, "SELECT " PG_WINDOW_COLUMNS " FROM windows" \
	    " WHERE user_name = $1 AND service = $2 AND rhost = $3 AND client_key = $4" \
	    " AND (hostname = $5 OR ($8 AND client_key <> '')) AND expires > $6" \
	    " AND opened >= $7 AND opened <= $9" \
	    " ORDER BY opened DESC, expires DESC, id LIMIT 1") \
	/* 1 when counted, 0 when no such window is open: as the owner (migration 7) */ \
	X(PG_WINDOW_USE, PG_WRITE, "SELECT pk_window_use($1::text, $2::bigint)") \
	X(PG_WINDOW_PAGE_ALL, PG_READ, "SELECT " PG_WINDOW_COLUMNS " FROM windows" \
	    " WHERE (opened, id) > ($2::bigint, $3::text) AND expires > $1" \
	    " ORDER BY opened, id LIMIT $4") \
	X(PG_WINDOW_PAGE_USER, PG_READ, "SELECT " PG_WINDOW_COLUMNS " FROM windows" \
	    " WHERE (opened, id) > ($2::bigint, $3::text) AND expires > $1 AND user_name = $5" \
	    " ORDER BY opened, id LIMIT $4") \
	/* by id (of user $2 only, if given), by user, or all: as the owner (migration 6) */ \
	X(PG_WINDOW_REVOKE, PG_WRITE, "SELECT pk_windows_end($1::text, $2::text)") \
	/* a fleet host's windows bear its registered name (the admit trigger's), not its own word */ \
	X(PG_WINDOW_END_SOURCE, PG_WRITE, "SELECT coalesce(sum(pk_windows_end(id, user_name)), 0)" \
	    "::bigint FROM windows WHERE user_name = $1 AND source = $3 AND expires > 1 AND" \
	    " hostname = coalesce((SELECT h.hostname FROM pk_hosts h WHERE h.role = session_user)," \
	    " $2)") \
	/* a tombstone, as pk_windows_end's (migration 7): no use waits on it */ \
	X(PG_WINDOW_END_CRED, PG_WRITE, "UPDATE windows SET opened = 0, expires = 1" \
	    " WHERE cred_id = $1 AND expires > 1")

enum pg_stmt_id {
#define PG_STMT_ENUM(sym, kind, sql) sym,
	PG_STATEMENTS(PG_STMT_ENUM)
#undef PG_STMT_ENUM
	PG_STMT__COUNT
};


enum pg_stmt_kind { PG_WRITE, PG_READ };

extern const struct pg_statement {
	const char *name;
	enum pg_stmt_kind kind;
	const char *sql;
} pg_sql[PG_STMT__COUNT];

struct pg_job;

#define PG_LATER_MAX	4
#define PG_RELEASE_MARK	"RELEASE SAVEPOINT pk_mark"

/*
 * A move out of pending that another instance waits for, to be announced
 * on the channel of the role that made the row (store_pg_announce.c):
 * "pk:" and 32 hex digits (migration 12).
 */
#define PG_CHANNEL_MAX		36	/* a channel's name, NUL included */
/* committed and waiting to be sent, or staged in one transaction: more are dropped */
#define PG_ANNOUNCE_MAX		512
#define PG_ANNOUNCE_BATCH	32	/* sent in one statement, one commit */

struct pg_announcement {
	char channel[PG_CHANNEL_MAX];
	unsigned char hash[STORE_TOKEN_HASH_LEN];
};

/* What a listening store sends: filled by every store that announces through it. */
struct pg_announce_queue {
	pthread_mutex_t mu;
	struct pg_announcement *q;	/* PG_ANNOUNCE_MAX, made at the first push */
	size_t head, n;
	uint64_t sent, dropped;
};

/* Whether the role may call a function only some roles may (asked, then known). */
struct pg_may {
	int64_t asked_ms;	/* when it last asked (monotonic; 0: never) */
	int yes;
};

struct store_pg {
	struct store base;	/* first: a store_t * is a struct store_pg * */
	PGconn *conn;		/* NULL after it was given up */
	char *conninfo;
	int version;
	int in_txn;		/* between our BEGIN and its COMMIT or ROLLBACK */
	/*
	 * Constant SQL that needs no answer of its own (a transaction's BEGIN,
	 * the journal's SAVEPOINT and RELEASE) is kept and sent with the next
	 * statement: in the same message for constant SQL, in one pipeline
	 * for a prepared one.  A kept RELEASE is not sent at all when COMMIT
	 * ends the transaction.  Three round trips a login fewer (pg_later).
	 */
	const char *later[PG_LATER_MAX];
	int nlater;
	int64_t answered_ms;	/* when this connection last answered (monotonic) */
	int settings_stale;	/* the timeouts changed since the connection was made */
	int lock_timeout_ms;
	int statement_timeout_ms;
	int lazy_commit;	/* store_set_lazy_commit: synchronous_commit = off */
	char instance[STORE_INSTANCE_MAX + 1];	/* store_set_instance: pk.instance */
	struct pg_job *job;	/* a reconnect under way */
	int64_t job_started_ms;
	int64_t retry_after_ms;	/* no new attempt before this (after a failed one) */
	char retry_why[400];	/* and why that one failed: msg may be cleared since */
	int may_forget;		/* 0 once the role was refused DELETE on ceremonies */
	struct pg_may recount;	/* whether the role may call pk_pending_recount() */
	struct pg_may end_held;	/* and pk_end_held() */
	int64_t rows_bound_at;	/* when the audit log's row bound was last enforced */
	int rows_bound_more;	/* and it left more to remove */
	PGconn *listen;		/* the second connection, for change notices */
	struct pg_job *listen_job;
	char channel[PG_CHANNEL_MAX];	/* what it LISTENs to (pk_channel()) */
	/*
	 * Announcing (store_pg_announce.c): moves staged until their commit,
	 * then queued on announce_via's queue (this store's own unless
	 * store_set_announcer said otherwise), which this store sends on its
	 * listening connection when it has one.
	 */
	struct pg_announcement *staged;	/* grown as needed, to PG_ANNOUNCE_MAX */
	size_t nstaged, staged_cap;
	size_t nstaged_mark;	/* staged before the journal's mark (txn_mark) */
	size_t staged_over;	/* and those that found no room */
	struct store_pg *announce_via;
	struct pg_announce_queue queue;
	size_t announcing;	/* notices in the batch sent on `listen`, unanswered yet */
	int announce_failed;	/* and the server refused it */
	char msg[400];
};

static inline struct store_pg *
pg_of(store_t *st)
{
	return (struct store_pg *)st;
}

/* What every connection of a store sets for its session. */
struct pg_settings {
	int lock_ms, stmt_ms, lazy_commit;
	char instance[STORE_INSTANCE_MAX + 1];	/* "": none set */
};

static inline struct pg_settings
pg_settings_of(const struct store_pg *pg)
{
	struct pg_settings set = { pg->lock_timeout_ms, pg->statement_timeout_ms,
	    pg->lazy_commit, "" };

	memcpy(set.instance, pg->instance, sizeof(set.instance));
	return set;
}

/* ---- parameters ---------------------------------------------------------- */

#define PG_MAX_ARGS 20	/* the most any statement takes (PG_CER_INSERT: 17), and room */

struct pg_args {
	const char *val[PG_MAX_ARGS];
	int len[PG_MAX_ARGS];
	int fmt[PG_MAX_ARGS];
	char num[PG_MAX_ARGS][24];
	int n;
};

/* a statement with more parameters than PG_MAX_ARGS is a bug: stop, never write past */
static inline void
arg_room(const struct pg_args *a)
{
	if (a->n < 0 || a->n >= PG_MAX_ARGS)
		abort();
}

static inline void
arg_text(struct pg_args *a, const char *s)
{
	arg_room(a);
	a->val[a->n] = s;	/* NULL is SQL NULL */
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

static inline void
arg_bytes(struct pg_args *a, const void *p, size_t n)
{
	arg_room(a);
	a->val[a->n] = p;
	a->len[a->n] = (int)n;
	a->fmt[a->n++] = 1;
}

static inline void
arg_int(struct pg_args *a, int64_t v)
{
	arg_room(a);
	snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", (long long)v);
	arg_text(a, a->num[a->n]);
}

static inline void
arg_bool(struct pg_args *a, int v)
{
	arg_text(a, v ? "true" : "false");
}

/* ---- store_pg_conn.c ----------------------------------------------------- */

/*
 * Connects as uri says (our defaults first: connect_timeout,
 * tcp_user_timeout, keepalives, target_session_attrs=read-write, UTF8),
 * sets the timeouts and refuses a server that takes no writes.  With
 * prepare, also prepares every statement; with channel, LISTENs there.
 * Blocking (the reconnect worker calls it too).  The reason in msg.
 */
store_err_t pg_connect(const char *uri, const struct pg_settings *set, int prepare,
    const char *channel, PGconn **out, char *msg, size_t msglen);
/* The SET statements that make a connection's session what set says. */
#define PG_SETTINGS_SQL_MAX	256
void pg_settings_sql(const struct pg_settings *set, char *sql, size_t len);
store_err_t pg_prepare_all(struct store_pg *pg);
/* Ends the connections, and a reconnect under way (the worker finishes alone). */
void pg_disconnect(struct store_pg *pg);

store_err_t pg_err_of(struct store_pg *pg, PGresult *res);
void pg_remember(struct store_pg *pg, PGresult *res);
/*
 * Constant SQL (one statement, whose only answer can be an error) sent
 * with whatever goes next; see store_pg.later.  Its error is the next
 * statement's: callers inside a transaction lose nothing by the wait.
 */
store_err_t pg_later(struct store_pg *pg, const char *sql);
/* Constant SQL (one or more statements), bounded in time. */
store_err_t pg_simple(struct store_pg *pg, const char *sql);
/* A constant query's rows (text), bounded in time. */
store_err_t pg_query(struct store_pg *pg, const char *sql, PGresult **out);
/*
 * Outside a transaction: a live, current connection, or
 * STORE_ERR_UNAVAILABLE while one is being made.
 */
store_err_t pg_ready(struct store_pg *pg);
/* A prepared statement; *out holds its rows (binary) when it has any. */
store_err_t pg_run(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a,
    PGresult **out);
/* An UPDATE or DELETE of one row; no row is NOT_FOUND. */
store_err_t pg_change(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a);
long pg_changed(PGresult *res);
store_err_t pg_begin(struct store_pg *pg);
store_err_t pg_commit(struct store_pg *pg);
void pg_rollback(struct store_pg *pg);

int64_t col_int(PGresult *r, int row, int col);
int col_bool(PGresult *r, int row, int col);
store_err_t col_text(PGresult *r, int row, int col, char **out);
store_err_t col_blob(PGresult *r, int row, int col, unsigned char **out, size_t *len);
/* The one row's first column, exactly len bytes: NOT_FOUND for no row. */
store_err_t col_fixed(PGresult *r, unsigned char *out, size_t len);

/* The notices connection: made (again) by the worker when it is lost. */
store_err_t pg_listen_ready(struct store_pg *pg);

/* ---- store_pg_ceremony.c ------------------------------------------------- */

store_err_t pg_ceremony_add(store_t *st, const struct store_ceremony *c, char *refusal,
    size_t refusal_len);
store_err_t pg_ceremony_get(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    struct store_ceremony *out);
store_err_t pg_ceremony_move(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const char *from, const char *to, const char *reason, int64_t now);
store_err_t pg_ceremony_set_handle(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const unsigned char handle[STORE_USER_HANDLE_LEN], unsigned char out[STORE_USER_HANDLE_LEN]);
store_err_t pg_ceremony_sweep(store_t *st, int64_t now, int64_t forget_before, size_t batch,
    size_t *expired, size_t *forgotten);
store_err_t pg_ceremony_listen(store_t *st);
int pg_notice_fd(store_t *st);
store_err_t pg_notices(store_t *st,
    void (*fn)(const unsigned char[STORE_TOKEN_HASH_LEN], void *), void *arg);
store_err_t pg_exec_script(store_t *st, const char *sql, char *warn, size_t warnlen);

/* ---- store_pg_announce.c ------------------------------------------------- */

void pg_announce_init(struct store_pg *pg);
void pg_announce_free(struct store_pg *pg);
store_err_t pg_set_announcer(store_t *st, store_t *via);
/* Whether s is a channel as pk_channel() draws them ("pk:" and 32 hex digits). */
int pg_channel_ok(const char *s);
/*
 * A row of res that moved out of pending on this connection (its host's
 * channel and waiter in columns col, col + 1): announced on that channel
 * once committed, unless this instance made it (waiter), or its host
 * never listened (no channel).
 */
void pg_announce_row(struct store_pg *pg, PGresult *res, int row, int col,
    const unsigned char hash[STORE_TOKEN_HASH_LEN]);
void pg_announce_mark(struct store_pg *pg);
void pg_announce_mark_undone(struct store_pg *pg);
/* At the end of a transaction: committed (queued) or not (dropped). */
void pg_announce_end(struct store_pg *pg, int committed);
/* The answer of a batch sent, when it has come (on the listening connection). */
void pg_announce_read(struct store_pg *pg);
/* The listening connection was lost: so is the batch it was sending. */
void pg_announce_lost(struct store_pg *pg);
store_err_t pg_announce(store_t *st);
void pg_announce_counts(store_t *st, uint64_t *sent, uint64_t *dropped);

#endif /* PASSKEY_STORE_PG_H */
