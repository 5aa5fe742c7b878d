/*
 * Unit tests for the credential store, on both backends: SQLite on real
 * database files in a fresh temporary directory per test, and PostgreSQL
 * on a real server (a fresh database per test).  `test_store sqlite` runs
 * every test of the API's promises plus SQLite's own; `test_store
 * postgresql` runs the same promises plus PostgreSQL's own, on the server
 * PASSKEY_TEST_PG names (a libpq URI of its database "postgres") or, when
 * unset, on one that tests/lib/pg-server.sh (PASSKEY_PG_SERVER) starts for
 * the run and removes after it.  Besides the API's promises they check
 * what an admin relies on without reading the code: the file is private, a
 * database that is not ours is never written, and several processes can
 * write at once without losing a row or a counter update.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "clock.h"
#include "store.h"

#define assert_store(got, want) do {					\
	store_err_t got_ = (got), want_ = (want);			\
	if (got_ != want_)						\
		print_error("store error %s, want %s\n",		\
		    store_err_str(got_), store_err_str(want_));		\
	assert_int_equal(got_, want_);					\
} while (0)

/* The schema version this code writes (store/store_sqlite.c, store_pg.c). */
#define SCHEMA		4
#define PG_SCHEMA	15

/*
 * What migrations 14, 13, 12, 10 to 6 changed, undone again: with it, a current
 * database is an older version's.  The admit trigger's body stays the
 * current one, and the announce trigger's is migration 6's; migration 6
 * writes them again.
 */
#define PG_ANNOUNCE_TRIGGER \
	"CREATE FUNCTION pk_ceremony_announce() RETURNS trigger LANGUAGE plpgsql AS $f$" \
	" BEGIN IF NEW.waiter = '' OR NEW.waiter IS DISTINCT FROM" \
	" current_setting('pk.instance', true) THEN PERFORM pg_notify('pk:' || NEW.host_role," \
	" encode(NEW.token_hash, 'hex')); END IF; RETURN NULL; END $f$;" \
	" CREATE TRIGGER ceremonies_announce AFTER UPDATE OF state ON ceremonies" \
	" FOR EACH ROW WHEN (OLD.state = 'pending' AND NEW.state <> 'pending')" \
	" EXECUTE FUNCTION pk_ceremony_announce();"
#define PG_UNDO_15	"ALTER TABLE ceremonies DROP COLUMN local;"
#define PG_UNDO_14	PG_UNDO_15 "ALTER TABLE ceremonies DROP COLUMN requester;"
#define PG_UNDO_13	PG_UNDO_14 "ALTER TABLE pk_limits DROP COLUMN hosts_self_enroll;"
#define PG_UNDO_12	PG_UNDO_13 "DROP FUNCTION pk_channel(); DROP TABLE pk_channels;"
#define PG_UNDO_10	PG_UNDO_12 "DROP TRIGGER ceremonies_first ON ceremonies;" \
	" DROP TRIGGER ceremonies_first_only ON ceremonies;" \
	" DROP FUNCTION pk_ceremony_first(), pk_ceremony_first_only();" \
	" ALTER TABLE ceremonies DROP CONSTRAINT ceremonies_sizes, DROP COLUMN first_passkey;"
#define PG_UNDO_9	PG_UNDO_10 PG_ANNOUNCE_TRIGGER
#define PG_UNDO_8	PG_UNDO_9 "DROP FUNCTION pk_end_held(integer);"
#define PG_UNDO_7	PG_UNDO_8 "DROP FUNCTION pk_window_use(text, bigint); DROP TABLE window_uses;"
#define PG_UNDO_6	PG_UNDO_7 \
	"DROP FUNCTION pk_pending_recount(), pk_windows_end(text, text);" \
	" DROP TABLE pk_pending_total," \
	" pk_pending_hosts; DROP INDEX ceremonies_pending_admitted, ceremonies_pending_host;" \
	" CREATE INDEX ceremonies_pending_host ON ceremonies (host_role)" \
	" WHERE state = 'pending'; ALTER TABLE ceremonies DROP COLUMN admitted," \
	" DROP COLUMN waiter; DROP SEQUENCE pk_admitted;"

#define PG_BASE_PREFIX	"postgresql:///postgres?"

struct fixture {
	int pg;			/* 1: PostgreSQL, 0: SQLite */
	char dir[PATH_MAX];
	char path[PATH_MAX + 16];	/* dir/store.db, not created yet */
	char db[64];		/* PostgreSQL: this test's database */
	char spec[PATH_MAX + 128];	/* what store_open takes: path or URI */
};

/* The PostgreSQL server of the run: its URI's query ("host=...&user=..."). */
static const char *pg_query;
static PGconn *pg_admin;	/* to database postgres, for CREATE DATABASE */
static unsigned pg_serial;

static int
fixture_dir(struct fixture *f)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(f->dir, sizeof(f->dir), "%s/test_store.XXXXXX", tmp);
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/store.db", f->dir);
	return 0;
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	fixture_dir(f);
	snprintf(f->spec, sizeof(f->spec), "%s", f->path);
	*state = f;
	return 0;
}

/* Runs constant SQL as the superuser on database postgres. */
static void
pg_admin_exec(const char *sql)
{
	PGresult *res = PQexec(pg_admin, sql);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		print_error("%s: %s", sql, PQresultErrorMessage(res));
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
}

static int
setup_pg(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char sql[128];

	assert_non_null(f);
	fixture_dir(f);
	f->pg = 1;
	snprintf(f->db, sizeof(f->db), "pk_test_%ld_%u", (long)getpid(), ++pg_serial);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", f->db);
	pg_admin_exec(sql);
	snprintf(f->spec, sizeof(f->spec), "postgresql:///%s?%s", f->db, pg_query);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *de;
	char p[PATH_MAX + 256];

	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(f->dir);
	if (f->pg) {
		/* WITH (FORCE): a test that failed may have left a connection */
		snprintf(p, sizeof(p), "DROP DATABASE %s WITH (FORCE)", f->db);
		pg_admin_exec(p);
	}
	free(f);
	return 0;
}

static store_t *
open_store(const char *path)
{
	store_t *st = NULL;

	assert_store(store_open(path, &st), STORE_OK);
	assert_non_null(st);
	return st;
}

static const unsigned char test_pubkey[] = {
	0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, 0x11,
};
static const unsigned char test_aaguid[16] = {
	0xcb, 0x69, 0x48, 0x1e, 0x8f, 0xf7, 0x40, 0x39,
	0x93, 0xec, 0x0a, 0x27, 0x29, 0xa1, 0x54, 0xa8,
};

/* A valid credential pointing at the caller's strings. */
static void
cred_init(struct store_credential *c, const char *user, const char *id,
    int64_t created)
{
	memset(c, 0, sizeof(*c));
	c->user = (char *)user;
	c->id = (unsigned char *)id;
	c->id_len = strlen(id);
	c->alg = -7;
	c->pubkey_cose = (unsigned char *)test_pubkey;
	c->pubkey_len = sizeof(test_pubkey);
	c->sign_count = 5;
	c->fmt = (char *)"packed";
	memcpy(c->aaguid, test_aaguid, sizeof(test_aaguid));
	c->uv = 1;
	c->be = 1;
	c->bs = 0;
	c->attestation = (char *)"none";
	c->created = created;
}

static store_err_t
add_cred(store_t *st, const char *user, const char *id, int64_t created)
{
	struct store_credential c;

	cred_init(&c, user, id, created);
	return store_cred_add(st, &c);
}

static store_err_t
get_cred(store_t *st, const char *id, struct store_credential *out)
{
	return store_cred_get(st, (const unsigned char *)id, strlen(id), out);
}

static int
is_pg(const char *spec)
{
	return strncmp(spec, "postgresql://", 13) == 0;
}

static PGconn *
pg_raw(const char *uri)
{
	PGconn *c = PQconnectdb(uri);

	if (PQstatus(c) != CONNECTION_OK)
		print_error("%s: %s", uri, PQerrorMessage(c));
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	return c;
}

/* First column of the first row of sql on a raw connection, as text. */
static void
raw_text(const char *spec, const char *sql, char *buf, size_t cap)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;

	if (is_pg(spec)) {
		PGconn *c = pg_raw(spec);
		PGresult *res = PQexec(c, sql);

		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			print_error("%s: %s", sql, PQresultErrorMessage(res));
		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		assert_true(PQntuples(res) >= 1);
		snprintf(buf, cap, "%s", PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
		PQclear(res);
		PQfinish(c);
		return;
	}
	assert_int_equal(sqlite3_open_v2(spec, &db, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	snprintf(buf, cap, "%s", sqlite3_column_text(stmt, 0) != NULL ?
	    (const char *)sqlite3_column_text(stmt, 0) : "(null)");
	sqlite3_finalize(stmt);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static long
raw_int(const char *spec, const char *sql)
{
	char buf[64];

	raw_text(spec, sql, buf, sizeof(buf));
	return strtol(buf, NULL, 10);
}

/* Runs constant SQL on a raw connection, creating the file if needed. */
static void
raw_exec(const char *spec, const char *sql)
{
	sqlite3 *db;

	if (is_pg(spec)) {
		PGconn *c = pg_raw(spec);
		PGresult *res = PQexec(c, sql);

		if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK)
			print_error("%s: %s", sql, PQresultErrorMessage(res));
		assert_true(PQresultStatus(res) == PGRES_COMMAND_OK ||
		    PQresultStatus(res) == PGRES_TUPLES_OK);
		PQclear(res);
		PQfinish(c);
		return;
	}
	assert_int_equal(sqlite3_open(spec, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static unsigned char *
read_all(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static mode_t
file_mode(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* ================================================================== */
/* Opening, schema, files                                             */
/* ================================================================== */

static void
test_err_str(void **state)
{
	(void)state;
	assert_string_equal(store_err_str(STORE_OK), "ok");
	assert_string_equal(store_err_str(STORE_ERR_EXISTS), "exists");
	assert_string_equal(store_err_str(STORE_ERR_UNSUPPORTED), "unsupported_backend");
	assert_string_equal(store_err_str(STORE_ERR_UNAVAILABLE), "unavailable");
	assert_string_equal(store_err_str((store_err_t)999), "unknown_error");
}

static void
test_open_creates_schema(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char buf[64];

	assert_int_equal(store_schema_version(st), SCHEMA);
	store_close(st);

	assert_int_equal(raw_int(f->spec, "PRAGMA user_version"), SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'table' AND name IN"
	    " ('users', 'credentials', 'enrollments', 'events', 'windows')"), 5);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM sqlite_master"
	    " WHERE type = 'index' AND name IN"
	    " ('credentials_user', 'events_user', 'credentials_id_hash', 'windows_match',"
	    " 'windows_cred', 'windows_expires')"), 6);
	raw_text(f->spec, "PRAGMA journal_mode", buf, sizeof(buf));
	assert_string_equal(buf, "wal");

	/* Opening a current store again migrates nothing and still works. */
	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), SCHEMA);
	store_close(st);
	assert_int_equal(raw_int(f->spec, "PRAGMA user_version"), SCHEMA);
}

static void
test_file_mode_private(void **state)
{
	struct fixture *f = *state;
	char wal[sizeof(f->path) + 8];
	mode_t old = umask(0);	/* a permissive umask must not matter */
	store_t *st;
	store_err_t err;

	err = store_open(f->path, &st);
	umask(old);
	assert_store(err, STORE_OK);
	assert_int_equal(file_mode(f->path), 0600);
	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	/* The WAL holds the newest rows until a checkpoint: just as private. */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(file_mode(wal), 0600);
	store_close(st);
}

static void
test_existing_mode_kept(void **state)
{
	struct fixture *f = *state;
	int fd = open(f->path, O_CREAT | O_EXCL | O_WRONLY, 0600);
	store_t *st;

	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, 0640), 0);
	close(fd);
	/* An empty file is a new database: the schema goes in, the mode stays. */
	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), SCHEMA);
	store_close(st);
	assert_int_equal(file_mode(f->path), 0640);
}

static void
test_spec_schemes(void **state)
{
	struct fixture *f = *state;
	char spec[sizeof(f->path) + 16], cwd[PATH_MAX];
	const char *odd = "file:odd.db?mode=memory";
	store_t *st = (store_t *)0x1;
	struct stat sb;
	size_t n;

	/* both PostgreSQL schemes reach libpq (a socket folder that is not there) */
	assert_store(store_open("postgresql:///pk?host=/nonexistent.pk&connect_timeout=1", &st),
	    STORE_ERR_UNAVAILABLE);
	assert_null(st);
	assert_store(store_open("postgres://u@/pk?host=/nonexistent.pk&connect_timeout=1", &st),
	    STORE_ERR_UNAVAILABLE);
	assert_store(store_open("", &st), STORE_ERR_INVALID);
	assert_store(store_open(NULL, &st), STORE_ERR_INVALID);
	assert_store(store_open("sqlite:", &st), STORE_ERR_INVALID);
	assert_store(store_open(f->path, NULL), STORE_ERR_INVALID);

	snprintf(spec, sizeof(spec), "sqlite:%s", f->path);
	st = open_store(spec);
	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	store_close(st);
	/* Same file as the plain path. */
	st = open_store(f->spec);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	store_close(st);

	/* A path that looks like a SQLite URI is still a file path. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	st = open_store(odd);
	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	store_close(st);
	assert_int_equal(stat(odd, &sb), 0);
	st = open_store(odd);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	store_close(st);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(n, 1);
}

static void
test_newer_schema_untouched(void **state)
{
	struct fixture *f = *state;
	unsigned char *before, *after;
	size_t blen, alen;
	store_t *st = (store_t *)0x1;

	/* A rollback-journal file: switching it to WAL would change its header. */
	raw_exec(f->spec, "CREATE TABLE future (x); INSERT INTO future VALUES (1);"
	    " PRAGMA user_version = 99;");
	before = read_all(f->path, &blen);
	assert_store(store_open(f->path, &st), STORE_ERR_SCHEMA);
	assert_null(st);
	after = read_all(f->path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
	assert_int_equal(raw_int(f->spec, "PRAGMA user_version"), 99);
}

static void
test_foreign_db_untouched(void **state)
{
	struct fixture *f = *state;
	unsigned char *before, *after;
	size_t blen, alen;
	store_t *st = NULL;

	/* Another program's database at version 0: not ours to add tables to. */
	raw_exec(f->spec, "CREATE TABLE notes (body TEXT);"
	    " INSERT INTO notes VALUES ('keep me');");
	before = read_all(f->path, &blen);
	assert_store(store_open(f->path, &st), STORE_ERR_SCHEMA);
	assert_null(st);
	after = read_all(f->path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM sqlite_master"
	    " WHERE name = 'credentials'"), 0);
}

static void
test_not_sqlite_untouched(void **state)
{
	struct fixture *f = *state;
	unsigned char *before, *after;
	size_t blen, alen;
	store_t *st = NULL;
	store_err_t err;
	FILE *fp = fopen(f->path, "w");

	assert_non_null(fp);
	for (int i = 0; i < 200; i++)
		fprintf(fp, "line %d: this is a text file, not a database\n", i);
	fclose(fp);
	before = read_all(f->path, &blen);
	err = store_open(f->path, &st);
	assert_true(err == STORE_ERR_IO || err == STORE_ERR_SCHEMA);
	assert_null(st);
	after = read_all(f->path, &alen);
	assert_int_equal(alen, blen);
	assert_memory_equal(after, before, blen);
	free(before);
	free(after);
}

static void
test_open_missing_dir(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX + 32];
	store_t *st = NULL;

	snprintf(path, sizeof(path), "%s/no/such/dir.db", f->dir);
	assert_store(store_open(path, &st), STORE_ERR_IO);
	assert_null(st);
	store_close(NULL);
	assert_int_equal(store_schema_version(NULL), -1);
}

static void
test_reopen_keeps_data(void **state)
{
	struct fixture *f = *state;
	unsigned char h1[STORE_USER_HANDLE_LEN], h2[STORE_USER_HANDLE_LEN];
	struct store_event ev = { .time = 1000, .event = "login_approved",
	    .user = "alice", .verdict = "ok" };
	struct store_event_list evl;
	struct store_credential c;
	store_t *st = open_store(f->spec);
	int pending;

	assert_store(add_cred(st, "alice", "cred-1", 100), STORE_OK);
	assert_store(store_user_handle(st, "alice", 0, h1), STORE_OK);
	assert_store(store_enroll_add(st, "bob", 5000, "root"), STORE_OK);
	assert_store(store_event_add(st, &ev), STORE_OK);
	store_close(st);

	st = open_store(f->spec);
	assert_store(get_cred(st, "cred-1", &c), STORE_OK);
	assert_string_equal(c.user, "alice");
	assert_int_equal(c.created, 100);
	store_credential_free(&c);
	assert_store(store_user_handle(st, "alice", 0, h2), STORE_OK);
	assert_memory_equal(h1, h2, sizeof(h1));
	assert_store(store_enroll_pending(st, "bob", 4000, &pending), STORE_OK);
	assert_int_equal(pending, 1);
	assert_store(store_event_list(st, NULL, 10, 0, &evl), STORE_OK);
	assert_int_equal(evl.count, 1);
	assert_string_equal(evl.items[0].event, "login_approved");
	store_event_list_free(&evl);
	store_close(st);
}

/* ================================================================== */
/* Credentials                                                        */
/* ================================================================== */

static void
test_cred_add_get(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential in, out;

	cred_init(&in, "alice", "cred-roundtrip", 1700000000);
	in.alg = -8;
	in.sign_count = UINT32_MAX;
	in.fmt = (char *)"android-key";
	in.uv = 0;
	in.be = 1;
	in.bs = 1;
	in.attestation = (char *)"trusted";
	in.nickname = (char *)"laptop key";
	assert_store(store_cred_add(st, &in), STORE_OK);

	assert_store(get_cred(st, "cred-roundtrip", &out), STORE_OK);
	assert_string_equal(out.user, "alice");
	assert_int_equal(out.id_len, strlen("cred-roundtrip"));
	assert_memory_equal(out.id, "cred-roundtrip", out.id_len);
	assert_int_equal(out.alg, -8);
	assert_int_equal(out.pubkey_len, sizeof(test_pubkey));
	assert_memory_equal(out.pubkey_cose, test_pubkey, sizeof(test_pubkey));
	assert_int_equal(out.sign_count, UINT32_MAX);
	assert_string_equal(out.fmt, "android-key");
	assert_memory_equal(out.aaguid, test_aaguid, sizeof(test_aaguid));
	assert_int_equal(out.uv, 0);
	assert_int_equal(out.be, 1);
	assert_int_equal(out.bs, 1);
	assert_string_equal(out.attestation, "trusted");
	assert_string_equal(out.nickname, "laptop key");
	assert_int_equal(out.created, 1700000000);
	assert_int_equal(out.last_used, 0);
	assert_null(out.last_addr);
	store_credential_free(&out);
	assert_null(out.user);

	/* what a login reads: the same credential and its user's handle, at once */
	{
		unsigned char h[STORE_USER_HANDLE_LEN], want[STORE_USER_HANDLE_LEN];

		assert_store(store_user_handle(st, "alice", 0, want), STORE_OK);
		assert_store(store_cred_get_for_login(st, (const unsigned char *)"cred-roundtrip",
		    strlen("cred-roundtrip"), &out, h), STORE_OK);
		assert_string_equal(out.user, "alice");
		assert_int_equal(out.sign_count, UINT32_MAX);
		assert_memory_equal(out.pubkey_cose, test_pubkey, sizeof(test_pubkey));
		assert_memory_equal(h, want, sizeof(h));
		store_credential_free(&out);
		assert_store(store_cred_get_for_login(st, (const unsigned char *)"cred-absent",
		    strlen("cred-absent"), &out, h), STORE_ERR_NOT_FOUND);
		assert_null(out.user);
		assert_store(store_cred_get_for_login(st, (const unsigned char *)"cred-roundtrip",
		    0, &out, h), STORE_ERR_INVALID);
	}

	/* A binary ID with NUL bytes is a different key from its prefix. */
	{
		static const unsigned char bin[] = { 0x00, 0xff, 0x00, 0x01 };

		in.id = (unsigned char *)bin;
		in.id_len = sizeof(bin);
		in.nickname = NULL;
		in.created = 0;		/* 0: now */
		assert_store(store_cred_add(st, &in), STORE_OK);
		assert_store(store_cred_get(st, bin, 1, &out), STORE_ERR_NOT_FOUND);
		assert_store(store_cred_get(st, bin, sizeof(bin), &out), STORE_OK);
		assert_null(out.nickname);
		assert_true(out.created > 1600000000);
		store_credential_free(&out);
	}
	store_close(st);
}

static void
test_cred_list_count(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential_list l;
	size_t n;

	assert_store(add_cred(st, "alice", "c-300", 300), STORE_OK);
	assert_store(add_cred(st, "alice", "c-100", 100), STORE_OK);
	assert_store(add_cred(st, "bob", "b-150", 150), STORE_OK);
	assert_store(add_cred(st, "alice", "c-200", 200), STORE_OK);

	assert_store(store_cred_list_user(st, "alice", &l), STORE_OK);
	assert_int_equal(l.count, 3);
	assert_memory_equal(l.items[0].id, "c-100", 5);
	assert_memory_equal(l.items[1].id, "c-200", 5);
	assert_memory_equal(l.items[2].id, "c-300", 5);
	for (size_t i = 0; i < l.count; i++)
		assert_string_equal(l.items[i].user, "alice");
	store_credential_list_free(&l);
	assert_null(l.items);
	assert_int_equal(l.count, 0);

	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 3);
	assert_store(store_cred_count_user(st, "bob", &n), STORE_OK);
	assert_int_equal(n, 1);

	/* No credentials is an empty answer, not an error. */
	assert_store(store_cred_list_user(st, "carol", &l), STORE_OK);
	assert_int_equal(l.count, 0);
	store_credential_list_free(&l);
	assert_store(store_cred_count_user(st, "carol", &n), STORE_OK);
	assert_int_equal(n, 0);
	store_close(st);
}

static void
test_cred_duplicate_id(void **state)
{
	struct fixture *f = *state;
	unsigned char h[STORE_USER_HANDLE_LEN];
	store_t *st = open_store(f->spec);
	struct store_credential c;
	size_t n;

	assert_store(add_cred(st, "alice", "shared-id", 100), STORE_OK);
	/* A second registration of the same ID, for anyone, is refused. */
	cred_init(&c, "bob", "shared-id", 200);
	c.pubkey_cose = (unsigned char *)"other key";
	c.pubkey_len = 9;
	assert_store(store_cred_add(st, &c), STORE_ERR_EXISTS);
	cred_init(&c, "alice", "shared-id", 300);
	assert_store(store_cred_add(st, &c), STORE_ERR_EXISTS);

	assert_store(get_cred(st, "shared-id", &c), STORE_OK);
	assert_string_equal(c.user, "alice");
	assert_int_equal(c.created, 100);
	assert_int_equal(c.pubkey_len, sizeof(test_pubkey));
	assert_memory_equal(c.pubkey_cose, test_pubkey, sizeof(test_pubkey));
	store_credential_free(&c);
	assert_store(store_cred_count_user(st, "bob", &n), STORE_OK);
	assert_int_equal(n, 0);
	/* The refused add left nothing behind, not even bob's user row. */
	assert_store(store_user_handle(st, "bob", 0, h), STORE_ERR_NOT_FOUND);
	store_close(st);
}

static void
test_cred_record_use(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	const unsigned char *id = (const unsigned char *)"cred-use";
	struct store_credential c;

	assert_store(add_cred(st, "alice", "cred-use", 100), STORE_OK);
	assert_store(store_cred_record_use(st, id, 8, 9, 1, 1, 1700000123,
	    "192.0.2.7"), STORE_OK);
	assert_store(get_cred(st, "cred-use", &c), STORE_OK);
	assert_int_equal(c.sign_count, 9);
	assert_int_equal(c.bs, 1);
	assert_int_equal(c.last_used, 1700000123);
	assert_string_equal(c.last_addr, "192.0.2.7");
	/* What registration recorded stays. */
	assert_int_equal(c.be, 1);
	assert_int_equal(c.uv, 1);
	assert_int_equal(c.created, 100);
	assert_memory_equal(c.pubkey_cose, test_pubkey, sizeof(test_pubkey));
	store_credential_free(&c);

	assert_store(store_cred_record_use(st, id, 8, 10, 1, 0, 1700000200, NULL),
	    STORE_OK);
	assert_store(get_cred(st, "cred-use", &c), STORE_OK);
	assert_int_equal(c.sign_count, 10);
	assert_int_equal(c.bs, 0);
	assert_int_equal(c.last_used, 1700000200);
	assert_null(c.last_addr);
	store_credential_free(&c);
	store_close(st);
}

/* An approval's audit row, as the daemon writes one. */
static struct store_event
approved_event(int64_t when)
{
	return (struct store_event){ .time = when, .event = "login_approved", .user = "alice",
	    .addr = "192.0.2.7", .verdict = "ok" };
}

/* The newest audit row is ev, field by field. */
static void
assert_newest_event(store_t *st, const struct store_event *ev)
{
	struct store_event_list l;

	assert_store(store_event_list(st, NULL, 1, 0, &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].time, ev->time);
	assert_string_equal(l.items[0].event, ev->event);
	assert_string_equal(l.items[0].user, ev->user);
	assert_string_equal(l.items[0].addr, ev->addr);
	assert_string_equal(l.items[0].verdict, ev->verdict);
	assert_null(l.items[0].reason);
	assert_null(l.items[0].detail);
	store_event_list_free(&l);
}

static uint64_t
event_count(store_t *st)
{
	uint64_t n = 0;

	assert_store(store_event_count(st, &n), STORE_OK);
	return n;
}

/*
 * store_login_approve without a ceremony row (as on SQLite, or a fleet's
 * daemon asked for none): the use, then its audit row, only after the use.
 */
