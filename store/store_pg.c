/*
 * The PostgreSQL backend: one database for a fleet of passkeyd instances.
 *
 * The store is passed as a libpq connection URI, whole, so sslmode,
 * verify-full, passfile, target_session_attrs and the rest work as libpq
 * documents them.  Semantics are the SQLite backend's (store.h), with
 * concurrent writers in mind:
 *   - the schema is created or migrated under an advisory lock, so N
 *     instances starting at once migrate exactly once; a newer schema is
 *     refused and left untouched;
 *   - the sign counter is a compare-and-set in one UPDATE: under READ
 *     COMMITTED a second writer of the same row waits for the first and
 *     re-checks the condition on the new row, so of two uses of one counter
 *     exactly one is stored;
 *   - the last-passkey check and a registration's enrollment check take
 *     the user's row lock first, so two writers cannot both pass them.
 * Every statement is prepared once per connection, with parameters bound;
 * results come in binary.  A lost connection is re-established at the
 * next call outside a transaction; what was inside it is reported failed.
 *
 * A store_t is one connection: use it from one thread at a time.
 */
#include <endian.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "clock.h"

#include "store.h"
#include "store_backend.h"

#define PG_ADVISORY_KEY	0x706173736b657931LL	/* "passkey1": migrations */
#define PG_STATEMENT_TIMEOUT_MS	5000
#define PG_CONNECT_TIMEOUT_S	"5"
#define PG_TCP_USER_TIMEOUT_MS	"5000"	/* a peer gone silent mid-statement */
#define PG_RECONNECT_SLICE_MS	20	/* the most one call waits on a reconnect */
#define PG_RECONNECT_GIVE_UP_MS	5000	/* then a new attempt starts */

/* Schema steps, oldest first; step i takes the version from i to i + 1. */
static const char *const pg_migrations[] = {
	/* 1: the schema of SQLite's version 2, in PostgreSQL's types */
	"CREATE TABLE pk_meta ("
	"  one boolean PRIMARY KEY DEFAULT true CHECK (one),"
	"  version integer NOT NULL);"
	"INSERT INTO pk_meta (version) VALUES (0);"
	"CREATE TABLE users ("
	"  name text PRIMARY KEY,"
	"  handle bytea UNIQUE NOT NULL CHECK (length(handle) = 32),"
	"  created bigint NOT NULL);"
	"CREATE TABLE credentials ("
	"  seq bigserial UNIQUE NOT NULL,"
	"  id bytea PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 1023),"
	"  user_name text NOT NULL REFERENCES users(name),"
	"  alg integer NOT NULL,"
	"  pubkey_cose bytea NOT NULL CHECK (length(pubkey_cose) > 0),"
	"  sign_count bigint NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),"
	"  fmt text NOT NULL,"
	"  aaguid bytea NOT NULL CHECK (length(aaguid) = 16),"
	"  uv boolean NOT NULL, be boolean NOT NULL, bs boolean NOT NULL,"
	"  attestation text NOT NULL,"
	"  nickname text,"
	"  created bigint NOT NULL,"
	"  last_used bigint NOT NULL DEFAULT 0,"
	"  last_addr text,"
	"  id_hash text COLLATE \"C\" NOT NULL);"
	"CREATE INDEX credentials_user ON credentials (user_name, created);"
	"CREATE INDEX credentials_id_hash ON credentials (id_hash);"
	"CREATE TABLE enrollments ("
	"  user_name text PRIMARY KEY,"
	"  created bigint NOT NULL,"
	"  expires bigint NOT NULL,"
	"  created_by text);"
	"CREATE TABLE events ("
	"  id bigserial PRIMARY KEY,"
	"  time bigint NOT NULL,"
	"  event text NOT NULL,"
	"  user_name text,"
	"  addr text,"
	"  verdict text NOT NULL,"
	"  reason text,"
	"  detail text);"
	"CREATE INDEX events_user ON events (user_name, id);",
};

#define PG_VERSION	((int)(sizeof(pg_migrations) / sizeof(pg_migrations[0])))

#define PG_CRED_COLUMNS \
	"user_name, id, alg, pubkey_cose, sign_count, fmt, aaguid, uv, be, bs," \
	" attestation, nickname, created, last_used, last_addr, seq"
#define PG_EVENT_COLUMNS "id, time, event, user_name, addr, verdict, reason, detail"

