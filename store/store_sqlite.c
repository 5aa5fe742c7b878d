/*
 * The SQLite backend: one database file per host.
 *
 * WAL lets readers (passkeyctl list) run beside the daemon's writes, and
 * synchronous=FULL makes every commit survive power loss: losing a
 * credential locks a user out, losing an audit row hides an attack.
 * Every statement is prepared with bound parameters; no SQL text is ever
 * assembled at run time.  Statements are prepared once per connection
 * (sq_stmt, SQ_STATEMENTS) and reset after each use: a statement left
 * unreset would hold a read snapshot open, so every path ends in
 * sq_reset().
 *
 * A store_t is one connection: use it from one thread at a time.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "clock.h"
#include "store.h"
#include "store_backend.h"

#define SQ_BUSY_TIMEOUT_MS	5000

/*
 * Schema steps, oldest first; step i takes user_version from i to i + 1
 * and says so itself, which migrate() checks.  Shipped steps are never
 * edited: change the schema by appending one.
 *
 * CHECKs hold only what no future version could want otherwise (lengths
 * fixed by WebAuthn, 0/1 flags); vocabularies such as the attestation
 * kinds are checked in code, since widening a CHECK means rebuilding the
 * table.
 */
static const char *const sq_migrations[] = {
	/* 1: the initial schema */
	"CREATE TABLE users ("
	"  name TEXT PRIMARY KEY NOT NULL,"
	"  handle BLOB UNIQUE NOT NULL CHECK (length(handle) = 32),"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE credentials ("
	"  id BLOB PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 1023),"
	"  user TEXT NOT NULL REFERENCES users(name),"
	"  alg INTEGER NOT NULL,"
	"  pubkey_cose BLOB NOT NULL CHECK (length(pubkey_cose) > 0),"
	"  sign_count INTEGER NOT NULL DEFAULT 0"
	"    CHECK (sign_count BETWEEN 0 AND 4294967295),"
	"  fmt TEXT NOT NULL,"
	"  aaguid BLOB NOT NULL CHECK (length(aaguid) = 16),"
	"  uv INTEGER NOT NULL CHECK (uv IN (0, 1)),"
	"  be INTEGER NOT NULL CHECK (be IN (0, 1)),"
	"  bs INTEGER NOT NULL CHECK (bs IN (0, 1)),"
	"  attestation TEXT NOT NULL,"
	"  nickname TEXT,"
	"  created INTEGER NOT NULL,"
	"  last_used INTEGER NOT NULL DEFAULT 0,"
	"  last_addr TEXT"
	");"
	"CREATE INDEX credentials_user ON credentials(user, created);"
	"CREATE TABLE enrollments ("
	"  user TEXT PRIMARY KEY NOT NULL,"
	"  created INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL,"
	"  created_by TEXT"
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time INTEGER NOT NULL,"
	"  event TEXT NOT NULL,"
	"  user TEXT,"
	"  addr TEXT,"
	"  verdict TEXT NOT NULL,"
	"  reason TEXT,"
	"  detail TEXT"
	");"
	"CREATE INDEX events_user ON events(user, id);"
	"PRAGMA user_version = 1;",
	/*
	 * 2: the hex SHA-256 of each credential ID, indexed, so a short ID
	 * (a prefix of it) resolves in SQL instead of by hashing every row
	 */
	"ALTER TABLE credentials ADD COLUMN id_hash TEXT;"
	"UPDATE credentials SET id_hash = pk_sha256_hex(id);"
	"CREATE INDEX credentials_id_hash ON credentials(id_hash);"
	"PRAGMA user_version = 2;",
	/*
	 * 3: re-approval windows.  Matched on the four keys; found by their
	 * credential when it is removed, by expiry when they are purged.
	 */
	"CREATE TABLE windows ("
	"  id TEXT PRIMARY KEY NOT NULL,"
	"  user TEXT NOT NULL,"
	"  service TEXT NOT NULL,"
	"  rhost TEXT NOT NULL,"
	"  client_key TEXT NOT NULL DEFAULT '',"
	"  hostname TEXT NOT NULL,"
	"  source TEXT NOT NULL,"
	"  cred_id BLOB NOT NULL CHECK (length(cred_id) BETWEEN 1 AND 1023),"
	"  opened INTEGER NOT NULL,"
	"  expires INTEGER NOT NULL CHECK (expires > opened),"
	"  last_used INTEGER NOT NULL DEFAULT 0,"
	"  uses INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX windows_match ON windows(user, service, rhost, client_key);"
	"CREATE INDEX windows_cred ON windows(cred_id);"
	"CREATE INDEX windows_expires ON windows(expires);"
	"PRAGMA user_version = 3;",

	/*
	 * 4: the listing of everyone's windows walks (opened, id) from where
	 * its last page ended, one range of a page's rows: no sort of them all.
	 */
	("CREATE INDEX windows_opened ON windows(opened, id);"
	"PRAGMA user_version = 4;"),
};

#define SQ_VERSION	((int)(sizeof(sq_migrations) / sizeof(sq_migrations[0])))

#define SQ_CRED_COLUMNS \
	"user, id, alg, pubkey_cose, sign_count, fmt, aaguid, uv, be, bs," \
	" attestation, nickname, created, last_used, last_addr, rowid"
#define SQ_EVENT_COLUMNS "id, time, event, user, addr, verdict, reason, detail"
#define SQ_WINDOW_COLUMNS \
	"id, user, service, rhost, client_key, hostname, source, cred_id, opened, expires," \
	" last_used, uses"

/*
 * Every statement the backend runs, prepared once.  X(symbol, SQL).
 * Transaction control is here too: parsing "COMMIT" per loop turn is
 * work the daemon need not do.
 */
#define SQ_STATEMENTS(X) \
	X(SQ_BEGIN, "BEGIN IMMEDIATE") \
	X(SQ_COMMIT, "COMMIT") \
	X(SQ_ROLLBACK, "ROLLBACK") \
	X(SQ_MARK, "SAVEPOINT sq_mark") \
	X(SQ_MARK_RELEASE, "RELEASE sq_mark") \
	X(SQ_MARK_UNDO, "ROLLBACK TO sq_mark") \
	X(SQ_ATOMIC, "SAVEPOINT sq_atomic") \
	X(SQ_ATOMIC_RELEASE, "RELEASE sq_atomic") \
	X(SQ_ATOMIC_UNDO, "ROLLBACK TO sq_atomic") \
	X(SQ_HANDLE_GET, "SELECT handle FROM users WHERE name = ?1") \
	X(SQ_HANDLE_MAKE, "INSERT INTO users (name, handle, created) VALUES (?1, ?2, ?3)" \
	    " ON CONFLICT (name) DO NOTHING") \
	X(SQ_CRED_INSERT, "INSERT INTO credentials (user, id, alg, pubkey_cose, sign_count," \
	    " fmt, aaguid, uv, be, bs, attestation, nickname, created, last_used, last_addr," \
	    " id_hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14," \
	    " ?15, ?16)") \
	X(SQ_CRED_GET, "SELECT " SQ_CRED_COLUMNS " FROM credentials WHERE id = ?1") \
	X(SQ_CRED_GET_LOGIN, "SELECT " SQ_CRED_COLUMNS ", (SELECT handle FROM users" \
	    " WHERE name = credentials.user) FROM credentials WHERE id = ?1") \
	X(SQ_CRED_EXISTS, "SELECT 1 FROM credentials WHERE id = ?1") \
	X(SQ_CRED_LIST_USER, "SELECT " SQ_CRED_COLUMNS " FROM credentials WHERE user = ?1" \
	    " ORDER BY created, rowid") \
	X(SQ_CRED_LIST_ALL, "SELECT " SQ_CRED_COLUMNS " FROM credentials" \
	    " ORDER BY user, created, rowid") \
	X(SQ_CRED_COUNT_USER, "SELECT count(*) FROM credentials WHERE user = ?1") \
	/* keyset pages in creation order: each costs the same however deep */ \
	X(SQ_CRED_PAGE_ALL, "SELECT " SQ_CRED_COLUMNS " FROM credentials" \
	    " WHERE rowid > ?2 ORDER BY rowid LIMIT ?3") \
	X(SQ_CRED_PAGE_USER, "SELECT " SQ_CRED_COLUMNS " FROM credentials" \
	    " WHERE user = ?1 AND rowid > ?2 ORDER BY rowid LIMIT ?3") \
	/* a short ID: every hash that starts with the prefix sorts in [p, p || 'g') */ \
	X(SQ_CRED_FIND_ALL, "SELECT " SQ_CRED_COLUMNS " FROM credentials" \
	    " WHERE id_hash >= ?1 AND id_hash < ?1 || 'g' LIMIT 2") \
	X(SQ_CRED_FIND_USER, "SELECT " SQ_CRED_COLUMNS " FROM credentials" \
	    " WHERE id_hash >= ?1 AND id_hash < ?1 || 'g' AND user = ?2 LIMIT 2") \
	X(SQ_CRED_USE_GROW, "UPDATE credentials SET sign_count = ?1, bs = ?2," \
	    " last_used = ?3, last_addr = ?4 WHERE id = ?5" \
	    " AND (sign_count < ?1 OR (sign_count = 0 AND ?1 = 0))") \
	X(SQ_CRED_USE_MAX, "UPDATE credentials SET sign_count = max(sign_count, ?1)," \
	    " bs = ?2, last_used = ?3, last_addr = ?4 WHERE id = ?5") \
	X(SQ_CRED_RENAME, "UPDATE credentials SET nickname = ?1 WHERE id = ?2") \
	X(SQ_CRED_REMOVE, "DELETE FROM credentials WHERE id = ?1 AND" \
	    " (?2 = 0 OR (SELECT count(*) FROM credentials AS o" \
	    "  WHERE o.user = credentials.user) > 1)") \
	X(SQ_ENROLL_ADD, "INSERT INTO enrollments (user, created, expires, created_by)" \
	    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT (user) DO UPDATE SET" \
	    " created = excluded.created, expires = excluded.expires," \
	    " created_by = excluded.created_by") \
	X(SQ_ENROLL_GET, "SELECT expires FROM enrollments WHERE user = ?1") \
	X(SQ_ENROLL_REMOVE, "DELETE FROM enrollments WHERE user = ?1") \
	X(SQ_EVENT_ADD, "INSERT INTO events (time, event, user, addr, verdict, reason, detail)" \
	    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)") \
	/* two texts rather than "?1 IS NULL OR user = ?1", which skips the index */ \
	X(SQ_EVENT_LIST_ALL, "SELECT " SQ_EVENT_COLUMNS " FROM events" \
	    " WHERE id < ?3 ORDER BY id DESC LIMIT ?2") \
	X(SQ_EVENT_LIST_USER, "SELECT " SQ_EVENT_COLUMNS " FROM events" \
	    " WHERE user = ?1 AND id < ?3 ORDER BY id DESC LIMIT ?2") \
	/* two subqueries: SQLite reads min() and max() off the key only when alone */ \
	X(SQ_EVENT_BOUNDS, "SELECT (SELECT min(id) FROM events), (SELECT max(id) FROM events)") \
	X(SQ_EVENT_OLDEST_TIME, "SELECT time FROM events ORDER BY id LIMIT 1") \
	/* the oldest `batch` rows by key, then only those old enough */ \
	X(SQ_EVENT_PRUNE_TIME, "DELETE FROM events WHERE id IN" \
	    " (SELECT id FROM events ORDER BY id LIMIT ?2) AND time < ?1") \
	X(SQ_EVENT_PRUNE_BELOW, "DELETE FROM events WHERE id IN" \
	    " (SELECT id FROM events WHERE id < ?1 ORDER BY id LIMIT ?2)") \
	X(SQ_WINDOW_INSERT, "INSERT INTO windows (id, user, service, rhost, client_key," \
	    " hostname, source, cred_id, opened, expires) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7," \
	    " ?8, ?9, ?10)") \
	X(SQ_WINDOW_PURGE, "DELETE FROM windows WHERE expires <= ?1") \
	/* a window without a client key is only ever its own host's */ \
	X(SQ_WINDOW_FIND, "SELECT " SQ_WINDOW_COLUMNS " FROM windows" \
	    " WHERE user = ?1 AND service = ?2 AND rhost = ?3 AND client_key = ?4" \
	    " AND (hostname = ?5 OR (?8 AND client_key <> '')) AND expires > ?6" \
	    " AND opened >= ?7 AND opened <= ?9" \
	    " ORDER BY opened DESC, expires DESC, id LIMIT 1") \
	X(SQ_WINDOW_USE, "UPDATE windows SET uses = uses + 1, last_used = ?2" \
	    " WHERE id = ?1 AND expires > ?2") \
	X(SQ_WINDOW_PAGE_ALL, "SELECT " SQ_WINDOW_COLUMNS " FROM windows" \
	    " WHERE (opened, id) > (?3, ?4) AND expires > ?1 ORDER BY opened, id LIMIT ?5") \
	X(SQ_WINDOW_PAGE_USER, "SELECT " SQ_WINDOW_COLUMNS " FROM windows" \
	    " WHERE user = ?2 AND (opened, id) > (?3, ?4) AND expires > ?1" \
	    " ORDER BY opened, id LIMIT ?5") \
	X(SQ_WINDOW_REVOKE_ID, "DELETE FROM windows WHERE id = ?1 AND (?2 IS NULL OR user = ?2)") \
	X(SQ_WINDOW_REVOKE_USER, "DELETE FROM windows WHERE user = ?1") \
	X(SQ_WINDOW_REVOKE_ALL, "DELETE FROM windows") \
	X(SQ_WINDOW_END_CRED, "DELETE FROM windows WHERE cred_id = ?1") \
	X(SQ_WINDOW_END_SOURCE, "DELETE FROM windows WHERE user = ?1 AND hostname = ?2" \
	    " AND source = ?3")

enum sq_stmt_id {
#define SQ_STMT_ENUM(sym, sql) sym,
	SQ_STATEMENTS(SQ_STMT_ENUM)
#undef SQ_STMT_ENUM
	SQ_STMT__COUNT
};

static const char *const sq_sql[] = {
#define SQ_STMT_SQL(sym, sql) sql,
	SQ_STATEMENTS(SQ_STMT_SQL)
#undef SQ_STMT_SQL
};

struct store_sqlite {
	struct store base;	/* first: a store_t * is a struct store_sqlite * */
	sqlite3 *db;
	int version;
	sqlite3_stmt *stmt[SQ_STMT__COUNT];
	char msg[320];
};

static const struct store_ops sq_ops;

static struct store_sqlite *
sq_of(store_t *st)
{
	return (struct store_sqlite *)st;
}

static store_err_t
sq_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return STORE_OK;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_ERR_BUSY;
	case SQLITE_NOMEM:
		return STORE_ERR_NOMEM;
	case SQLITE_READONLY:
		return STORE_ERR_READONLY;
	case SQLITE_FULL:
		return STORE_ERR_FULL;
	default:
		return STORE_ERR_IO;
	}
}