static void
test_login_approve(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_event ev = approved_event(1700000300);
	struct store_cred_use use = { .id = (const unsigned char *)"cred-app", .id_len = 8,
	    .sign_count = 9, .must_grow = 1, .bs = 1, .when = 1700000300, .addr = "192.0.2.7" };
	struct store_credential c;
	uint64_t before;
	int failed = -1;

	assert_store(add_cred(st, "alice", "cred-app", 100), STORE_OK);
	before = event_count(st);
	assert_store(store_login_approve(st, NULL, 1700000300, &use, &ev, &failed), STORE_OK);
	assert_int_equal(failed, 0);
	assert_store(get_cred(st, "cred-app", &c), STORE_OK);
	assert_int_equal(c.sign_count, 9);
	assert_int_equal(c.bs, 1);
	assert_int_equal(c.last_used, 1700000300);
	assert_string_equal(c.last_addr, "192.0.2.7");
	store_credential_free(&c);
	assert_int_equal(event_count(st), before + 1);
	assert_newest_event(st, &ev);

	/* the same count again: the compare-and-set refuses it, and no audit row */
	assert_store(store_login_approve(st, NULL, 1700000301, &use, &ev, &failed),
	    STORE_ERR_CONFLICT);
	assert_int_equal(failed, 1);
	assert_int_equal(event_count(st), before + 1);
	/* without must_grow the count never goes down, and the row is written */
	use.must_grow = 0;
	use.sign_count = 2;
	assert_store(store_login_approve(st, NULL, 1700000302, &use, &ev, &failed), STORE_OK);
	assert_store(get_cred(st, "cred-app", &c), STORE_OK);
	assert_int_equal(c.sign_count, 9);
	store_credential_free(&c);
	assert_int_equal(event_count(st), before + 2);
	/* a passkey that is gone */
	use.id = (const unsigned char *)"cred-gon";
	assert_store(store_login_approve(st, NULL, 1700000303, &use, &ev, &failed),
	    STORE_ERR_NOT_FOUND);
	assert_int_equal(failed, 1);
	use.must_grow = 1;
	assert_store(store_login_approve(st, NULL, 1700000303, &use, &ev, &failed),
	    STORE_ERR_NOT_FOUND);
	assert_int_equal(failed, 1);
	assert_int_equal(event_count(st), before + 2);
	/* bad arguments */
	assert_store(store_login_approve(st, NULL, 1, NULL, &ev, &failed), STORE_ERR_INVALID);
	ev.verdict = NULL;
	assert_store(store_login_approve(st, NULL, 1, &use, &ev, &failed), STORE_ERR_INVALID);
	store_close(st);
}

static void
test_cred_rename(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	const unsigned char *id = (const unsigned char *)"cred-name";
	struct store_credential c;

	assert_store(add_cred(st, "alice", "cred-name", 100), STORE_OK);
	assert_store(store_cred_rename(st, id, 9, "YubiKey 5C"), STORE_OK);
	assert_store(get_cred(st, "cred-name", &c), STORE_OK);
	assert_string_equal(c.nickname, "YubiKey 5C");
	store_credential_free(&c);
	/* Renaming to the same name still finds the row. */
	assert_store(store_cred_rename(st, id, 9, "YubiKey 5C"), STORE_OK);
	assert_store(store_cred_rename(st, id, 9, NULL), STORE_OK);
	assert_store(get_cred(st, "cred-name", &c), STORE_OK);
	assert_null(c.nickname);
	store_credential_free(&c);
	store_close(st);
}

static void
test_cred_remove(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential_list l;
	struct store_credential c;
	size_t n;

	assert_store(add_cred(st, "alice", "cred-a", 100), STORE_OK);
	assert_store(add_cred(st, "alice", "cred-b", 200), STORE_OK);
	assert_store(store_cred_remove(st, (const unsigned char *)"cred-a", 6),
	    STORE_OK);
	assert_store(get_cred(st, "cred-a", &c), STORE_ERR_NOT_FOUND);
	assert_null(c.user);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_cred_list_user(st, "alice", &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_memory_equal(l.items[0].id, "cred-b", 6);
	store_credential_list_free(&l);
	assert_store(store_cred_remove(st, (const unsigned char *)"cred-a", 6),
	    STORE_ERR_NOT_FOUND);
	/* The ID is free again. */
	assert_store(add_cred(st, "bob", "cred-a", 300), STORE_OK);
	store_close(st);
}

/* The last-passkey rule: kept unless forced; others' passkeys do not count. */
static void
test_cred_remove_not_last(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential c;
	size_t n;

	assert_store(add_cred(st, "alice", "cred-a", 100), STORE_OK);
	assert_store(add_cred(st, "alice", "cred-b", 200), STORE_OK);
	assert_store(add_cred(st, "bob", "cred-c", 300), STORE_OK);
	assert_store(store_cred_remove_not_last(st, (const unsigned char *)"cred-c", 6),
	    STORE_ERR_LAST);
	assert_store(get_cred(st, "cred-c", &c), STORE_OK);
	store_credential_free(&c);
	assert_store(store_cred_remove_not_last(st, (const unsigned char *)"cred-a", 6),
	    STORE_OK);
	assert_store(store_cred_remove_not_last(st, (const unsigned char *)"cred-b", 6),
	    STORE_ERR_LAST);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_cred_remove_not_last(st, (const unsigned char *)"cred-x", 6),
	    STORE_ERR_NOT_FOUND);
	/* the unconditional remove is what --force and root use */
	assert_store(store_cred_remove(st, (const unsigned char *)"cred-b", 6), STORE_OK);
	assert_string_equal(store_err_str(STORE_ERR_LAST), "last_credential");
	store_close(st);
}

/* Every user's passkeys, by user, then oldest first. */
static void
test_cred_list_all(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential_list l;

	assert_store(store_cred_list_all(st, &l), STORE_OK);
	assert_int_equal(l.count, 0);
	store_credential_list_free(&l);
	assert_store(add_cred(st, "carol", "cred-1", 100), STORE_OK);
	assert_store(add_cred(st, "alice", "cred-2", 300), STORE_OK);
	assert_store(add_cred(st, "alice", "cred-3", 200), STORE_OK);
	assert_store(store_cred_list_all(st, &l), STORE_OK);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[0].user, "alice");
	assert_memory_equal(l.items[0].id, "cred-3", 6);
	assert_memory_equal(l.items[1].id, "cred-2", 6);
	assert_string_equal(l.items[2].user, "carol");
	store_credential_list_free(&l);
	assert_store(store_cred_list_all(NULL, &l), STORE_ERR_INVALID);
	store_close(st);
}

/*
 * store_errmsg_new (store.h): on PostgreSQL, NULL after store_errmsg_clear
 * until a call meets an error, then that error's words; SQLite cannot
 * tell, and says store_errmsg always.
 */
static void
test_errmsg_new(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential c;
	const char *words;

	assert_store(add_cred(st, "alice", "cred-1", 100), STORE_OK);
	store_errmsg_clear(st);
	if (is_pg(f->spec))
		assert_null(store_errmsg_new(st));
	assert_store(add_cred(st, "bob", "cred-1", 100), STORE_ERR_EXISTS);
	words = store_errmsg_new(st);
	assert_non_null(words);
	assert_non_null(strstr(words, is_pg(f->spec) ? "postgresql: " : "sqlite: "));
	assert_null(strstr(words, "no error"));
	store_errmsg_clear(st);
	assert_store(get_cred(st, "cred-1", &c), STORE_OK);
	store_credential_free(&c);
	if (is_pg(f->spec)) {
		assert_null(store_errmsg_new(st));	/* a success says nothing new */
		assert_string_equal(store_errmsg(st), "postgresql: no error");
	} else {
		assert_string_equal(store_errmsg_new(st), store_errmsg(st));
	}
	store_close(st);
}

static void
test_not_found(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	const unsigned char *id = (const unsigned char *)"nope";
	struct store_credential c;

	assert_store(add_cred(st, "alice", "cred-1", 100), STORE_OK);
	assert_store(store_cred_get(st, id, 4, &c), STORE_ERR_NOT_FOUND);
	assert_store(store_cred_record_use(st, id, 4, 1, 1, 0, 1, "x"),
	    STORE_ERR_NOT_FOUND);
	assert_store(store_cred_rename(st, id, 4, "x"), STORE_ERR_NOT_FOUND);
	assert_store(store_cred_remove(st, id, 4), STORE_ERR_NOT_FOUND);
	assert_store(store_enroll_remove(st, "alice"), STORE_ERR_NOT_FOUND);
	/* A prefix of an existing ID is not that ID. */
	assert_store(store_cred_get(st, (const unsigned char *)"cred-", 5, &c),
	    STORE_ERR_NOT_FOUND);
	store_close(st);
}

static void
test_invalid_args(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	unsigned char h[STORE_USER_HANDLE_LEN];
	unsigned char id[STORE_CRED_ID_MAX + 1];
	char user64[STORE_USER_MAX + 2], nick[200];
	struct store_credential_list l;
	struct store_credential c;
	int pending;
	size_t n;

	memset(id, 'i', sizeof(id));
	memset(user64, 'u', sizeof(user64));
	user64[STORE_USER_MAX + 1] = '\0';	/* 65 bytes */

	assert_store(add_cred(st, "", "cred-1", 0), STORE_ERR_INVALID);
	assert_store(add_cred(st, "ali\nce", "cred-1", 0), STORE_ERR_INVALID);
	assert_store(add_cred(st, "ali\x1b[31mce", "cred-1", 0), STORE_ERR_INVALID);
	assert_store(add_cred(st, user64, "cred-1", 0), STORE_ERR_INVALID);
	assert_store(add_cred(st, NULL, "cred-1", 0), STORE_ERR_INVALID);

	cred_init(&c, "alice", "x", 0);
	c.id = id;
	c.id_len = STORE_CRED_ID_MAX + 1;
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	c.id_len = 0;
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	c.id = NULL;
	c.id_len = 4;
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);

	cred_init(&c, "alice", "cred-1", 0);
	c.attestation = (char *)"basic";
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	c.attestation = NULL;
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	cred_init(&c, "alice", "cred-1", 0);
	c.fmt = (char *)"";
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	c.fmt = (char *)"a-format-name-of-33-bytes-exactly";
	assert_int_equal(strlen(c.fmt), 33);
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	cred_init(&c, "alice", "cred-1", 0);
	c.pubkey_len = 0;
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	cred_init(&c, "alice", "cred-1", 0);
	c.nickname = (char *)"tab\there";
	assert_store(store_cred_add(st, &c), STORE_ERR_INVALID);
	assert_store(store_cred_add(NULL, &c), STORE_ERR_INVALID);
	assert_store(store_cred_add(st, NULL), STORE_ERR_INVALID);

	/* Nothing above was written. */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM credentials"), 0);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM users"), 0);

	/* The limits themselves are allowed. */
	user64[STORE_USER_MAX] = '\0';
	cred_init(&c, user64, "x", 0);
	c.id = id;
	c.id_len = STORE_CRED_ID_MAX;
	assert_store(store_cred_add(st, &c), STORE_OK);
	assert_store(store_cred_count_user(st, user64, &n), STORE_OK);
	assert_int_equal(n, 1);

	assert_store(store_cred_get(st, id, STORE_CRED_ID_MAX + 1, &c),
	    STORE_ERR_INVALID);
	assert_store(store_cred_list_user(st, "bad\nuser", &l), STORE_ERR_INVALID);
	assert_null(l.items);
	assert_store(store_cred_count_user(st, "", &n), STORE_ERR_INVALID);
	assert_store(store_cred_remove(st, id, 0), STORE_ERR_INVALID);
	memset(nick, 'n', sizeof(nick) - 1);
	nick[sizeof(nick) - 1] = '\0';
	assert_store(store_cred_rename(st, id, STORE_CRED_ID_MAX, nick),
	    STORE_ERR_INVALID);
	assert_store(store_user_handle(st, "", 1, h), STORE_ERR_INVALID);
	assert_store(store_user_handle(st, "a\rb", 1, h), STORE_ERR_INVALID);
	assert_store(store_enroll_add(st, "bad\nuser", 10, NULL), STORE_ERR_INVALID);
	assert_store(store_enroll_pending(st, "", 10, &pending), STORE_ERR_INVALID);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM enrollments"), 0);
	store_close(st);
}

/* ================================================================== */
/* Users and enrollments                                              */
/* ================================================================== */

static void
test_user_handle(void **state)
{
	static const unsigned char zero[STORE_USER_HANDLE_LEN];
	struct fixture *f = *state;
	unsigned char a1[STORE_USER_HANDLE_LEN], a2[STORE_USER_HANDLE_LEN];
	unsigned char b[STORE_USER_HANDLE_LEN], c[STORE_USER_HANDLE_LEN];
	store_t *st = open_store(f->spec);

	assert_store(store_user_handle(st, "alice", 0, a1), STORE_ERR_NOT_FOUND);
	assert_store(store_user_handle(st, "alice", 1, a1), STORE_OK);
	assert_memory_not_equal(a1, zero, sizeof(zero));
	assert_store(store_user_handle(st, "alice", 1, a2), STORE_OK);
	assert_memory_equal(a1, a2, sizeof(a1));
	assert_store(store_user_handle(st, "alice", 0, a2), STORE_OK);
	assert_memory_equal(a1, a2, sizeof(a1));
	assert_store(store_user_handle(st, "bob", 1, b), STORE_OK);
	assert_memory_not_equal(a1, b, sizeof(a1));

	/* Registering a credential gives its user a handle. */
	assert_store(add_cred(st, "carol", "cred-c", 0), STORE_OK);
	assert_store(store_user_handle(st, "carol", 0, c), STORE_OK);
	assert_memory_not_equal(c, zero, sizeof(zero));
	store_close(st);

	st = open_store(f->spec);
	assert_store(store_user_handle(st, "alice", 0, a2), STORE_OK);
	assert_memory_equal(a1, a2, sizeof(a1));
	assert_store(store_user_handle(st, "dave", 0, a2), STORE_ERR_NOT_FOUND);
	store_close(st);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM users"), 3);
}

static void
test_enroll(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char by[32];
	int pending = -1;

	assert_store(store_enroll_pending(st, "alice", 100, &pending), STORE_OK);
	assert_int_equal(pending, 0);
	assert_store(store_enroll_add(st, "alice", 1000, "root"), STORE_OK);
	assert_store(store_enroll_pending(st, "alice", 999, &pending), STORE_OK);
	assert_int_equal(pending, 1);
	/* Expired at its expiry second. */
	assert_store(store_enroll_pending(st, "alice", 1000, &pending), STORE_OK);
	assert_int_equal(pending, 0);
	assert_store(store_enroll_pending(st, "bob", 999, &pending), STORE_OK);
	assert_int_equal(pending, 0);

	/* Adding again replaces: one row, the new expiry and creator. */
	assert_store(store_enroll_add(st, "alice", 2000, "helpdesk"), STORE_OK);
	assert_store(store_enroll_pending(st, "alice", 1500, &pending), STORE_OK);
	assert_int_equal(pending, 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM enrollments"), 1);
	raw_text(f->spec, "SELECT created_by FROM enrollments", by, sizeof(by));
	assert_string_equal(by, "helpdesk");

	assert_store(store_enroll_add(st, "bob", 3000, NULL), STORE_OK);
	assert_store(store_enroll_remove(st, "alice"), STORE_OK);
	assert_store(store_enroll_pending(st, "alice", 1500, &pending), STORE_OK);
	assert_int_equal(pending, 0);
	assert_store(store_enroll_remove(st, "alice"), STORE_ERR_NOT_FOUND);
	/* Removing alice's left bob's alone. */
	assert_store(store_enroll_pending(st, "bob", 1500, &pending), STORE_OK);
	assert_int_equal(pending, 1);
	store_close(st);
}

/* ================================================================== */
/* Events                                                             */
/* ================================================================== */

static void
test_events(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_event evs[] = {
		{ 100, "login_approved", "alice", "192.0.2.1", "ok", NULL, NULL, 0 },
		{ 101, "login_denied", "bob", "", "fail", "bad_signature", NULL, 0 },
		{ 102, "daemon_start", NULL, NULL, "ok", NULL, "version 0.1.0", 0 },
		{ 103, "login_denied", "alice", "198.51.100.9", "deny",
		    "sign_count_regressed", "count 7 after 9", 0 },
		{ 104, "cred_added", "alice", NULL, "ok", NULL, "\"laptop\"\n", 0 },
	};
	struct store_event bad = { 1, "", NULL, NULL, "ok", NULL, NULL, 0 };
	struct store_event_list l;

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		assert_store(store_event_add(st, &evs[i]), STORE_OK);

	assert_store(store_event_list(st, NULL, 100, 0, &l), STORE_OK);
	assert_int_equal(l.count, 5);
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(l.items[i].time, 104 - (int64_t)i);
	assert_null(l.items[2].user);
	assert_null(l.items[2].addr);
	assert_string_equal(l.items[2].detail, "version 0.1.0");
	assert_string_equal(l.items[3].addr, "");
	assert_string_equal(l.items[3].reason, "bad_signature");
	store_event_list_free(&l);
	assert_null(l.items);

	assert_store(store_event_list(st, "alice", 100, 0, &l), STORE_OK);
	assert_int_equal(l.count, 3);
	assert_int_equal(l.items[0].time, 104);
	assert_string_equal(l.items[0].detail, "\"laptop\"\n");
	assert_int_equal(l.items[1].time, 103);
	assert_string_equal(l.items[1].event, "login_denied");
	assert_string_equal(l.items[1].user, "alice");
	assert_string_equal(l.items[1].addr, "198.51.100.9");
	assert_string_equal(l.items[1].verdict, "deny");
	assert_string_equal(l.items[1].reason, "sign_count_regressed");
	assert_string_equal(l.items[1].detail, "count 7 after 9");
	assert_int_equal(l.items[2].time, 100);
	assert_null(l.items[2].reason);
	/* The list owns copies, not pointers into the caller's events. */
	assert_ptr_not_equal(l.items[1].detail, evs[3].detail);
	store_event_list_free(&l);

	assert_store(store_event_list(st, NULL, 2, 0, &l), STORE_OK);
	assert_int_equal(l.count, 2);
	assert_int_equal(l.items[0].time, 104);
	assert_int_equal(l.items[1].time, 103);
	store_event_list_free(&l);

	assert_store(store_event_list(st, "alice", 1, 0, &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].time, 104);
	store_event_list_free(&l);

	assert_store(store_event_list(st, NULL, 0, 0, &l), STORE_OK);
	assert_int_equal(l.count, 0);
	assert_store(store_event_list(st, "nobody", 10, 0, &l), STORE_OK);
	assert_int_equal(l.count, 0);
	store_event_list_free(&l);

	assert_store(store_event_add(st, &bad), STORE_ERR_INVALID);
	bad.event = "x";
	bad.verdict = NULL;
	assert_store(store_event_add(st, &bad), STORE_ERR_INVALID);
	assert_store(store_event_add(st, NULL), STORE_ERR_INVALID);
	assert_store(store_event_list(st, NULL, 10, 0, NULL), STORE_ERR_INVALID);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 5);
	store_close(st);
}

/* ================================================================== */
/* Concurrency                                                        */
/* ================================================================== */

/*
 * Another connection holds the write lock (SQLite: a write transaction;
 * PostgreSQL: a table lock in EXCLUSIVE mode, which readers pass).
 */
static void *
lock_writers(const struct fixture *f)
{
	sqlite3 *db;

	if (f->pg) {
		PGconn *c = pg_raw(f->spec);
		PGresult *res = PQexec(c, "BEGIN; LOCK TABLE credentials, users IN EXCLUSIVE MODE");

		assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
		PQclear(res);
		return c;
	}
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE, NULL),
	    SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL),
	    SQLITE_OK);
	return db;
}

static void
unlock_writers(const struct fixture *f, void *lock)
{
	if (f->pg) {
		PQclear(PQexec(lock, "ROLLBACK"));
		PQfinish(lock);
		return;
	}
	assert_int_equal(sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_close(lock), SQLITE_OK);
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
test_busy(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct timespec t0;
	void *lock;
	size_t n;

	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	assert_store(store_set_busy_timeout(st, 300), STORE_OK);
	lock = lock_writers(f);
	/* Writers give up after the busy timeout; readers carry on. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_store(add_cred(st, "alice", "cred-2", 0), STORE_ERR_BUSY);
	assert_true(ms_since(&t0) >= 250);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	unlock_writers(f, lock);
	assert_store(add_cred(st, "alice", "cred-2", 0), STORE_OK);
	store_close(st);
}

#define WRITERS		4
#define PER_WRITER	50

/* A child's whole life; exit 10 + error: open failed, 20 + error: add. */
static int
writer(const char *path, int w)
{
	store_err_t err;
	store_t *st;
	char id[64];

	if ((err = store_open(path, &st)) != STORE_OK)
		return 10 + (int)err;
	for (int i = 0; i < PER_WRITER; i++) {
		snprintf(id, sizeof(id), "writer-%d-cred-%02d", w, i);
		if ((err = add_cred(st, "shared", id, 0)) != STORE_OK) {
			store_close(st);
			return 20 + (int)err;
		}
	}
	store_close(st);
	return 0;
}

static void
test_concurrent_writers(void **state)
{
	struct fixture *f = *state;
	pid_t pids[WRITERS];
	int status[WRITERS];
	char check[64];
	store_t *st;
	size_t n;

	/* No file yet: the writers also race to create the schema. */
	fflush(NULL);
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0)
			_exit(writer(f->spec, w));
	}
	/* Reap all before judging any: teardown must not pull files from under them. */
	for (int w = 0; w < WRITERS; w++)
		assert_int_equal(waitpid(pids[w], &status[w], 0), pids[w]);
	for (int w = 0; w < WRITERS; w++) {
		assert_true(WIFEXITED(status[w]));
		if (WEXITSTATUS(status[w]) != 0)
			print_error("writer %d exited %d\n", w, WEXITSTATUS(status[w]));
		assert_int_equal(WEXITSTATUS(status[w]), 0);
	}
	st = open_store(f->spec);
	assert_store(store_cred_count_user(st, "shared", &n), STORE_OK);
	assert_int_equal(n, WRITERS * PER_WRITER);
	store_close(st);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM users"), 1);
	if (f->pg) {
		assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
		return;
	}
	raw_text(f->spec, "PRAGMA integrity_check", check, sizeof(check));
	assert_string_equal(check, "ok");
	assert_int_equal(raw_int(f->spec, "PRAGMA user_version"), SCHEMA);
}

#define RACERS		8

/* Opens and writes at once, so late openers meet early writers. */
static int
racer(const char *path, int w)
{
	store_t *st;
	store_err_t err;
	char id[32];

	if ((err = store_open(path, &st)) != STORE_OK)
		return (int)err;
	for (int i = 0; i < 5 && err == STORE_OK; i++) {
		snprintf(id, sizeof(id), "racer-%d-%d", w % 100, i);
		err = add_cred(st, "shared", id, 0);
	}
	store_close(st);
	return (int)err;
}

/* RACERS processes open spec at once and write; every one must succeed. */
static void
run_racers(const char *spec, int round)
{
	pid_t pids[RACERS];
	int status[RACERS];

	fflush(NULL);
	for (int w = 0; w < RACERS; w++) {
		pids[w] = fork();
		assert_true(pids[w] >= 0);
		if (pids[w] == 0)
			_exit(racer(spec, w));
	}
	/* reap all before judging any: teardown must not pull files from under them */
	for (int w = 0; w < RACERS; w++)
		assert_int_equal(waitpid(pids[w], &status[w], 0), pids[w]);
	for (int w = 0; w < RACERS; w++) {
		assert_true(WIFEXITED(status[w]));
		if (WEXITSTATUS(status[w]) != 0)
			print_error("round %d, racer %d: %s\n", round, w,
			    store_err_str((store_err_t)WEXITSTATUS(status[w])));
		assert_int_equal(WEXITSTATUS(status[w]), 0);
	}
}

/*
 * Programs starting together on a fresh host race to create the file, the
 * WAL switch and the schema; the loser of each race must wait, not fail.
 * One round rarely loses, so run several.
 */
static void
test_concurrent_create(void **state)
{
	struct fixture *f = *state;
	char path[sizeof(f->path) + 16];

	for (int round = 0; round < 20; round++) {
		snprintf(path, sizeof(path), "%s/race-%d.db", f->dir, round);
		run_racers(path, round);
		assert_int_equal(raw_int(path, "PRAGMA user_version"), SCHEMA);
		assert_int_equal(raw_int(path, "SELECT count(*) FROM credentials"),
		    RACERS * 5);
	}
}

/*
 * The counter is a compare-and-set (issue: two daemons on one store lost
 * counter updates): a use is stored only while the stored count is still
 * below it, so of two overlapping assertions with one counter exactly one
 * wins, and a lower count after a higher one never lands.
 */
static void
test_record_use_cas(void **state)
{
	struct fixture *f = *state;
	store_t *a = open_store(f->spec), *b = open_store(f->spec);
	const unsigned char *id = (const unsigned char *)"cred-cas";
	struct store_credential c;

	assert_store(add_cred(a, "alice", "cred-cas", 1), STORE_OK);	/* count 5 */
	/* the same count through two connections: the second is a replay */
	assert_store(store_cred_record_use(a, id, 8, 17, 1, 0, 10, "a"), STORE_OK);
	assert_store(store_cred_record_use(b, id, 8, 17, 1, 0, 11, "b"), STORE_ERR_CONFLICT);
	/* 22 after 17 grows; 18 after 22 does not */
	assert_store(store_cred_record_use(b, id, 8, 22, 1, 0, 12, "b"), STORE_OK);
	assert_store(store_cred_record_use(a, id, 8, 18, 1, 0, 13, "a"), STORE_ERR_CONFLICT);
	assert_store(get_cred(a, "cred-cas", &c), STORE_OK);
	assert_int_equal(c.sign_count, 22);
	assert_int_equal(c.last_used, 12);
	store_credential_free(&c);
	/* without must_grow (policy "log") the count never goes down */
	assert_store(store_cred_record_use(a, id, 8, 3, 0, 1, 14, "a"), STORE_OK);
	assert_store(get_cred(a, "cred-cas", &c), STORE_OK);
	assert_int_equal(c.sign_count, 22);
	assert_int_equal(c.last_used, 14);
	assert_int_equal(c.bs, 1);
	store_credential_free(&c);
	/* an authenticator without a counter: 0 after 0 is fine */
	assert_store(add_cred(a, "alice", "cred-zero", 1), STORE_OK);
	assert_store(store_cred_record_use(a, (const unsigned char *)"cred-zero", 9,
	    0, 0, 0, 15, NULL), STORE_OK);	/* lowers nothing: 5 stays */
	raw_exec(f->spec, f->pg ?
	    "UPDATE credentials SET sign_count = 0 WHERE id = CAST('cred-zero' AS bytea)" :
	    "UPDATE credentials SET sign_count = 0 WHERE id = CAST('cred-zero' AS BLOB)");
	assert_store(store_cred_record_use(a, (const unsigned char *)"cred-zero", 9,
	    0, 1, 0, 16, NULL), STORE_OK);
	assert_store(store_cred_record_use(b, (const unsigned char *)"cred-zero", 9,
	    0, 1, 0, 17, NULL), STORE_OK);
	store_close(a);
	store_close(b);
}