/* Every statement, prepared once per connection: X(symbol, SQL). */
#define PG_STATEMENTS(X) \
	X(PG_HANDLE_GET, "SELECT handle FROM users WHERE name = $1") \
	X(PG_HANDLE_MAKE, "INSERT INTO users (name, handle, created) VALUES ($1, $2, $3)" \
	    " ON CONFLICT (name) DO NOTHING") \
	X(PG_USER_LOCK, "SELECT 1 FROM users WHERE name = $1 FOR UPDATE") \
	X(PG_CRED_INSERT, "INSERT INTO credentials (user_name, id, alg, pubkey_cose," \
	    " sign_count, fmt, aaguid, uv, be, bs, attestation, nickname, created, last_used," \
	    " last_addr, id_hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12," \
	    " $13, $14, $15, $16)") \
	X(PG_CRED_GET, "SELECT " PG_CRED_COLUMNS " FROM credentials WHERE id = $1") \
	X(PG_CRED_OWNER, "SELECT user_name FROM credentials WHERE id = $1") \
	X(PG_CRED_LIST_USER, "SELECT " PG_CRED_COLUMNS " FROM credentials WHERE user_name = $1" \
	    " ORDER BY created, seq") \
	X(PG_CRED_LIST_ALL, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " ORDER BY user_name, created, seq") \
	X(PG_CRED_COUNT_USER, "SELECT count(*) FROM credentials WHERE user_name = $1") \
	X(PG_CRED_PAGE_ALL, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE seq > $1 ORDER BY seq LIMIT $2") \
	X(PG_CRED_PAGE_USER, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE user_name = $1 AND seq > $2 ORDER BY seq LIMIT $3") \
	X(PG_CRED_FIND_ALL, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE id_hash >= $1 AND id_hash < $1 || 'g' LIMIT 2") \
	X(PG_CRED_FIND_USER, "SELECT " PG_CRED_COLUMNS " FROM credentials" \
	    " WHERE id_hash >= $1 AND id_hash < $1 || 'g' AND user_name = $2 LIMIT 2") \
	X(PG_CRED_USE_GROW, "UPDATE credentials SET sign_count = $1, bs = $2," \
	    " last_used = $3, last_addr = $4 WHERE id = $5" \
	    " AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))") \
	X(PG_CRED_USE_MAX, "UPDATE credentials SET sign_count = greatest(sign_count, $1)," \
	    " bs = $2, last_used = $3, last_addr = $4 WHERE id = $5") \
	X(PG_CRED_RENAME, "UPDATE credentials SET nickname = $1 WHERE id = $2") \
	X(PG_CRED_REMOVE, "DELETE FROM credentials WHERE id = $1 AND" \
	    " ($2 = false OR (SELECT count(*) FROM credentials AS o" \
	    "  WHERE o.user_name = credentials.user_name) > 1)") \
	X(PG_ENROLL_ADD, "INSERT INTO enrollments (user_name, created, expires, created_by)" \
	    " VALUES ($1, $2, $3, $4) ON CONFLICT (user_name) DO UPDATE SET" \
	    " created = excluded.created, expires = excluded.expires," \
	    " created_by = excluded.created_by") \
	X(PG_ENROLL_GET, "SELECT expires FROM enrollments WHERE user_name = $1") \
	X(PG_ENROLL_GET_LOCK, "SELECT expires FROM enrollments WHERE user_name = $1 FOR UPDATE") \
	X(PG_ENROLL_REMOVE, "DELETE FROM enrollments WHERE user_name = $1") \
	X(PG_EVENT_ADD, "INSERT INTO events (time, event, user_name, addr, verdict, reason," \
	    " detail) VALUES ($1, $2, $3, $4, $5, $6, $7)") \
	X(PG_EVENT_LIST_ALL, "SELECT " PG_EVENT_COLUMNS " FROM events" \
	    " WHERE id < $2 ORDER BY id DESC LIMIT $1") \
	X(PG_EVENT_LIST_USER, "SELECT " PG_EVENT_COLUMNS " FROM events" \
	    " WHERE id < $2 AND user_name = $3 ORDER BY id DESC LIMIT $1") \
	X(PG_EVENT_BOUNDS, "SELECT min(id), max(id) FROM events") \
	X(PG_EVENT_OLDEST_TIME, "SELECT time FROM events ORDER BY id LIMIT 1") \
	X(PG_EVENT_PRUNE_TIME, "DELETE FROM events WHERE id IN" \
	    " (SELECT id FROM events ORDER BY id LIMIT $2) AND time < $1") \
	X(PG_EVENT_PRUNE_BELOW, "DELETE FROM events WHERE id IN" \
	    " (SELECT id FROM events WHERE id < $1 ORDER BY id LIMIT $2)")

enum pg_stmt_id {
#define PG_STMT_ENUM(sym, sql) sym,
	PG_STATEMENTS(PG_STMT_ENUM)
#undef PG_STMT_ENUM
	PG_STMT__COUNT
};

static const struct {
	const char *name;
	const char *sql;
} pg_sql[] = {
#define PG_STMT_ROW(sym, sql) { #sym, sql },
	PG_STATEMENTS(PG_STMT_ROW)
#undef PG_STMT_ROW
};

struct store_pg {
	struct store base;	/* first: a store_t * is a struct store_pg * */
	PGconn *conn;
	char *conninfo;
	int version;
	int prepared;		/* the statements exist on this connection */
	int settings_ok;	/* and its timeouts are set */
	int resetting;		/* a non-blocking reconnect is under way */
	int in_txn;		/* between our BEGIN and its COMMIT or ROLLBACK */
	int64_t reset_started_ms;
	int lock_timeout_ms;
	int statement_timeout_ms;
	char msg[400];
};

static const struct store_ops pg_ops;

static struct store_pg *
pg_of(store_t *st)
{
	return (struct store_pg *)st;
}

/* ---- parameters -------------------------------------------------------- */

#define PG_MAX_ARGS 16

struct pg_args {
	const char *val[PG_MAX_ARGS];
	int len[PG_MAX_ARGS];
	int fmt[PG_MAX_ARGS];
	char num[PG_MAX_ARGS][24];
	int n;
};

static void
arg_text(struct pg_args *a, const char *s)
{
	a->val[a->n] = s;	/* NULL is SQL NULL */
	a->len[a->n] = 0;
	a->fmt[a->n++] = 0;
}

static void
arg_bytes(struct pg_args *a, const void *p, size_t n)
{
	a->val[a->n] = p;
	a->len[a->n] = (int)n;
	a->fmt[a->n++] = 1;
}

static void
arg_int(struct pg_args *a, int64_t v)
{
	snprintf(a->num[a->n], sizeof(a->num[a->n]), "%lld", (long long)v);
	arg_text(a, a->num[a->n]);
}

static void
arg_bool(struct pg_args *a, int v)
{
	arg_text(a, v ? "true" : "false");
}

/* ---- errors and the connection ----------------------------------------- */

static store_err_t
pg_err_of(struct store_pg *pg, PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(pg->conn) != CONNECTION_OK)
		return STORE_ERR_UNAVAILABLE;	/* the server went away */
	if (state == NULL)
		return STORE_ERR_IO;
	/* connection exceptions; shutting down, crashed, starting up */
	if (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
	    strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)
		return STORE_ERR_UNAVAILABLE;
	if (strcmp(state, "23505") == 0)	/* unique_violation */
		return STORE_ERR_EXISTS;
	if (strncmp(state, "23", 2) == 0)	/* other integrity constraints */
		return STORE_ERR_INVALID;
	if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
	    strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)
		return STORE_ERR_BUSY;		/* serialization, deadlock, lock, timeout */
	if (strcmp(state, "53100") == 0)	/* disk_full */
		return STORE_ERR_FULL;
	if (strcmp(state, "53200") == 0)	/* out_of_memory */
		return STORE_ERR_NOMEM;
	if (strcmp(state, "25006") == 0)	/* read_only_sql_transaction (a standby) */
		return STORE_ERR_READONLY;
	return STORE_ERR_IO;
}

static void
remember(struct store_pg *pg, PGresult *res)
{
	const char *m = res != NULL ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn);

	snprintf(pg->msg, sizeof(pg->msg), "postgresql: %s", m != NULL && *m ? m : "error");
	pg->msg[strcspn(pg->msg, "\n")] = '\0';
}

static store_err_t
pg_simple(struct store_pg *pg, const char *sql)
{
	PGresult *res = PQexec(pg->conn, sql);
	store_err_t err = STORE_OK;

	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		remember(pg, res);
		err = pg_err_of(pg, res);
	}
	PQclear(res);
	return err;
}