static int64_t
sq_now(int64_t t)
{
	return t != 0 ? t : (int64_t)time(NULL);
}

/* The statement, prepared on first use and ready to bind. */
static store_err_t
sq_stmt(struct store_sqlite *sq, enum sq_stmt_id id, sqlite3_stmt **out)
{
	int rc;

	*out = NULL;
	if (sq->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(sq->db, sq_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		    &sq->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			sq->stmt[id] = NULL;
			return sq_err(rc);
		}
	}
	*out = sq->stmt[id];
	return STORE_OK;
}

/* Ends a use of a cached statement: no snapshot or binding outlives it. */
static void
sq_reset(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

/* Steps a statement that returns no rows, then resets it. */
static store_err_t
sq_run(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sq_reset(stmt);
	return rc == SQLITE_DONE ? STORE_OK : sq_err(rc);
}

/* A cached statement without parameters (transaction control). */
static store_err_t
sq_run_id(struct store_sqlite *sq, enum sq_stmt_id id)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, id, &stmt)) != STORE_OK)
		return err;
	return sq_run(stmt);
}

/* Constant SQL run once (schema, pragmas): sqlite3_exec cannot bind. */
static store_err_t
sq_exec(sqlite3 *db, const char *sql)
{
	return sq_err(sqlite3_exec(db, sql, NULL, NULL, NULL));
}