static void
test_cred_register(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	unsigned char h1[STORE_USER_HANDLE_LEN], h2[STORE_USER_HANDLE_LEN], got[STORE_USER_HANDLE_LEN];
	struct store_credential c;
	int pending;
	size_t n;

	memset(h1, 0x11, sizeof(h1));
	memset(h2, 0x22, sizeof(h2));
	/* an enrollment is needed and there is none: nothing is written */
	cred_init(&c, "carol", "reg-1", 1);
	assert_store(store_cred_register(st, &c, h1, 1, 0, 100), STORE_ERR_NO_ENROLLMENT);
	assert_store(store_user_handle(st, "carol", 0, got), STORE_ERR_NOT_FOUND);
	/* an expired one is none either */
	assert_store(store_enroll_add(st, "carol", 50, "root"), STORE_OK);
	assert_store(store_cred_register(st, &c, h1, 1, 0, 100), STORE_ERR_NO_ENROLLMENT);
	/* a pending one: handle, credential and the enrollment's end, together */
	assert_store(store_enroll_add(st, "carol", 200, "root"), STORE_OK);
	assert_store(store_cred_register(st, &c, h1, 1, 0, 100), STORE_OK);
	assert_store(store_user_handle(st, "carol", 0, got), STORE_OK);
	assert_memory_equal(got, h1, sizeof(h1));
	assert_store(store_enroll_pending(st, "carol", 100, &pending), STORE_OK);
	assert_int_equal(pending, 0);
	/* a second passkey with another handle than the user's: refused, all of it */
	cred_init(&c, "carol", "reg-2", 2);
	assert_store(store_cred_register(st, &c, h2, 0, 0, 100), STORE_ERR_CONFLICT);
	assert_store(store_cred_count_user(st, "carol", &n), STORE_OK);
	assert_int_equal(n, 1);
	/* a taken credential ID keeps the enrollment for the next try */
	assert_store(store_enroll_add(st, "dave", 200, "root"), STORE_OK);
	cred_init(&c, "dave", "reg-1", 3);
	assert_store(store_cred_register(st, &c, h2, 1, 0, 100), STORE_ERR_EXISTS);
	assert_store(store_enroll_pending(st, "dave", 100, &pending), STORE_OK);
	assert_int_equal(pending, 1);
	assert_store(store_user_handle(st, "dave", 0, got), STORE_ERR_NOT_FOUND);
	/* the bound: carol has one; with max 1 a second is refused, nothing written */
	assert_store(store_enroll_add(st, "carol", 200, "root"), STORE_OK);
	cred_init(&c, "carol", "reg-3", 4);
	assert_store(store_cred_register(st, &c, h1, 1, 1, 100), STORE_ERR_LIMIT);
	assert_store(store_cred_count_user(st, "carol", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_enroll_pending(st, "carol", 100, &pending), STORE_OK);
	assert_int_equal(pending, 1);
	assert_store(store_cred_register(st, &c, h1, 1, 2, 100), STORE_OK);
	assert_store(store_cred_count_user(st, "carol", &n), STORE_OK);
	assert_int_equal(n, 2);
	store_close(st);
}

/*
 * The daemon's group commit: marks undo one caller's part only, and
 * store_txn_begin never waits for another writer's lock.
 */
static void
test_txn(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_event ev = { 1, "x", NULL, NULL, "ok", NULL, NULL, 0 };
	struct timespec t0;
	void *lock;
	size_t n;

	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(store_txn_mark(st), STORE_OK);
	assert_store(add_cred(st, "alice", "txn-1", 1), STORE_OK);
	store_txn_mark_end(st, 1);
	/* a statement between parts (PostgreSQL: a kept RELEASE goes first, once) */
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_txn_mark(st), STORE_OK);
	assert_store(add_cred(st, "alice", "txn-2", 1), STORE_OK);
	assert_store(store_event_add(st, &ev), STORE_OK);
	store_txn_mark_end(st, 0);	/* undone: txn-2 and the event */
	assert_store(store_txn_mark(st), STORE_OK);
	assert_store(add_cred(st, "alice", "txn-1", 1), STORE_ERR_EXISTS);
	store_txn_mark_end(st, 0);
	/* parts that sent nothing, kept and undone (PostgreSQL never sent their marks) */
	assert_store(store_txn_mark(st), STORE_OK);
	store_txn_mark_end(st, 1);
	assert_store(store_txn_mark(st), STORE_OK);
	store_txn_mark_end(st, 0);
	/* not visible to another connection before the commit */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM credentials"), 0);
	assert_store(store_txn_commit(st), STORE_OK);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 0);

	lock = lock_writers(f);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (!f->pg) {
		/* another writer: BUSY at once, not after the 5 s busy timeout */
		assert_store(store_txn_begin(st), STORE_ERR_BUSY);
		assert_true(ms_since(&t0) < 500);
	} else {
		/*
		 * Row and table locks are taken statement by statement: the
		 * begin never waits, a write waits its lock timeout, and the
		 * caller's mark undoes it, leaving the transaction usable.
		 */
		assert_store(store_set_busy_timeout(st, 200), STORE_OK);
		assert_store(store_txn_begin(st), STORE_OK);
		assert_true(ms_since(&t0) < 500);
		assert_store(store_txn_mark(st), STORE_OK);
		assert_store(store_event_add(st, &ev), STORE_OK);
		store_txn_mark_end(st, 1);
		assert_store(store_txn_mark(st), STORE_OK);
		assert_store(add_cred(st, "alice", "txn-3", 1), STORE_ERR_BUSY);
		store_txn_mark_end(st, 0);
		assert_store(store_txn_commit(st), STORE_OK);
		assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 1);
	}
	unlock_writers(f, lock);
	/* and the connection is usable afterwards */
	assert_store(store_txn_begin(st), STORE_OK);
	store_txn_rollback(st);
	assert_store(store_set_busy_timeout(st, 100), STORE_OK);
	store_close(st);
}

static void
test_event_prune_and_pages(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_event ev = { 0, "e", "u", NULL, "ok", NULL, NULL, 0 };
	struct store_event_list l;
	size_t removed, total = 0;
	uint64_t count;
	int64_t last;

	assert_store(store_txn_begin(st), STORE_OK);
	for (int i = 1; i <= 1000; i++) {
		ev.time = i;
		assert_store(store_event_add(st, &ev), STORE_OK);
	}
	assert_store(store_txn_commit(st), STORE_OK);
	assert_store(store_event_count(st, &count), STORE_OK);
	assert_int_equal(count, 1000);
	/* keyset pages: each starts below the last id seen, none repeats */
	assert_store(store_event_list(st, NULL, 300, 0, &l), STORE_OK);
	assert_int_equal(l.count, 300);
	assert_int_equal(l.items[0].time, 1000);
	last = l.items[299].id;
	store_event_list_free(&l);
	assert_store(store_event_list(st, "u", 300, last, &l), STORE_OK);
	assert_int_equal(l.count, 300);
	assert_int_equal(l.items[0].time, 700);
	assert_int_equal(l.items[0].id, last - 1);
	store_event_list_free(&l);
	/* the row bound, in batches of 50 */
	do {
		assert_store(store_event_prune(st, 0, 100, 50, &removed), STORE_OK);
		assert_true(removed <= 50);
		total += removed;
	} while (removed == 50);
	assert_int_equal(total, 900);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 100);
	assert_int_equal(raw_int(f->spec, "SELECT min(time) FROM events"), 901);
	/* the age bound: older than 951 */
	assert_store(store_event_prune(st, 951, 0, 1000, &removed), STORE_OK);
	assert_int_equal(removed, 50);
	assert_int_equal(raw_int(f->spec, "SELECT min(time) FROM events"), 951);
	/* nothing old enough: nothing removed */
	assert_store(store_event_prune(st, 10, 1000, 1000, &removed), STORE_OK);
	assert_int_equal(removed, 0);
	assert_store(store_event_prune(st, 10, 1000, 0, &removed), STORE_ERR_INVALID);
	store_close(st);
}

/*
 * Version 1 stores (from before the ID hash column) are brought to
 * version 2 in place: the hash of every existing credential is filled in,
 * and short IDs then resolve in SQL.
 */
static void
test_migrate_v1(void **state)
{
	struct fixture *f = *state;
	struct store_credential c;
	char want[STORE_ID_HASH_LEN + 1], got[80], prefix[8];
	size_t n;
	store_t *st;

	raw_exec(f->spec,
	    "CREATE TABLE users (name TEXT PRIMARY KEY NOT NULL, handle BLOB UNIQUE NOT NULL"
	    "  CHECK (length(handle) = 32), created INTEGER NOT NULL);"
	    "CREATE TABLE credentials (id BLOB PRIMARY KEY NOT NULL CHECK (length(id) BETWEEN 1 AND 1023),"
	    "  user TEXT NOT NULL REFERENCES users(name), alg INTEGER NOT NULL,"
	    "  pubkey_cose BLOB NOT NULL CHECK (length(pubkey_cose) > 0),"
	    "  sign_count INTEGER NOT NULL DEFAULT 0 CHECK (sign_count BETWEEN 0 AND 4294967295),"
	    "  fmt TEXT NOT NULL, aaguid BLOB NOT NULL CHECK (length(aaguid) = 16),"
	    "  uv INTEGER NOT NULL CHECK (uv IN (0, 1)), be INTEGER NOT NULL CHECK (be IN (0, 1)),"
	    "  bs INTEGER NOT NULL CHECK (bs IN (0, 1)), attestation TEXT NOT NULL, nickname TEXT,"
	    "  created INTEGER NOT NULL, last_used INTEGER NOT NULL DEFAULT 0, last_addr TEXT);"
	    "CREATE INDEX credentials_user ON credentials(user, created);"
	    "CREATE TABLE enrollments (user TEXT PRIMARY KEY NOT NULL, created INTEGER NOT NULL,"
	    "  expires INTEGER NOT NULL, created_by TEXT);"
	    "CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, time INTEGER NOT NULL,"
	    "  event TEXT NOT NULL, user TEXT, addr TEXT, verdict TEXT NOT NULL, reason TEXT,"
	    "  detail TEXT);"
	    "CREATE INDEX events_user ON events(user, id);"
	    "INSERT INTO users VALUES ('alice', zeroblob(32), 1);"
	    "INSERT INTO credentials (id, user, alg, pubkey_cose, fmt, aaguid, uv, be, bs,"
	    "  attestation, created) VALUES (CAST('old-cred' AS BLOB), 'alice', -7, x'a1',"
	    "  'none', zeroblob(16), 1, 0, 0, 'none', 5);"
	    "PRAGMA user_version = 1;");
	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), SCHEMA);
	store_id_hash((const unsigned char *)"old-cred", 8, want);
	raw_text(f->spec, "SELECT id_hash FROM credentials", got, sizeof(got));
	assert_string_equal(got, want);
	snprintf(prefix, sizeof(prefix), "%.6s", want);
	assert_store(store_cred_find(st, "alice", prefix, &c, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_memory_equal(c.id, "old-cred", 8);
	store_credential_free(&c);
	store_close(st);
}

/* Short IDs in SQL: a prefix, one owner, ambiguity. */
static void
test_cred_find(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char h1[STORE_ID_HASH_LEN + 1], h2[STORE_ID_HASH_LEN + 1], p[STORE_ID_HASH_LEN + 1];
	struct store_credential c;
	char id[32];
	size_t n, common = 0;
	int a = 0, b = 1;

	/* two IDs whose hashes share a first digit, for the ambiguous case */
	for (;; b++) {
		snprintf(id, sizeof(id), "find-%d", a);
		store_id_hash((const unsigned char *)id, strlen(id), h1);
		snprintf(id, sizeof(id), "find-%d", b);
		store_id_hash((const unsigned char *)id, strlen(id), h2);
		if (h1[0] == h2[0])
			break;
	}
	while (h1[common] == h2[common])
		common++;
	snprintf(id, sizeof(id), "find-%d", a);
	assert_store(add_cred(st, "alice", id, 1), STORE_OK);
	snprintf(id, sizeof(id), "find-%d", b);
	assert_store(add_cred(st, "bob", id, 2), STORE_OK);
	memcpy(p, h1, common);
	p[common] = '\0';
	assert_store(store_cred_find(st, NULL, p, &c, &n), STORE_OK);
	assert_int_equal(n, 2);			/* ambiguous for root */
	assert_store(store_cred_find(st, "alice", p, &c, &n), STORE_OK);
	assert_int_equal(n, 1);			/* alice sees only hers */
	assert_string_equal(c.user, "alice");
	store_credential_free(&c);
	assert_store(store_cred_find(st, "bob", h1, &c, &n), STORE_OK);
	assert_int_equal(n, 0);			/* another's full hash: nothing */
	assert_store(store_cred_find(st, NULL, h2, &c, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(c.user, "bob");
	store_credential_free(&c);
	assert_store(store_cred_find(st, NULL, "ABC", &c, &n), STORE_ERR_INVALID);
	assert_store(store_cred_find(st, NULL, "", &c, &n), STORE_ERR_INVALID);
	store_close(st);
}

/* Keyset pages: every credential once, in creation order, none twice. */
static void
test_cred_page(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential_list l;
	int64_t after = 0;
	size_t seen = 0, mine = 0;
	char id[32];

	for (int i = 0; i < 25; i++) {
		snprintf(id, sizeof(id), "page-%02d", i);
		assert_store(add_cred(st, i % 5 == 0 ? "bob" : "alice", id, 100 - i), STORE_OK);
	}
	do {
		assert_store(store_cred_page(st, NULL, after, 7, &l), STORE_OK);
		for (size_t i = 0; i < l.count; i++) {
			snprintf(id, sizeof(id), "page-%02zu", seen + i);
			assert_memory_equal(l.items[i].id, id, strlen(id));
			assert_true(l.items[i].seq > after);
		}
		seen += l.count;
		if (l.count > 0)
			after = l.items[l.count - 1].seq;
		store_credential_list_free(&l);
	} while (seen % 7 == 0 && seen < 25);
	assert_int_equal(seen, 25);
	after = 0;
	do {
		assert_store(store_cred_page(st, "bob", after, 2, &l), STORE_OK);
		for (size_t i = 0; i < l.count; i++)
			assert_string_equal(l.items[i].user, "bob");
		mine += l.count;
		if (l.count > 0)
			after = l.items[l.count - 1].seq;
		store_credential_list_free(&l);
	} while (after > 0 && mine % 2 == 0 && mine < 5);
	assert_int_equal(mine, 5);
	store_close(st);
}

/* What a store may name a passkey: the shared text rule of common/text.h. */
static void
test_nickname_rule(void **state)
{
	(void)state;
	assert_true(store_nickname_valid("work laptop"));
	assert_true(store_nickname_valid("Schlüssel \xe2\x9c\x93"));
	assert_false(store_nickname_valid("a\x1b[2Jb"));
	assert_false(store_nickname_valid("csi\xc2\x9b" "31m"));		/* U+009B */
	assert_false(store_nickname_valid("abc\xe2\x80\xae" "fdp.exe"));	/* U+202E */
	assert_false(store_nickname_valid("iso\xe2\x81\xa6x"));		/* U+2066 */
	assert_false(store_nickname_valid("bad\xff"));
	assert_false(store_nickname_valid("over\xc0\xaf"));			/* overlong '/' */
}

/* A store the daemon could only read stops it, with the system's reason. */
static void
test_readonly_refused(void **state)
{
	struct fixture *f = *state;
	char why[256] = "";
	store_t *st = open_store(f->spec);
	pid_t pid;
	int status;

	store_close(st);
	fflush(NULL);
	if ((pid = fork()) == 0) {
		/* root writes anything: become someone who may only read */
		if (getuid() == 0) {
			chmod(f->dir, 0755);
			chmod(f->path, 0644);
			if (setgid(65534) != 0 || setuid(65534) != 0)
				_exit(90);
		} else if (chmod(f->path, 0400) != 0)
			_exit(91);
		store_err_t err = store_open_why(f->path, &st, why, sizeof(why));
		if (err != STORE_ERR_READONLY)
			_exit(92);
		if (strstr(why, "only for reading") == NULL ||
		    strstr(why, "ermission denied") == NULL)
			_exit(93);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	chmod(f->path, 0600);
}

/*
 * Real processes, one counter: each opens its own connection, waits at a
 * start line (a pipe the parent closes), then stores a use with the same
 * new count.  Exactly one may win each round; the others are told
 * STORE_ERR_CONFLICT (the daemon's sign_count_regressed).
 */
#define CAS_PROCS	8
#define CAS_ROUNDS	10

static int
cas_racer(const char *spec, int start_fd, uint32_t count)
{
	store_t *st;
	store_err_t err;
	char c;

	if ((err = store_open(spec, &st)) != STORE_OK)
		return 100 + (int)err;
	if (read(start_fd, &c, 1) != 0)	/* EOF: the parent let everyone go */
		return 99;
	err = store_cred_record_use(st, (const unsigned char *)"cred-race", 9, count, 1, 0, 1, "r");
	store_close(st);
	return (int)err;
}

static void
test_cas_processes(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct store_credential c;

	assert_store(add_cred(st, "alice", "cred-race", 1), STORE_OK);
	for (int round = 0; round < CAS_ROUNDS; round++) {
		uint32_t count = 100 + (uint32_t)round;
		pid_t pids[CAS_PROCS];
		int start[2], won = 0, lost = 0, status;

		assert_int_equal(pipe(start), 0);
		fflush(NULL);
		for (int w = 0; w < CAS_PROCS; w++) {
			pids[w] = fork();
			assert_true(pids[w] >= 0);
			if (pids[w] == 0) {
				close(start[1]);
				_exit(cas_racer(f->spec, start[0], count));
			}
		}
		close(start[0]);
		usleep(100 * 1000);	/* most have connected: they race on the UPDATE */
		close(start[1]);
		for (int w = 0; w < CAS_PROCS; w++) {
			assert_int_equal(waitpid(pids[w], &status, 0), pids[w]);
			assert_true(WIFEXITED(status));
			if (WEXITSTATUS(status) == STORE_OK)
				won++;
			else if (WEXITSTATUS(status) == STORE_ERR_CONFLICT)
				lost++;
			else
				print_error("round %d: racer exit %d\n", round, WEXITSTATUS(status));
		}
		assert_int_equal(won, 1);
		assert_int_equal(lost, CAS_PROCS - 1);
		assert_store(get_cred(st, "cred-race", &c), STORE_OK);
		assert_int_equal(c.sign_count, count);
		store_credential_free(&c);
	}
	store_close(st);
}

/* Starts the run's server with tests/lib/pg-server.sh; 0 on success. */
static char pg_dir[PATH_MAX];
static char pg_uri[PATH_MAX + 64];

static int
pg_server_start(void)
{
	const char *script = getenv("PASSKEY_PG_SERVER");
	const char *given = getenv("PASSKEY_TEST_PG");
	char cmd[PATH_MAX + 16];
	FILE *p;
	int ok;

	if (given != NULL && *given != '\0') {
		snprintf(pg_uri, sizeof(pg_uri), "%s", given);
	} else {
		if (script == NULL || *script == '\0') {
			fprintf(stderr, "test_store postgresql: set PASSKEY_TEST_PG (a server's URI)"
			    " or PASSKEY_PG_SERVER (tests/lib/pg-server.sh)\n");
			return -1;
		}
		snprintf(cmd, sizeof(cmd), "'%s' start", script);
		fflush(NULL);
		if ((p = popen(cmd, "r")) == NULL)
			return -1;
		ok = fgets(pg_dir, sizeof(pg_dir), p) != NULL &&
		    fgets(pg_uri, sizeof(pg_uri), p) != NULL;
		if (pclose(p) != 0 || !ok) {
			fprintf(stderr, "test_store postgresql: %s failed\n", cmd);
			return -1;
		}
		pg_dir[strcspn(pg_dir, "\n")] = '\0';
		pg_uri[strcspn(pg_uri, "\n")] = '\0';
	}
	if (strncmp(pg_uri, PG_BASE_PREFIX, strlen(PG_BASE_PREFIX)) != 0) {
		fprintf(stderr, "test_store postgresql: want a URI of the form %s...\n",
		    PG_BASE_PREFIX);
		return -1;
	}
	pg_query = pg_uri + strlen(PG_BASE_PREFIX);
	pg_admin = PQconnectdb(pg_uri);
	if (PQstatus(pg_admin) != CONNECTION_OK) {
		fprintf(stderr, "test_store postgresql: %s", PQerrorMessage(pg_admin));
		return -1;
	}
	return 0;
}

static void
pg_server_stop(void)
{
	char cmd[PATH_MAX + 32];

	PQfinish(pg_admin);
	pg_admin = NULL;
	if (pg_dir[0] == '\0')
		return;
	snprintf(cmd, sizeof(cmd), "'%s' remove '%s'", getenv("PASSKEY_PG_SERVER"), pg_dir);
	fflush(NULL);
	if (system(cmd) != 0)
		fprintf(stderr, "test_store postgresql: %s failed\n", cmd);
}

/*
 * The audit log's row bound counts rows, not ids: inserts that were rolled
 * back leave gaps in the ids (PostgreSQL never gives them back), and must
 * not make the prune remove rows the bound keeps.
 */
static void
test_event_bound_with_gaps(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec), *st2;
	struct store_event ev = { 0, "e", "u", NULL, "ok", NULL, NULL, 0 };
	size_t removed = 0;

	for (int i = 0; i < 10; i++) {
		ev.time = 100 + i;
		assert_store(store_event_add(st, &ev), STORE_OK);
	}
	assert_store(store_txn_begin(st), STORE_OK);
	for (int i = 0; i < 500; i++)
		assert_store(store_event_add(st, &ev), STORE_OK);
	store_txn_rollback(st);
	for (int i = 0; i < 10; i++) {
		ev.time = 200 + i;
		assert_store(store_event_add(st, &ev), STORE_OK);
	}
	assert_store(store_event_prune(st, 0, 100, 1000, &removed), STORE_OK);
	assert_int_equal(removed, 0);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 20);
	/* a bound of 15 removes the 5 oldest, exactly */
	st2 = open_store(f->spec);
	assert_store(store_event_prune(st2, 0, 15, 1000, &removed), STORE_OK);
	assert_int_equal(removed, 5);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 15);
	assert_int_equal(raw_int(f->spec, "SELECT min(time) FROM events"), 105);
	store_close(st2);
	store_close(st);
}

/* ================================================================== */
/* Re-approval windows                                                */
/* ================================================================== */

/* two OpenSSH fingerprints (SHA-256 of "a" and "b") */
#define KEY_A	"SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs"
#define KEY_B	"SHA256:PiPoFgA5WUoziU9lZOGxNIu9egCI1CxKy3PurtWcAJ0"

/* A valid window pointing at the caller's strings. */
static void
window_init(struct store_window *w, const char *user, const char *rhost, const char *key,
    const char *cred, int64_t opened, int64_t expires)
{
	memset(w, 0, sizeof(*w));
	w->user = (char *)user;
	w->service = (char *)"sshd";
	w->rhost = (char *)rhost;
	w->client_key = (char *)key;
	w->hostname = (char *)"host-a.example";
	w->source = (char *)"Tk3x9Qa2";
	w->cred_id = (unsigned char *)cred;
	w->cred_id_len = strlen(cred);
	w->opened = opened;
	w->expires = expires;
}

static store_err_t
open_window(store_t *st, const char *user, const char *rhost, const char *key,
    const char *cred, int64_t opened, int64_t expires, char id[STORE_WINDOW_ID_LEN + 1])
{
	struct store_window w;
	store_err_t err;

	window_init(&w, user, rhost, key, cred, opened, expires);
	err = store_window_open(st, &w);
	memcpy(id, w.id, STORE_WINDOW_ID_LEN + 1);
	return err;
}

/* The id of the window store_window_find gives, into buf; "" for none. */
static const char *
found(store_t *st, const char *user, const char *service, const char *rhost, const char *key,
    const char *hostname, int64_t now, int64_t opened_after, char *buf)
{
	struct store_window w;
	store_err_t err;

	err = store_window_find(st, user, service, rhost, key, hostname, 1, now, opened_after, &w);
	if (err == STORE_ERR_NOT_FOUND) {
		assert_null(w.user);
		buf[0] = '\0';
		return buf;
	}
	assert_store(err, STORE_OK);
	memcpy(buf, w.id, STORE_WINDOW_ID_LEN + 1);
	store_window_free(&w);
	return buf;
}

#define FIND(user, service, rhost, key, host, now, after) \
	found(st, user, service, rhost, key, host, now, after, got)

/* open, find (each key exact; expiry; opened_after; keyless only on its host), use, list */
static void
test_window_find(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char w1[STORE_WINDOW_ID_LEN + 1], w2[STORE_WINDOW_ID_LEN + 1],
	    w3[STORE_WINDOW_ID_LEN + 1], w4[STORE_WINDOW_ID_LEN + 1], got[STORE_WINDOW_ID_LEN + 1];
	struct store_window w;
	struct store_window_list l;

	assert_store(add_cred(st, "alice", "cred-a", 1), STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000, w1),
	    STORE_OK);
	assert_int_equal(strlen(w1), STORE_WINDOW_ID_LEN);
	assert_int_equal(strspn(w1, "0123456789abcdef"), STORE_WINDOW_ID_LEN);

	/* everything round-trips; a keyed window is found from any host */
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, "host-b.example", 1,
	    1500, 0, &w), STORE_OK);
	assert_string_equal(w.id, w1);
	assert_string_equal(w.user, "alice");
	assert_string_equal(w.service, "sshd");
	assert_string_equal(w.rhost, "192.0.2.1");
	assert_string_equal(w.client_key, KEY_A);
	assert_string_equal(w.hostname, "host-a.example");
	assert_string_equal(w.source, "Tk3x9Qa2");
	assert_int_equal(w.cred_id_len, 6);
	assert_memory_equal(w.cred_id, "cred-a", 6);
	assert_int_equal(w.opened, 1000);
	assert_int_equal(w.expires, 2000);
	assert_int_equal(w.last_used, 0);
	assert_int_equal(w.uses, 0);
	store_window_free(&w);
	assert_null(w.user);

	/* every key is matched exactly */
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    w1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.2", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_string_equal(FIND("alice", "sshd", "192.0.2.10", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_B, "host-a.example", 1500, 0),
	    "");
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", "", "host-a.example", 1500, 0),
	    "");
	assert_string_equal(FIND("alice", "sudo", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_string_equal(FIND("bob", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_string_equal(FIND("Alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	/* open while now < expires, and only since opened_after */
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1999, 0),
	    w1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 2000, 0),
	    "");
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500,
	    1000), w1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500,
	    1001), "");

	/* a keyed window of another host counts only when any_host asks for it */
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, "host-b.example", 0,
	    1500, 0, &w), STORE_ERR_NOT_FOUND);
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 0,
	    1500, 0, &w), STORE_OK);
	assert_string_equal(w.id, w1);
	store_window_free(&w);
	/* opened "in the future" by a writer whose clock runs ahead: not before now + skew */
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example",
	    1000 - STORE_WINDOW_SKEW, 0), w1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example",
	    1000 - STORE_WINDOW_SKEW - 1, 0), "");

	/* without a key: only from the host that opened it, any_host or not */
	assert_store(open_window(st, "alice", "192.0.2.1", "", "cred-a", 1100, 2100, w2),
	    STORE_OK);
	assert_string_not_equal(w2, w1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", "", "host-a.example", 1500, 0), w2);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", "", "host-b.example", 1500, 0), "");
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    w1);

	/* the newest of two that match wins, while it is open */
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1200, 1900, w3),
	    STORE_OK);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    w3);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1950, 0),
	    w1);

	/* each reuse counted; an ended or unknown one is not found */
	assert_store(store_window_use(st, w3, 1600), STORE_OK);
	assert_store(store_window_use(st, w3, 1700), STORE_OK);
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1,
	    1800, 0, &w), STORE_OK);
	assert_string_equal(w.id, w3);
	assert_int_equal(w.uses, 2);
	assert_int_equal(w.last_used, 1700);
	store_window_free(&w);
	assert_store(store_window_use(st, w3, 1900), STORE_ERR_NOT_FOUND);
	assert_store(store_window_use(st, "0123456789abcdef", 1500), STORE_ERR_NOT_FOUND);
	assert_int_equal(raw_int(f->spec, "SELECT uses FROM windows WHERE id = (SELECT id FROM"
	    " windows WHERE opened = 1000)"), 0);

	/* the open ones, oldest first: a user's, everyone's */
	assert_store(open_window(st, "bob", "198.51.100.7", KEY_B, "cred-b", 1300, 3000, w4),
	    STORE_OK);
	assert_store(store_window_page(st, "alice", 1500, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 3);
	assert_string_equal(l.items[0].id, w1);
	assert_string_equal(l.items[1].id, w2);
	assert_string_equal(l.items[2].id, w3);
	assert_int_equal(l.items[2].uses, 2);
	assert_string_equal(l.items[1].client_key, "");
	store_window_list_free(&l);
	assert_null(l.items);
	assert_store(store_window_page(st, "alice", 1950, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 2);
	store_window_list_free(&l);
	assert_store(store_window_page(st, NULL, 1500, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 4);
	assert_string_equal(l.items[3].id, w4);
	assert_string_equal(l.items[3].user, "bob");
	store_window_list_free(&l);
	assert_store(store_window_page(st, NULL, 3000, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 0);
	store_window_list_free(&l);
	assert_store(store_window_page(st, "carol", 1500, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 0);
	store_window_list_free(&l);
	store_close(st);
}

/*
 * Keyset pages of windows: every open one exactly once, oldest first
 * (opened, then id: windows opened in the same second are split too),
 * each page starting after the key it is given; ended ones never.
 */
static void
test_window_pages(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char ids[7][STORE_WINDOW_ID_LEN + 1], seen[7][STORE_WINDOW_ID_LEN + 1];
	struct store_window_key key;
	struct store_window_list l;
	size_t n = 0, pages = 0;
	int64_t prev_opened = 0;

	/* three open in one second, one ended by 1500, three more; one of bob's */
	for (int i = 0; i < 7; i++)
		assert_store(open_window(st, i == 5 ? "bob" : "alice", "192.0.2.1", KEY_A,
		    "cred-a", i < 3 ? 1000 : 1000 + 10 * i, i == 3 ? 1400 : 3000, ids[i]),
		    STORE_OK);
	assert_store(store_window_page(st, NULL, 1500, NULL, 2, &l), STORE_OK);
	while (l.count > 0) {
		assert_true(l.count <= 2);
		for (size_t i = 0; i < l.count; i++) {
			assert_true(n < 6);
			assert_true(l.items[i].opened >= prev_opened);
			prev_opened = l.items[i].opened;
			memcpy(seen[n++], l.items[i].id, STORE_WINDOW_ID_LEN + 1);
		}
		key.opened = l.items[l.count - 1].opened;
		memcpy(key.id, l.items[l.count - 1].id, sizeof(key.id));
		store_window_list_free(&l);
		assert_true(++pages < 10);
		assert_store(store_window_page(st, NULL, 1500, &key, 2, &l), STORE_OK);
	}
	store_window_list_free(&l);
	assert_int_equal(n, 6);
	assert_int_equal(pages, 3);
	/* each open one once, the ended one never; the same second in id order */
	for (int i = 0; i < 7; i++) {
		int times = 0;

		for (size_t k = 0; k < n; k++)
			times += strcmp(seen[k], ids[i]) == 0;
		assert_int_equal(times, i == 3 ? 0 : 1);
	}
	assert_true(strcmp(seen[0], seen[1]) < 0 && strcmp(seen[1], seen[2]) < 0);
	/* a user's, from a key in the middle: only what follows it */
	key.opened = 1000;
	memcpy(key.id, seen[2], sizeof(key.id));
	assert_store(store_window_page(st, "alice", 1500, &key, 0, &l), STORE_OK);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.items[0].id, ids[4]);
	assert_string_equal(l.items[1].id, ids[6]);
	store_window_list_free(&l);
	/* a key that is no window's shape is refused */
	memcpy(key.id, "not-a-window-id!", sizeof(key.id));
	assert_store(store_window_page(st, NULL, 1500, &key, 2, &l), STORE_ERR_INVALID);
	store_close(st);
}

/* The windows one approval opened: its user's, on its host, from its source only. */
static void
test_window_end_source(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char w1[STORE_WINDOW_ID_LEN + 1], w2[STORE_WINDOW_ID_LEN + 1], w3[STORE_WINDOW_ID_LEN + 1],
	    w4[STORE_WINDOW_ID_LEN + 1], got[STORE_WINDOW_ID_LEN + 1];
	struct store_window w;
	size_t n = 99;

	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 5000, w1),
	    STORE_OK);				/* source Tk3x9Qa2 */
	window_init(&w, "alice", "192.0.2.2", KEY_A, "cred-a", 1000, 5000);
	w.source = (char *)"Other1";		/* another approval's */
	assert_store(store_window_open(st, &w), STORE_OK);
	memcpy(w2, w.id, sizeof(w2));
	window_init(&w, "alice", "192.0.2.3", KEY_A, "cred-a", 1000, 5000);
	w.hostname = (char *)"host-b.example";	/* another host's, same source */
	assert_store(store_window_open(st, &w), STORE_OK);
	memcpy(w3, w.id, sizeof(w3));
	assert_store(open_window(st, "bob", "192.0.2.1", KEY_B, "cred-b", 1000, 5000, w4),
	    STORE_OK);				/* another user's, same source */
	assert_store(store_window_end_source(st, "alice", "host-a.example", "Tk3x9Qa2", &n),
	    STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_store(store_window_use(st, w1, 1500), STORE_ERR_NOT_FOUND);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.2", KEY_A, "host-a.example", 1500, 0),
	    w2);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.3", KEY_A, "host-b.example", 1500, 0),
	    w3);
	assert_string_equal(FIND("bob", "sshd", "192.0.2.1", KEY_B, "host-a.example", 1500, 0), w4);
	/* again: nothing left to end, not an error */
	assert_store(store_window_end_source(st, "alice", "host-a.example", "Tk3x9Qa2", &n),
	    STORE_OK);
	assert_int_equal(n, 0);
	assert_store(store_window_end_source(st, "", "host-a.example", "Tk3x9Qa2", &n),
	    STORE_ERR_INVALID);
	assert_store(store_window_end_source(st, "alice", "", "Tk3x9Qa2", &n), STORE_ERR_INVALID);
	assert_store(store_window_end_source(st, "alice", "host-a.example", "", &n),
	    STORE_ERR_INVALID);
	assert_store(store_window_end_source(st, "alice", "host-a.example", "Tk3x9Qa2", NULL),
	    STORE_ERR_INVALID);
	store_close(st);
}