static store_err_t
pg_prepare_all(struct store_pg *pg)
{
	store_err_t err;

	/* what a failed earlier attempt left would clash with its own names */
	if ((err = pg_simple(pg, "DEALLOCATE ALL")) != STORE_OK)
		return err;
	for (int i = 0; i < PG_STMT__COUNT; i++) {
		PGresult *res = PQprepare(pg->conn, pg_sql[i].name, pg_sql[i].sql, 0, NULL);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			remember(pg, res);
			err = pg_err_of(pg, res);
		}
		PQclear(res);
		if (err != STORE_OK)
			return err;
	}
	pg->prepared = 1;
	return STORE_OK;
}

/*
 * What every connection gets, the first and each new one, before its
 * first statement: the timeouts, then the prepared statements.
 */
static store_err_t
pg_session(struct store_pg *pg)
{
	char sql[128];
	store_err_t err;

	if (!pg->settings_ok) {
		snprintf(sql, sizeof(sql), "SET statement_timeout = %d; SET lock_timeout = %d",
		    pg->statement_timeout_ms, pg->lock_timeout_ms);
		if ((err = pg_simple(pg, sql)) != STORE_OK)
			return err;
		pg->settings_ok = 1;
	}
	return pg->prepared ? STORE_OK : pg_prepare_all(pg);
}

/*
 * Whether an idle connection still stands.  An idle one has nothing to
 * read (this connection never LISTENs), so readable data is the server's
 * goodbye (a restart, a failover, an admin's pg_terminate_backend) or an
 * EOF; at worst a stray notice costs one new connection.
 */
static int
pg_alive(struct store_pg *pg)
{
	struct pollfd pfd = { .fd = PQsocket(pg->conn), .events = POLLIN };

	if (PQstatus(pg->conn) != CONNECTION_OK || pfd.fd < 0)
		return 0;
	return poll(&pfd, 1, 0) == 0;
}

/*
 * Waits up to ms for the socket as PQresetPoll asked; 1 when it is ready.
 */
static int
pg_wait_socket(struct store_pg *pg, PostgresPollingStatusType ps, int64_t ms)
{
	struct pollfd pfd = { .fd = PQsocket(pg->conn),
	    .events = ps == PGRES_POLLING_READING ? POLLIN : POLLOUT };

	return pfd.fd >= 0 && ms > 0 && poll(&pfd, 1, (int)ms) > 0;
}

/*
 * Makes the connection again without blocking the caller for long: each
 * call advances the handshake for at most PG_RECONNECT_SLICE_MS and says
 * STORE_ERR_UNAVAILABLE until it is done, so a daemon's loop goes on
 * answering while the server is away.  (A host name is still resolved
 * by a blocking lookup: give hostaddr, or an /etc/hosts name.)
 */
static store_err_t
pg_reconnect(struct store_pg *pg)
{
	int64_t now = clock_monotonic_ms(), deadline = now + PG_RECONNECT_SLICE_MS;
	PostgresPollingStatusType ps = PGRES_POLLING_WRITING;

	if (pg->resetting && now - pg->reset_started_ms > PG_RECONNECT_GIVE_UP_MS)
		pg->resetting = 0;	/* a server that never answers: start again */
	if (!pg->resetting) {
		pg->prepared = pg->settings_ok = 0;
		if (!PQresetStart(pg->conn)) {
			remember(pg, NULL);
			return STORE_ERR_UNAVAILABLE;
		}
		pg->resetting = 1;
		pg->reset_started_ms = now;
	}
	for (;;) {
		ps = PQresetPoll(pg->conn);
		if (ps == PGRES_POLLING_OK) {
			pg->resetting = 0;
			return pg_session(pg);
		}
		if (ps == PGRES_POLLING_FAILED) {
			pg->resetting = 0;
			remember(pg, NULL);
			return STORE_ERR_UNAVAILABLE;
		}
		if (!pg_wait_socket(pg, ps, deadline - clock_monotonic_ms())) {
			snprintf(pg->msg, sizeof(pg->msg), "postgresql: reconnecting");
			return STORE_ERR_UNAVAILABLE;
		}
	}
}

/*
 * A connection that broke is made again before the next call, but never
 * inside a transaction: what the broken one held is gone, and the caller
 * is told so.  Only outside a transaction.
 */
static store_err_t
pg_ready(struct store_pg *pg)
{
	if (!pg->resetting && pg_alive(pg))
		return pg_session(pg);
	return pg_reconnect(pg);
}

/*
 * The connection was lost under a statement sent outside a transaction.
 * A read may be sent again on a new connection; a write may have been
 * done before the loss, so its caller gets the failure instead.
 */
static int
pg_retry_safe(struct store_pg *pg, enum pg_stmt_id id, int was_idle)
{
	return was_idle && PQstatus(pg->conn) != CONNECTION_OK &&
	    strncmp(pg_sql[id].sql, "SELECT ", 7) == 0 && strstr(pg_sql[id].sql, " FOR UPDATE") == NULL;
}