static void
sq_rollback_db(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

static int
sq_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		return sqlite3_bind_null(stmt, i);
	return sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

static int
sq_bind_blob(sqlite3_stmt *stmt, int i, const void *p, size_t n)
{
	return sqlite3_bind_blob64(stmt, i, p, n, SQLITE_TRANSIENT);
}

/* Copies a TEXT column; NULL stays NULL. */
static store_err_t
sq_col_text(sqlite3_stmt *stmt, int i, char **out)
{
	const unsigned char *s;

	*out = NULL;
	if (sqlite3_column_type(stmt, i) == SQLITE_NULL)
		return STORE_OK;
	if ((s = sqlite3_column_text(stmt, i)) == NULL)
		return STORE_ERR_NOMEM;
	if ((*out = strdup((const char *)s)) == NULL)
		return STORE_ERR_NOMEM;
	return STORE_OK;
}

static store_err_t
sq_col_blob(sqlite3_stmt *stmt, int i, unsigned char **out, size_t *len)
{
	const void *p = sqlite3_column_blob(stmt, i);
	int n = sqlite3_column_bytes(stmt, i);

	*out = NULL;
	*len = 0;
	if (n <= 0)
		return STORE_OK;
	if (p == NULL)
		return STORE_ERR_NOMEM;
	if ((*out = malloc((size_t)n)) == NULL)
		return STORE_ERR_NOMEM;
	memcpy(*out, p, (size_t)n);
	*len = (size_t)n;
	return STORE_OK;
}

/*
 * One operation's changes, all or nothing: its own transaction when none
 * is open, else a savepoint inside the caller's (store_txn_begin).
 */
static store_err_t
sq_atomic_begin(struct store_sqlite *sq, int *outer)
{
	*outer = sqlite3_get_autocommit(sq->db);
	return sq_run_id(sq, *outer ? SQ_BEGIN : SQ_ATOMIC);
}

static store_err_t
sq_atomic_end(struct store_sqlite *sq, int outer, store_err_t err)
{
	if (err == STORE_OK) {
		if (outer)
			err = sq_run_id(sq, SQ_COMMIT);
		else
			err = sq_run_id(sq, SQ_ATOMIC_RELEASE);
		if (err == STORE_OK)
			return STORE_OK;
	}
	if (outer) {
		sq_rollback_db(sq->db);
	} else {
		(void)sq_run_id(sq, SQ_ATOMIC_UNDO);
		(void)sq_run_id(sq, SQ_ATOMIC_RELEASE);
	}
	return err;
}

/* ------------------------------------------------------------------ */
/* Opening and the schema                                             */
/* ------------------------------------------------------------------ */

/*
 * SQLite syncs the directory when it creates a journal or WAL, never for
 * the main file; a WAL whose database vanished with a power cut is no use.
 */
static store_err_t
sq_sync_dir(const char *path)
{
	char *copy, *dir;
	int fd, ok;

	if ((copy = strdup(path)) == NULL)
		return STORE_ERR_NOMEM;
	dir = dirname(copy);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok = fd != -1 && fsync(fd) == 0;
	if (fd != -1)
		close(fd);
	free(copy);
	return ok ? STORE_OK : STORE_ERR_IO;
}

/*
 * Creates the file owner-only (a umask can only narrow 0600) before SQLite;
 * SQLite gives the -wal and -shm files the main file's mode.  An existing
 * file keeps the mode its admin chose.  O_EXCL never follows a symlink.
 */
static store_err_t
sq_create_private(const char *path, char *why, size_t whylen)
{
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		if (errno == EEXIST)
			return STORE_OK;
		snprintf(why, whylen, "cannot create %s: %s", path, strerror(errno));
		return errno == EROFS ? STORE_ERR_READONLY : STORE_ERR_IO;
	}
	close(fd);
	return sq_sync_dir(path);
}

static store_err_t
sq_user_version(sqlite3 *db, int *version)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL)) != SQLITE_OK)
		return sq_err(rc);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? STORE_OK : sq_err(rc);
}

/*
 * The schema version, after making sure the file is ours: a newer version
 * is a newer program's, and a version-0 file that already holds tables is
 * some other program's database that a mistyped path led us to.
 */
static store_err_t
sq_probe(sqlite3 *db, int *version)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	if ((err = sq_user_version(db, version)) != STORE_OK)
		return err;
	if (*version < 0 || *version > SQ_VERSION)
		return STORE_ERR_SCHEMA;
	if (*version > 0)
		return STORE_OK;
	if ((rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master", -1,
	    &stmt, NULL)) != SQLITE_OK)
		return sq_err(rc);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW && sqlite3_column_int(stmt, 0) != 0)
		err = STORE_ERR_SCHEMA;
	else if (rc != SQLITE_ROW)
		err = sq_err(rc);
	sqlite3_finalize(stmt);
	return err;
}

/* Brings the schema up to SQ_VERSION in one transaction, or not at all. */
static store_err_t
sq_migrate(struct store_sqlite *sq)
{
	store_err_t err;
	int version;

	if ((err = sq_exec(sq->db, "BEGIN IMMEDIATE")) != STORE_OK)
		return err;
	/* Again, now that no one else can be migrating. */
	if ((err = sq_probe(sq->db, &version)) != STORE_OK)
		goto fail;
	for (int i = version; i < SQ_VERSION; i++) {
		int rc = sqlite3_exec(sq->db, sq_migrations[i], NULL, NULL, NULL);

		if (rc != SQLITE_OK) {
			/* Plain SQLITE_ERROR: the SQL clashed with the file. */
			err = (rc & 0xff) == SQLITE_ERROR ? STORE_ERR_SCHEMA :
			    sq_err(rc);
			goto fail;
		}
		if ((err = sq_user_version(sq->db, &version)) != STORE_OK)
			goto fail;
		if (version != i + 1) {
			err = STORE_ERR_SCHEMA;
			goto fail;
		}
	}
	if ((err = sq_exec(sq->db, "COMMIT")) != STORE_OK)
		goto fail;
	sq->version = SQ_VERSION;
	return STORE_OK;
fail:
	sq_rollback_db(sq->db);
	return err;
}

static store_err_t
sq_journal_wal_once(sqlite3 *db)
{
	sqlite3_stmt *stmt;
	store_err_t err = STORE_OK;
	int rc;

	if ((rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &stmt,
	    NULL)) != SQLITE_OK)
		return sq_err(rc);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(stmt, 0);

		/* The pragma answers with the old mode when it could not switch. */
		if (mode == NULL || (strcasecmp(mode, "wal") != 0 &&
		    strcasecmp(mode, "memory") != 0))
			err = STORE_ERR_IO;
	} else
		err = sq_err(rc);
	sqlite3_finalize(stmt);
	return err;
}

/*
 * Switching a new file to WAL needs an exclusive lock that the pragma
 * asks for while already reading, so SQLite answers BUSY at once instead
 * of waiting: two programs opening a fresh store together hit this.  Wait
 * here instead, as long as the busy timeout would have.
 */
static store_err_t
sq_journal_wal(sqlite3 *db)
{
	int64_t deadline = clock_monotonic_ms() + SQ_BUSY_TIMEOUT_MS;
	store_err_t err;

	while ((err = sq_journal_wal_once(db)) == STORE_ERR_BUSY &&
	    clock_monotonic_ms() < deadline)
		sqlite3_sleep(10);
	return err;
}

/* pk_sha256_hex(blob): for migration 2, the same value store_id_hash gives. */
static void
sq_sha256_hex(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	char hex[STORE_ID_HASH_LEN + 1];

	(void)argc;
	store_id_hash(sqlite3_value_blob(argv[0]), (size_t)sqlite3_value_bytes(argv[0]), hex);
	sqlite3_result_text(ctx, hex, -1, SQLITE_TRANSIENT);
}