/* revoke by id (and owner), by user, all; opening purges ended windows */
static void
test_window_revoke(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char w1[STORE_WINDOW_ID_LEN + 1], w2[STORE_WINDOW_ID_LEN + 1],
	    w3[STORE_WINDOW_ID_LEN + 1], w4[STORE_WINDOW_ID_LEN + 1], got[STORE_WINDOW_ID_LEN + 1];
	struct store_window_list l;
	size_t n = 99;

	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 5000, w1),
	    STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.2", KEY_A, "cred-a", 1000, 5000, w2),
	    STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.3", "", "cred-a", 1000, 5000, w3),
	    STORE_OK);
	assert_store(open_window(st, "bob", "192.0.2.1", KEY_B, "cred-b", 1000, 5000, w4),
	    STORE_OK);
	/* an id with another owner named: nothing */
	assert_store(store_window_revoke(st, w1, "bob", &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    w1);
	assert_store(store_window_revoke(st, w1, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_store(store_window_use(st, w1, 1500), STORE_ERR_NOT_FOUND);
	assert_store(store_window_revoke(st, w1, NULL, &n), STORE_OK);
	assert_int_equal(n, 0);
	assert_store(store_window_revoke(st, w2, NULL, &n), STORE_OK);
	assert_int_equal(n, 1);
	/* a user's: the others' stay */
	assert_store(store_window_revoke(st, NULL, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_window_page(st, NULL, 1500, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].id, w4);
	store_window_list_free(&l);
	assert_store(store_window_revoke(st, NULL, NULL, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows WHERE expires > 1"), 0);
	assert_store(store_window_revoke(st, NULL, NULL, &n), STORE_OK);
	assert_int_equal(n, 0);

	/* opening one deletes those ended by then (expires <= opened), no other */
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 10, 20, w1), STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.2", KEY_A, "cred-a", 10, 21, w2), STORE_OK);
	assert_store(open_window(st, "bob", "192.0.2.1", KEY_A, "cred-a", 10, 19, w4), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows"), 3);
	assert_store(open_window(st, "carol", "192.0.2.9", "", "cred-c", 20, 30, w3), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows"), 2);
	assert_store(store_window_page(st, NULL, 20, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.items[0].id, w2);
	assert_string_equal(l.items[1].id, w3);
	store_window_list_free(&l);
	store_close(st);
}

/* Removing a passkey ends the windows it approved, in the same transaction. */
static void
test_window_cred_remove(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char wa[STORE_WINDOW_ID_LEN + 1], wa2[STORE_WINDOW_ID_LEN + 1],
	    wb[STORE_WINDOW_ID_LEN + 1], wx[STORE_WINDOW_ID_LEN + 1], got[STORE_WINDOW_ID_LEN + 1];
	struct store_window_list l;

	assert_store(add_cred(st, "alice", "cred-a", 1), STORE_OK);
	assert_store(add_cred(st, "alice", "cred-b", 2), STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 5000, wa),
	    STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.2", "", "cred-a", 1000, 5000, wa2),
	    STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.3", KEY_B, "cred-b", 1000, 5000, wb),
	    STORE_OK);
	assert_store(store_cred_remove_not_last(st, (const unsigned char *)"cred-a", 6),
	    STORE_OK);
	assert_store(store_window_page(st, "alice", 1500, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_string_equal(l.items[0].id, wb);
	assert_memory_equal(l.items[0].cred_id, "cred-b", 6);
	store_window_list_free(&l);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_store(store_window_use(st, wa2, 1500), STORE_ERR_NOT_FOUND);
	/* a refused removal ends nothing */
	assert_store(store_cred_remove_not_last(st, (const unsigned char *)"cred-b", 6),
	    STORE_ERR_LAST);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.3", KEY_B, "host-a.example", 1500, 0),
	    wb);
	/* nor does one undone with its transaction */
	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(store_cred_remove(st, (const unsigned char *)"cred-b", 6), STORE_OK);
	store_txn_rollback(st);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.3", KEY_B, "host-a.example", 1500, 0),
	    wb);
	assert_store(store_cred_remove(st, (const unsigned char *)"cred-b", 6), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows WHERE expires > 1"), 0);

	/* a window exists only if its transaction (the approval's) commits */
	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 5000, wx),
	    STORE_OK);
	store_txn_rollback(st);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    "");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows WHERE expires > 1"), 0);
	store_close(st);
}

static void
test_window_invalid(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	static const char *const bad_keys[] = {
		"SHA256:", "SHA256:short", "MD5:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs",
		"sha256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs",
		"SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSL",	/* 42 */
		"SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLsx",	/* 44 */
		"SHA256:ypeBEsobvcr6wjGzmiPcTaeG7-gUfE5yuYB3ha_uSLs",	/* base64url */
		"SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSL=",
		" SHA256:ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs",
	};
	static const char *const bad_rhosts[] = { "", "192.0.2.1 ", "a b", "x\ny", "caf\xc3\xa9" };
	static const char *const bad_ids[] = { "", "0123456789abcde", "0123456789abcdef0",
	    "0123456789ABCDEF", "0123456789abcdeg", "../../etc/passw" };
	char rhost256[257], id[STORE_WINDOW_ID_LEN + 1];
	struct store_window w;
	struct store_window_list l;
	size_t n;

	memset(rhost256, 'r', 256);
	rhost256[256] = '\0';
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		w.client_key = (char *)bad_keys[i];
		assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
		assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", bad_keys[i],
		    "host-a.example", 1, 1500, 0, &w), STORE_ERR_INVALID);
		window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	}
	for (size_t i = 0; i < sizeof(bad_rhosts) / sizeof(bad_rhosts[0]); i++) {
		w.rhost = (char *)bad_rhosts[i];
		assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
		assert_store(store_window_find(st, "alice", "sshd", bad_rhosts[i], KEY_A,
		    "host-a.example", 1, 1500, 0, &w), STORE_ERR_INVALID);
		window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	}
	w.rhost = rhost256;
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	rhost256[255] = '\0';		/* 255: the longest */
	assert_store(store_window_open(st, &w), STORE_OK);
	assert_int_equal(strlen(w.id), STORE_WINDOW_ID_LEN);

	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 1000);
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);	/* expires > opened */
	assert_string_equal(w.id, "");
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", -1, 1000);
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "ali\nce", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	w.service = (char *)"";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.service = (char *)"../sshd";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.service = (char *)"ss hd";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.service = NULL;
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	w.hostname = (char *)"host_a";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.hostname = (char *)"";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	w.source = (char *)"";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.source = (char *)"0123456789abcdefX";	/* 17 */
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.source = (char *)"tab\there";
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	w.cred_id_len = 0;
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.cred_id_len = STORE_CRED_ID_MAX + 1;
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	w.cred_id = NULL;
	w.cred_id_len = 4;
	assert_store(store_window_open(st, &w), STORE_ERR_INVALID);
	window_init(&w, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000);
	assert_store(store_window_open(NULL, &w), STORE_ERR_INVALID);
	assert_store(store_window_open(st, NULL), STORE_ERR_INVALID);

	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, "host a", 1,
	    1500, 0, &w), STORE_ERR_INVALID);
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, NULL, 1,
	    1500, 0, &w), STORE_ERR_INVALID);
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", NULL, "host-a.example", 1,
	    1500, 0, &w), STORE_ERR_INVALID);
	assert_store(store_window_find(st, "alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1,
	    1500, 0, NULL), STORE_ERR_INVALID);
	for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
		assert_store(store_window_use(st, bad_ids[i], 1500), STORE_ERR_INVALID);
		assert_store(store_window_revoke(st, bad_ids[i], NULL, &n), STORE_ERR_INVALID);
	}
	assert_store(store_window_use(st, NULL, 1500), STORE_ERR_INVALID);
	assert_store(store_window_revoke(st, NULL, "bad\nuser", &n), STORE_ERR_INVALID);
	assert_store(store_window_revoke(st, NULL, NULL, NULL), STORE_ERR_INVALID);
	assert_store(store_window_page(st, "", 1500, NULL, 0, &l), STORE_ERR_INVALID);
	assert_null(l.items);
	assert_store(store_window_page(st, NULL, 1500, NULL, 0, NULL), STORE_ERR_INVALID);

	/* only the one valid window above was written */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows"), 1);
	memcpy(id, "0123456789abcdef", sizeof(id));
	assert_store(store_window_use(st, id, 1500), STORE_ERR_NOT_FOUND);
	store_close(st);
}

/*
 * A version 2 store (before windows) is brought to version 3 in place:
 * its rows stay, and windows work.  Version 3 only added a table and its
 * indexes, so dropping them and the version is a version 2 file.
 */
static void
test_migrate_v2(void **state)
{
	struct fixture *f = *state;
	char id[STORE_WINDOW_ID_LEN + 1], got[STORE_WINDOW_ID_LEN + 1];
	store_t *st = open_store(f->spec);
	size_t n;

	assert_store(add_cred(st, "alice", "cred-a", 1), STORE_OK);
	store_close(st);
	raw_exec(f->spec, "DROP TABLE windows; PRAGMA user_version = 2;");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM sqlite_master"
	    " WHERE name LIKE 'windows%'"), 0);
	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), SCHEMA);
	assert_int_equal(raw_int(f->spec, "PRAGMA user_version"), SCHEMA);
	/* the table and its four indexes (windows_opened: version 4) */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM sqlite_master"
	    " WHERE name LIKE 'windows%'"), 5);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000, id),
	    STORE_OK);
	assert_string_equal(FIND("alice", "sshd", "192.0.2.1", KEY_A, "host-a.example", 1500, 0),
	    id);
	store_close(st);
}

/* The API's promises: every backend keeps them. */
#define STORE_API_TESTS(T) \
	T(test_reopen_keeps_data), \
	T(test_cred_add_get), \
	T(test_cred_list_count), \
	T(test_cred_duplicate_id), \
	T(test_cred_record_use), \
	T(test_login_approve), \
	T(test_cred_rename), \
	T(test_cred_remove), \
	T(test_cred_remove_not_last), \
	T(test_cred_list_all), \
	T(test_not_found), \
	T(test_errmsg_new), \
	T(test_invalid_args), \
	T(test_user_handle), \
	T(test_enroll), \
	T(test_events), \
	T(test_busy), \
	T(test_concurrent_writers), \
	T(test_record_use_cas), \
	T(test_cas_processes), \
	T(test_cred_register), \
	T(test_txn), \
	T(test_event_prune_and_pages), \
	T(test_event_bound_with_gaps), \
	T(test_cred_find), \
	T(test_cred_page), \
	T(test_window_find), \
	T(test_window_pages), \
	T(test_window_revoke), \
	T(test_window_end_source), \
	T(test_window_cred_remove), \
	T(test_window_invalid)

/* ================================================================== */
/* PostgreSQL's own                                                   */
/* ================================================================== */

static void
test_pg_creates_schema(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);

	assert_int_equal(store_schema_version(st), PG_SCHEMA);
	store_close(st);
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_tables WHERE schemaname ="
	    " current_schema() AND tablename IN"
	    " ('pk_meta', 'users', 'credentials', 'enrollments', 'events', 'windows')"), 6);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_indexes WHERE indexname IN"
	    " ('credentials_user', 'events_user', 'credentials_id_hash', 'windows_match',"
	    " 'windows_cred', 'windows_expires')"), 6);
	/* Opening a current store again migrates nothing and still works. */
	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), PG_SCHEMA);
	store_close(st);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_meta"), 1);
}

/*
 * The server's words reach the daemon's log and passkeyctl's terminal
 * (passkeyctl fleet prints the warnings): one line, with ESC, C1 and bidi
 * overrides replaced.  A server, or anyone on the way, chooses them.
 */
static void
test_pg_words_sanitized(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char warn[512] = "";
	const char *words;

	assert_int_equal(store_exec_script(st, "DO $$ BEGIN RAISE WARNING E'w\\x1b[2J"
	    "\\u009b31m\\u202eyes\\nsecond'; END $$;", warn, sizeof(warn)), STORE_OK);
	assert_non_null(strstr(warn, "w?[2J?31m?yes"));
	assert_null(strchr(warn, '\x1b'));
	assert_null(strstr(warn, "\xc2\x9b"));
	assert_null(strstr(warn, "\xe2\x80\xae"));
	assert_int_equal(strchr(warn, '\n') - warn, (ptrdiff_t)strlen(warn) - 1);
	assert_int_not_equal(store_exec_script(st, "DO $$ BEGIN RAISE EXCEPTION E'e\\x1b]0;t\\u0007"
	    "\\u009b'; END $$;", warn, sizeof(warn)), STORE_OK);
	words = store_errmsg(st);
	assert_non_null(strstr(words, "e?]0;t??"));
	assert_null(strchr(words, '\x1b'));
	assert_null(strchr(words, '\a'));
	assert_null(strstr(words, "\xc2\x9b"));
	store_close(st);
}

static void
test_pg_newer_schema_untouched(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	char why[256];

	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	store_close(st);
	raw_exec(f->spec, "UPDATE pk_meta SET version = 99;"
	    " CREATE TABLE future (x integer); INSERT INTO future VALUES (1)");
	st = (store_t *)0x1;
	assert_store(store_open_why(f->spec, &st, why, sizeof(why)), STORE_ERR_SCHEMA);
	assert_null(st);
	assert_non_null(strstr(why, "newer"));
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), 99);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM future"), 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM credentials"), 1);
}

static void
test_pg_foreign_db_untouched(void **state)
{
	struct fixture *f = *state;
	store_t *st = (store_t *)0x1;

	raw_exec(f->spec, "CREATE TABLE credentials (note text); INSERT INTO credentials"
	    " VALUES ('mine')");
	assert_store(store_open(f->spec, &st), STORE_ERR_SCHEMA);
	assert_null(st);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_tables WHERE schemaname ="
	    " current_schema()"), 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM credentials"), 1);
}

/*
 * N instances starting together on an empty database: the advisory lock
 * lets one migrate while the others wait, then find the work done (a second
 * migration would fail on CREATE TABLE and its racer would exit non-zero).
 */
static void
test_pg_concurrent_create(void **state)
{
	struct fixture *f = *state;
	char sql[128], spec[sizeof(f->spec) + 16];

	for (int round = 0; round < 5; round++) {
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s_r%d", f->db, round);
		pg_admin_exec(sql);
		snprintf(spec, sizeof(spec), "postgresql:///%s_r%d?%s", f->db, round, pg_query);
		run_racers(spec, round);
		assert_int_equal(raw_int(spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
		assert_int_equal(raw_int(spec, "SELECT count(*) FROM credentials"), RACERS * 5);
		snprintf(sql, sizeof(sql), "DROP DATABASE %s_r%d WITH (FORCE)", f->db, round);
		pg_admin_exec(sql);
	}
}

/* A standby, or a database that takes no writes, could approve nothing. */
static void
test_pg_readonly_refused(void **state)
{
	struct fixture *f = *state;
	store_t *st = (store_t *)0x1;
	char sql[160], why[256];

	snprintf(sql, sizeof(sql), "ALTER DATABASE %s SET default_transaction_read_only = on",
	    f->db);
	pg_admin_exec(sql);
	assert_store(store_open_why(f->spec, &st, why, sizeof(why)), STORE_ERR_READONLY);
	assert_null(st);
	assert_non_null(strstr(why, "target_session_attrs=read-write"));
	/* and nothing was created */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_tables WHERE schemaname ="
	    " current_schema()"), 0);
}

static void
test_pg_unreachable(void **state)
{
	struct fixture *f = *state;
	store_t *st = (store_t *)0x1;
	char spec[sizeof(f->spec) + 32], why[256];

	assert_store(store_open_why("postgresql:///x?host=/nonexistent.pk&connect_timeout=2",
	    &st, why, sizeof(why)), STORE_ERR_UNAVAILABLE);
	assert_null(st);
	assert_non_null(strstr(why, "postgresql: "));
	assert_null(strchr(why, '\n'));
	snprintf(spec, sizeof(spec), "postgresql:///%s_missing?%s", f->db, pg_query);
	assert_store(store_open_why(spec, &st, why, sizeof(why)), STORE_ERR_UNAVAILABLE);
	assert_non_null(strstr(why, "does not exist"));
	/* a malformed URI is refused without a word of it: it may hold a password */
	assert_store(store_open_why("postgresql://alice:S3cret@[::1/x", &st, why, sizeof(why)),
	    STORE_ERR_INVALID);
	assert_null(strstr(why, "S3cret"));
	assert_non_null(strstr(why, "cannot be parsed"));
	assert_store(store_open_why("postgresql://alice:Pa%ss-Secret@/pk?host=/nonexistent.pk",
	    &st, why, sizeof(why)), STORE_ERR_INVALID);
	assert_null(strstr(why, "Secret"));
	assert_int_equal(store_spec_has_password("postgresql://alice:Pa%ss-Secret@/pk"), 1);
	assert_int_equal(store_spec_has_password("postgresql://alice:pw@/pk"), 1);
	assert_int_equal(store_spec_has_password("postgresql:///pk?sslpassword=x"), 1);
	assert_int_equal(store_spec_has_password("postgresql://alice@/pk?passfile=/x"), 0);
	assert_int_equal(store_spec_has_password("/var/lib/passkeyd/passkeys.db"), 0);
	store_spec_display("postgresql://alice:pw@db.example:5433/pk?sslmode=verify-full",
	    why, sizeof(why));
	assert_string_equal(why, "postgresql://alice@db.example:5433/pk");
}

/* Terminates the store's server processes, as a restart would. */
static void
pg_kill_sessions(const struct fixture *f)
{
	char sql[200];

	snprintf(sql, sizeof(sql), "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
	    " WHERE datname = '%s' AND pid <> pg_backend_pid()", f->db);
	assert_true(raw_int(f->spec, sql) >= 1);
	usleep(100 * 1000);
}

/*
 * A connection the server dropped while idle is made again before the next
 * call; one dropped inside a transaction fails that transaction, and the
 * next one works.  Nothing half-written stays.
 */
static void
test_pg_reconnect(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	size_t n;

	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	pg_kill_sessions(f);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	pg_kill_sessions(f);
	assert_store(add_cred(st, "alice", "cred-2", 0), STORE_OK);
	pg_kill_sessions(f);
	assert_store(store_enroll_add(st, "bob", 100, "root"), STORE_OK);

	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(add_cred(st, "alice", "cred-3", 0), STORE_OK);
	pg_kill_sessions(f);
	assert_store(add_cred(st, "alice", "cred-4", 0), STORE_ERR_UNAVAILABLE);
	assert_store(store_txn_commit(st), STORE_ERR_UNAVAILABLE);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 2);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM credentials"), 2);
	store_close(st);

	/* a multi-host URI whose first host refuses: open and reconnect reach the second */
	{
		const char *host = strstr(pg_query, "host=");
		char uri[PATH_MAX + 256];

		snprintf(uri, sizeof(uri), "postgresql:///%s?host=127.0.0.1,%.*s&port=1,5432"
		    "&user=postgres", f->db, (int)strcspn(host + 5, "&"), host + 5);
		st = open_store(uri);
		pg_kill_sessions(f);
		assert_store(add_cred(st, "alice", "cred-5", 0), STORE_OK);
		store_close(st);
	}
}