/* Runs a prepared statement; *out holds its rows (binary) when it has any. */
static store_err_t
pg_run(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a, PGresult **out)
{
	int idle = !pg->in_txn;
	PGresult *res;
	ExecStatusType st;
	store_err_t err;

	if (out != NULL)
		*out = NULL;
	for (int attempt = 0;; attempt++) {
		if (idle && (err = pg_ready(pg)) != STORE_OK)
			return err;
		res = PQexecPrepared(pg->conn, pg_sql[id].name, a != NULL ? a->n : 0,
		    a != NULL ? a->val : NULL, a != NULL ? a->len : NULL,
		    a != NULL ? a->fmt : NULL, 1);
		st = PQresultStatus(res);
		if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
			break;
		remember(pg, res);
		err = pg_err_of(pg, res);
		PQclear(res);
		if (attempt > 0 || !pg_retry_safe(pg, id, idle))
			return err;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return STORE_OK;
}

/* Rows a DELETE or UPDATE changed. */
static long
pg_changed(PGresult *res)
{
	return strtol(PQcmdTuples(res), NULL, 10);
}

/* Runs an UPDATE or DELETE of one row; no row is NOT_FOUND. */
static store_err_t
pg_change(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a)
{
	PGresult *res;
	store_err_t err = pg_run(pg, id, a, &res);

	if (err == STORE_OK && pg_changed(res) == 0)
		err = STORE_ERR_NOT_FOUND;
	PQclear(res);
	return err;
}

/* ---- binary columns ------------------------------------------------------ */

static int64_t
col_int(PGresult *r, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(r, row, col);
	int n = PQgetlength(r, row, col);
	uint64_t v = 0;

	if (PQgetisnull(r, row, col))
		return 0;
	for (int i = 0; i < n && i < 8; i++)
		v = (v << 8) | p[i];
	if (n == 4)
		return (int32_t)(uint32_t)v;
	if (n == 2)
		return (int16_t)(uint16_t)v;
	return (int64_t)v;
}

static int
col_bool(PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
	    PQgetvalue(r, row, col)[0] != 0;
}

static store_err_t
col_text(PGresult *r, int row, int col, char **out)
{
	int n = PQgetlength(r, row, col);

	*out = NULL;
	if (PQgetisnull(r, row, col))
		return STORE_OK;
	if ((*out = malloc((size_t)n + 1)) == NULL)
		return STORE_ERR_NOMEM;
	memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
	(*out)[n] = '\0';
	return STORE_OK;
}

static store_err_t
col_blob(PGresult *r, int row, int col, unsigned char **out, size_t *len)
{
	int n = PQgetlength(r, row, col);

	*out = NULL;
	*len = 0;
	if (PQgetisnull(r, row, col) || n <= 0)
		return STORE_OK;
	if ((*out = malloc((size_t)n)) == NULL)
		return STORE_ERR_NOMEM;
	memcpy(*out, PQgetvalue(r, row, col), (size_t)n);
	*len = (size_t)n;
	return STORE_OK;
}

/* ---- opening and the schema ---------------------------------------------- */

/*
 * Under an advisory lock held to the end of the transaction: instances
 * starting together migrate one after the other, and the later ones find
 * the work done.  A newer schema, or tables that are not ours, are left
 * untouched.
 */
static store_err_t
pg_migrate(struct store_pg *pg, char *why, size_t whylen)
{
	PGresult *res;
	store_err_t err;
	int version = 0, ours, foreign;
	char sql[96];

	if ((err = pg_simple(pg, "BEGIN")) != STORE_OK)
		return err;
	snprintf(sql, sizeof(sql), "SELECT pg_advisory_xact_lock(%lld)", (long long)PG_ADVISORY_KEY);
	if ((err = pg_simple(pg, sql)) != STORE_OK)
		goto fail;
	res = PQexec(pg->conn, "SELECT to_regclass('pk_meta') IS NOT NULL,"
	    " to_regclass('credentials') IS NOT NULL OR to_regclass('events') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		remember(pg, res);
		err = pg_err_of(pg, res);
		PQclear(res);
		goto fail;
	}
	ours = PQgetvalue(res, 0, 0)[0] == 't';
	foreign = PQgetvalue(res, 0, 1)[0] == 't';
	PQclear(res);
	if (!ours && foreign) {
		snprintf(why, whylen, "the database holds tables that are not a passkey store's");
		err = STORE_ERR_SCHEMA;
		goto fail;
	}
	if (ours) {
		res = PQexec(pg->conn, "SELECT version FROM pk_meta");
		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			remember(pg, res);
			PQclear(res);
			err = STORE_ERR_SCHEMA;
			goto fail;
		}
		version = atoi(PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	if (version > PG_VERSION || version < 0) {
		snprintf(why, whylen, "schema version %d is newer than this program's (%d)",
		    version, PG_VERSION);
		err = STORE_ERR_SCHEMA;
		goto fail;
	}
	for (int i = version; i < PG_VERSION; i++) {
		snprintf(sql, sizeof(sql), "UPDATE pk_meta SET version = %d", i + 1);
		if ((err = pg_simple(pg, pg_migrations[i])) != STORE_OK ||
		    (err = pg_simple(pg, sql)) != STORE_OK)
			goto fail;
	}
	if ((err = pg_simple(pg, "COMMIT")) != STORE_OK)
		return err;
	pg->version = PG_VERSION;
	return STORE_OK;
fail:
	(void)pg_simple(pg, "ROLLBACK");
	return err;
}

/* A standby (or a read-only default) could approve nothing: refuse it now. */
static store_err_t
pg_check_writable(struct store_pg *pg, char *why, size_t whylen)
{
	PGresult *res = PQexec(pg->conn, "SHOW transaction_read_only");
	store_err_t err = STORE_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		remember(pg, res);
		err = pg_err_of(pg, res);
	} else if (strcmp(PQgetvalue(res, 0, 0), "on") == 0) {
		snprintf(why, whylen, "the server takes no writes (a standby? add "
		    "target_session_attrs=read-write to the URI)");
		err = STORE_ERR_READONLY;
	}
	PQclear(res);
	return err;
}

/*
 * libpq parses the URI (PQconninfoParse), so what is shown is what it
 * would use; anything it cannot parse is shown as a placeholder only.
 */
int
store_pg_display(const char *uri, char *out, size_t outlen)
{
	PQconninfoOption *opts = PQconninfoParse(uri, NULL);
	const char *user = NULL, *host = NULL, *port = NULL, *db = NULL;
	int has_password = 0;

	snprintf(out, outlen, "postgresql://(unparsable URI)");
	if (opts == NULL)
		return 0;
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++) {
		if (o->val == NULL || *o->val == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			has_password = 1;
		else if (strcmp(o->keyword, "user") == 0)
			user = o->val;
		else if (strcmp(o->keyword, "host") == 0 || (host == NULL &&
		    strcmp(o->keyword, "hostaddr") == 0))
			host = o->val;
		else if (strcmp(o->keyword, "port") == 0)
			port = o->val;
		else if (strcmp(o->keyword, "dbname") == 0)
			db = o->val;
	}
	snprintf(out, outlen, "postgresql://%s%s%s%s%s/%s", user ? user : "", user ? "@" : "",
	    host && host[0] != '/' ? host : "", port ? ":" : "", port ? port : "", db ? db : "");
	if (host != NULL && host[0] == '/')	/* a socket folder */
		snprintf(out + strlen(out), outlen - strlen(out), "?host=%s", host);
	PQconninfoFree(opts);
	return has_password;
}

static void
pg_notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void
pg_free(struct store_pg *pg)
{
	PQfinish(pg->conn);
	if (pg->conninfo != NULL)
		explicit_bzero(pg->conninfo, strlen(pg->conninfo));	/* may hold a password */
	free(pg->conninfo);
	free(pg);
}

store_err_t
store_pg_open(const char *uri, store_t **out, char *why, size_t whylen)
{
	/* the URI's own connect_timeout, if any, wins over ours (it comes after) */
	const char *keys[] = { "connect_timeout", "tcp_user_timeout", "dbname", NULL };
	const char *vals[] = { PG_CONNECT_TIMEOUT_S, PG_TCP_USER_TIMEOUT_MS, uri, NULL };
	struct store_pg *pg;
	store_err_t err;

	*out = NULL;
	if ((pg = calloc(1, sizeof(*pg))) == NULL || (pg->conninfo = strdup(uri)) == NULL) {
		free(pg);
		return STORE_ERR_NOMEM;
	}
	pg->base.ops = &pg_ops;
	pg->lock_timeout_ms = 5000;
	pg->statement_timeout_ms = PG_STATEMENT_TIMEOUT_MS;
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (pg->conn == NULL) {
		pg_free(pg);
		return STORE_ERR_NOMEM;
	}
	/* a daemon's stderr is its log: notices go nowhere (errors are returned) */
	PQsetNoticeProcessor(pg->conn, pg_notice_ignore, NULL);
	if (PQstatus(pg->conn) != CONNECTION_OK) {
		remember(pg, NULL);
		snprintf(why, whylen, "%s", pg->msg);
		pg_free(pg);
		return STORE_ERR_UNAVAILABLE;
	}
	if ((err = pg_check_writable(pg, why, whylen)) == STORE_OK &&
	    (err = pg_migrate(pg, why, whylen)) == STORE_OK)
		err = pg_session(pg);
	if (err != STORE_OK) {
		if (why[0] == '\0')
			snprintf(why, whylen, "%s", pg->msg);
		pg_free(pg);
		return err;
	}
	*out = &pg->base;
	return STORE_OK;
}

static void
pg_close(store_t *st)
{
	pg_free(pg_of(st));
}

static int
pg_schema_version(const store_t *st)
{
	return ((const struct store_pg *)st)->version;
}

static const char *
pg_errmsg(store_t *st)
{
	struct store_pg *pg = pg_of(st);

	return pg->msg[0] ? pg->msg : "postgresql: no error";
}

/*
 * The "busy timeout": how long a statement waits for a row lock.  A
 * caller that waits little on locks (the daemon's loop) also wants its
 * statements short: they may run at most five times that, and at least 1 s.
 */
static store_err_t
pg_set_busy_timeout(store_t *st, int ms)
{
	struct store_pg *pg = pg_of(st);
	int64_t stmt = (int64_t)ms * 5;

	pg->lock_timeout_ms = ms;
	pg->statement_timeout_ms = stmt < 1000 ? 1000 :
	    stmt > PG_STATEMENT_TIMEOUT_MS ? PG_STATEMENT_TIMEOUT_MS : (int)stmt;
	pg->settings_ok = 0;	/* pg_session sets both, before the next statement */
	return pg->in_txn ? STORE_OK : pg_ready(pg);
}

/* ---- transactions ---------------------------------------------------------- */

/*
 * in_txn is ours, not libpq's view: when the connection drops inside a
 * transaction libpq no longer knows one was open, and a reconnect there
 * would run the rest of it as separate autocommitted statements.
 */
static store_err_t
pg_begin(struct store_pg *pg)
{
	store_err_t err;

	if ((err = pg_ready(pg)) != STORE_OK || (err = pg_simple(pg, "BEGIN")) != STORE_OK)
		return err;
	pg->in_txn = 1;
	return STORE_OK;
}

/*
 * COMMIT of a transaction that had an error answers "ROLLBACK", not an
 * error: that is a failure here, never a success.
 */
static store_err_t
pg_commit(struct store_pg *pg)
{
	PGresult *res;
	store_err_t err = STORE_OK;

	if (PQtransactionStatus(pg->conn) == PQTRANS_INERROR) {
		snprintf(pg->msg, sizeof(pg->msg), "postgresql: the transaction had failed");
		err = STORE_ERR_IO;
	} else {
		res = PQexec(pg->conn, "COMMIT");
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			remember(pg, res);
			err = pg_err_of(pg, res);
		} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
			snprintf(pg->msg, sizeof(pg->msg), "postgresql: COMMIT answered %s",
			    PQcmdStatus(res));
			err = STORE_ERR_IO;
		}
		PQclear(res);
	}
	if (err != STORE_OK && PQtransactionStatus(pg->conn) != PQTRANS_IDLE &&
	    PQstatus(pg->conn) == CONNECTION_OK)
		(void)pg_simple(pg, "ROLLBACK");
	pg->in_txn = 0;
	return err;
}