static store_err_t
sq_setup(struct store_sqlite *sq)
{
	store_err_t err;
	int version;

	sqlite3_extended_result_codes(sq->db, 1);
	if (sqlite3_create_function_v2(sq->db, "pk_sha256_hex", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL, sq_sha256_hex, NULL, NULL,
	    NULL) != SQLITE_OK)
		return STORE_ERR_NOMEM;
	if (sqlite3_busy_timeout(sq->db, SQ_BUSY_TIMEOUT_MS) != SQLITE_OK)
		return STORE_ERR_IO;
#ifdef SQLITE_DBCONFIG_DEFENSIVE
	(void)sqlite3_db_config(sq->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
#endif
	/*
	 * Read before anything writes: switching to WAL rewrites the header,
	 * and a file that is not ours must come out byte for byte the same.
	 * One read transaction, or a migration committing between the probe's
	 * two queries looks like a foreign database.
	 */
	if ((err = sq_exec(sq->db, "BEGIN")) != STORE_OK)
		return err;
	err = sq_probe(sq->db, &version);
	sq_rollback_db(sq->db);
	if (err != STORE_OK)
		return err;
	if ((err = sq_journal_wal(sq->db)) != STORE_OK)
		return err;
	if ((err = sq_exec(sq->db, "PRAGMA synchronous = FULL")) != STORE_OK ||
	    (err = sq_exec(sq->db, "PRAGMA foreign_keys = ON")) != STORE_OK)
		return err;
	/* Versions only go up, so a current store needs no write lock to open. */
	if (version == SQ_VERSION) {
		sq->version = version;
		return STORE_OK;
	}
	return sq_migrate(sq);
}

static const char *
sq_errmsg(store_t *st)
{
	struct store_sqlite *sq = sq_of(st);
	int os = sqlite3_system_errno(sq->db);

	if (os != 0)
		snprintf(sq->msg, sizeof(sq->msg), "sqlite: %s (%s)",
		    sqlite3_errmsg(sq->db), strerror(os));
	else
		snprintf(sq->msg, sizeof(sq->msg), "sqlite: %s", sqlite3_errmsg(sq->db));
	return sq->msg;
}

/*
 * SQLite falls back to read-only when the file is write-protected; then
 * every write fails later, one login at a time.  Say so now, with the
 * reason the system gives for the file.
 */
static store_err_t
sq_check_writable(struct store_sqlite *sq, const char *path, char *why, size_t whylen)
{
	int fd;

	if (sqlite3_db_readonly(sq->db, "main") != 1)
		return STORE_OK;
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	snprintf(why, whylen, "%s can be opened only for reading: %s", path,
	    fd == -1 ? strerror(errno) : "read-only file system or mount");
	if (fd != -1)
		close(fd);
	return STORE_ERR_READONLY;
}

static void
sq_free(struct store_sqlite *sq)
{
	for (int i = 0; i < SQ_STMT__COUNT; i++)
		sqlite3_finalize(sq->stmt[i]);
	sqlite3_close(sq->db);
	free(sq);
}

/*
 * Process-wide settings, before SQLite's first use.  Its allocation
 * statistics (nothing here reads them) take one global mutex around every
 * malloc and free, a mutex the daemon's loop and its journal writers
 * would otherwise share.  Refused (SQLITE_MISUSE, and harmless) when
 * something else initialized SQLite first.
 */
static pthread_once_t sq_global_once = PTHREAD_ONCE_INIT;

static void
sq_global_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

store_err_t
store_sqlite_open(const char *path, store_t **out, char *why, size_t whylen)
{
	struct store_sqlite *sq;
	char *uri_safe = NULL;
	store_err_t err;
	int rc;

	*out = NULL;
	(void)pthread_once(&sq_global_once, sq_global_setup);
	if (strcmp(path, ":memory:") != 0) {
		/* SQLite reads "file:..." as a URI; "./file:..." is a path. */
		if (strncmp(path, "file:", 5) == 0) {
			if ((uri_safe = malloc(strlen(path) + 3)) == NULL)
				return STORE_ERR_NOMEM;
			memcpy(uri_safe, "./", 2);
			strcpy(uri_safe + 2, path);
			path = uri_safe;
		}
		if ((err = sq_create_private(path, why, whylen)) != STORE_OK) {
			free(uri_safe);
			return err;
		}
	}
	if ((sq = calloc(1, sizeof(*sq))) == NULL) {
		free(uri_safe);
		return STORE_ERR_NOMEM;
	}
	sq->base.ops = &sq_ops;
	/* No SQLITE_OPEN_CREATE: the file exists now, or something is wrong. */
	rc = sqlite3_open_v2(path, &sq->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK)
		err = sq->db == NULL ? STORE_ERR_NOMEM : sq_err(rc);
	else if ((err = sq_check_writable(sq, path, why, whylen)) == STORE_OK)
		err = sq_setup(sq);
	if (err != STORE_OK && why[0] == '\0' && sq->db != NULL)
		snprintf(why, whylen, "%s: %s", path, sq_errmsg(&sq->base));
	free(uri_safe);
	if (err != STORE_OK) {
		sq_free(sq);
		return err;
	}
	*out = &sq->base;
	return STORE_OK;
}

static void
sq_close(store_t *st)
{
	sq_free(sq_of(st));
}

static int
sq_schema_version(const store_t *st)
{
	return ((const struct store_sqlite *)st)->version;
}

/* The connection's page cache, at most kib KiB (SQLite's default is 2 MiB). */
static store_err_t
sq_set_cache_kib(store_t *st, int kib)
{
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA cache_size = %d", -kib);
	return sq_exec(sq_of(st)->db, sql);
}

static store_err_t
sq_set_busy_timeout(store_t *st, int ms)
{
	return sq_err(sqlite3_busy_timeout(sq_of(st)->db, ms));
}

/* ------------------------------------------------------------------ */
/* Transactions                                                       */
/* ------------------------------------------------------------------ */

/*
 * The caller retries later rather than wait: with no busy handler for
 * this one statement, another writer's lock is SQLITE_BUSY at once.
 */
static store_err_t
sq_txn_begin(store_t *st)
{
	struct store_sqlite *sq = sq_of(st);
	store_err_t err;

	if (!sqlite3_get_autocommit(sq->db))
		return STORE_ERR_INVALID;	/* one at a time */
	sqlite3_busy_timeout(sq->db, 0);
	err = sq_run_id(sq, SQ_BEGIN);
	sqlite3_busy_timeout(sq->db, SQ_BUSY_TIMEOUT_MS);
	return err;
}

static store_err_t
sq_txn_commit(store_t *st)
{
	struct store_sqlite *sq = sq_of(st);
	store_err_t err = sq_run_id(sq, SQ_COMMIT);

	if (err != STORE_OK)
		sq_rollback_db(sq->db);
	return err;
}

static void
sq_txn_rollback(store_t *st)
{
	sq_rollback_db(sq_of(st)->db);
}

static store_err_t
sq_txn_mark(store_t *st)
{
	return sq_run_id(sq_of(st), SQ_MARK);
}

static void
sq_txn_mark_end(store_t *st, int keep)
{
	struct store_sqlite *sq = sq_of(st);

	if (!keep)
		(void)sq_run_id(sq, SQ_MARK_UNDO);
	(void)sq_run_id(sq, SQ_MARK_RELEASE);
}

/* ------------------------------------------------------------------ */
/* Users                                                              */
/* ------------------------------------------------------------------ */

static store_err_t
sq_handle_get(struct store_sqlite *sq, const char *user,
    unsigned char out[STORE_USER_HANDLE_LEN])
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	if ((err = sq_stmt(sq, SQ_HANDLE_GET, &stmt)) != STORE_OK)
		return err;
	if ((rc = sq_bind_text(stmt, 1, user)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		if (sqlite3_column_bytes(stmt, 0) != STORE_USER_HANDLE_LEN)
			err = STORE_ERR_IO;
		else
			memcpy(out, sqlite3_column_blob(stmt, 0), STORE_USER_HANDLE_LEN);
	} else if (rc == SQLITE_DONE)
		err = STORE_ERR_NOT_FOUND;
	else
		err = sq_err(rc);
	sq_reset(stmt);
	return err;
}

/* Gives the user this handle unless one exists; a racing creator wins. */
static store_err_t
sq_handle_make(struct store_sqlite *sq, const char *user,
    const unsigned char handle[STORE_USER_HANDLE_LEN])
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_HANDLE_MAKE, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, user) != SQLITE_OK ||
	    sq_bind_blob(stmt, 2, handle, STORE_USER_HANDLE_LEN) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, sq_now(0)) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_run(stmt);
}