/* A pending ceremony of the shape the daemon makes. */
static void
ceremony_init(struct store_ceremony *c, unsigned char tag, const char *user, const char *addr,
    int64_t now)
{
	memset(c, 0, sizeof(*c));
	memset(c->token_hash, tag, sizeof(c->token_hash));
	memset(c->challenge, 0xc0 ^ tag, sizeof(c->challenge));
	c->hostname = (char *)"host-a.example";
	c->kind = 0;
	snprintf(c->code, sizeof(c->code), "ABC-%03u", tag);
	c->user = (char *)user;
	c->rhost = (char *)addr;
	c->service = (char *)"sshd";
	c->addr_key = (char *)addr;
	c->created = now;
	c->expires = now + 120;
}

/* Counts notices by tag (ceremony_init's hash: every byte the tag). */
static void
on_notice(const unsigned char hash[STORE_TOKEN_HASH_LEN], void *arg)
{
	int *seen = arg;

	if (hash[0] < 16 && hash[31] == hash[0])
		seen[hash[0]]++;
}

/*
 * Waits up to 3 s for a notice of tag on st, sent by via as passkeyd's
 * loop sends them (store_announce, each turn); how many of each tag came
 * (seen[16]).
 */
static void
wait_heard(store_t *st, store_t *via, unsigned char tag, int seen[16])
{
	struct timespec t0;
	int own[16];

	memset(seen, 0, 16 * sizeof(seen[0]));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seen[tag] == 0 && ms_since(&t0) < 3000) {
		struct pollfd pfd[2] = { { .fd = store_notice_fd(st), .events = POLLIN },
		    { .fd = store_notice_fd(via), .events = POLLIN } };

		assert_true(pfd[0].fd >= 0 && pfd[1].fd >= 0);
		assert_store(store_announce(via), STORE_OK);
		if (poll(pfd, 2, 100) > 0) {
			if (via != st)	/* the answer to what it sent */
				assert_store(store_notices(via, on_notice, own), STORE_OK);
			assert_store(store_notices(st, on_notice, seen), STORE_OK);
		}
	}
}

/* The same, for movers that announce through st (store_set_announcer). */
static void
wait_notices_of(store_t *st, unsigned char tag, int seen[16])
{
	wait_heard(st, st, tag, seen);
}

/*
 * That tag 7's use (approved -> used, just made) was not announced to
 * listener: mover denies a new ceremony of tag 9, and once its notice is
 * heard (notices come in commit order) no notice of tag 7 came before it.
 */
static void
assert_use_unannounced(store_t *listener, store_t *mover, int64_t now)
{
	struct store_ceremony nine;
	char refusal[32];
	int seen[16];

	ceremony_init(&nine, 9, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(mover, &nine, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(mover, nine.token_hash, "pending", "denied", "denied",
	    now), STORE_OK);
	wait_notices_of(listener, 9, seen);
	assert_int_equal(seen[9], 1);
	assert_int_equal(seen[7], 0);
}

/*
 * A ceremony of tag that host made and mover denied is announced to host
 * once, sent by host's listening connection (as passkeyd's loop's).
 */
static void
assert_heard_once(store_t *host, store_t *mover, unsigned char tag, int64_t now)
{
	struct store_ceremony c;
	char refusal[32];
	int seen[16];

	assert_store(store_ceremony_listen(host), STORE_OK);
	assert_store(store_set_announcer(mover, host), STORE_OK);
	ceremony_init(&c, tag, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(host, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(mover, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	wait_notices_of(host, tag, seen);
	assert_int_equal(seen[tag], 1);
}

/* Waits up to 3 s for a notice on st; how many for tag 7 arrived. */
static int
wait_notices(store_t *st)
{
	int seen[16];

	wait_notices_of(st, 7, seen);
	return seen[7];
}

/*
 * A row that one instance made and then decided is not announced; one
 * decided by another instance, or made or decided by a connection that
 * named no instance, is (migration 6, store_set_instance).  mine and twin
 * are two connections of one instance (the loop's and a journal writer's).
 */
static void
test_pg_own_decision_unannounced(void **state)
{
	struct fixture *f = *state;
	store_t *mine = open_store(f->spec), *twin = open_store(f->spec);
	store_t *stranger = open_store(f->spec), *nameless = open_store(f->spec);
	store_t *listener = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;
	char refusal[32];
	int seen[16];

	assert_store(store_set_instance(mine, "0a1b"), STORE_OK);
	assert_store(store_set_instance(twin, "0a1b"), STORE_OK);
	assert_store(store_set_instance(stranger, "0c"), STORE_OK);
	assert_store(store_set_instance(mine, "0A"), STORE_ERR_INVALID);
	assert_store(store_set_instance(mine, "0a'; --"), STORE_ERR_INVALID);
	assert_store(store_set_instance(mine, ""), STORE_ERR_INVALID);
	assert_store(store_ceremony_listen(listener), STORE_OK);
	/* each announces through the listener, as passkeyd's connections through its loop's */
	assert_store(store_set_announcer(mine, listener), STORE_OK);
	assert_store(store_set_announcer(twin, listener), STORE_OK);
	assert_store(store_set_announcer(stranger, listener), STORE_OK);
	assert_store(store_set_announcer(nameless, listener), STORE_OK);
	/* 1: made by mine, decided by twin: the same instance, no notice */
	ceremony_init(&c, 1, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(mine, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE waiter = '0a1b'"),
	    1);
	assert_store(store_ceremony_move(twin, c.token_hash, "pending", "approved", NULL, now),
	    STORE_OK);
	/* 2: decided by another instance: announced, and after 1's commit */
	ceremony_init(&c, 2, "alice", "192.0.2.2", now);
	assert_store(store_ceremony_add(mine, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(stranger, c.token_hash, "pending", "denied", "denied",
	    now), STORE_OK);
	wait_notices_of(listener, 2, seen);
	assert_int_equal(seen[2], 1);
	assert_int_equal(seen[1], 0);
	/* 3: decided by a connection that named none; 4: made by one */
	ceremony_init(&c, 3, "alice", "192.0.2.3", now);
	assert_store(store_ceremony_add(mine, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(nameless, c.token_hash, "pending", "denied", "denied",
	    now), STORE_OK);
	wait_notices_of(listener, 3, seen);
	assert_int_equal(seen[3], 1);
	ceremony_init(&c, 4, "bob", "192.0.2.4", now);
	assert_store(store_ceremony_add(nameless, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(twin, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	wait_notices_of(listener, 4, seen);
	assert_int_equal(seen[4], 1);
	/* a connection made again keeps the name: 5, made and decided by mine after it */
	assert_store(store_ceremony_get(mine, c.token_hash, &got), STORE_OK);
	store_ceremony_free(&got);
	assert_int_equal(raw_int(f->spec, "SELECT count(pg_terminate_backend(pid)) FROM"
	    " pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'SELECT %'"
	    " AND query LIKE '%FROM ceremonies WHERE token_hash = $1'"), 1);	/* mine's */
	ceremony_init(&c, 5, "bob", "192.0.2.5", now);
	for (int i = 0; i < 50 && store_ceremony_add(mine, &c, refusal, sizeof(refusal)) !=
	    STORE_OK; i++)
		usleep(100 * 1000);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE token_hash ="
	    " '\\x" "0505050505050505050505050505050505050505050505050505050505050505'"
	    " AND waiter = '0a1b'"), 1);
	assert_store(store_ceremony_move(mine, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	ceremony_init(&c, 6, "bob", "192.0.2.6", now);
	assert_store(store_ceremony_add(mine, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(stranger, c.token_hash, "pending", "denied", "denied",
	    now), STORE_OK);
	wait_notices_of(listener, 6, seen);
	assert_int_equal(seen[6], 1);
	assert_int_equal(seen[5], 0);
	store_close(mine);
	store_close(twin);
	store_close(stranger);
	store_close(nameless);
	store_close(listener);
}

/*
 * store_login_approve with a fleet's ceremony row: the row's pending ->
 * approved, the use and the audit row in one statement; each part only
 * after the one before it, and a part that did not hold told apart.
 */
static void
test_pg_login_approve(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_event ev = approved_event(now);
	struct store_cred_use use = { .id = (const unsigned char *)"cred-ceq", .id_len = 8,
	    .sign_count = 9, .must_grow = 1, .bs = 1, .when = now, .addr = "192.0.2.7" };
	static const unsigned char zero[STORE_CHALLENGE_LEN];
	store_t *listener = open_store(f->spec);
	struct store_ceremony c, old, got;
	struct store_credential cred;
	char refusal[32];
	uint64_t before;
	int failed = -1, seen[16];

	assert_store(add_cred(st, "alice", "cred-ceq", 100), STORE_OK);
	ceremony_init(&c, 11, "alice", "192.0.2.21", now);
	ceremony_init(&old, 12, "alice", "192.0.2.22", now - 300);
	old.expires = now - 1;
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_add(st, &old, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_listen(listener), STORE_OK);
	assert_store(store_set_announcer(st, listener), STORE_OK);
	before = event_count(st);

	/* the passkey's count is 5 (add_cred): 5 fails the use, after the row moved */
	use.sign_count = 5;
	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(store_login_approve(st, c.token_hash, now, &use, &ev, &failed),
	    STORE_ERR_CONFLICT);
	assert_int_equal(failed, 1);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.state, "approved");	/* not undone here... */
	store_ceremony_free(&got);
	store_txn_rollback(st);	/* ...but by the journal's mark, in effect */
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.state, "pending");
	store_ceremony_free(&got);
	assert_int_equal(event_count(st), before);

	use.sign_count = 10;
	assert_store(store_login_approve(st, c.token_hash, now, &use, &ev, &failed), STORE_OK);
	assert_int_equal(failed, 0);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.state, "approved");
	assert_null(got.reason);
	assert_int_equal(got.finished, now);
	assert_memory_equal(got.challenge, zero, sizeof(zero));
	store_ceremony_free(&got);
	assert_store(get_cred(st, "cred-ceq", &cred), STORE_OK);
	assert_int_equal(cred.sign_count, 10);
	assert_int_equal(cred.bs, 1);
	assert_int_equal(cred.last_used, now);
	assert_string_equal(cred.last_addr, "192.0.2.7");
	store_credential_free(&cred);
	assert_int_equal(event_count(st), before + 1);
	assert_newest_event(st, &ev);
	/* announced once: the rolled-back move said nothing */
	wait_notices_of(listener, 11, seen);
	assert_int_equal(seen[11], 1);

	/* decided already: the row fails first, and nothing else is written */
	use.sign_count = 11;
	assert_store(store_login_approve(st, c.token_hash, now, &use, &ev, &failed),
	    STORE_ERR_CONFLICT);
	assert_int_equal(failed, 0);
	/* past its expiry, as store_ceremony_move to approved */
	assert_store(store_login_approve(st, old.token_hash, now, &use, &ev, &failed),
	    STORE_ERR_CONFLICT);
	assert_int_equal(failed, 0);
	/* no such row */
	memset(old.token_hash, 0x77, sizeof(old.token_hash));
	assert_store(store_login_approve(st, old.token_hash, now, &use, &ev, &failed),
	    STORE_ERR_NOT_FOUND);
	assert_int_equal(failed, 0);
	assert_store(get_cred(st, "cred-ceq", &cred), STORE_OK);
	assert_int_equal(cred.sign_count, 10);
	store_credential_free(&cred);
	assert_int_equal(event_count(st), before + 1);
	store_close(listener);
	store_close(st);
}

static void
test_pg_ceremonies(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec), *other = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;
	unsigned char h1[STORE_USER_HANDLE_LEN], h2[STORE_USER_HANDLE_LEN], out[STORE_USER_HANDLE_LEN];
	static const unsigned char zero[STORE_CHALLENGE_LEN];
	char refusal[32];
	size_t expired, forgotten;

	ceremony_init(&c, 7, "alice", "192.0.2.1", now);
	c.kind = 1;
	c.consumes_enrollment = 1;
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_ERR_EXISTS);
	assert_store(store_ceremony_get(other, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.state, "pending");
	assert_string_equal(got.hostname, "host-a.example");
	assert_string_equal(got.code, "ABC-007");
	assert_string_equal(got.user, "alice");
	assert_string_equal(got.addr_key, "192.0.2.1");
	assert_int_equal(got.kind, 1);
	assert_int_equal(got.consumes_enrollment, 1);
	assert_int_equal(got.has_handle, 0);
	assert_int_equal(got.expires, now + 120);
	assert_memory_equal(got.challenge, c.challenge, sizeof(c.challenge));
	assert_non_null(got.host_role);
	store_ceremony_free(&got);
	/* the token is never stored, only its hash */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'ceremonies' AND column_name LIKE '%token%'"), 1);

	/* a registration's user handle is chosen once */
	memset(h1, 0x11, sizeof(h1));
	memset(h2, 0x22, sizeof(h2));
	assert_store(store_ceremony_set_handle(st, c.token_hash, h1, out), STORE_OK);
	assert_memory_equal(out, h1, sizeof(h1));
	assert_store(store_ceremony_set_handle(other, c.token_hash, h2, out), STORE_OK);
	assert_memory_equal(out, h1, sizeof(h1));

	/* one decision: the second instance's is a conflict; the host hears of it */
	assert_store(store_ceremony_listen(st), STORE_OK);
	assert_store(store_set_announcer(other, st), STORE_OK);
	assert_store(store_ceremony_move(other, c.token_hash, "pending", "approved", NULL, now),
	    STORE_OK);
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "denied", "denied", now),
	    STORE_ERR_CONFLICT);
	assert_int_equal(wait_notices(st), 1);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.state, "approved");
	assert_memory_equal(got.challenge, zero, sizeof(zero));	/* spent */
	store_ceremony_free(&got);
	/* single use */
	assert_store(store_ceremony_move(st, c.token_hash, "approved", "used", NULL, now), STORE_OK);
	assert_store(store_ceremony_move(other, c.token_hash, "approved", "used", NULL, now),
	    STORE_ERR_CONFLICT);
	/* only leaving pending is announced: the host's own use wakes no listener */
	assert_use_unannounced(st, other, now);
	memset(c.token_hash, 0x99, sizeof(c.token_hash));
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "denied", NULL, now),
	    STORE_ERR_NOT_FOUND);
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "bogus", NULL, now),
	    STORE_ERR_INVALID);
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "failed", "Bad Reason", now),
	    STORE_ERR_INVALID);

	/* no approval past the expiry, whatever the clock of the approver */
	ceremony_init(&c, 8, "bob", "", now - 200);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_CONFLICT);
	/* the sweep expires it and, later, forgets the final ones */
	assert_store(store_ceremony_sweep(st, now, 0, 100, &expired, &forgotten), STORE_OK);
	assert_int_equal(expired, 1);
	assert_int_equal(forgotten, 0);
	assert_store(store_ceremony_sweep(st, now + 1, now + 1, 100, &expired, &forgotten),
	    STORE_OK);
	assert_int_equal(expired, 0);
	assert_int_equal(forgotten, 3);	/* 7 (used), 9 (denied), 8 (expired) */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies"), 0);

	/*
	 * A host may write `finished`: ends it left empty, or put far ahead,
	 * would never come before the cutoff.  They go at the next sweep; an
	 * honest end kept its ten minutes stays.
	 */
	for (int i = 0; i < 3; i++) {
		ceremony_init(&c, 20 + i, "bob", "", now);
		assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
		assert_store(store_ceremony_move(st, c.token_hash, "pending", "cancelled",
		    "cancelled", now), STORE_OK);
	}
	raw_exec(f->spec, "UPDATE ceremonies SET finished = NULL WHERE code = 'ABC-020'");
	raw_exec(f->spec, "UPDATE ceremonies SET finished = 9223372036854775807"
	    " WHERE code = 'ABC-021'");
	assert_store(store_ceremony_sweep(st, now + 1, now + 1 - 600, 100, &expired, &forgotten),
	    STORE_OK);
	assert_int_equal(forgotten, 2);
	assert_int_equal(raw_int(f->spec,
	    "SELECT count(*) FROM ceremonies WHERE code = 'ABC-022'"), 1);
	/* more than a batch at once: up to eight batches a sweep */
	for (int i = 0; i < 5; i++) {
		ceremony_init(&c, 30 + i, "bob", "", now);
		assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
		assert_store(store_ceremony_move(st, c.token_hash, "pending", "cancelled",
		    "cancelled", now), STORE_OK);
	}
	assert_store(store_ceremony_sweep(st, now + 1, now + 1, 2, &expired, &forgotten),
	    STORE_OK);
	assert_int_equal(forgotten, 6);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies"), 0);
	store_close(other);
	store_close(st);
}

/* The fleet's limits, counted by the database over every instance's rows. */
static void
test_pg_ceremony_limits(void **state)
{
	struct fixture *f = *state;
	store_t *a = open_store(f->spec), *b = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c;
	char refusal[32];

	raw_exec(f->spec, "UPDATE pk_limits SET per_user = 3, per_user_address = 2,"
	    " per_address = 3, total = 6");
	ceremony_init(&c, 1, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 2, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(b, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 3, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_user_address");
	ceremony_init(&c, 3, "alice", "192.0.2.2", now);
	assert_store(store_ceremony_add(b, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 4, "alice", "192.0.2.3", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_user");
	/* an ended one holds no place */
	memset(c.token_hash, 1, sizeof(c.token_hash));
	assert_store(store_ceremony_move(a, c.token_hash, "pending", "cancelled", "client_gone",
	    now), STORE_OK);
	ceremony_init(&c, 4, "alice", "192.0.2.3", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_OK);
	/* addresses and the total */
	ceremony_init(&c, 5, "bob", "192.0.2.1", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 6, "carol", "192.0.2.1", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 7, "dave", "192.0.2.1", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_address");
	ceremony_init(&c, 7, "dave", "", now);
	assert_store(store_ceremony_add(a, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 8, "erin", "", now);
	assert_store(store_ceremony_add(b, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_total");
	/* an expired one, not yet swept, holds no place either */
	raw_exec(f->spec, "UPDATE ceremonies SET expires = 1 WHERE user_name = 'dave'");
	assert_store(store_ceremony_add(b, &c, refusal, sizeof(refusal)), STORE_OK);
	store_close(a);
	store_close(b);
}

/*
 * The fleet's pending counts (migration 6).  A begin adds the rows admitted
 * since the last recount to the counts it made; counts too old are not
 * used; a row that left pending since the recount still counts until the
 * next one: the limits refuse sooner, never later.
 */
static void
test_pg_pending_counts(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c;
	size_t expired, forgotten;
	char refusal[32];
	const char *users[] = { "u1", "u2" };
	long upto;

	raw_exec(f->spec, "UPDATE pk_limits SET total = 4, per_host = 3");
	for (unsigned char t = 1; t <= 2; t++) {
		ceremony_init(&c, t, users[t - 1], "", now);
		assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	}
	assert_store(store_ceremony_sweep(st, now, 0, 100, &expired, &forgotten), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT n FROM pk_pending_total"), 2);
	assert_int_equal(raw_int(f->spec, "SELECT n FROM pk_pending_hosts"
	    " WHERE host_role = session_user"), 2);
	upto = raw_int(f->spec, "SELECT upto FROM pk_pending_total");
	assert_int_equal(upto, raw_int(f->spec, "SELECT max(admitted) FROM ceremonies"));
	/* counted, plus the rows admitted since */
	ceremony_init(&c, 3, "u3", "", now);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 4, "u4", "", now);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_host");
	/* an ended row counts until the next recount, which comes once a second at most */
	memset(c.token_hash, 1, sizeof(c.token_hash));
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "cancelled", "client_gone",
	    now), STORE_OK);
	ceremony_init(&c, 4, "u4", "", now);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_store(store_ceremony_sweep(st, now, 0, 100, &expired, &forgotten), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT upto FROM pk_pending_total"), upto);
	raw_exec(f->spec, "UPDATE pk_pending_total SET at = at - 2");
	assert_store(store_ceremony_sweep(st, now, 0, 100, &expired, &forgotten), STORE_OK);
	assert_true(raw_int(f->spec, "SELECT upto FROM pk_pending_total") > upto);
	assert_int_equal(raw_int(f->spec, "SELECT n FROM pk_pending_total"), 2);	/* 2 and 3 */
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	/* the counts are what a begin believes while they are fresh ... */
	raw_exec(f->spec, "UPDATE pk_limits SET per_host = 100;"
	    " UPDATE pk_pending_total SET n = 1000");
	ceremony_init(&c, 5, "u5", "", now);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_total");
	/* ... and not once they are stale: every row is counted, as before */
	raw_exec(f->spec, "UPDATE pk_pending_total SET at = at - 11");
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 6, "u6", "", now);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_total");	/* 2, 3, 4 and 5 */
	/* a recount is the rows' own count, whatever the counts said */
	assert_store(store_ceremony_sweep(st, now, 0, 100, &expired, &forgotten), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT n FROM pk_pending_total"), 4);
	assert_int_equal(raw_int(f->spec, "SELECT n FROM pk_pending_hosts"), 4);
	store_close(st);
}

/* This test's server as another role (trust on the socket: any role), in database db. */
static void
role_uri_db(const char *db, const char *role, char *out, size_t len)
{
	const char *host = strstr(pg_query, "host=");
	size_t hl = host != NULL ? strcspn(host, "&") : 0;

	snprintf(out, len, "postgresql:///%s?%.*s&user=%s", db, (int)hl, host, role);
}

/* And in this test's database. */
static void
role_uri(const struct fixture *f, const char *role, char *out, size_t len)
{
	role_uri_db(f->db, role, out, len);
}

/* The roles a test made (a list, "a, b"), and what they own or were granted. */
static void
drop_roles(const struct fixture *f, const char *roles)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "DROP OWNED BY %s; DROP ROLE %s", roles, roles);
	raw_exec(f->spec, sql);
}

/* sql as the connection's role: its SQLSTATE, "" when it succeeded. */
static const char *
try_sql(PGconn *c, const char *sql, char *state, size_t len)
{
	PGresult *res = PQexec(c, sql);
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	snprintf(state, len, "%s", PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK ? "" : st != NULL ? st : "?");
	PQclear(res);
	return state;
}

#define HASH_A	"'\\x" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" "'"
#define HASH_B	"'\\x" "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" "'"

/*
 * A ceremony row as a host's role would write it by hand; h: 64 hex
 * digits, user and rhost SQL expressions.
 */
#define HOST_ROW_OF(h, user, rhost) "INSERT INTO public.ceremonies (token_hash, hostname," \
	" kind, state, code, user_name, rhost, service, addr_key, challenge, created, expires)" \
	" VALUES ('\\x" h "', 'x', 'login', 'pending', 'X', " user ", " rhost ", 'sshd', ''," \
	" '\\x" "0000000000000000000000000000000000000000000000000000000000000000', 1," \
	" 99999999999)"
#define HOST_ROW(h) HOST_ROW_OF(h, "'alice'", "''")

/*
 * The fleet's limits hold against host A (connection a, one pending row
 * of its own), with the real limit per host set to 2:
 *   - its own objects of the tables' names, temporary ones, do not stand
 *     in for the owner's in the admit trigger (which runs as the owner):
 *     its pk_limits would lift the limits, its ceremonies hide every row;
 *   - one transaction admits one ceremony, so rows it keeps uncommitted
 *     across a recount cannot pile up unseen by the counts;
 *   - holding a user's advisory lock delays no other host's begin for her.
 */
static void
assert_host_limits_hold(const struct fixture *f, PGconn *a)
{
	char st[8], uri_b[PATH_MAX + 256];
	PGconn *b;

	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE state = 'pending'"
	    " AND host_role = 'pkt_hosta'"), 1);
	/* a second in one transaction, though the limits (10000 a host) have room */
	assert_string_equal(try_sql(a, "BEGIN", st, sizeof(st)), "");
	assert_string_equal(try_sql(a, HOST_ROW("dd" "dddddddddddddddddddddddddddddddddddddd"
	    "dddddddddddddddddddddddd"), st, sizeof(st)), "");
	assert_string_equal(try_sql(a, HOST_ROW("ee" "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "eeeeeeeeeeeeeeeeeeeeeeee"), st, sizeof(st)), "PK001");
	assert_string_equal(try_sql(a, "ROLLBACK", st, sizeof(st)), "");
	/* another session holding alice's lock (the trigger's, or its own) stops no begin */
	assert_string_equal(try_sql(a, "SELECT pg_advisory_lock(hashtextextended('pk:u:alice',"
	    " 0::bigint))", st, sizeof(st)), "");
	role_uri(f, "pkt_hostb", uri_b, sizeof(uri_b));
	b = pg_raw(uri_b);
	assert_string_equal(try_sql(b, "SET lock_timeout = 1000; " HOST_ROW("ab" "abababababab"
	    "ababababababababababababababababababababababababab"), st, sizeof(st)), "");
	PQfinish(b);
	raw_exec(f->spec, "UPDATE pk_limits SET per_host = 2");
	/*
	 * what follows holds where the owner is no superuser, and so no event
	 * trigger refuses the roles' DDL (store_fleet.c no_ddl): it is off here
	 */
	assert_string_equal(try_sql(a, "CREATE TEMP VIEW x AS SELECT 1", st, sizeof(st)), "42501");
	raw_exec(f->spec, "ALTER EVENT TRIGGER pkt_no_ddl DISABLE");
	assert_string_equal(try_sql(a, "CREATE TEMP VIEW pk_limits AS SELECT true AS one,"
	    " 1000000 AS per_user, 1000000 AS per_address, 1000000 AS per_user_address,"
	    " 1000000 AS per_host, 1000000 AS total, 900 AS host_lifetime;"
	    " CREATE TEMP VIEW ceremonies AS SELECT * FROM public.ceremonies WHERE false",
	    st, sizeof(st)), "");
	assert_string_equal(try_sql(a, HOST_ROW("dd" "dddddddddddddddddddddddddddddddddddddd"
	    "dddddddddddddddddddddddd"), st, sizeof(st)), "");
	assert_string_equal(try_sql(a, HOST_ROW("ee" "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"
	    "eeeeeeeeeeeeeeeeeeeeeeee"), st, sizeof(st)), "PK001");	/* the real limit, 2 */
	assert_string_equal(try_sql(a, "DROP VIEW pg_temp.pk_limits, pg_temp.ceremonies;"
	    " SELECT pg_advisory_unlock_all()", st, sizeof(st)), "");
	/*
	 * where anyone may create in the schema (PostgreSQL 14's public), its
	 * function that matches a call better than pg_catalog's is not called
	 */
	raw_exec(f->spec, "UPDATE pk_limits SET per_host = 10000; GRANT CREATE ON SCHEMA public"
	    " TO PUBLIC");
	assert_string_equal(try_sql(a, "CREATE FUNCTION public.nextval(text) RETURNS bigint"
	    " LANGUAGE sql AS 'SELECT -5::bigint'", st, sizeof(st)), "");
	assert_string_equal(try_sql(a, HOST_ROW("fa" "fafafafafafafafafafafafafafa"
	    "fafafafafafafafafafafafafafafafafa"), st, sizeof(st)), "");
	raw_exec(f->spec, "DROP FUNCTION public.nextval(text); REVOKE CREATE ON SCHEMA public"
	    " FROM PUBLIC; ALTER EVENT TRIGGER pkt_no_ddl ENABLE");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE token_hash ="
	    " '\\x" "fafafafafafafafafafafafafafafafafafafafafafafafafafafafafafafafa'"
	    " AND admitted > 0"), 1);
}

/*
 * Least privilege on the real server: connected as host A's role, every
 * act that could open another host (or approve anything) is refused by
 * the database itself: roles, column grants and row-level security.
 */
/* The fleet's roles' SQL (store_fleet.c), with a host connection limit. */
static char *
fleet_sql(const char *prefix, const char *const *hosts, size_t n_hosts,
    const char *const *webs, size_t n_webs, int host_conns, char *why, size_t whylen)
{
	struct store_fleet_spec spec = { prefix, hosts, n_hosts, webs, n_webs, host_conns,
	    STORE_FLEET_ENROLL_UNCHANGED };

	return store_fleet_sql(&spec, why, whylen);
}

/* Whether the SQL is made for these hosts (a name near a refused one, say). */
static int
fleet_sql_ok(const char *prefix, const char *const *hosts, size_t n_hosts)
{
	char why[200], *sql = fleet_sql(prefix, hosts, n_hosts, NULL, 0, 16, why, sizeof(why));

	free(sql);
	return sql != NULL;
}

/* The fleet's SQL (made), applied as the owner (a superuser here: no warning); freed. */
static void
fleet_apply_sql(store_t *owner, char *sql)
{
	char warn[400];

	assert_non_null(sql);
	assert_store(store_exec_script(owner, sql, warn, sizeof(warn)), STORE_OK);
	assert_string_equal(warn, "");
	free(sql);
}

static void
fleet_apply_conns(store_t *owner, const char *prefix, const char *const *hosts,
    size_t n_hosts, const char *const *webs, size_t n_webs, int host_conns)
{
	char why[200];

	fleet_apply_sql(owner, fleet_sql(prefix, hosts, n_hosts, webs, n_webs, host_conns, why,
	    sizeof(why)));
}

static void
fleet_apply(store_t *owner, const char *prefix, const char *const *hosts, size_t n_hosts,
    const char *const *webs, size_t n_webs)
{
	fleet_apply_conns(owner, prefix, hosts, n_hosts, webs, n_webs,
	    STORE_FLEET_HOST_CONNS_DEFAULT);
}

/* Only whether a host's registration needs an enrollment (no roles: prefix "pkt"). */
static void
fleet_apply_enroll(store_t *owner, enum store_fleet_enrollment e)
{
	struct store_fleet_spec spec = { .prefix = "pkt",
	    .host_conns = STORE_FLEET_HOST_CONNS_DEFAULT, .host_enrollment = e };
	char why[200], *sql = store_fleet_sql(&spec, why, sizeof(why));

	assert_non_null(sql);
	assert_non_null(strstr(sql, "hosts_self_enroll"));
	fleet_apply_sql(owner, sql);
}

/*
 * A fleet in a schema of its own (the URI's search_path): the roles' SQL
 * lets them reach it, as it does public.  Before, only public's USAGE,
 * everyone's by default, let them in, and every host failed closed.
 */
static void
test_pg_fleet_schema(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pks_hosta=host-a.example" };
	static const char *const webs[] = { "pks_web1" };
	static const char opt[] = "&options=-csearch_path%3Dfleet";
	char spec[sizeof(f->spec) + sizeof(opt)], uri[PATH_MAX + 320];
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;
	store_t *owner, *as_a, *as_w;

	raw_exec(f->spec, "CREATE SCHEMA fleet");
	snprintf(spec, sizeof(spec), "%s%s", f->spec, opt);
	owner = open_store(spec);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_tables WHERE"
	    " schemaname = 'fleet' AND tablename = 'ceremonies'"), 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_tables WHERE"
	    " schemaname = 'public'"), 0);
	fleet_apply(owner, "pks", hosts, 1, webs, 1);

	role_uri(f, "pks_hosta", uri, sizeof(uri));
	strcat(uri, opt);
	as_a = open_store(uri);
	ceremony_init(&c, 0xaa, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(as_a, &c, NULL, 0), STORE_OK);
	assert_store(store_ceremony_get(as_a, c.token_hash, &got), STORE_OK);
	store_ceremony_free(&got);
	role_uri(f, "pks_web1", uri, sizeof(uri));
	strcat(uri, opt);
	as_w = open_store(uri);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM fleet.ceremonies WHERE"
	    " host_role = 'pks_hosta' AND state = 'denied'"), 1);
	store_close(as_w);
	store_close(as_a);
	store_close(owner);
	drop_roles(f, "pks_hosta, pks_web1, pks_web, pks_hosts");
}