static void
pg_rollback(struct store_pg *pg)
{
	if (PQstatus(pg->conn) == CONNECTION_OK && PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		(void)pg_simple(pg, "ROLLBACK");
	pg->in_txn = 0;
}

static store_err_t
pg_txn_begin(store_t *st)
{
	struct store_pg *pg = pg_of(st);

	if (pg->in_txn)
		return STORE_ERR_INVALID;	/* one at a time */
	return pg_begin(pg);
}

static store_err_t
pg_txn_commit(store_t *st)
{
	return pg_commit(pg_of(st));
}

static void
pg_txn_rollback(store_t *st)
{
	pg_rollback(pg_of(st));
}

static store_err_t
pg_txn_mark(store_t *st)
{
	return pg_simple(pg_of(st), "SAVEPOINT pk_mark");
}

/* After a failed statement the part can only be undone, whatever keep says. */
static void
pg_txn_mark_end(store_t *st, int keep)
{
	struct store_pg *pg = pg_of(st);

	if (!keep || PQtransactionStatus(pg->conn) == PQTRANS_INERROR)
		(void)pg_simple(pg, "ROLLBACK TO SAVEPOINT pk_mark");
	(void)pg_simple(pg, "RELEASE SAVEPOINT pk_mark");
}

/* One operation's changes, all or nothing (as the SQLite backend's). */
static store_err_t
pg_atomic_begin(struct store_pg *pg, int *outer)
{
	*outer = !pg->in_txn;
	return *outer ? pg_begin(pg) : pg_simple(pg, "SAVEPOINT pk_atomic");
}

static store_err_t
pg_atomic_end(struct store_pg *pg, int outer, store_err_t err)
{
	if (err == STORE_OK)
		return outer ? pg_commit(pg) : pg_simple(pg, "RELEASE SAVEPOINT pk_atomic");
	if (outer) {
		pg_rollback(pg);
	} else {
		(void)pg_simple(pg, "ROLLBACK TO SAVEPOINT pk_atomic");
		(void)pg_simple(pg, "RELEASE SAVEPOINT pk_atomic");
	}
	return err;
}

/* ---- users ------------------------------------------------------------------ */

static store_err_t
pg_handle_get(struct store_pg *pg, const char *user, unsigned char out[STORE_USER_HANDLE_LEN])
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_text(&a, user);
	if ((err = pg_run(pg, PG_HANDLE_GET, &a, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 0)
		err = STORE_ERR_NOT_FOUND;
	else if (PQgetlength(res, 0, 0) != STORE_USER_HANDLE_LEN)
		err = STORE_ERR_IO;
	else
		memcpy(out, PQgetvalue(res, 0, 0), STORE_USER_HANDLE_LEN);
	PQclear(res);
	return err;
}

static store_err_t
pg_handle_make(struct store_pg *pg, const char *user, const unsigned char handle[STORE_USER_HANDLE_LEN])
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	arg_bytes(&a, handle, STORE_USER_HANDLE_LEN);
	arg_int(&a, (int64_t)time(NULL));
	return pg_run(pg, PG_HANDLE_MAKE, &a, NULL);
}

static store_err_t
pg_user_handle(store_t *st, const char *user, int create, unsigned char out[STORE_USER_HANDLE_LEN])
{
	struct store_pg *pg = pg_of(st);
	unsigned char fresh[STORE_USER_HANDLE_LEN];
	store_err_t err = pg_handle_get(pg, user, out);

	if (err != STORE_ERR_NOT_FOUND || !create)
		return err;
	if ((err = store_random_handle(fresh)) != STORE_OK ||
	    (err = pg_handle_make(pg, user, fresh)) != STORE_OK)
		return err;
	return pg_handle_get(pg, user, out);
}

/* Takes the user's row lock for the rest of the transaction (0 rows: fine). */
static store_err_t
pg_user_lock(struct store_pg *pg, const char *user)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	return pg_run(pg, PG_USER_LOCK, &a, NULL);
}