static store_err_t
sq_user_handle(store_t *st, const char *user, int create,
    unsigned char out[STORE_USER_HANDLE_LEN])
{
	struct store_sqlite *sq = sq_of(st);
	unsigned char fresh[STORE_USER_HANDLE_LEN];
	store_err_t err;

	err = sq_handle_get(sq, user, out);
	if (err != STORE_ERR_NOT_FOUND || !create)
		return err;
	if ((err = store_random_handle(fresh)) != STORE_OK ||
	    (err = sq_handle_make(sq, user, fresh)) != STORE_OK)
		return err;
	return sq_handle_get(sq, user, out);
}

/* ------------------------------------------------------------------ */
/* Credentials                                                        */
/* ------------------------------------------------------------------ */

/* Runs a bound INSERT: a taken key is STORE_ERR_EXISTS, a broken rule STORE_ERR_INVALID. */
static store_err_t
sq_insert(sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sq_reset(stmt);
	if (rc == SQLITE_CONSTRAINT_PRIMARYKEY)
		return STORE_ERR_EXISTS;
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return STORE_ERR_INVALID;
	return rc == SQLITE_DONE ? STORE_OK : sq_err(rc);
}

static store_err_t
sq_cred_insert(struct store_sqlite *sq, const struct store_credential *c)
{
	char hash[STORE_ID_HASH_LEN + 1];
	sqlite3_stmt *stmt;
	store_err_t err;

	store_id_hash(c->id, c->id_len, hash);
	if ((err = sq_stmt(sq, SQ_CRED_INSERT, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, c->user) != SQLITE_OK ||
	    sq_bind_blob(stmt, 2, c->id, c->id_len) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 3, c->alg) != SQLITE_OK ||
	    sq_bind_blob(stmt, 4, c->pubkey_cose, c->pubkey_len) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, c->sign_count) != SQLITE_OK ||
	    sq_bind_text(stmt, 6, c->fmt) != SQLITE_OK ||
	    sq_bind_blob(stmt, 7, c->aaguid, sizeof(c->aaguid)) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 8, c->uv != 0) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 9, c->be != 0) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 10, c->bs != 0) != SQLITE_OK ||
	    sq_bind_text(stmt, 11, c->attestation) != SQLITE_OK ||
	    sq_bind_text(stmt, 12, c->nickname) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 13, sq_now(c->created)) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 14, c->last_used) != SQLITE_OK ||
	    sq_bind_text(stmt, 15, c->last_addr) != SQLITE_OK ||
	    sq_bind_text(stmt, 16, hash) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_insert(stmt);
}

/*
 * The user row comes with the credential so every credential has a user
 * handle to check assertions against; both or neither are written.
 */
static store_err_t
sq_cred_add(store_t *st, const struct store_credential *cred)
{
	struct store_sqlite *sq = sq_of(st);
	unsigned char handle[STORE_USER_HANDLE_LEN];
	store_err_t err;
	int outer;

	if ((err = store_random_handle(handle)) != STORE_OK)
		return err;
	if ((err = sq_atomic_begin(sq, &outer)) != STORE_OK)
		return err;
	if ((err = sq_handle_make(sq, cred->user, handle)) == STORE_OK)
		err = sq_cred_insert(sq, cred);
	return sq_atomic_end(sq, outer, err);
}

static store_err_t sq_enroll_pending(store_t *, const char *, int64_t, int *);
static store_err_t sq_enroll_remove(store_t *, const char *);

static store_err_t
sq_cred_register(store_t *st, const struct store_credential *cred,
    const unsigned char handle[STORE_USER_HANDLE_LEN], int consume_enrollment,
    unsigned max_per_user, int64_t now)
{
	struct store_sqlite *sq = sq_of(st);
	unsigned char stored[STORE_USER_HANDLE_LEN];
	store_err_t err;
	int outer, pending = 0;

	if ((err = sq_atomic_begin(sq, &outer)) != STORE_OK)
		return err;
	if (consume_enrollment &&
	    (err = sq_enroll_pending(st, cred->user, now, &pending)) == STORE_OK &&
	    !pending)
		err = STORE_ERR_NO_ENROLLMENT;
	if (err == STORE_OK)
		err = sq_handle_make(sq, cred->user, handle);
	if (err == STORE_OK)
		err = sq_handle_get(sq, cred->user, stored);
	/* the authenticator keeps the handle it was given as user.id */
	if (err == STORE_OK && memcmp(stored, handle, sizeof(stored)) != 0)
		err = STORE_ERR_CONFLICT;
	/*
	 * the bound: write transactions run one at a time, so no other
	 * registration adds a passkey between this count and the insert
	 */
	if (err == STORE_OK)
		err = store_cred_below_bound(st, cred->user, max_per_user);
	if (err == STORE_OK)
		err = sq_cred_insert(sq, cred);
	if (err == STORE_OK && consume_enrollment)
		err = sq_enroll_remove(st, cred->user);
	return sq_atomic_end(sq, outer, err);
}

/* Reads one row selected with SQ_CRED_COLUMNS. */
static store_err_t
sq_cred_read(sqlite3_stmt *stmt, struct store_credential *c)
{
	unsigned char *aaguid;
	size_t aaguid_len;
	store_err_t err;

	if ((err = sq_col_text(stmt, 0, &c->user)) != STORE_OK ||
	    (err = sq_col_blob(stmt, 1, &c->id, &c->id_len)) != STORE_OK ||
	    (err = sq_col_blob(stmt, 3, &c->pubkey_cose, &c->pubkey_len)) != STORE_OK ||
	    (err = sq_col_text(stmt, 5, &c->fmt)) != STORE_OK ||
	    (err = sq_col_text(stmt, 10, &c->attestation)) != STORE_OK ||
	    (err = sq_col_text(stmt, 11, &c->nickname)) != STORE_OK ||
	    (err = sq_col_text(stmt, 14, &c->last_addr)) != STORE_OK)
		return err;
	if ((err = sq_col_blob(stmt, 6, &aaguid, &aaguid_len)) != STORE_OK)
		return err;
	if (aaguid_len == sizeof(c->aaguid))
		memcpy(c->aaguid, aaguid, sizeof(c->aaguid));
	free(aaguid);
	if (aaguid_len != sizeof(c->aaguid) || c->user == NULL ||
	    c->fmt == NULL || c->attestation == NULL)
		return STORE_ERR_IO;
	c->alg = sqlite3_column_int(stmt, 2);
	c->sign_count = (uint32_t)sqlite3_column_int64(stmt, 4);
	c->uv = sqlite3_column_int(stmt, 7);
	c->be = sqlite3_column_int(stmt, 8);
	c->bs = sqlite3_column_int(stmt, 9);
	c->created = sqlite3_column_int64(stmt, 12);
	c->last_used = sqlite3_column_int64(stmt, 13);
	c->seq = sqlite3_column_int64(stmt, 15);
	return STORE_OK;
}