static void
test_pg_fleet_roles(void **state)
{
	struct fixture *f = *state;
	/* each a refused act: (SQL as host A, what it would have done) */
	static const char *const refused[][2] = {
		{ "UPDATE ceremonies SET state = 'approved' WHERE token_hash = " HASH_A,
		  "approve its own ceremony" },
		{ "UPDATE ceremonies SET state = 'denied' WHERE token_hash = " HASH_A,
		  "deny a ceremony" },
		{ "UPDATE ceremonies SET state = 'failed' WHERE token_hash = " HASH_A,
		  "fail a ceremony" },
		{ "UPDATE ceremonies SET user_name = 'bob' WHERE token_hash = " HASH_A,
		  "change whose login a ceremony is" },
		{ "UPDATE ceremonies SET expires = expires + 86400", "lengthen a ceremony" },
		{ "UPDATE ceremonies SET host_role = 'x', hostname = 'b.example'",
		  "move a ceremony to another host" },
		{ "DELETE FROM ceremonies", "delete ceremonies" },
		{ "INSERT INTO credentials (user_name, id, alg, pubkey_cose, fmt, aaguid, uv, be,"
		  " bs, attestation, created, id_hash) VALUES ('bob', '\\x01', -7, '\\x01', 'none',"
		  " '\\x00000000000000000000000000000000', true, false, false, 'none', 1, 'x')",
		  "insert a credential" },
		{ "UPDATE credentials SET sign_count = 0", "reset a counter" },
		{ "UPDATE credentials SET nickname = 'x'", "rename a passkey" },
		{ "DELETE FROM credentials", "delete a credential" },
		{ "UPDATE users SET handle = '\\x" "0000000000000000000000000000000000000000000000"
		  "000000000000000000'", "change a user handle" },
		{ "INSERT INTO users VALUES ('mallory', '\\x" "11111111111111111111111111111111"
		  "11111111111111111111111111111111', 1)", "add a user" },
		{ "INSERT INTO enrollments VALUES ('bob', 1, 99999999999, 'x')",
		  "open an enrollment" },
		{ "DELETE FROM enrollments", "remove an enrollment" },
		{ "INSERT INTO events (time, event, verdict) VALUES (1, 'x', 'ok')",
		  "write the audit log" },
		{ "DELETE FROM events", "erase the audit log" },
		{ "INSERT INTO pk_hosts VALUES ('evil', 'evil.example')", "register a host" },
		{ "UPDATE pk_hosts SET hostname = 'host-b.example'", "take another host's name" },
		{ "UPDATE pk_limits SET per_user = 1000000", "raise the fleet's limits" },
		{ "ALTER TABLE ceremonies DISABLE ROW LEVEL SECURITY", "turn row-level security off" },
		{ "DROP POLICY pk_hosts_read ON ceremonies", "drop a policy" },
		{ "CREATE TABLE ceremonies_x (x int)", "create a table" },
		{ "SET ROLE pkt_hostb", "become host B" },
		{ "SET ROLE pkt_web", "become a web instance" },
		{ "SET ROLE pkt_web1", "become a web instance's login" },
		{ "SELECT pk_ceremony_admit()", "call the admit function" },
		{ "UPDATE pk_pending_total SET n = 0", "zero the fleet's pending count" },
		{ "DELETE FROM pk_pending_hosts", "forget a host's pending count" },
		{ "SELECT nextval('pk_admitted')", "number ceremonies itself" },
		{ "SELECT pk_pending_recount()", "count the fleet's ceremonies (and hold the count)" },
		{ "UPDATE ceremonies SET waiter = 'x'", "silence another instance's notices" },
		{ "UPDATE windows SET uses = uses + 1", "hold a window's row (migration 7)" },
		{ "SELECT 1 FROM windows FOR KEY SHARE", "lock windows itself" },
		{ "INSERT INTO window_uses VALUES ('x', 'pkt_hostb', 1, 1)",
		  "count a use in another's name" },
		{ "DELETE FROM window_uses", "forget windows' uses" },
		{ "CREATE TEMP TABLE x (a int)", "run DDL (an event trigger's refusal)" },
		{ "CREATE RULE r AS ON INSERT TO ceremonies DO INSTEAD NOTHING",
		  "ask for the ceremonies' ACCESS EXCLUSIVE lock" },
		{ "ALTER ROLE pkt_hosta CONNECTION LIMIT -1", "lift its own connection limit" },
		{ "SET track_activities = off", "hide what its sessions do from the watchdog" },
		{ "SELECT pk_end_held(2)", "end other hosts' sessions (the watchdog's call)" },
		{ "INSERT INTO pk_channels (role, role_oid, channel) VALUES ('pkt_hostb', 1, 'pk:"
		  "00000000000000000000000000000000')", "choose another host's channel" },
		{ "UPDATE pk_channels SET channel = 'pk:00000000000000000000000000000000'",
		  "change its own channel" },
		{ "DELETE FROM pk_channels", "forget channels" },
	};
	static const char *const hosts[] = { "pkt_hosta=host-a.example", "pkt_hostb=host-b.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri_a[PATH_MAX + 256], uri_w[PATH_MAX + 256], why[200], st[8], hex[80];
	store_t *owner = open_store(f->spec), *as_a;
	PGconn *a, *w;
	size_t n;
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;

	/* the SQL refuses names it could not write safely */
	assert_null(fleet_sql("pkt", (const char *[]){ "a;drop=x" }, 1, NULL, 0, 16, why,
	    sizeof(why)));
	assert_null(fleet_sql("pkt", (const char *[]){ "hosta=x'y" }, 1, NULL, 0, 16, why,
	    sizeof(why)));
	assert_null(fleet_sql("Pkt", NULL, 0, NULL, 0, 16, why, sizeof(why)));
	assert_null(fleet_sql("pkt", NULL, 0, (const char *[]){ "web\"1" }, 1, 16, why,
	    sizeof(why)));
	/* and a connection limit too low for a host's passkeyd, or beyond reason */
	assert_null(fleet_sql("pkt", hosts, 2, NULL, 0, STORE_FLEET_HOST_CONNS_MIN - 1, why,
	    sizeof(why)));
	assert_non_null(strstr(why, "connections"));
	assert_null(fleet_sql("pkt", hosts, 2, NULL, 0, STORE_FLEET_HOST_CONNS_MAX + 1, why,
	    sizeof(why)));
	/* and login roles named as the fleet's groups, or as PostgreSQL's own */
	assert_null(fleet_sql("pkt", (const char *[]){ "pkt_web=x.example" }, 1, NULL, 0, 16,
	    why, sizeof(why)));
	assert_non_null(strstr(why, "may not be named"));
	assert_null(fleet_sql("pkt", NULL, 0, (const char *[]){ "pkt_hosts" }, 1, 16, why,
	    sizeof(why)));
	assert_null(fleet_sql("pkt", NULL, 0, (const char *[]){ "pg_signal_backend" }, 1, 16,
	    why, sizeof(why)));
	assert_true(fleet_sql_ok("pkt", (const char *[]){ "pkt_webby=x.example" }, 1));
	fleet_apply(owner, "pkt", hosts, 2, webs, 1);
	fleet_apply(owner, "pkt", hosts, 2, webs, 1);	/* again: no harm */
	assert_store(add_cred(owner, "alice", "cred-1", 1), STORE_OK);

	/* host A: its own ceremony, stamped with its role and registered name */
	role_uri(f, "pkt_hosta", uri_a, sizeof(uri_a));
	as_a = open_store(uri_a);
	assert_store(store_cred_count_user(as_a, "alice", &n), STORE_OK);	/* reads passkeys */
	assert_int_equal(n, 1);
	ceremony_init(&c, 0xaa, "alice", "192.0.2.1", now);
	c.hostname = (char *)"host-b.example";		/* a lie */
	assert_store(store_ceremony_add(as_a, &c, NULL, 0), STORE_OK);
	/* host B's, made by B */
	role_uri(f, "pkt_hostb", uri_w, sizeof(uri_w));
	{
		store_t *as_b = open_store(uri_w);

		ceremony_init(&c, 0xbb, "alice", "192.0.2.1", now);
		assert_store(store_ceremony_add(as_b, &c, NULL, 0), STORE_OK);
		store_close(as_b);
	}
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE token_hash = "
	    HASH_A " AND host_role = 'pkt_hosta' AND hostname = 'host-a.example'"), 1);
	/* through the store API too: no verdict, no other host's row */
	memset(c.token_hash, 0xaa, sizeof(c.token_hash));
	assert_store(store_ceremony_move(as_a, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_DENIED);
	memset(c.token_hash, 0xbb, sizeof(c.token_hash));
	assert_store(store_ceremony_get(as_a, c.token_hash, &got), STORE_ERR_NOT_FOUND);
	assert_store(store_ceremony_move(as_a, c.token_hash, "pending", "cancelled", NULL, now),
	    STORE_ERR_NOT_FOUND);
	assert_store(store_cred_record_use(as_a, (const unsigned char *)"cred-1", 6, 99, 1, 0,
	    now, NULL), STORE_ERR_DENIED);
	assert_store(add_cred(as_a, "alice", "cred-2", 1), STORE_ERR_DENIED);
	store_close(as_a);

	a = pg_raw(uri_a);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		try_sql(a, refused[i][0], st, sizeof(st));
		/* 42501: insufficient privilege, or a row a policy refuses */
		if (strcmp(st, "42501") != 0)
			print_error("host A could %s (SQLSTATE \"%s\"): %s\n", refused[i][1], st,
			    refused[i][0]);
		assert_string_equal(st, "42501");
	}
	/* what it cannot see it cannot touch: B's row stays as it was */
	assert_string_equal(try_sql(a, "UPDATE ceremonies SET state = 'cancelled' WHERE"
	    " token_hash = " HASH_B, st, sizeof(st)), "");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE state ="
	    " 'pending'"), 2);
	/* a made-up state or host on insert: the row is pending and A's all the same */
	/* nor can it number its row out of the fleet's counts (migration 6) */
	assert_string_equal(try_sql(a, "INSERT INTO ceremonies (token_hash, host_role, hostname,"
	    " kind, state, code, user_name, rhost, service, addr_key, challenge, created, expires,"
	    " admitted) VALUES ('\\x" "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc',"
	    " 'pkt_hostb', 'host-b.example', 'login', 'approved', 'X', 'alice', '', 'sshd', '',"
	    " '\\x" "0000000000000000000000000000000000000000000000000000000000000000', 1,"
	    " 99999999999, -1)", st, sizeof(st)), "");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE state = 'pending'"
	    " AND host_role = 'pkt_hosta' AND hostname = 'host-a.example'"
	    " AND expires <= extract(epoch FROM now()) + 900 AND admitted > 0"), 2);
	/* it may end its own ceremony as cancelled */
	assert_string_equal(try_sql(a, "UPDATE ceremonies SET state = 'cancelled' WHERE"
	    " token_hash = " HASH_A, st, sizeof(st)), "");
	assert_host_limits_hold(f, a);
	PQfinish(a);

	/* a web instance decides a pending ceremony, but cannot use another host's */
	role_uri(f, "pkt_web1", uri_w, sizeof(uri_w));
	w = pg_raw(uri_w);
	assert_string_equal(try_sql(w, "UPDATE ceremonies SET state = 'approved' WHERE"
	    " token_hash = " HASH_B, st, sizeof(st)), "");
	assert_string_equal(try_sql(w, "UPDATE ceremonies SET state = 'used' WHERE"
	    " token_hash = " HASH_B, st, sizeof(st)), "");	/* not pending: no row */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE token_hash = "
	    HASH_B " AND state = 'approved'"), 1);
	snprintf(hex, sizeof(hex), "%s", try_sql(w, "UPDATE pk_limits SET total = 1", st,
	    sizeof(st)));
	assert_string_equal(hex, "42501");
	/* it counts the fleet's ceremonies, the owner's rows whatever its own objects say */
	raw_exec(f->spec, "UPDATE pk_pending_total SET at = 0, n = -1");
	raw_exec(f->spec, "ALTER EVENT TRIGGER pkt_no_ddl DISABLE");	/* as above */
	assert_string_equal(try_sql(w, "CREATE TEMP VIEW ceremonies AS SELECT * FROM"
	    " public.ceremonies WHERE false; SELECT pk_pending_recount()", st, sizeof(st)), "");
	raw_exec(f->spec, "ALTER EVENT TRIGGER pkt_no_ddl ENABLE");
	assert_true(raw_int(f->spec, "SELECT n FROM pk_pending_total") > 0);
	assert_int_equal(raw_int(f->spec, "SELECT n FROM pk_pending_total"),
	    raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE state = 'pending'"
	    " AND expires > extract(epoch FROM now())"));
	PQfinish(w);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_hostb, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * Windows in a fleet: the web role opens them; a host's role finds them,
 * counts their use and ends them, but can neither open one (it would let
 * itself in everywhere) nor lengthen, widen or move one; and no role can
 * change what a ceremony's approval may open once the host wrote it.
 */