/* ---- credentials ------------------------------------------------------------- */

static store_err_t
pg_cred_insert(struct store_pg *pg, const struct store_credential *c)
{
	char hash[STORE_ID_HASH_LEN + 1];
	struct pg_args a = { .n = 0 };

	store_id_hash(c->id, c->id_len, hash);
	arg_text(&a, c->user);
	arg_bytes(&a, c->id, c->id_len);
	arg_int(&a, c->alg);
	arg_bytes(&a, c->pubkey_cose, c->pubkey_len);
	arg_int(&a, c->sign_count);
	arg_text(&a, c->fmt);
	arg_bytes(&a, c->aaguid, sizeof(c->aaguid));
	arg_bool(&a, c->uv);
	arg_bool(&a, c->be);
	arg_bool(&a, c->bs);
	arg_text(&a, c->attestation);
	arg_text(&a, c->nickname);
	arg_int(&a, c->created != 0 ? c->created : (int64_t)time(NULL));
	arg_int(&a, c->last_used);
	arg_text(&a, c->last_addr);
	arg_text(&a, hash);
	return pg_run(pg, PG_CRED_INSERT, &a, NULL);
}

static store_err_t
pg_cred_add(store_t *st, const struct store_credential *cred)
{
	struct store_pg *pg = pg_of(st);
	unsigned char handle[STORE_USER_HANDLE_LEN];
	store_err_t err;
	int outer;

	if ((err = store_random_handle(handle)) != STORE_OK)
		return err;
	if ((err = pg_atomic_begin(pg, &outer)) != STORE_OK)
		return err;
	if ((err = pg_handle_make(pg, cred->user, handle)) == STORE_OK)
		err = pg_cred_insert(pg, cred);
	return pg_atomic_end(pg, outer, err);
}