/* The handle, when asked for, is the column after the credential's (SQ_CRED_GET_LOGIN). */
static store_err_t
cred_get_one(struct store_sqlite *sq, enum sq_stmt_id id_stmt, const unsigned char *id,
    size_t id_len, struct store_credential *out, unsigned char *handle)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc, col;

	if ((err = sq_stmt(sq, id_stmt, &stmt)) != STORE_OK)
		return err;
	if ((rc = sq_bind_blob(stmt, 1, id, id_len)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	rc = sqlite3_step(stmt);
	col = sqlite3_column_count(stmt) - 1;
	if (rc == SQLITE_ROW && handle != NULL && sqlite3_column_type(stmt, col) == SQLITE_NULL)
		err = STORE_ERR_NOT_FOUND;	/* no user row: as store_user_handle says */
	else if (rc == SQLITE_ROW && handle != NULL &&
	    sqlite3_column_bytes(stmt, col) != STORE_USER_HANDLE_LEN)
		err = STORE_ERR_IO;
	else if (rc == SQLITE_ROW) {
		if ((err = sq_cred_read(stmt, out)) == STORE_OK && handle != NULL)
			memcpy(handle, sqlite3_column_blob(stmt, col), STORE_USER_HANDLE_LEN);
	} else if (rc == SQLITE_DONE)
		err = STORE_ERR_NOT_FOUND;
	else
		err = sq_err(rc);
	sq_reset(stmt);
	if (err != STORE_OK)
		store_credential_free(out);
	return err;
}

static store_err_t
sq_cred_get(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out)
{
	return cred_get_one(sq_of(st), SQ_CRED_GET, id, id_len, out, NULL);
}

static store_err_t
sq_cred_get_for_login(store_t *st, const unsigned char *id, size_t id_len,
    struct store_credential *out, unsigned char handle[STORE_USER_HANDLE_LEN])
{
	return cred_get_one(sq_of(st), SQ_CRED_GET_LOGIN, id, id_len, out, handle);
}

static store_err_t
sq_cred_exists(struct store_sqlite *sq, const unsigned char *id, size_t id_len)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	if ((err = sq_stmt(sq, SQ_CRED_EXISTS, &stmt)) != STORE_OK)
		return err;
	if ((rc = sq_bind_blob(stmt, 1, id, id_len)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	rc = sqlite3_step(stmt);
	sq_reset(stmt);
	if (rc == SQLITE_ROW)
		return STORE_OK;
	return rc == SQLITE_DONE ? STORE_ERR_NOT_FOUND : sq_err(rc);
}

/*
 * Room for one more item in a result array that grows as rows arrive;
 * the new slot is zeroed.  NULL when out of memory (items stays valid).
 */
static void *
sq_grow(void *items, size_t *cap, size_t count, size_t size)
{
	if (count == *cap) {
		size_t ncap = *cap == 0 ? 8 : *cap * 2;

		if ((items = reallocarray(items, ncap, size)) == NULL)
			return NULL;
		*cap = ncap;
	}
	memset((char *)items + count * size, 0, size);
	return items;
}

static store_err_t sq_cred_rows(sqlite3_stmt *stmt, struct store_credential_list *out);

static store_err_t
sq_cred_list_user(store_t *st, const char *user, struct store_credential_list *out)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	/* two statements, so the per-user one keeps its index */
	if ((err = sq_stmt(sq_of(st), user != NULL ? SQ_CRED_LIST_USER :
	    SQ_CRED_LIST_ALL, &stmt)) != STORE_OK)
		return err;
	if (user != NULL && (rc = sq_bind_text(stmt, 1, user)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	return sq_cred_rows(stmt, out);
}

/*
 * Reads every row a prepared, bound statement returns into a growing
 * array of `size`-byte items (*items, *count), with read() per row; the
 * caller frees the list on an error (a half-read item is counted too).
 */
static store_err_t
sq_rows(sqlite3_stmt *stmt, void **items, size_t *count, size_t size,
    store_err_t (*read)(sqlite3_stmt *, void *))
{
	size_t cap = 0;
	store_err_t err = STORE_OK;
	int rc;

	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char *n;

		if ((n = sq_grow(*items, &cap, *count, size)) == NULL) {
			err = STORE_ERR_NOMEM;
			break;
		}
		*items = n;
		if ((err = read(stmt, n + size * (*count)++)) != STORE_OK)
			break;
	}
	if (err == STORE_OK && rc != SQLITE_DONE)
		err = sq_err(rc);
	sq_reset(stmt);
	return err;
}

static store_err_t
sq_cred_read_any(sqlite3_stmt *stmt, void *item)
{
	return sq_cred_read(stmt, item);
}

static store_err_t
sq_cred_rows(sqlite3_stmt *stmt, struct store_credential_list *out)
{
	store_err_t err = sq_rows(stmt, (void **)&out->items, &out->count, sizeof(*out->items),
	    sq_cred_read_any);

	if (err != STORE_OK)
		store_credential_list_free(out);
	return err;
}

static store_err_t
sq_cred_page(store_t *st, const char *user, int64_t after, size_t limit,
    struct store_credential_list *out)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq_of(st), user != NULL ? SQ_CRED_PAGE_USER : SQ_CRED_PAGE_ALL,
	    &stmt)) != STORE_OK)
		return err;
	if ((user != NULL && sq_bind_text(stmt, 1, user) != SQLITE_OK) ||
	    sqlite3_bind_int64(stmt, 2, after) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, limit > INT64_MAX ? INT64_MAX : (int64_t)limit) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_cred_rows(stmt, out);
}

static store_err_t
sq_cred_find(store_t *st, const char *user, const char *prefix,
    struct store_credential *out, size_t *matches)
{
	struct store_credential_list found = { 0 };
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq_of(st), user != NULL ? SQ_CRED_FIND_USER : SQ_CRED_FIND_ALL,
	    &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, prefix) != SQLITE_OK ||
	    (user != NULL && sq_bind_text(stmt, 2, user) != SQLITE_OK)) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	if ((err = sq_cred_rows(stmt, &found)) != STORE_OK)
		return err;
	*matches = found.count;
	if (found.count == 1) {
		*out = found.items[0];
		memset(&found.items[0], 0, sizeof(found.items[0]));
	}
	store_credential_list_free(&found);
	return STORE_OK;
}

static store_err_t
sq_cred_count_user(store_t *st, const char *user, size_t *count)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	if ((err = sq_stmt(sq_of(st), SQ_CRED_COUNT_USER, &stmt)) != STORE_OK)
		return err;
	if ((rc = sq_bind_text(stmt, 1, user)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*count = (size_t)sqlite3_column_int64(stmt, 0);
	sq_reset(stmt);
	return rc == SQLITE_ROW ? STORE_OK : sq_err(rc);
}

/* Runs an UPDATE or DELETE of one row; no row is NOT_FOUND. */
static store_err_t
sq_change(struct store_sqlite *sq, sqlite3_stmt *stmt)
{
	store_err_t err = sq_run(stmt);

	if (err == STORE_OK && sqlite3_changes(sq->db) == 0)
		err = STORE_ERR_NOT_FOUND;
	return err;
}

static store_err_t
sq_cred_record_use(store_t *st, const unsigned char *id, size_t id_len,
    uint32_t sign_count, int must_grow, int bs, int64_t when, const char *addr)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, must_grow ? SQ_CRED_USE_GROW : SQ_CRED_USE_MAX,
	    &stmt)) != STORE_OK)
		return err;
	if (sqlite3_bind_int64(stmt, 1, sign_count) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 2, bs != 0) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, sq_now(when)) != SQLITE_OK ||
	    sq_bind_text(stmt, 4, addr) != SQLITE_OK ||
	    sq_bind_blob(stmt, 5, id, id_len) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	err = sq_change(sq, stmt);
	/* no row changed: gone, or someone stored this count or a higher one */
	if (err == STORE_ERR_NOT_FOUND && must_grow &&
	    (err = sq_cred_exists(sq, id, id_len)) == STORE_OK)
		err = STORE_ERR_CONFLICT;
	return err;
}

static store_err_t
sq_cred_rename(store_t *st, const unsigned char *id, size_t id_len,
    const char *nickname)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_CRED_RENAME, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, nickname) != SQLITE_OK ||
	    sq_bind_blob(stmt, 2, id, id_len) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_change(sq, stmt);
}

static store_err_t
sq_cred_delete(struct store_sqlite *sq, const unsigned char *id, size_t id_len,
    int keep_last)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_CRED_REMOVE, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_blob(stmt, 1, id, id_len) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 2, keep_last != 0) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	err = sq_change(sq, stmt);
	/* nothing deleted: tell "no such credential" from "the last one" */
	if (err == STORE_ERR_NOT_FOUND && keep_last &&
	    (err = sq_cred_exists(sq, id, id_len)) == STORE_OK)
		err = STORE_ERR_LAST;
	return err;
}

static store_err_t sq_window_end_cred(struct store_sqlite *, const unsigned char *, size_t);

/* The passkey and the windows it opened go together, or neither does. */
static store_err_t
sq_cred_remove(store_t *st, const unsigned char *id, size_t id_len, int keep_last)
{
	struct store_sqlite *sq = sq_of(st);
	store_err_t err;
	int outer;

	if ((err = sq_atomic_begin(sq, &outer)) != STORE_OK)
		return err;
	if ((err = sq_cred_delete(sq, id, id_len, keep_last)) == STORE_OK)
		err = sq_window_end_cred(sq, id, id_len);
	return sq_atomic_end(sq, outer, err);
}