static void
test_pg_fleet_windows(void **state)
{
	struct fixture *f = *state;
	static const char *const refused[][2] = {
		{ "INSERT INTO windows (id, user_name, service, rhost, client_key, hostname, source,"
		  " cred_id, opened, expires) VALUES ('00112233445566ff', 'alice', 'sshd',"
		  " '192.0.2.9', '', 'host-a.example', 'x', '\\x01', 1, 99999999999)",
		  "open a window" },
		{ "UPDATE windows SET expires = expires + 86400", "lengthen a window" },
		{ "UPDATE windows SET client_key = ''", "drop a window's client key" },
		{ "UPDATE windows SET rhost = '203.0.113.5'", "move a window to another address" },
		{ "UPDATE windows SET user_name = 'bob'", "give a window to another user" },
		{ "UPDATE windows SET service = 'sudo'", "widen a window to another service" },
		{ "UPDATE windows SET hostname = 'host-b.example'", "move a window to another host" },
		{ "UPDATE windows SET opened = opened + 86400", "make a window newer" },
		{ "UPDATE ceremonies SET reuse = 604800", "lengthen what an approval opens" },
		{ "UPDATE ceremonies SET client_key = ''", "change whose window an approval opens" },
		{ "DELETE FROM windows", "delete windows itself (and so LOCK the table)" },
	};
	static const char *const hosts[] = { "pkt_hosta=host-a.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri_a[PATH_MAX + 256], uri_w[PATH_MAX + 256], st[8];
	char id[STORE_WINDOW_ID_LEN + 1], old[STORE_WINDOW_ID_LEN + 1], sql[200];
	store_t *owner = open_store(f->spec), *as_a, *as_w;
	int64_t now = (int64_t)time(NULL);
	struct store_window w;
	struct store_window_list l;
	PGconn *a, *wc;
	size_t n;

	fleet_apply(owner, "pkt", hosts, 1, webs, 1);
	assert_store(add_cred(owner, "alice", "cred-1", 1), STORE_OK);

	/* the web role opens windows (and purges ended ones as it does) */
	role_uri(f, "pkt_web1", uri_w, sizeof(uri_w));
	as_w = open_store(uri_w);
	assert_store(open_window(as_w, "alice", "192.0.2.1", KEY_A, "cred-1", now - 100,
	    now - 50, old), STORE_OK);
	assert_store(open_window(as_w, "alice", "192.0.2.1", KEY_A, "cred-1", now - 10,
	    now + 3600, id), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows"), 1);
	store_close(as_w);

	/* a host finds one, counts a use, lists; it cannot open one */
	role_uri(f, "pkt_hosta", uri_a, sizeof(uri_a));
	as_a = open_store(uri_a);
	assert_store(store_window_find(as_a, "alice", "sshd", "192.0.2.1", KEY_A,
	    "host-b.example", 1, now, 0, &w), STORE_OK);
	assert_string_equal(w.id, id);
	store_window_free(&w);
	assert_store(store_window_use(as_a, id, now), STORE_OK);
	assert_store(store_window_page(as_a, NULL, now, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].uses, 1);
	assert_int_equal(l.items[0].last_used, now);
	store_window_list_free(&l);
	assert_store(open_window(as_a, "alice", "192.0.2.9", "", "cred-1", now, now + 3600, old),
	    STORE_ERR_DENIED);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows"), 1);

	a = pg_raw(uri_a);
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		try_sql(a, refused[i][0], st, sizeof(st));
		if (strcmp(st, "42501") != 0)
			print_error("host A could %s (SQLSTATE \"%s\"): %s\n", refused[i][1], st,
			    refused[i][0]);
		assert_string_equal(st, "42501");
	}
	/* nor hold the table, stalling every lookup and every approval that opens one */
	assert_string_equal(try_sql(a, "BEGIN; LOCK TABLE windows IN ACCESS EXCLUSIVE MODE",
	    st, sizeof(st)), "42501");
	assert_string_equal(try_sql(a, "ROLLBACK", st, sizeof(st)), "");
	/* a use is counted in its own row (migration 7), and it may SELECT */
	snprintf(sql, sizeof(sql), "SELECT pk_window_use('%s', %lld)", id, (long long)now + 5);
	assert_string_equal(try_sql(a, sql, st, sizeof(st)), "");
	assert_string_equal(try_sql(a, "SELECT count(*) FROM windows, window_uses", st,
	    sizeof(st)), "");
	PQfinish(a);
	snprintf(sql, sizeof(sql), "SELECT uses FROM window_uses WHERE window_id = '%s' AND"
	    " host_role = 'pkt_hosta' AND last_used = %lld", id, (long long)now + 5);
	assert_int_equal(raw_int(f->spec, sql), 2);
	snprintf(sql, sizeof(sql), "SELECT uses FROM windows WHERE id = '%s' AND"
	    " expires = %lld", id, (long long)(now + 3600));
	assert_int_equal(raw_int(f->spec, sql), 0);	/* its row untouched */
	assert_store(store_window_page(as_a, NULL, now, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 1);
	assert_int_equal(l.items[0].uses, 2);
	assert_int_equal(l.items[0].last_used, now + 5);
	store_window_list_free(&l);

	/* the web role cannot change a ceremony's window either */
	wc = pg_raw(uri_w);
	assert_string_equal(try_sql(wc, "UPDATE ceremonies SET reuse = 604800", st, sizeof(st)),
	    "42501");
	assert_string_equal(try_sql(wc, "UPDATE ceremonies SET client_key = ''", st, sizeof(st)),
	    "42501");
	PQfinish(wc);

	/* and a host ends windows (passkeyctl sessions revoke on a host) */
	assert_store(store_window_revoke(as_a, id, NULL, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows WHERE expires > 1"), 0);
	assert_store(store_window_use(as_a, id, now), STORE_ERR_NOT_FOUND);
	store_close(as_a);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * A host cannot queue a strong lock on a table ahead of every login: its
 * CREATE RULE is refused before PostgreSQL asks for the lock (the event
 * trigger of store_fleet.c no_ddl).  Without it the request waits behind
 * the host's other session, with no timeout of its own, and every read
 * of ceremonies after it waits too.
 */
static void
test_pg_fleet_no_lock_queue(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], st[8];
	store_t *owner = open_store(f->spec);
	PGconn *held, *a, *w;
	int64_t t0;

	fleet_apply(owner, "pkt", hosts, 1, webs, 1);
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	held = pg_raw(uri);
	a = pg_raw(uri);
	assert_string_equal(try_sql(held, "BEGIN; SELECT 1 FROM ceremonies LIMIT 1", st,
	    sizeof(st)), "");
	/* 3 s, not 0 as a host's could be: without the trigger this fails, never hangs */
	t0 = clock_monotonic_ms();
	assert_string_equal(try_sql(a, "SET statement_timeout = 3000; SET lock_timeout = 0;"
	    " CREATE RULE r AS ON INSERT TO ceremonies DO INSTEAD NOTHING", st, sizeof(st)),
	    "42501");
	assert_true(clock_monotonic_ms() - t0 < 1000);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	w = pg_raw(uri);
	assert_string_equal(try_sql(w, "SET lock_timeout = 1000; SELECT count(*) FROM ceremonies",
	    st, sizeof(st)), "");
	/* a role of no fleet's may not name the tables: refused before any lock */
	PQfinish(a);
	raw_exec(f->spec, "CREATE ROLE pkt_other LOGIN");
	role_uri(f, "pkt_other", uri, sizeof(uri));
	a = pg_raw(uri);
	t0 = clock_monotonic_ms();
	assert_string_equal(try_sql(a, "SET statement_timeout = 3000; SET lock_timeout = 0;"
	    " CREATE RULE r AS ON INSERT TO public.ceremonies DO INSTEAD NOTHING", st,
	    sizeof(st)), "42501");
	assert_true(clock_monotonic_ms() - t0 < 1000);
	PQfinish(a);
	raw_exec(f->spec, "DROP ROLE pkt_other");
	/* the owner's DDL is its own (a superuser's here) */
	raw_exec(f->spec, "CREATE TABLE owners_own (x int); DROP TABLE owners_own");
	PQfinish(w);
	PQfinish(held);
	/* a host through a group of its own is a host too */
	raw_exec(f->spec, "CREATE ROLE pkt_dc1 NOLOGIN; GRANT pkt_hosts TO pkt_dc1;"
	    " CREATE ROLE pkt_hostz LOGIN; GRANT pkt_dc1 TO pkt_hostz");
	role_uri(f, "pkt_hostz", uri, sizeof(uri));
	a = pg_raw(uri);
	assert_string_equal(try_sql(a, "CREATE TEMP TABLE z (x int)", st, sizeof(st)), "42501");
	/* and the trigger an admin turned off is made again, on, by the next apply */
	raw_exec(f->spec, "ALTER EVENT TRIGGER pkt_no_ddl DISABLE");
	assert_string_equal(try_sql(a, "CREATE TEMP TABLE z (x int); DROP TABLE z", st,
	    sizeof(st)), "");
	fleet_apply(owner, "pkt", hosts, 1, webs, 1);
	assert_string_equal(try_sql(a, "CREATE TEMP TABLE z (x int)", st, sizeof(st)), "42501");
	PQfinish(a);
	store_close(owner);
	drop_roles(f, "pkt_hostz, pkt_dc1, pkt_hosta, pkt_web1, pkt_web, pkt_hosts");
}

/* The connection limit of a role, as the server keeps it (-1: none). */
static int
role_conn_limit(const struct fixture *f, const char *role)
{
	char sql[128];

	snprintf(sql, sizeof(sql), "SELECT rolconnlimit FROM pg_roles WHERE rolname = '%s'", role);
	return raw_int(f->spec, sql);
}

/*
 * A host's role may hold so many connections and no more.  Before, a
 * compromised host could open every slot of the server's max_connections,
 * and no instance anywhere in the fleet could then reconnect: every login
 * behind one would fail.  Other hosts and the web instances still connect.
 */
static void
test_pg_fleet_connection_limit(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example",
	    "pkt_hostb=host-b.example" };
	static const char *const webs[] = { "pkt_web1" };
	enum { LIMIT = STORE_FLEET_HOST_CONNS_MIN };
	char uri[PATH_MAX + 256], why[400];
	store_t *owner = open_store(f->spec), *st = NULL;
	PGconn *a[LIMIT], *extra, *other;
	int64_t t0;

	fleet_apply_conns(owner, "pkt", hosts, 2, webs, 1, LIMIT + 1);
	assert_int_equal(role_conn_limit(f, "pkt_hosta"), LIMIT + 1);
	assert_int_equal(role_conn_limit(f, "pkt_web1"), -1);	/* the web's are not limited */
	/* every host role gets it at each apply: those not named, and those made by hand */
	raw_exec(f->spec, "CREATE ROLE pkt_hostc LOGIN; GRANT pkt_hosts TO pkt_hostc");
	fleet_apply_conns(owner, "pkt", hosts, 1, NULL, 0, LIMIT);
	assert_int_equal(role_conn_limit(f, "pkt_hostb"), LIMIT);
	assert_int_equal(role_conn_limit(f, "pkt_hostc"), LIMIT);

	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	for (int i = 0; i < LIMIT; i++)
		a[i] = pg_raw(uri);
	extra = PQconnectdb(uri);
	assert_int_not_equal(PQstatus(extra), CONNECTION_OK);
	assert_non_null(strstr(PQerrorMessage(extra), "too many connections for role"));
	PQfinish(extra);
	/* passkeyd as host A is told why, and fails closed */
	assert_store(store_open_why(uri, &st, why, sizeof(why)), STORE_ERR_UNAVAILABLE);
	assert_non_null(strstr(why, "too many connections"));
	/* nobody else is held up */
	role_uri(f, "pkt_hostb", uri, sizeof(uri));
	other = pg_raw(uri);
	PQfinish(other);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	other = pg_raw(uri);
	PQfinish(other);
	/* and host A connects again once one of its own is gone */
	PQfinish(a[0]);
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	t0 = clock_monotonic_ms();
	for (;;) {
		a[0] = PQconnectdb(uri);
		if (PQstatus(a[0]) == CONNECTION_OK || clock_monotonic_ms() - t0 > 5000)
			break;
		PQfinish(a[0]);
		usleep(20000);	/* the server counts a backend until it has exited */
	}
	assert_int_equal(PQstatus(a[0]), CONNECTION_OK);
	for (int i = 0; i < LIMIT; i++)
		PQfinish(a[i]);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_hostb, pkt_hostc, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * An owner that is no superuser may set a fleet up, and is told what it
 * could not make: the event trigger (store_fleet.c no_ddl).  Before, the
 * server's warning was dropped on the way, and the admin never saw it.
 */
static void
test_pg_fleet_owner_not_superuser(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkn_hosta=host-a.example" };
	static const char *const webs[] = { "pkn_web1" };
	static const char opt[] = "&options=-csearch_path%3Dpkn";
	char uri[PATH_MAX + 320], why[200], warn[400], *sql;
	store_t *owner;

	raw_exec(f->spec, "CREATE ROLE pkn_owner LOGIN CREATEROLE;"
	    " CREATE SCHEMA pkn AUTHORIZATION pkn_owner");
	role_uri(f, "pkn_owner", uri, sizeof(uri));
	strcat(uri, opt);
	owner = open_store(uri);
	sql = fleet_sql("pkn", hosts, 1, webs, 1, STORE_FLEET_HOST_CONNS_DEFAULT, why,
	    sizeof(why));
	assert_non_null(sql);
	assert_store(store_exec_script(owner, sql, warn, sizeof(warn)), STORE_OK);
	free(sql);
	assert_non_null(strstr(warn, "not a superuser: no event trigger"));
	assert_non_null(strstr(warn, "pk_end_held() ends no host's session"));
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_event_trigger"
	    " WHERE evtname = 'pkn_no_ddl'"), 0);
	/* the rest was made: the host's role and its limit */
	assert_int_equal(role_conn_limit(f, "pkn_hosta"), STORE_FLEET_HOST_CONNS_DEFAULT);
	store_close(owner);
	raw_exec(f->spec, "DROP SCHEMA pkn CASCADE");
	drop_roles(f, "pkn_hosta, pkn_web1, pkn_web, pkn_hosts, pkn_owner");
}

/* The first column of sql's first row as the connection's role, an integer (-1: none). */
static long
conn_int(PGconn *c, const char *sql)
{
	PGresult *res = PQexec(c, sql);
	long v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ?
	    strtol(PQgetvalue(res, 0, 0), NULL, 10) : -1;

	if (v == -1)
		print_error("%s: %s", sql, PQresultErrorMessage(res));
	PQclear(res);
	return v;
}

/* Whether the server has a session of that pid, within 3 s of asking it to go. */
static int
session_stays(const struct fixture *f, int pid)
{
	char sql[96];
	int64_t t0 = clock_monotonic_ms();

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d", pid);
	while (raw_int(f->spec, sql) != 0) {
		if (clock_monotonic_ms() - t0 > 3000)
			return 1;
		usleep(20000);
	}
	return 0;
}

/*
 * A session that LISTENs and whose server process is stuck writing the
 * notices it does not read (a notices' burst to an honest one, or a
 * deaf one), with t0 when the test began.
 */
static void
stuck_listener(const struct fixture *f, PGconn *deaf, int64_t t0)
{
	char sql[160], st[8];

	assert_string_equal(try_sql(deaf, "LISTEN junk", st, sizeof(st)), "");
	raw_exec(f->spec, "SELECT pg_notify('junk', repeat('x', 7900) || g)"
	    " FROM generate_series(1, 3000) g");
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_stat_activity WHERE pid = %d"
	    " AND wait_event = 'ClientWrite' AND state = 'idle' AND backend_xmin IS NOT NULL",
	    PQbackendPID(deaf));
	while (raw_int(f->spec, sql) == 0 && clock_monotonic_ms() - t0 < 10000)
		usleep(20000);
	assert_int_equal(raw_int(f->spec, sql), 1);
}

/*
 * What a host holds open is ended from outside (store_fleet.c watchdog):
 * its timeouts are its own to turn off, so only pk_end_held(), which the
 * web instances' sweeps call, bounds how long it keeps a transaction open
 * (a snapshot that keeps its window uses from being vacuumed, an end that
 * holds off other ends), in the fleet's database or any other, and how
 * long a listener that reads nothing keeps the snapshot its server
 * process holds while stuck writing the notices.  An idle session, a
 * listener that reads, a web role's transaction are not ended.
 */
static void
test_pg_fleet_end_held(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example",
	    "pkt_hostb=host-b.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], st[8];
	store_t *owner = open_store(f->spec);
	PGconn *held, *elsewhere, *deaf, *fresh, *w, *w_held;
	int64_t t0;

	fleet_apply(owner, "pkt", hosts, 2, webs, 1);
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	held = pg_raw(uri);
	deaf = pg_raw(uri);
	fresh = pg_raw(uri);
	role_uri_db("postgres", "pkt_hostb", uri, sizeof(uri));
	elsewhere = pg_raw(uri);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	w = pg_raw(uri);
	w_held = pg_raw(uri);
	/* a listener that reads what it is sent stays, however long idle */
	assert_string_equal(try_sql(fresh, "LISTEN quiet", st, sizeof(st)), "");
	t0 = clock_monotonic_ms();
	assert_string_equal(try_sql(held, "SET statement_timeout = 0;"
	    " SET idle_in_transaction_session_timeout = 0; BEGIN;"
	    " SELECT count(*) FROM ceremonies", st, sizeof(st)), "");
	assert_string_equal(try_sql(elsewhere, "BEGIN; SELECT 1", st, sizeof(st)), "");
	assert_string_equal(try_sql(w_held, "BEGIN; SELECT 1", st, sizeof(st)), "");
	/* a host may not call it; before their time, nothing is ended */
	assert_string_equal(try_sql(fresh, "SELECT pk_end_held(2)", st, sizeof(st)), "42501");
	assert_int_equal(conn_int(w, "SELECT pk_end_held(2)"), 0);
	stuck_listener(f, deaf, t0);
	while (clock_monotonic_ms() - t0 < 2500)
		usleep(50000);
	/* the two held transactions and the deaf listener are ended; nothing else */
	assert_int_equal(conn_int(w, "SELECT pk_end_held(2)"), 3);
	assert_false(session_stays(f, PQbackendPID(held)));
	assert_false(session_stays(f, PQbackendPID(elsewhere)));
	assert_false(session_stays(f, PQbackendPID(deaf)));
	assert_string_equal(try_sql(fresh, "SELECT 1", st, sizeof(st)), "");
	assert_string_equal(try_sql(w_held, "SELECT 1; COMMIT", st, sizeof(st)), "");
	assert_string_not_equal(try_sql(held, "SELECT 1", st, sizeof(st)), "");
	PQfinish(held);
	PQfinish(elsewhere);
	PQfinish(deaf);
	PQfinish(fresh);
	PQfinish(w_held);
	PQfinish(w);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_hostb, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * A registration a host begins adds a first passkey only, and the text it
 * writes is no longer than passkeyd's requests allow (migration 10).  A
 * red-team review registered its own key for alice, who had one, through
 * a register row of host A's and a web instance's approval; and stalled
 * the web instances with rows of 100 MB names.
 */
static void
test_pg_fleet_host_register(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], st[8], refusal[32];
	store_t *owner = open_store(f->spec), *as_a, *as_w;
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c;
	PGconn *a;

	fleet_apply(owner, "pkt", hosts, 1, webs, 1);
	assert_store(add_cred(owner, "alice", "cred-alice", 1), STORE_OK);
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	as_a = open_store(uri);
	a = pg_raw(uri);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	as_w = open_store(uri);
	/* host A's registration for alice, who has a passkey: refused at its approval */
	ceremony_init(&c, 1, "alice", "192.0.2.1", now);
	c.kind = 1;
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_EXISTS);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE state = 'pending'"
	    " AND first_passkey AND user_name = 'alice'"), 1);
	/* a denial of it still goes through */
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	/*
	 * bob has none, and no enrollment: his first passkey's registration,
	 * which host A says consumes none (enroll=after-auth), consumes one
	 * all the same, and is refused at its approval (migration 13)
	 */
	ceremony_init(&c, 2, "bob", "192.0.2.2", now);
	c.kind = 1;
	c.consumes_enrollment = 0;
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE"
	    " consumes_enrollment AND user_name = 'bob'"), 1);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_NO_ENROLLMENT);
	/* an expired enrollment is none */
	assert_store(store_enroll_add(as_w, "bob", now - 1, "root"), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_NO_ENROLLMENT);
	/* with bob's enrollment, made at a web instance, it is approved */
	assert_store(store_enroll_add(as_w, "bob", now + 600, "root"), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_OK);
	/* a fleet that trusts its hosts with first passkeys: carol's needs none */
	fleet_apply_enroll(owner, STORE_FLEET_ENROLL_TRUSTED);
	ceremony_init(&c, 8, "erin", "192.0.2.8", now);	/* kept pending for below */
	c.kind = 1;
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	ceremony_init(&c, 6, "carol", "192.0.2.6", now);
	c.kind = 1;
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_OK);
	/* and an apply that does not say leaves it so; enrolled again: dave's needs one */
	fleet_apply(owner, "pkt", hosts, 1, webs, 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_limits"
	    " WHERE hosts_self_enroll"), 1);
	fleet_apply_enroll(owner, STORE_FLEET_ENROLL_ENROLLED);
	ceremony_init(&c, 7, "dave", "192.0.2.7", now);
	c.kind = 1;
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_NO_ENROLLMENT);
	/* erin's, made while trusted, consumes none: refused now all the same */
	memset(c.token_hash, 8, sizeof(c.token_hash));
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE state ="
	    " 'pending' AND NOT consumes_enrollment AND user_name = 'erin'"), 1);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_ERR_NO_ENROLLMENT);
	/* a registration a web instance began (an enrollment link) adds one to anyone */
	ceremony_init(&c, 3, "alice", "192.0.2.3", now);
	c.kind = 1;
	assert_store(store_ceremony_add(as_w, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "approved", NULL, now),
	    STORE_OK);
	/* host A may not mark its row otherwise: the trigger sets it, the column is not its */
	assert_string_equal(try_sql(a, "UPDATE ceremonies SET first_passkey = false", st,
	    sizeof(st)), "42501");
	/*
	 * its temporary table of the same name could not stand in for the
	 * passkeys (the functions look in the tables' schema first); it may
	 * not even make one here (the roles' event trigger refuses its DDL)
	 */
	assert_string_equal(try_sql(a, "CREATE TEMP TABLE credentials (user_name text)", st,
	    sizeof(st)), "42501");
	ceremony_init(&c, 4, "alice", "192.0.2.4", now);
	c.kind = 1;
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE first_passkey"
	    " AND code = 'ABC-004'"), 1);
	/* text longer than passkeyd's requests: refused (check_violation) */
	assert_string_equal(try_sql(a, HOST_ROW_OF("05050505050505050505050505050505"
	    "05050505050505050505050505050505", "'alice'", "repeat('r', 256)"), st, sizeof(st)),
	    "23514");
	assert_string_equal(try_sql(a, HOST_ROW_OF("05050505050505050505050505050505"
	    "05050505050505050505050505050505", "repeat('u', 65)", "''"), st, sizeof(st)),
	    "23514");
	PQfinish(a);
	store_close(as_w);
	store_close(as_a);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_web1, pkt_web, pkt_hosts");
}

/* Begins of user from addr at st, tags from tag on, until one is refused: how many, and why. */
static int
begins_until_refused(store_t *st, unsigned char tag, const char *user, const char *addr,
    int64_t now, char refusal[32])
{
	struct store_ceremony c;
	store_err_t err;
	int n = 0;

	refusal[0] = '\0';
	do {
		ceremony_init(&c, (unsigned char)(tag + n), user, addr, now);
		err = store_ceremony_add(st, &c, refusal, 32);
	} while (err == STORE_OK && ++n < 20);
	if (err != STORE_OK)
		assert_store(err, STORE_ERR_LIMIT);
	return n;
}

/*
 * One host fills no user's or address's places fleet-wide (migration 11):
 * with 4 places per user and per address, host A takes all 4 of alice's
 * (its own limit, as one passkeyd's) and 4 of an address's, yet host B
 * still begins 2 for each; B's own then count in full, and a third is
 * refused.  Before, A's 4 refused each of B's begins.  The admit trigger
 * still runs as the owner, in the tables' schema.
 */
static void
test_pg_fleet_limit_shares(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example",
	    "pkt_hostb=host-b.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], refusal[32];
	store_t *owner = open_store(f->spec), *as_a, *as_b;
	int64_t now = (int64_t)time(NULL);

	fleet_apply(owner, "pkt", hosts, 2, webs, 1);
	raw_exec(f->spec, "UPDATE pk_limits SET per_user = 4, per_address = 4,"
	    " per_user_address = 4");
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	as_a = open_store(uri);
	role_uri(f, "pkt_hostb", uri, sizeof(uri));
	as_b = open_store(uri);
	/* alice: A takes its 4 and is refused the fifth; B gets 2 */
	assert_int_equal(begins_until_refused(as_a, 1, "alice", "192.0.2.1", now, refusal), 4);
	assert_string_equal(refusal, "limit_user_address");
	assert_int_equal(begins_until_refused(as_b, 21, "alice", "192.0.2.1", now, refusal), 2);
	assert_string_equal(refusal, "limit_user_address");
	assert_int_equal(begins_until_refused(as_b, 31, "alice", "192.0.2.9", now, refusal), 0);
	assert_string_equal(refusal, "limit_user");
	/* an address: A fills 198.51.100.7 (u0's 4) and is refused more; B begins 2 from it */
	assert_int_equal(begins_until_refused(as_a, 41, "u0", "198.51.100.7", now, refusal), 4);
	assert_int_equal(begins_until_refused(as_a, 51, "u1", "198.51.100.7", now, refusal), 0);
	assert_string_equal(refusal, "limit_address");
	assert_int_equal(begins_until_refused(as_b, 61, "u2", "198.51.100.7", now, refusal), 2);
	assert_string_equal(refusal, "limit_address");
	store_close(as_b);
	store_close(as_a);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_proc WHERE proname ="
	    " 'pk_ceremony_admit' AND prosecdef AND array_to_string(proconfig, ',') ="
	    " 'search_path=public, pg_temp'"), 1);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_hostb, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * The counts of what via sent, once want are counted (its answers read),
 * or 5 s: a notice may be heard before its sender has read its answer.
 */
static void
settle_counts(store_t *via, uint64_t want, uint64_t *sent, uint64_t *dropped)
{
	int64_t t0 = clock_monotonic_ms();
	int ignore[16];

	store_announce_counts(via, sent, dropped);
	while (*sent + *dropped < want && clock_monotonic_ms() - t0 < 5000) {
		struct pollfd pfd = { .fd = store_notice_fd(via), .events = POLLIN };

		assert_store(store_announce(via), STORE_OK);
		if (poll(&pfd, 1, 50) > 0)
			assert_store(store_notices(via, on_notice, ignore), STORE_OK);
		store_announce_counts(via, sent, dropped);
	}
}

/*
 * What one transaction decides is announced once it commits, however
 * much (a journal's batch after a hiccup may decide thousands; 512 at
 * most wait), and nothing of one rolled back.
 */
static void
test_pg_announce_batch(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec), *mover = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c;
	char user[16], refusal[32];
	uint64_t sent, dropped;

	assert_store(store_ceremony_listen(st), STORE_OK);
	assert_store(store_set_announcer(mover, st), STORE_OK);
	for (int i = 1; i <= 205; i++) {
		snprintf(user, sizeof(user), "u%d", i);
		ceremony_init(&c, (unsigned char)i, user, "", now);
		assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	}
	/* five decided and rolled back: nothing to say */
	assert_store(store_txn_begin(mover), STORE_OK);
	for (int i = 201; i <= 205; i++) {
		memset(c.token_hash, i, sizeof(c.token_hash));
		assert_store(store_ceremony_move(mover, c.token_hash, "pending", "denied", "denied",
		    now), STORE_OK);
	}
	store_txn_rollback(mover);
	/* 200 in one transaction, committed: 200 notices, in batches */
	assert_store(store_txn_begin(mover), STORE_OK);
	for (int i = 1; i <= 200; i++) {
		memset(c.token_hash, i, sizeof(c.token_hash));
		assert_store(store_ceremony_move(mover, c.token_hash, "pending", "denied", "denied",
		    now), STORE_OK);
	}
	assert_store(store_txn_commit(mover), STORE_OK);
	settle_counts(st, 200, &sent, &dropped);
	assert_int_equal(sent, 200);
	assert_int_equal(dropped, 0);
	store_close(mover);
	store_close(st);
}

/* Whether the server's notify lock is held now, by the server process pid. */
static int
notify_lock_held_by(PGconn *watch, int pid)
{
	char sql[300];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pg_locks WHERE locktype = 'object'"
	    " AND database = 0 AND classid = 'pg_database'::regclass AND objid = 0"
	    " AND mode = 'AccessExclusiveLock' AND granted AND pid = %d", pid);
	return conn_int(watch, sql) == 1;
}

/* What one noisy commit of host A said: its results, each one a success. */
static void
assert_noise_done(PGconn *noisy)
{
	PGresult *res;

	while ((res = PQgetResult(noisy)) != NULL) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
			print_error("noise: %s\n", PQresultErrorMessage(res));
		assert_true(PQresultStatus(res) == PGRES_TUPLES_OK ||
		    PQresultStatus(res) == PGRES_COMMAND_OK);
		PQclear(res);
	}
}

/*
 * A host that holds the server's notify lock holds up no verdict
 * (migration 9).  Host A commits 100 MB of notices of its own, which
 * holds the lock while they are queued, and a web instance decides host
 * A's ceremonies at that moment, on a connection whose lock timeout is
 * 50 ms.  Before, the decision's commit notified through a trigger: it
 * waited out the timeout and failed, and a host that did this without
 * end stopped every login of the fleet.  The notice that the web
 * instance sends after its commit may wait or be lost (counted); the
 * host hears a later one.
 */
static void
test_pg_fleet_notify_lock(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], refusal[32];
	store_t *owner = open_store(f->spec), *as_a, *as_w;
	int64_t now = (int64_t)time(NULL), t0;
	struct store_ceremony c;
	uint64_t sent, dropped;
	int held = 0, rounds, seen[16];
	PGconn *noisy, *watch;

	fleet_apply(owner, "pkt", hosts, 1, webs, 1);
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	as_a = open_store(uri);
	noisy = pg_raw(uri);
	assert_store(store_set_instance(as_a, "0a"), STORE_OK);
	assert_store(store_ceremony_listen(as_a), STORE_OK);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	as_w = open_store(uri);
	assert_store(store_set_busy_timeout(as_w, 50), STORE_OK);
	assert_store(store_set_instance(as_w, "0b"), STORE_OK);
	assert_store(store_ceremony_listen(as_w), STORE_OK);
	watch = pg_raw(f->spec);
	for (rounds = 1; rounds <= 6 && held < 2; rounds++) {
		ceremony_init(&c, (unsigned char)rounds, "alice", "192.0.2.1", now);
		assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
		assert_int_equal(PQsendQuery(noisy, "BEGIN; SELECT count(pg_notify('pk:pkt_noise',"
		    " g || repeat('x', 4000)) IS NULL) FROM generate_series(1, 25000) g; COMMIT"), 1);
		t0 = clock_monotonic_ms();
		while (!notify_lock_held_by(watch, PQbackendPID(noisy)) &&
		    clock_monotonic_ms() - t0 < 10000)
			usleep(1000);
		assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "denied", "denied",
		    now), STORE_OK);
		(void)store_announce(as_w);	/* may wait for the lock: not the verdict's business */
		held += notify_lock_held_by(watch, PQbackendPID(noisy));
		assert_noise_done(noisy);
	}
	/* the verdict was given while host A still held the lock, twice */
	assert_int_equal(held, 2);
	/* once the lock is free, host A hears of the next: each notice sent or counted lost */
	ceremony_init(&c, 9, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(as_a, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	wait_heard(as_a, as_w, 9, seen);
	assert_int_equal(seen[9], 1);
	settle_counts(as_w, (uint64_t)rounds, &sent, &dropped);
	assert_int_equal(sent + dropped, (uint64_t)rounds);	/* the rounds, less one, and 9 */
	PQfinish(watch);
	PQfinish(noisy);
	store_close(as_w);
	store_close(as_a);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * A role whose name makes "pk:" and it longer than a channel may be (63
 * bytes) is told.  Up to migration 11 the channel was that, uncut the
 * pg_notify failed, and the batch with it; now it is drawn, 35 bytes.
 */
static void
test_pg_announce_long_role(void **state)
{
	struct fixture *f = *state;
	static const char role[] = "pkl_a_host_role_whose_name_is_sixty_one_bytes_long_0123456789";
	char uri[PATH_MAX + 256], sql[200];
	store_t *as_long, *other;
	int64_t now = (int64_t)time(NULL);
	uint64_t sent, dropped;

	assert_int_equal(strlen(role), 61);
	other = open_store(f->spec);	/* the schema's, owned by the test's owner */
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN SUPERUSER", role);
	raw_exec(f->spec, sql);
	role_uri(f, role, uri, sizeof(uri));
	as_long = open_store(uri);
	assert_heard_once(as_long, other, 3, now);
	store_announce_counts(as_long, &sent, &dropped);
	assert_int_equal(sent, 1);
	assert_int_equal(dropped, 0);
	store_close(other);
	store_close(as_long);
	snprintf(sql, sizeof(sql), "DROP ROLE %s", role);
	raw_exec(f->spec, sql);
}

/* How many notices came on c within ms. */
static int
raw_notices_within(PGconn *c, int ms)
{
	struct pollfd pfd = { .fd = PQsocket(c), .events = POLLIN };
	struct timespec t0;
	PGnotify *n;
	int got = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < ms) {
		(void)poll(&pfd, 1, 50);
		assert_int_equal(PQconsumeInput(c), 1);
		while ((n = PQnotifies(c)) != NULL) {
			got++;
			PQfreemem(n);
		}
	}
	return got;
}

/* The channel pk_channel() gives role, into out (role_uri's room). */
static const char *
role_channel(const struct fixture *f, const char *role, char *out, size_t len)
{
	char uri[PATH_MAX + 256];

	role_uri(f, role, uri, sizeof(uri));
	raw_text(uri, "SELECT pk_channel()", out, len);
	assert_int_equal(strlen(out), 35);
	return out;
}

/*
 * No host hears another's notices (migration 12), which told it when each
 * of that host's ceremonies ended, and the token's hash: a role's
 * channel is random, a host reads its own only, and host B's
 * notices do not come on "pk:" and B's name, nor on A's channel.  Before,
 * a host that LISTENed on "pk:pkt_hostb" heard them all.
 */
static void
test_pg_fleet_channels(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example",
	    "pkt_hostb=host-b.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], st[8], mine[64], again[64], b_channel[64];
	store_t *owner = open_store(f->spec), *as_b, *as_w;
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c;
	PGconn *spy;
	int seen[16];

	fleet_apply(owner, "pkt", hosts, 2, webs, 1);
	role_uri(f, "pkt_hostb", uri, sizeof(uri));
	as_b = open_store(uri);
	assert_store(store_set_instance(as_b, "0b"), STORE_OK);
	assert_store(store_ceremony_listen(as_b), STORE_OK);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	as_w = open_store(uri);
	assert_store(store_set_instance(as_w, "0c"), STORE_OK);
	assert_store(store_ceremony_listen(as_w), STORE_OK);
	raw_text(f->spec, "SELECT channel FROM pk_channels WHERE role = 'pkt_hostb'", b_channel,
	    sizeof(b_channel));
	assert_int_equal(strlen(b_channel), 35);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_channels"
	    " WHERE channel ~ '^pk:[0-9a-f]{32}$'"), 2);

	/* host A: its own channel, the same each time, and no other's */
	role_channel(f, "pkt_hosta", mine, sizeof(mine));
	assert_string_equal(role_channel(f, "pkt_hosta", again, sizeof(again)), mine);
	assert_string_not_equal(mine, b_channel);
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	assert_int_equal(raw_int(uri, "SELECT count(*) FROM pk_channels"), 1);
	assert_int_equal(raw_int(uri, "SELECT count(*) FROM pk_channels"
	    " WHERE role = 'pkt_hosta'"), 1);
	spy = pg_raw(uri);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_channels"), 3);
	assert_string_equal(try_sql(spy, "LISTEN \"pk:pkt_hostb\"", st, sizeof(st)), "");
	assert_string_equal(try_sql(spy, "LISTEN \"pk:pkt_hosta\"", st, sizeof(st)), "");
	snprintf(uri, sizeof(uri), "LISTEN \"%s\"", mine);
	assert_string_equal(try_sql(spy, uri, st, sizeof(st)), "");

	/* B's ceremony, denied by the web instance: B hears it, A nothing */
	ceremony_init(&c, 5, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(as_b, &c, NULL, 0), STORE_OK);
	assert_store(store_ceremony_move(as_w, c.token_hash, "pending", "denied", "denied", now),
	    STORE_OK);
	wait_heard(as_b, as_w, 5, seen);
	assert_int_equal(seen[5], 1);
	assert_int_equal(raw_notices_within(spy, 300), 0);
	/* the spy hears what is sent where it listens: it would have heard B's */
	snprintf(uri, sizeof(uri), "NOTIFY \"pk:pkt_hostb\", 'x'");
	assert_string_equal(try_sql(spy, uri, st, sizeof(st)), "");
	assert_int_equal(raw_notices_within(spy, 300), 1);
	PQfinish(spy);
	store_close(as_w);
	store_close(as_b);

	/* the admin's rotation: A's row deleted, A draws a new channel */
	raw_exec(f->spec, "DELETE FROM pk_channels WHERE role = 'pkt_hosta'");
	assert_string_not_equal(role_channel(f, "pkt_hosta", uri, sizeof(uri)), mine);
	/* host B's role, dropped and made again: its old channel is not the new one's */
	raw_exec(f->spec, "DROP ROLE pkt_hostb; CREATE ROLE pkt_hostb LOGIN IN ROLE pkt_hosts");
	assert_string_not_equal(role_channel(f, "pkt_hostb", uri, sizeof(uri)), b_channel);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_channels"
	    " WHERE role = 'pkt_hostb'"), 1);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_hostb, pkt_web1, pkt_web, pkt_hosts");
}