static store_err_t
pg_enroll_check(struct store_pg *pg, const char *user, int64_t now, int lock, int *pending)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	*pending = 0;
	arg_text(&a, user);
	if ((err = pg_run(pg, lock ? PG_ENROLL_GET_LOCK : PG_ENROLL_GET, &a, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 1)
		*pending = col_int(res, 0, 0) > now;
	PQclear(res);
	return STORE_OK;
}

static store_err_t pg_enroll_remove(store_t *st, const char *user);

static store_err_t
pg_cred_register(store_t *st, const struct store_credential *cred,
    const unsigned char handle[STORE_USER_HANDLE_LEN], int consume_enrollment, int64_t now)
{
	struct store_pg *pg = pg_of(st);
	unsigned char stored[STORE_USER_HANDLE_LEN];
	store_err_t err;
	int outer, pending = 0;

	if ((err = pg_atomic_begin(pg, &outer)) != STORE_OK)
		return err;
	/* the enrollment row's lock: two registrations cannot both consume it */
	if (consume_enrollment &&
	    (err = pg_enroll_check(pg, cred->user, now, 1, &pending)) == STORE_OK && !pending)
		err = STORE_ERR_NO_ENROLLMENT;
	if (err == STORE_OK)
		err = pg_handle_make(pg, cred->user, handle);
	if (err == STORE_OK)
		err = pg_handle_get(pg, cred->user, stored);
	/* the authenticator keeps the handle it was given as user.id */
	if (err == STORE_OK && memcmp(stored, handle, sizeof(stored)) != 0)
		err = STORE_ERR_CONFLICT;
	if (err == STORE_OK)
		err = pg_cred_insert(pg, cred);
	if (err == STORE_OK && consume_enrollment)
		err = pg_enroll_remove(st, cred->user);
	return pg_atomic_end(pg, outer, err);
}

static store_err_t
pg_cred_read(PGresult *r, int row, struct store_credential *c)
{
	unsigned char *aaguid;
	size_t aaguid_len;
	store_err_t err;

	if ((err = col_text(r, row, 0, &c->user)) != STORE_OK ||
	    (err = col_blob(r, row, 1, &c->id, &c->id_len)) != STORE_OK ||
	    (err = col_blob(r, row, 3, &c->pubkey_cose, &c->pubkey_len)) != STORE_OK ||
	    (err = col_text(r, row, 5, &c->fmt)) != STORE_OK ||
	    (err = col_text(r, row, 10, &c->attestation)) != STORE_OK ||
	    (err = col_text(r, row, 11, &c->nickname)) != STORE_OK ||
	    (err = col_text(r, row, 14, &c->last_addr)) != STORE_OK ||
	    (err = col_blob(r, row, 6, &aaguid, &aaguid_len)) != STORE_OK)
		return err;
	if (aaguid_len == sizeof(c->aaguid))
		memcpy(c->aaguid, aaguid, sizeof(c->aaguid));
	free(aaguid);
	if (aaguid_len != sizeof(c->aaguid) || c->user == NULL || c->fmt == NULL ||
	    c->attestation == NULL)
		return STORE_ERR_IO;
	c->alg = (int)col_int(r, row, 2);
	c->sign_count = (uint32_t)col_int(r, row, 4);
	c->uv = col_bool(r, row, 7);
	c->be = col_bool(r, row, 8);
	c->bs = col_bool(r, row, 9);
	c->created = col_int(r, row, 12);
	c->last_used = col_int(r, row, 13);
	c->seq = col_int(r, row, 15);
	return STORE_OK;
}

static store_err_t
pg_cred_rows(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a,
    struct store_credential_list *out)
{
	PGresult *res;
	store_err_t err;
	int n;

	if ((err = pg_run(pg, id, a, &res)) != STORE_OK)
		return err;
	n = PQntuples(res);
	if (n > 0 && (out->items = calloc((size_t)n, sizeof(*out->items))) == NULL)
		err = STORE_ERR_NOMEM;
	for (int i = 0; err == STORE_OK && i < n; i++) {
		out->count++;
		err = pg_cred_read(res, i, &out->items[i]);
	}
	PQclear(res);
	if (err != STORE_OK)
		store_credential_list_free(out);
	return err;
}

static store_err_t
pg_cred_get(store_t *st, const unsigned char *id, size_t id_len, struct store_credential *out)
{
	struct store_credential_list l = { 0 };
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_bytes(&a, id, id_len);
	if ((err = pg_cred_rows(pg_of(st), PG_CRED_GET, &a, &l)) != STORE_OK)
		return err;
	if (l.count == 0)
		err = STORE_ERR_NOT_FOUND;
	else {
		*out = l.items[0];
		memset(&l.items[0], 0, sizeof(l.items[0]));
	}
	store_credential_list_free(&l);
	return err;
}

static store_err_t
pg_cred_list_user(store_t *st, const char *user, struct store_credential_list *out)
{
	struct pg_args a = { .n = 0 };

	if (user == NULL)
		return pg_cred_rows(pg_of(st), PG_CRED_LIST_ALL, NULL, out);
	arg_text(&a, user);
	return pg_cred_rows(pg_of(st), PG_CRED_LIST_USER, &a, out);
}

static store_err_t
pg_cred_page(store_t *st, const char *user, int64_t after, size_t limit,
    struct store_credential_list *out)
{
	struct pg_args a = { .n = 0 };

	if (user == NULL) {
		arg_int(&a, after);
		arg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
		return pg_cred_rows(pg_of(st), PG_CRED_PAGE_ALL, &a, out);
	}
	arg_text(&a, user);
	arg_int(&a, after);
	arg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	return pg_cred_rows(pg_of(st), PG_CRED_PAGE_USER, &a, out);
}

static store_err_t
pg_cred_find(store_t *st, const char *user, const char *prefix,
    struct store_credential *out, size_t *matches)
{
	struct store_credential_list l = { 0 };
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_text(&a, prefix);	/* lower-case hex only (store.c): no LIKE wildcard in it */
	if (user != NULL)
		arg_text(&a, user);
	if ((err = pg_cred_rows(pg_of(st), user != NULL ? PG_CRED_FIND_USER : PG_CRED_FIND_ALL,
	    &a, &l)) != STORE_OK)
		return err;
	*matches = l.count;
	if (l.count == 1) {
		*out = l.items[0];
		memset(&l.items[0], 0, sizeof(l.items[0]));
	}
	store_credential_list_free(&l);
	return STORE_OK;
}

static store_err_t
pg_cred_count_user(store_t *st, const char *user, size_t *count)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_text(&a, user);
	if ((err = pg_run(pg_of(st), PG_CRED_COUNT_USER, &a, &res)) != STORE_OK)
		return err;
	*count = (size_t)col_int(res, 0, 0);
	PQclear(res);
	return STORE_OK;
}

static store_err_t
pg_cred_exists(struct store_pg *pg, const unsigned char *id, size_t id_len, char **owner)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	if (owner != NULL)
		*owner = NULL;
	arg_bytes(&a, id, id_len);
	if ((err = pg_run(pg, PG_CRED_OWNER, &a, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 0)
		err = STORE_ERR_NOT_FOUND;
	else if (owner != NULL)
		err = col_text(res, 0, 0, owner);
	PQclear(res);
	return err;
}

static store_err_t
pg_cred_record_use(store_t *st, const unsigned char *id, size_t id_len,
    uint32_t sign_count, int must_grow, int bs, int64_t when, const char *addr)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	store_err_t err;

	arg_int(&a, sign_count);
	arg_bool(&a, bs);
	arg_int(&a, when != 0 ? when : (int64_t)time(NULL));
	arg_text(&a, addr);
	arg_bytes(&a, id, id_len);
	err = pg_change(pg, must_grow ? PG_CRED_USE_GROW : PG_CRED_USE_MAX, &a);
	/* no row changed: gone, or another use stored this count or a higher one */
	if (err == STORE_ERR_NOT_FOUND && must_grow &&
	    (err = pg_cred_exists(pg, id, id_len, NULL)) == STORE_OK)
		err = STORE_ERR_CONFLICT;
	return err;
}

static store_err_t
pg_cred_rename(store_t *st, const unsigned char *id, size_t id_len, const char *nickname)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, nickname);
	arg_bytes(&a, id, id_len);
	return pg_change(pg_of(st), PG_CRED_RENAME, &a);
}

/*
 * The user's row lock first: two removers of a user's last two passkeys
 * would otherwise each count two under READ COMMITTED and both delete.
 */
static store_err_t
pg_cred_remove(store_t *st, const unsigned char *id, size_t id_len, int keep_last)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	char *owner = NULL;
	store_err_t err;
	int outer;

	if ((err = pg_atomic_begin(pg, &outer)) != STORE_OK)
		return err;
	if (keep_last && (err = pg_cred_exists(pg, id, id_len, &owner)) == STORE_OK)
		err = pg_user_lock(pg, owner);
	if (err == STORE_OK) {
		arg_bytes(&a, id, id_len);
		arg_bool(&a, keep_last);
		err = pg_change(pg, PG_CRED_REMOVE, &a);
		/* nothing deleted though it exists: the last one */
		if (err == STORE_ERR_NOT_FOUND && keep_last &&
		    (err = pg_cred_exists(pg, id, id_len, NULL)) == STORE_OK)
			err = STORE_ERR_LAST;
	}
	free(owner);
	/* the refusal is an answer, not a failure of the transaction */
	if (err == STORE_ERR_LAST)
		return pg_atomic_end(pg, outer, STORE_OK) == STORE_OK ? STORE_ERR_LAST :
		    STORE_ERR_IO;
	return pg_atomic_end(pg, outer, err);
}