/* ------------------------------------------------------------------ */
/* Enrollments                                                        */
/* ------------------------------------------------------------------ */

static store_err_t
sq_enroll_add(store_t *st, const char *user, int64_t expires, const char *by)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq_of(st), SQ_ENROLL_ADD, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, user) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, sq_now(0)) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 3, expires) != SQLITE_OK ||
	    sq_bind_text(stmt, 4, by) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_run(stmt);
}

static store_err_t
sq_enroll_pending(store_t *st, const char *user, int64_t now, int *pending)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	if ((err = sq_stmt(sq_of(st), SQ_ENROLL_GET, &stmt)) != STORE_OK)
		return err;
	if ((rc = sq_bind_text(stmt, 1, user)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*pending = sqlite3_column_int64(stmt, 0) > now;
	else if (rc != SQLITE_DONE)
		err = sq_err(rc);
	sq_reset(stmt);
	return err;
}

static store_err_t
sq_enroll_remove(store_t *st, const char *user)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_ENROLL_REMOVE, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, user) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_change(sq, stmt);
}

/* ------------------------------------------------------------------ */
/* Events                                                             */
/* ------------------------------------------------------------------ */

static store_err_t
sq_event_add(store_t *st, const struct store_event *ev)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq_of(st), SQ_EVENT_ADD, &stmt)) != STORE_OK)
		return err;
	if (sqlite3_bind_int64(stmt, 1, sq_now(ev->time)) != SQLITE_OK ||
	    sq_bind_text(stmt, 2, ev->event) != SQLITE_OK ||
	    sq_bind_text(stmt, 3, ev->user) != SQLITE_OK ||
	    sq_bind_text(stmt, 4, ev->addr) != SQLITE_OK ||
	    sq_bind_text(stmt, 5, ev->verdict) != SQLITE_OK ||
	    sq_bind_text(stmt, 6, ev->reason) != SQLITE_OK ||
	    sq_bind_text(stmt, 7, ev->detail) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_run(stmt);
}

static store_err_t
sq_event_read(sqlite3_stmt *stmt, struct store_event *ev)
{
	char *s[6];
	store_err_t err = STORE_OK;

	for (int i = 0; i < 6; i++) {
		s[i] = NULL;
		if (err == STORE_OK)
			err = sq_col_text(stmt, i + 2, &s[i]);
	}
	ev->id = sqlite3_column_int64(stmt, 0);
	ev->time = sqlite3_column_int64(stmt, 1);
	ev->event = s[0];
	ev->user = s[1];
	ev->addr = s[2];
	ev->verdict = s[3];
	ev->reason = s[4];
	ev->detail = s[5];
	return err;
}

static store_err_t
sq_event_list(store_t *st, const char *user, size_t limit, int64_t before_id,
    struct store_event_list *out)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	store_err_t err;
	int rc;

	if ((err = sq_stmt(sq_of(st), user == NULL ? SQ_EVENT_LIST_ALL :
	    SQ_EVENT_LIST_USER, &stmt)) != STORE_OK)
		return err;
	if ((user != NULL && (rc = sq_bind_text(stmt, 1, user)) != SQLITE_OK) ||
	    (rc = sqlite3_bind_int64(stmt, 2,
	    limit > INT64_MAX ? INT64_MAX : (int64_t)limit)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(stmt, 3, before_id > 0 ? before_id :
	    INT64_MAX)) != SQLITE_OK) {
		sq_reset(stmt);
		return sq_err(rc);
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct store_event *n;

		if ((n = sq_grow(out->items, &cap, out->count, sizeof(*n))) == NULL) {
			err = STORE_ERR_NOMEM;
			break;
		}
		out->items = n;
		if ((err = sq_event_read(stmt, &out->items[out->count++])) != STORE_OK)
			break;
	}
	if (err == STORE_OK && rc != SQLITE_DONE)
		err = sq_err(rc);
	sq_reset(stmt);
	if (err != STORE_OK)
		store_event_list_free(out);
	return err;
}

/* The lowest and highest event ids (0 and 0 for an empty log). */
static store_err_t
sq_event_bounds(struct store_sqlite *sq, int64_t *lo, int64_t *hi)
{
	sqlite3_stmt *stmt;
	store_err_t err;
	int rc;

	*lo = *hi = 0;
	if ((err = sq_stmt(sq, SQ_EVENT_BOUNDS, &stmt)) != STORE_OK)
		return err;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*lo = sqlite3_column_int64(stmt, 0);
		*hi = sqlite3_column_int64(stmt, 1);
	}
	sq_reset(stmt);
	return rc == SQLITE_ROW ? STORE_OK : sq_err(rc);
}

static store_err_t
sq_event_count(store_t *st, uint64_t *count)
{
	int64_t lo, hi;
	store_err_t err;

	if ((err = sq_event_bounds(sq_of(st), &lo, &hi)) == STORE_OK)
		*count = hi > 0 ? (uint64_t)(hi - lo + 1) : 0;
	return err;
}

/*
 * Ids only grow (AUTOINCREMENT) and only the oldest are pruned, so the
 * newest max_rows are those from max(id) - max_rows + 1 up: both bounds
 * come from the primary key without a count(*) over the table.
 */
static store_err_t
sq_event_prune(store_t *st, int64_t before_time, uint64_t max_rows, size_t batch,
    size_t *removed)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	int64_t lo, hi, oldest;
	store_err_t err;
	int rc;

	if (max_rows > 0) {
		if ((err = sq_event_bounds(sq, &lo, &hi)) != STORE_OK)
			return err;
		if (hi > 0 && (uint64_t)(hi - lo + 1) > max_rows) {
			if ((err = sq_stmt(sq, SQ_EVENT_PRUNE_BELOW, &stmt)) != STORE_OK)
				return err;
			sqlite3_bind_int64(stmt, 1, hi - (int64_t)max_rows + 1);
			sqlite3_bind_int64(stmt, 2, (int64_t)batch);
			if ((err = sq_run(stmt)) != STORE_OK)
				return err;
			*removed += (size_t)sqlite3_changes(sq->db);
		}
	}
	if (*removed >= batch || before_time <= 0)
		return STORE_OK;
	/* the usual case, once a second: the oldest row is young enough */
	if ((err = sq_stmt(sq, SQ_EVENT_OLDEST_TIME, &stmt)) != STORE_OK)
		return err;
	rc = sqlite3_step(stmt);
	oldest = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : INT64_MAX;
	sq_reset(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sq_err(rc);
	if (oldest >= before_time)
		return STORE_OK;
	if ((err = sq_stmt(sq, SQ_EVENT_PRUNE_TIME, &stmt)) != STORE_OK)
		return err;
	sqlite3_bind_int64(stmt, 1, before_time);
	sqlite3_bind_int64(stmt, 2, (int64_t)(batch - *removed));
	if ((err = sq_run(stmt)) != STORE_OK)
		return err;
	*removed += (size_t)sqlite3_changes(sq->db);
	return STORE_OK;
}

/* ------------------------------------------------------------------ */
/* Re-approval windows                                                */
/* ------------------------------------------------------------------ */

static store_err_t
sq_window_purge(struct store_sqlite *sq, int64_t before)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_WINDOW_PURGE, &stmt)) != STORE_OK)
		return err;
	if (sqlite3_bind_int64(stmt, 1, before) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_run(stmt);
}

static store_err_t
sq_window_insert(struct store_sqlite *sq, const struct store_window *w)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_WINDOW_INSERT, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, w->id) != SQLITE_OK ||
	    sq_bind_text(stmt, 2, w->user) != SQLITE_OK ||
	    sq_bind_text(stmt, 3, w->service) != SQLITE_OK ||
	    sq_bind_text(stmt, 4, w->rhost) != SQLITE_OK ||
	    sq_bind_text(stmt, 5, w->client_key) != SQLITE_OK ||
	    sq_bind_text(stmt, 6, w->hostname) != SQLITE_OK ||
	    sq_bind_text(stmt, 7, w->source) != SQLITE_OK ||
	    sq_bind_blob(stmt, 8, w->cred_id, w->cred_id_len) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 9, w->opened) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 10, w->expires) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_insert(stmt);
}