/*
 * A version 11 database, whose channels were "pk:" and the role's name, is
 * brought to version 12: each role that listens draws its own, and its
 * notices come there.
 */
static void
test_pg_migrate_v11(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec), *other;
	int64_t now = (int64_t)time(NULL);

	store_close(st);
	raw_exec(f->spec, PG_UNDO_12 "UPDATE pk_meta SET version = 11");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_class"
	    " WHERE relname = 'pk_channels'"), 0);
	st = open_store(f->spec);
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_channels"), 0);
	other = open_store(f->spec);
	assert_heard_once(st, other, 7, now);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pk_channels"), 1);
	store_close(other);
	store_close(st);
}

/*
 * Who asked on a host itself (migration 14): written and read back as
 * given, '' for a row that names none, refused past 128 bytes; and a
 * version 13 database's rows, which had none, read as ''.  The host's
 * "this comes from me" (migration 15) too: kept as written, false on an
 * older row.
 */
static void
test_pg_ceremony_requester(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;
	char refusal[32], big[130];

	ceremony_init(&c, 1, "alice", "", now);
	c.requester = (char *)"1001 pts/7 mallory";
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.requester, "1001 pts/7 mallory");
	assert_int_equal(got.local, 0);
	store_ceremony_free(&got);
	ceremony_init(&c, 2, "alice", "192.0.2.2", now);	/* ssh: none said */
	c.local = 1;	/* from one of the host's own addresses (migration 15) */
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.requester, "");
	assert_int_equal(got.local, 1);
	store_ceremony_free(&got);
	c.local = 0;
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ceremony_init(&c, 3, "alice", "", now);
	c.requester = big;
	assert_true(store_ceremony_add(st, &c, refusal, sizeof(refusal)) != STORE_OK);
	store_close(st);
	/* back to version 13, a row made there, and up again */
	raw_exec(f->spec, "DELETE FROM ceremonies;" PG_UNDO_14 "UPDATE pk_meta SET version = 13");
	ceremony_init(&c, 4, "alice", "", now);
	raw_exec(f->spec, "INSERT INTO ceremonies (token_hash, hostname, kind, state, code,"
	    " user_name, rhost, service, addr_key, challenge, created, expires) VALUES"
	    " (decode(repeat('04', 32), 'hex'), 'host-a.example', 'login', 'pending', 'ABC-004',"
	    " 'alice', '', 'su', '', decode(repeat('c4', 32), 'hex'),"
	    " extract(epoch FROM now())::bigint, extract(epoch FROM now())::bigint + 120)");
	st = open_store(f->spec);
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_string_equal(got.requester, "");
	assert_string_equal(got.service, "su");
	assert_int_equal(got.local, 0);	/* an older host's row: not said */
	store_ceremony_free(&got);
	store_close(st);
}

/*
 * What a host holds in a transaction it keeps open holds no use of a
 * window (migration 7).  Before, a use was an UPDATE of the window's row,
 * and an end its DELETE: a host holding either made every other host's
 * use of that window wait out its lock timeout, refused store_busy.
 */
static void
test_pg_window_use_held(void **state)
{
	struct fixture *f = *state;
	static const char *const hosts[] = { "pkt_hosta=host-a.example",
	    "pkt_hostb=host-b.example" };
	static const char *const webs[] = { "pkt_web1" };
	char uri[PATH_MAX + 256], st[8], sql[200];
	char id[STORE_WINDOW_ID_LEN + 1], id2[STORE_WINDOW_ID_LEN + 1];
	store_t *owner = open_store(f->spec), *as_b, *as_w;
	int64_t now = (int64_t)time(NULL);
	struct store_window_list l;
	PGconn *a;
	size_t n;

	fleet_apply(owner, "pkt", hosts, 2, webs, 1);
	assert_store(add_cred(owner, "alice", "cred-1", 1), STORE_OK);
	role_uri(f, "pkt_web1", uri, sizeof(uri));
	as_w = open_store(uri);
	assert_store(store_set_busy_timeout(as_w, 200), STORE_OK);
	assert_store(open_window(as_w, "alice", "192.0.2.1", KEY_A, "cred-1", now - 10,
	    now + 3600, id), STORE_OK);
	assert_store(open_window(as_w, "alice", "192.0.2.2", KEY_A, "cred-1", now - 5,
	    now + 3600, id2), STORE_OK);
	role_uri(f, "pkt_hostb", uri, sizeof(uri));
	as_b = open_store(uri);
	assert_store(store_set_busy_timeout(as_b, 200), STORE_OK);

	/* host A: a use, its transaction left open, with no timeouts of its own */
	role_uri(f, "pkt_hosta", uri, sizeof(uri));
	a = pg_raw(uri);
	snprintf(sql, sizeof(sql), "SET lock_timeout = 0; SET statement_timeout = 0; BEGIN;"
	    " SELECT pk_window_use('%s', %lld)", id, (long long)now);
	assert_string_equal(try_sql(a, sql, st, sizeof(st)), "");
	/* host B's use of the same window, and the web role's, go through */
	assert_store(store_window_use(as_b, id, now + 1), STORE_OK);
	assert_store(store_window_use(as_w, id, now + 2), STORE_OK);
	assert_store(store_window_page(as_b, NULL, now, NULL, 0, &l), STORE_OK);
	assert_int_equal(l.count, 2);
	assert_string_equal(l.items[0].id, id);
	assert_int_equal(l.items[0].uses, 2);	/* A's is not committed yet */
	assert_int_equal(l.items[0].last_used, now + 2);
	store_window_list_free(&l);
	/* and so does the window's end; a use after it finds none */
	assert_store(store_window_revoke(as_w, id, NULL, &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_window_use(as_b, id, now + 3), STORE_ERR_NOT_FOUND);
	assert_string_equal(try_sql(a, "COMMIT", st, sizeof(st)), "");

	/* host A: an end, held open: the window stays in use for everyone else */
	snprintf(sql, sizeof(sql), "BEGIN; SELECT pk_windows_end('%s', NULL)", id2);
	assert_string_equal(try_sql(a, sql, st, sizeof(st)), "");
	assert_store(store_window_use(as_b, id2, now + 4), STORE_OK);
	/* only another end of it waits for A's, and is refused busy */
	assert_store(store_window_revoke(as_w, id2, NULL, &n), STORE_ERR_BUSY);
	assert_string_equal(try_sql(a, "ROLLBACK", st, sizeof(st)), "");
	PQfinish(a);
	assert_store(store_window_revoke(as_w, id2, NULL, &n), STORE_OK);
	assert_int_equal(n, 1);

	/* the ended windows go with the purge of an approval that opens one, uses too */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM window_uses"), 4);
	assert_store(open_window(as_w, "alice", "192.0.2.3", KEY_A, "cred-1", now, now + 3600,
	    id), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM windows"), 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM window_uses"), 0);
	store_close(as_b);
	store_close(as_w);
	store_close(owner);
	drop_roles(f, "pkt_hosta, pkt_hostb, pkt_web1, pkt_web, pkt_hosts");
}

#define HEX32(c)	"'\\x" c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c \
			c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c "'"

/* What a ceremony's approval may open: written with the row, read back, capped. */
static void
test_pg_ceremony_reuse(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;

	ceremony_init(&c, 0x31, "alice", "192.0.2.1", now);
	c.reuse = 3600;
	snprintf(c.client_key, sizeof(c.client_key), "%s", KEY_A);
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_OK);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_int_equal(got.reuse, 3600);
	assert_string_equal(got.client_key, KEY_A);
	store_ceremony_free(&got);
	/* none asked for: none */
	ceremony_init(&c, 0x32, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_OK);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_int_equal(got.reuse, 0);
	assert_string_equal(got.client_key, "");
	store_ceremony_free(&got);
	/* the API takes a week at most, and a key only as OpenSSH shows it */
	ceremony_init(&c, 0x33, "alice", "192.0.2.1", now);
	c.reuse = 604801;
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_ERR_INVALID);
	c.reuse = -1;
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_ERR_INVALID);
	c.reuse = 604800;
	snprintf(c.client_key, sizeof(c.client_key), "SHA256:short");
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_ERR_INVALID);
	memset(c.client_key, 'k', sizeof(c.client_key));	/* no terminator */
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_ERR_INVALID);
	snprintf(c.client_key, sizeof(c.client_key), "%s", KEY_B);
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_OK);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_int_equal(got.reuse, 604800);
	assert_string_equal(got.client_key, KEY_B);
	store_ceremony_free(&got);
	/* and the database refuses what SQL written by hand asks beyond that */
	{
		PGconn *raw = pg_raw(f->spec);
		char st8[8];
		static const char *const ins = "INSERT INTO ceremonies (token_hash, hostname, kind,"
		    " state, code, user_name, rhost, service, addr_key, challenge, created, expires,"
		    " reuse) VALUES (%s, 'h.example', 'login', 'pending', 'X', 'bob', '', 'sshd', '',"
		    " " HEX32("0") ", 1, 99999999999, %s)";
		char sql[600];

		snprintf(sql, sizeof(sql), ins, HEX32("4"), "604801");
		assert_string_equal(try_sql(raw, sql, st8, sizeof(st8)), "23514");
		snprintf(sql, sizeof(sql), ins, HEX32("5"), "-5");
		assert_string_equal(try_sql(raw, sql, st8, sizeof(st8)), "23514");
		PQfinish(raw);
	}
	store_close(st);
}

/*
 * A version 2 database (before windows) is brought to the current version in place:
 * its rows stay, its ceremonies ask for no window, and windows work.
 * Version 3 added a table and two columns; without them and at version 2,
 * this is the schema of version 2.
 */
static void
test_pg_migrate_v2(void **state)
{
	struct fixture *f = *state;
	char id[STORE_WINDOW_ID_LEN + 1], got_id[STORE_WINDOW_ID_LEN + 1];
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c, got;
	char *got_buf = got_id;
	size_t n;

	assert_store(add_cred(st, "alice", "cred-a", 1), STORE_OK);
	ceremony_init(&c, 0x41, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_OK);
	store_close(st);
	raw_exec(f->spec, PG_UNDO_6 "DROP TABLE windows; ALTER TABLE ceremonies DROP COLUMN reuse,"
	    " DROP COLUMN client_key; UPDATE pk_meta SET version = 2");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM information_schema.columns"
	    " WHERE table_name = 'ceremonies' AND column_name IN ('reuse', 'client_key')"), 0);

	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), PG_SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
	assert_store(store_cred_count_user(st, "alice", &n), STORE_OK);
	assert_int_equal(n, 1);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_int_equal(got.reuse, 0);
	assert_string_equal(got.client_key, "");
	store_ceremony_free(&got);
	ceremony_init(&c, 0x42, "alice", "192.0.2.1", now);
	c.reuse = 60;
	assert_store(store_ceremony_add(st, &c, NULL, 0), STORE_OK);
	assert_store(store_ceremony_get(st, c.token_hash, &got), STORE_OK);
	assert_int_equal(got.reuse, 60);
	store_ceremony_free(&got);
	/* every row numbered (migration 6), the old one first */
	assert_int_equal(raw_int(f->spec, "SELECT count(DISTINCT admitted) FROM ceremonies"), 2);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies WHERE admitted ="
	    " (SELECT min(admitted) FROM ceremonies) AND reuse = 0"), 1);
	assert_store(open_window(st, "alice", "192.0.2.1", KEY_A, "cred-a", 1000, 2000, id),
	    STORE_OK);
	assert_string_equal(found(st, "alice", "sshd", "192.0.2.1", KEY_A, "host-a.example",
	    1500, 0, got_buf), id);
	store_close(st);
}

/*
 * A version 3 database (every change of state announced, no index for the
 * windows' pages) is brought to the current version in place: a row is
 * then announced only when it leaves pending, and the index is there.
 */
static void
test_pg_migrate_v3(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_ceremony c;
	char refusal[32];
	int seen[16];

	store_close(st);
	raw_exec(f->spec, PG_UNDO_6 "DROP TRIGGER ceremonies_announce ON ceremonies;"
	    " CREATE TRIGGER ceremonies_announce AFTER UPDATE OF state ON ceremonies"
	    " FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)"
	    " EXECUTE FUNCTION pk_ceremony_announce();"
	    " DROP INDEX windows_opened; UPDATE pk_meta SET version = 3");
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_indexes"
	    " WHERE indexname = 'windows_opened'"), 0);
	st = open_store(f->spec);
	assert_int_equal(store_schema_version(st), PG_SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_indexes"
	    " WHERE indexname = 'windows_opened'"), 1);
	/* the decision is announced; the use is not (tag 9's denial comes after it) */
	assert_store(store_ceremony_listen(st), STORE_OK);
	ceremony_init(&c, 7, "alice", "192.0.2.1", now);
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	assert_store(store_ceremony_move(st, c.token_hash, "pending", "approved", NULL, now),
	    STORE_OK);
	wait_notices_of(st, 7, seen);
	assert_int_equal(seen[7], 1);
	assert_store(store_ceremony_move(st, c.token_hash, "approved", "used", NULL, now),
	    STORE_OK);
	assert_use_unannounced(st, st, now);
	store_close(st);
}

/*
 * A version 8 database, whose commits that decide notify through a
 * trigger, is brought to version 9: the trigger and its function are gone,
 * and a decision is announced once, by the instance that made it.
 */
static void
test_pg_migrate_v8(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec), *other;
	int64_t now = (int64_t)time(NULL);

	store_close(st);
	raw_exec(f->spec, PG_UNDO_9 "UPDATE pk_meta SET version = 8");	/* 10 comes again too */
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_trigger"
	    " WHERE tgname = 'ceremonies_announce'"), 1);
	st = open_store(f->spec);
	assert_int_equal(raw_int(f->spec, "SELECT version FROM pk_meta"), PG_SCHEMA);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_trigger"
	    " WHERE tgname = 'ceremonies_announce'"), 0);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM pg_proc"
	    " WHERE proname = 'pk_ceremony_announce'"), 0);
	other = open_store(f->spec);
	assert_heard_once(st, other, 7, now);
	/* and no second one behind it (tag 9's, denied after, comes after it) */
	assert_use_unannounced(st, other, now);
	store_close(other);
	store_close(st);
}

/*
 * The server process behind the store under test: the fixture's database's
 * one other connection (raw_int's own is excluded).
 */
static long
store_backend_pid(struct fixture *f)
{
	char sql[256];
	long pid;

	snprintf(sql, sizeof(sql), "SELECT pid FROM pg_stat_activity WHERE datname = '%s'"
	    " AND pid <> pg_backend_pid()", f->db);
	pid = raw_int(f->spec, sql);
	assert_true(pid > 0);
	return pid;
}

/*
 * A server process that stops answering (SIGSTOP here; a dropped network
 * does the same) holds a call no longer than its statement timeout and a
 * grace; the connection is then given up, and made again once it answers.
 */
static void
test_pg_stuck_server(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	struct timespec t0;
	store_err_t err = STORE_ERR_UNAVAILABLE;
	long pid, ms;
	size_t n;

	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	assert_store(store_set_busy_timeout(st, 200), STORE_OK);	/* statements: 1 s */
	pid = store_backend_pid(f);
	assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
	/* a write: it is not sent again elsewhere (a read would be, and succeed) */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = store_enroll_add(st, "bob", 999, "root");
	ms = ms_since(&t0);
	assert_int_equal(kill((pid_t)pid, SIGCONT), 0);
	assert_store(err, STORE_ERR_UNAVAILABLE);
	print_message("a stopped server held the call %ld ms\n", ms);
	assert_true(ms >= 2500 && ms < 6000);	/* 1 s statement timeout + 2 s grace */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000 &&
	    (err = store_cred_count_user(st, "alice", &n)) == STORE_ERR_UNAVAILABLE)
		usleep(10 * 1000);
	assert_store(err, STORE_OK);
	assert_int_equal(n, 1);
	store_close(st);
}

/*
 * A transaction's BEGIN and the journal's SAVEPOINT and RELEASE go out in
 * one pipeline with the next prepared statement (store_pg_conn.c
 * pg_pipelined).  A failed statement there is its own error, its mark
 * undoes it alone and the transaction goes on; a server that stops
 * answering under a pipeline costs the same bound as one statement, the
 * transaction is lost (never committed in part) and the store recovers.
 */
static void
test_pg_pipelined_marks(void **state)
{
	struct fixture *f = *state;
	store_t *st = open_store(f->spec);
	int64_t now = (int64_t)time(NULL);
	struct store_event ev = { 1, "x", NULL, NULL, "ok", NULL, NULL, 0 };
	struct store_ceremony c;
	char refusal[32];
	struct timespec t0;
	store_err_t err = STORE_ERR_UNAVAILABLE;
	long pid, ms;

	ceremony_init(&c, 9, "alice", "192.0.2.1", now);
	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(store_txn_mark(st), STORE_OK);	/* BEGIN, SAVEPOINT, INSERT: one trip */
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_OK);
	store_txn_mark_end(st, 1);
	assert_store(store_txn_mark(st), STORE_OK);	/* RELEASE, SAVEPOINT, INSERT */
	c.token_hash[0] ^= 1;	/* a second ceremony in one transaction: the trigger refuses */
	assert_store(store_ceremony_add(st, &c, refusal, sizeof(refusal)), STORE_ERR_LIMIT);
	assert_string_equal(refusal, "limit_host");
	store_txn_mark_end(st, 0);
	assert_store(store_txn_mark(st), STORE_OK);
	assert_store(store_event_add(st, &ev), STORE_OK);
	store_txn_mark_end(st, 1);
	assert_store(store_txn_commit(st), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM ceremonies"), 1);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 1);

	/* the server stops answering under a pipeline */
	assert_store(store_set_busy_timeout(st, 200), STORE_OK);	/* statements: 1 s */
	pid = store_backend_pid(f);
	assert_store(store_txn_begin(st), STORE_OK);
	assert_store(store_txn_mark(st), STORE_OK);
	assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = store_event_add(st, &ev);
	ms = ms_since(&t0);
	assert_int_equal(kill((pid_t)pid, SIGCONT), 0);
	assert_store(err, STORE_ERR_UNAVAILABLE);
	assert_true(ms >= 2500 && ms < 6000);	/* 1 s statement timeout + 2 s grace */
	store_txn_mark_end(st, 1);
	assert_store(store_txn_commit(st), STORE_ERR_UNAVAILABLE);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000 && (err = store_txn_begin(st)) == STORE_ERR_UNAVAILABLE)
		usleep(10 * 1000);
	assert_store(err, STORE_OK);
	assert_store(store_txn_mark(st), STORE_OK);
	assert_store(store_event_add(st, &ev), STORE_OK);
	store_txn_mark_end(st, 1);
	assert_store(store_txn_commit(st), STORE_OK);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM events"), 2);

	/*
	 * A connection idle for a while sends its BEGIN alone: one that died
	 * silently is found there (the journal waits for a new one) rather
	 * than under a batch's first entry.
	 */
	pid = store_backend_pid(f);
	usleep(1200 * 1000);	/* store_pg.h PG_BEGIN_LATER_MS: 1 s */
	assert_int_equal(kill((pid_t)pid, SIGSTOP), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = store_txn_begin(st);
	ms = ms_since(&t0);
	assert_int_equal(kill((pid_t)pid, SIGCONT), 0);
	assert_store(err, STORE_ERR_UNAVAILABLE);
	assert_true(ms >= 2500 && ms < 6000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000 && (err = store_txn_begin(st)) == STORE_ERR_UNAVAILABLE)
		usleep(10 * 1000);
	assert_store(err, STORE_OK);
	store_txn_rollback(st);
	assert_store(store_set_busy_timeout(st, 100), STORE_OK);
	store_close(st);
}

/* Stops or starts the run's server again (pg-server.sh stop|restart). */
static void
pg_server_ctl(const char *verb)
{
	char cmd[PATH_MAX * 2];

	snprintf(cmd, sizeof(cmd), "'%s' %s '%s'", getenv("PASSKEY_PG_SERVER"), verb, pg_dir);
	fflush(NULL);
	assert_int_equal(system(cmd), 0);
}

/*
 * The server stops under an open store: calls fail at once with
 * STORE_ERR_UNAVAILABLE, nothing waits for it; it starts again: the same
 * store_t works, with no reopening.
 */
static void
test_pg_server_restart(void **state)
{
	struct fixture *f = *state;
	store_t *st;
	struct timespec t0;
	store_err_t err = STORE_ERR_UNAVAILABLE;
	size_t n;

	if (pg_dir[0] == '\0')
		skip();		/* PASSKEY_TEST_PG: not ours to stop */
	st = open_store(f->spec);
	assert_store(add_cred(st, "alice", "cred-1", 0), STORE_OK);
	pg_server_ctl("stop");
	for (int i = 0; i < 20; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_store(store_cred_count_user(st, "alice", &n), STORE_ERR_UNAVAILABLE);
		assert_store(add_cred(st, "alice", "cred-x", 0), STORE_ERR_UNAVAILABLE);
		assert_true(ms_since(&t0) < 200);
	}
	pg_server_ctl("restart");
	PQreset(pg_admin);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < 5000 &&
	    (err = store_cred_count_user(st, "alice", &n)) == STORE_ERR_UNAVAILABLE)
		usleep(10 * 1000);
	assert_store(err, STORE_OK);
	assert_int_equal(n, 1);
	assert_store(add_cred(st, "alice", "cred-2", 0), STORE_OK);
	store_close(st);
	assert_int_equal(raw_int(f->spec, "SELECT count(*) FROM credentials"), 2);
}

int
main(int argc, char **argv)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest sqlite_tests[] = {
		cmocka_unit_test(test_err_str),
		cmocka_unit_test(test_nickname_rule),
		T(test_open_creates_schema),
		T(test_file_mode_private),
		T(test_existing_mode_kept),
		T(test_spec_schemes),
		T(test_newer_schema_untouched),
		T(test_foreign_db_untouched),
		T(test_not_sqlite_untouched),
		T(test_open_missing_dir),
		T(test_concurrent_create),
		T(test_readonly_refused),
		T(test_migrate_v1),
		T(test_migrate_v2),
		STORE_API_TESTS(T),
	};
#undef T
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_pg, teardown)
	const struct CMUnitTest pg_tests[] = {
		T(test_pg_creates_schema),
		T(test_pg_words_sanitized),
		T(test_pg_newer_schema_untouched),
		T(test_pg_foreign_db_untouched),
		T(test_pg_concurrent_create),
		T(test_pg_readonly_refused),
		T(test_pg_unreachable),
		T(test_pg_reconnect),
		T(test_pg_server_restart),
		T(test_pg_pipelined_marks),
		T(test_pg_ceremonies),
		T(test_pg_login_approve),
		T(test_pg_ceremony_limits),
		T(test_pg_pending_counts),
		T(test_pg_own_decision_unannounced),
		T(test_pg_fleet_roles),
		T(test_pg_fleet_host_register),
		T(test_pg_fleet_limit_shares),
		T(test_pg_fleet_schema),
		T(test_pg_window_use_held),
		T(test_pg_fleet_no_lock_queue),
		T(test_pg_fleet_connection_limit),
		T(test_pg_fleet_owner_not_superuser),
		T(test_pg_fleet_end_held),
		T(test_pg_fleet_notify_lock),
		T(test_pg_announce_long_role),
		T(test_pg_fleet_channels),
		T(test_pg_announce_batch),
		T(test_pg_fleet_windows),
		T(test_pg_ceremony_reuse),
		T(test_pg_migrate_v2),
		T(test_pg_migrate_v3),
		T(test_pg_migrate_v8),
		T(test_pg_migrate_v11),
		T(test_pg_ceremony_requester),
		T(test_pg_stuck_server),
		STORE_API_TESTS(T),
	};
#undef T
	int failed;

	if (argc == 2 && strcmp(argv[1], "sqlite") == 0)
		return cmocka_run_group_tests_name("store/sqlite", sqlite_tests, NULL, NULL);
	if (argc != 2 || strcmp(argv[1], "postgresql") != 0) {
		fprintf(stderr, "usage: test_store sqlite | postgresql\n");
		return 2;
	}
	if (pg_server_start() != 0) {
		pg_server_stop();
		return 1;
	}
	failed = cmocka_run_group_tests_name("store/postgresql", pg_tests, NULL, NULL);
	pg_server_stop();
	return failed;
}