/* ---- enrollments ----------------------------------------------------------- */

static store_err_t
pg_enroll_add(store_t *st, const char *user, int64_t expires, const char *by)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	arg_int(&a, (int64_t)time(NULL));
	arg_int(&a, expires);
	arg_text(&a, by);
	return pg_run(pg_of(st), PG_ENROLL_ADD, &a, NULL);
}

static store_err_t
pg_enroll_pending(store_t *st, const char *user, int64_t now, int *pending)
{
	return pg_enroll_check(pg_of(st), user, now, 0, pending);
}

static store_err_t
pg_enroll_remove(store_t *st, const char *user)
{
	struct pg_args a = { .n = 0 };

	arg_text(&a, user);
	return pg_change(pg_of(st), PG_ENROLL_REMOVE, &a);
}

/* ---- events ------------------------------------------------------------------ */

static store_err_t
pg_event_add(store_t *st, const struct store_event *ev)
{
	struct pg_args a = { .n = 0 };

	arg_int(&a, ev->time != 0 ? ev->time : (int64_t)time(NULL));
	arg_text(&a, ev->event);
	arg_text(&a, ev->user);
	arg_text(&a, ev->addr);
	arg_text(&a, ev->verdict);
	arg_text(&a, ev->reason);
	arg_text(&a, ev->detail);
	return pg_run(pg_of(st), PG_EVENT_ADD, &a, NULL);
}

static store_err_t
pg_event_list(store_t *st, const char *user, size_t limit, int64_t before_id,
    struct store_event_list *out)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err = STORE_OK;
	int n;

	/* the user comes last: the all-users statement has no such parameter */
	arg_int(&a, limit > INT64_MAX ? INT64_MAX : (int64_t)limit);
	arg_int(&a, before_id > 0 ? before_id : INT64_MAX);
	if (user != NULL)
		arg_text(&a, user);
	if ((err = pg_run(pg_of(st), user != NULL ? PG_EVENT_LIST_USER : PG_EVENT_LIST_ALL,
	    &a, &res)) != STORE_OK)
		return err;
	n = PQntuples(res);
	if (n > 0 && (out->items = calloc((size_t)n, sizeof(*out->items))) == NULL)
		err = STORE_ERR_NOMEM;
	for (int i = 0; err == STORE_OK && i < n; i++) {
		struct store_event *ev = &out->items[out->count++];
		char *s[6] = { NULL };

		for (int k = 0; k < 6 && err == STORE_OK; k++)
			err = col_text(res, i, k + 2, &s[k]);
		ev->id = col_int(res, i, 0);
		ev->time = col_int(res, i, 1);
		ev->event = s[0];
		ev->user = s[1];
		ev->addr = s[2];
		ev->verdict = s[3];
		ev->reason = s[4];
		ev->detail = s[5];
	}
	PQclear(res);
	if (err != STORE_OK)
		store_event_list_free(out);
	return err;
}

static store_err_t
pg_event_bounds(struct store_pg *pg, int64_t *lo, int64_t *hi)
{
	PGresult *res;
	store_err_t err;

	*lo = *hi = 0;
	if ((err = pg_run(pg, PG_EVENT_BOUNDS, NULL, &res)) != STORE_OK)
		return err;
	*lo = col_int(res, 0, 0);
	*hi = col_int(res, 0, 1);
	PQclear(res);
	return STORE_OK;
}

static store_err_t
pg_event_count(store_t *st, uint64_t *count)
{
	int64_t lo, hi;
	store_err_t err;

	if ((err = pg_event_bounds(pg_of(st), &lo, &hi)) == STORE_OK)
		*count = hi > 0 ? (uint64_t)(hi - lo + 1) : 0;
	return err;
}

static store_err_t
pg_event_prune(store_t *st, int64_t before_time, uint64_t max_rows, size_t batch, size_t *removed)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	PGresult *res;
	int64_t lo, hi;
	store_err_t err;

	if (max_rows > 0) {
		if ((err = pg_event_bounds(pg, &lo, &hi)) != STORE_OK)
			return err;
		if (hi > 0 && (uint64_t)(hi - lo + 1) > max_rows) {
			arg_int(&a, hi - (int64_t)max_rows + 1);
			arg_int(&a, (int64_t)batch);
			if ((err = pg_run(pg, PG_EVENT_PRUNE_BELOW, &a, &res)) != STORE_OK)
				return err;
			*removed += (size_t)pg_changed(res);
			PQclear(res);
		}
	}
	if (*removed >= batch || before_time <= 0)
		return STORE_OK;
	if ((err = pg_run(pg, PG_EVENT_OLDEST_TIME, NULL, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 0 || col_int(res, 0, 0) >= before_time) {
		PQclear(res);
		return STORE_OK;
	}
	PQclear(res);
	a.n = 0;
	arg_int(&a, before_time);
	arg_int(&a, (int64_t)(batch - *removed));
	if ((err = pg_run(pg, PG_EVENT_PRUNE_TIME, &a, &res)) != STORE_OK)
		return err;
	*removed += (size_t)pg_changed(res);
	PQclear(res);
	return STORE_OK;
}

static const struct store_ops pg_ops = {
	.name = "postgresql",
	.close = pg_close,
	.schema_version = pg_schema_version,
	.set_busy_timeout = pg_set_busy_timeout,
	.errmsg = pg_errmsg,
	.txn_begin = pg_txn_begin,
	.txn_commit = pg_txn_commit,
	.txn_rollback = pg_txn_rollback,
	.txn_mark = pg_txn_mark,
	.txn_mark_end = pg_txn_mark_end,
	.cred_add = pg_cred_add,
	.cred_register = pg_cred_register,
	.cred_get = pg_cred_get,
	.cred_list_user = pg_cred_list_user,
	.cred_count_user = pg_cred_count_user,
	.cred_page = pg_cred_page,
	.cred_find = pg_cred_find,
	.cred_record_use = pg_cred_record_use,
	.cred_rename = pg_cred_rename,
	.cred_remove = pg_cred_remove,
	.user_handle = pg_user_handle,
	.enroll_add = pg_enroll_add,
	.enroll_pending = pg_enroll_pending,
	.enroll_remove = pg_enroll_remove,
	.event_add = pg_event_add,
	.event_list = pg_event_list,
	.event_prune = pg_event_prune,
	.event_count = pg_event_count,
};