/* The expired ones go in the same transaction: the table holds open windows, about. */
static store_err_t
sq_window_open(store_t *st, const struct store_window *w)
{
	struct store_sqlite *sq = sq_of(st);
	store_err_t err;
	int outer;

	if ((err = sq_atomic_begin(sq, &outer)) != STORE_OK)
		return err;
	if ((err = sq_window_purge(sq, w->opened)) == STORE_OK)
		err = sq_window_insert(sq, w);
	return sq_atomic_end(sq, outer, err);
}

/* Reads one row selected with SQ_WINDOW_COLUMNS. */
static store_err_t
sq_window_read(sqlite3_stmt *stmt, struct store_window *w)
{
	const unsigned char *id = sqlite3_column_text(stmt, 0);
	store_err_t err;

	if (id == NULL || strlen((const char *)id) != STORE_WINDOW_ID_LEN)
		return STORE_ERR_IO;
	memcpy(w->id, id, STORE_WINDOW_ID_LEN + 1);
	if ((err = sq_col_text(stmt, 1, &w->user)) != STORE_OK ||
	    (err = sq_col_text(stmt, 2, &w->service)) != STORE_OK ||
	    (err = sq_col_text(stmt, 3, &w->rhost)) != STORE_OK ||
	    (err = sq_col_text(stmt, 4, &w->client_key)) != STORE_OK ||
	    (err = sq_col_text(stmt, 5, &w->hostname)) != STORE_OK ||
	    (err = sq_col_text(stmt, 6, &w->source)) != STORE_OK ||
	    (err = sq_col_blob(stmt, 7, &w->cred_id, &w->cred_id_len)) != STORE_OK)
		return err;
	if (w->user == NULL || w->service == NULL || w->rhost == NULL ||
	    w->client_key == NULL || w->hostname == NULL || w->source == NULL)
		return STORE_ERR_IO;
	w->opened = sqlite3_column_int64(stmt, 8);
	w->expires = sqlite3_column_int64(stmt, 9);
	w->last_used = sqlite3_column_int64(stmt, 10);
	w->uses = (uint64_t)sqlite3_column_int64(stmt, 11);
	return STORE_OK;
}

static store_err_t
sq_window_read_any(sqlite3_stmt *stmt, void *item)
{
	return sq_window_read(stmt, item);
}

static store_err_t
sq_window_rows(sqlite3_stmt *stmt, struct store_window_list *out)
{
	store_err_t err = sq_rows(stmt, (void **)&out->items, &out->count, sizeof(*out->items),
	    sq_window_read_any);

	if (err != STORE_OK)
		store_window_list_free(out);
	return err;
}

static store_err_t
sq_window_find(store_t *st, const char *user, const char *service, const char *rhost,
    const char *client_key, const char *hostname, int any_host, int64_t now,
    int64_t opened_after, struct store_window *out)
{
	struct store_window_list found = { 0 };
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq_of(st), SQ_WINDOW_FIND, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, user) != SQLITE_OK ||
	    sq_bind_text(stmt, 2, service) != SQLITE_OK ||
	    sq_bind_text(stmt, 3, rhost) != SQLITE_OK ||
	    sq_bind_text(stmt, 4, client_key) != SQLITE_OK ||
	    sq_bind_text(stmt, 5, hostname) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 6, now) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 7, opened_after) != SQLITE_OK ||
	    sqlite3_bind_int(stmt, 8, any_host) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 9, now + STORE_WINDOW_SKEW) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	if ((err = sq_window_rows(stmt, &found)) != STORE_OK)
		return err;
	if (found.count == 0)
		err = STORE_ERR_NOT_FOUND;
	else {
		*out = found.items[0];
		memset(&found.items[0], 0, sizeof(found.items[0]));
	}
	store_window_list_free(&found);
	return err;
}

static store_err_t
sq_window_use(store_t *st, const char *id, int64_t now)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_WINDOW_USE, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 2, now) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_change(sq, stmt);
}

static store_err_t
sq_window_page(store_t *st, const char *user, int64_t now, const struct store_window_key *after,
    int64_t limit, struct store_window_list *out)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	/* two statements, so the per-user one keeps its index */
	if ((err = sq_stmt(sq_of(st), user != NULL ? SQ_WINDOW_PAGE_USER :
	    SQ_WINDOW_PAGE_ALL, &stmt)) != STORE_OK)
		return err;
	if (sqlite3_bind_int64(stmt, 1, now) != SQLITE_OK ||
	    (user != NULL && sq_bind_text(stmt, 2, user) != SQLITE_OK) ||
	    sqlite3_bind_int64(stmt, 3, after->opened) != SQLITE_OK ||
	    sq_bind_text(stmt, 4, after->id) != SQLITE_OK ||
	    sqlite3_bind_int64(stmt, 5, limit) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_window_rows(stmt, out);
}

static store_err_t
sq_window_revoke(store_t *st, const char *id, const char *user, size_t *n)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	store_err_t err;

	/* three statements, so each keeps its index */
	if ((err = sq_stmt(sq, id != NULL ? SQ_WINDOW_REVOKE_ID : user != NULL ?
	    SQ_WINDOW_REVOKE_USER : SQ_WINDOW_REVOKE_ALL, &stmt)) != STORE_OK)
		return err;
	if ((id != NULL && (sq_bind_text(stmt, 1, id) != SQLITE_OK ||
	    sq_bind_text(stmt, 2, user) != SQLITE_OK)) ||
	    (id == NULL && user != NULL && sq_bind_text(stmt, 1, user) != SQLITE_OK)) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	if ((err = sq_run(stmt)) == STORE_OK)
		*n = (size_t)sqlite3_changes(sq->db);
	return err;
}

static store_err_t
sq_window_end_source(store_t *st, const char *user, const char *hostname, const char *source,
    size_t *n)
{
	struct store_sqlite *sq = sq_of(st);
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_WINDOW_END_SOURCE, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_text(stmt, 1, user) != SQLITE_OK ||
	    sq_bind_text(stmt, 2, hostname) != SQLITE_OK ||
	    sq_bind_text(stmt, 3, source) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	if ((err = sq_run(stmt)) == STORE_OK)
		*n = (size_t)sqlite3_changes(sq->db);
	return err;
}

/* Removing a passkey ends what it approved (sq_cred_remove's transaction). */
static store_err_t
sq_window_end_cred(struct store_sqlite *sq, const unsigned char *id, size_t id_len)
{
	sqlite3_stmt *stmt;
	store_err_t err;

	if ((err = sq_stmt(sq, SQ_WINDOW_END_CRED, &stmt)) != STORE_OK)
		return err;
	if (sq_bind_blob(stmt, 1, id, id_len) != SQLITE_OK) {
		sq_reset(stmt);
		return STORE_ERR_NOMEM;
	}
	return sq_run(stmt);
}

static const struct store_ops sq_ops = {
	.name = "sqlite",
	.close = sq_close,
	.schema_version = sq_schema_version,
	.set_busy_timeout = sq_set_busy_timeout,
	.set_cache_kib = sq_set_cache_kib,
	.errmsg = sq_errmsg,
	.txn_begin = sq_txn_begin,
	.txn_commit = sq_txn_commit,
	.txn_rollback = sq_txn_rollback,
	.txn_mark = sq_txn_mark,
	.txn_mark_end = sq_txn_mark_end,
	.cred_add = sq_cred_add,
	.cred_register = sq_cred_register,
	.cred_get = sq_cred_get,
	.cred_get_for_login = sq_cred_get_for_login,
	.cred_list_user = sq_cred_list_user,
	.cred_count_user = sq_cred_count_user,
	.cred_page = sq_cred_page,
	.cred_find = sq_cred_find,
	.cred_record_use = sq_cred_record_use,
	.cred_rename = sq_cred_rename,
	.cred_remove = sq_cred_remove,
	.user_handle = sq_user_handle,
	.enroll_add = sq_enroll_add,
	.enroll_pending = sq_enroll_pending,
	.enroll_remove = sq_enroll_remove,
	.event_add = sq_event_add,
	.event_list = sq_event_list,
	.event_prune = sq_event_prune,
	.event_count = sq_event_count,
	.window_open = sq_window_open,
	.window_find = sq_window_find,
	.window_use = sq_window_use,
	.window_page = sq_window_page,
	.window_revoke = sq_window_revoke,
	.window_end_source = sq_window_end_source,
};
