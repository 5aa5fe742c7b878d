/*
 * The PostgreSQL backend's connection: how statements are sent, how long
 * the caller may wait for them, and how a lost connection is made again.
 *
 * A daemon's single loop calls the store, so no call may wait on the
 * server without a bound:
 *   - every statement is sent asynchronously and awaited with poll(2) up to
 *     the server's own statement_timeout plus PG_CLIENT_GRACE_MS; a server
 *     that stopped answering (SIGSTOP, a dropped network) costs that long
 *     once, and the connection is given up;
 *   - a lost connection is made again by a worker thread with libpq's
 *     blocking connect (connect_timeout per host, so a multi-host URI
 *     reaches its second host), which also sets the timeouts, checks that
 *     the server takes writes and prepares every statement; the caller
 *     waits at most PG_RECONNECT_SLICE_MS for it and is told
 *     STORE_ERR_UNAVAILABLE meanwhile;
 *   - never inside a transaction: what the lost connection held is gone,
 *     and the caller is told so.
 * libpq does the protocol, the URI and the TLS; what is here is only the
 * bounding and the hand-over, which it leaves to the application.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "store_pg.h"
#include "text.h"

const struct pg_statement pg_sql[PG_STMT__COUNT] = {
#define PG_STMT_ROW(sym, kind, text) { #sym, kind, text },
	PG_STATEMENTS(PG_STMT_ROW)
#undef PG_STMT_ROW
};

/* ---- errors ---------------------------------------------------------------- */

store_err_t
pg_err_of(struct store_pg *pg, PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK)
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
	if (strcmp(state, "PK001") == 0)	/* a fleet limit (pk_ceremony_admit) */
		return STORE_ERR_LIMIT;
	if (strcmp(state, "PK002") == 0)	/* a host's registration, no enrollment */
		return STORE_ERR_NO_ENROLLMENT;
	if (strcmp(state, "42501") == 0)	/* insufficient_privilege, or a policy */
		return STORE_ERR_DENIED;
	return STORE_ERR_IO;
}

/*
 * The server's words, as the daemon logs them and passkeyctl prints them:
 * one line, with what a terminal would act on (ESC, C1, bidi overrides:
 * text.h) replaced.  A server, or anyone on the way under sslmode=prefer,
 * chooses them.
 */
static void
set_msg(char *msg, size_t len, const char *m)
{
	char line[sizeof(((struct store_pg *)0)->msg)];

	snprintf(line, sizeof(line), "postgresql: %s", m != NULL && *m ? m : "error");
	line[strcspn(line, "\n")] = '\0';
	text_sanitize(line, msg, len);
}

void
pg_remember(struct store_pg *pg, PGresult *res)
{
	set_msg(pg->msg, sizeof(pg->msg), res != NULL ? PQresultErrorMessage(res) :
	    pg->conn != NULL ? PQerrorMessage(pg->conn) : "no connection");
}

/* ---- bounded execution -------------------------------------------------------- */

/* The connection is of no more use (no answer in time): let it go. */
static void
pg_give_up(struct store_pg *pg, const char *why)
{
	PQfinish(pg->conn);
	pg->conn = NULL;
	pg->nlater = 0;		/* a new connection starts with nothing kept */
	snprintf(pg->msg, sizeof(pg->msg), "postgresql: %s", why);
}

/*
 * Waits until libpq can hand over a result or the deadline passes.  0 when
 * nothing came in time: the connection is then given up.
 */
static int
pg_wait_result(struct store_pg *pg, int64_t deadline)
{
	while (PQisBusy(pg->conn)) {
		struct pollfd pfd = { .fd = PQsocket(pg->conn), .events = POLLIN };
		int64_t left = deadline - clock_monotonic_ms();
		int n;

		if (left <= 0 || pfd.fd < 0 ||
		    ((n = poll(&pfd, 1, (int)left)) == 0) || (n < 0 && errno != EINTR)) {
			pg_give_up(pg, "no answer from the server in time");
			return 0;
		}
		if (n > 0 && PQconsumeInput(pg->conn) == 0)
			break;	/* a broken connection: PQgetResult says how */
	}
	return 1;
}

static int64_t
pg_deadline(const struct store_pg *pg)
{
	return clock_monotonic_ms() + pg->statement_timeout_ms + PG_CLIENT_GRACE_MS;
}

/*
 * The results of one query (of what was sent, outside a pipeline), until
 * the deadline: the first error if any, else the last result.  NULL when
 * nothing usable came in time (the connection is then given up) or the
 * connection failed.
 */
static PGresult *
pg_await_until(struct store_pg *pg, int64_t deadline)
{
	PGresult *keep = NULL, *res;

	for (;;) {
		if (!pg_wait_result(pg, deadline)) {
			PQclear(keep);
			return NULL;
		}
		if ((res = PQgetResult(pg->conn)) == NULL)
			return keep;
		pg->answered_ms = clock_monotonic_ms();
		if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR) {
			PQclear(res);	/* the first error is the one that matters */
		} else {
			PQclear(keep);
			keep = res;
		}
		if (PQstatus(pg->conn) != CONNECTION_OK)
			return keep;
	}
}

static PGresult *
pg_await(struct store_pg *pg)
{
	return pg_await_until(pg, pg_deadline(pg));
}

static int
pg_ok(PGresult *res)
{
	return PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
}

/*
 * What was kept (store_pg.later), then sql if not NULL, as one message of
 * constant SQL; 0 when it does not fit.
 */
static int
later_join(const struct store_pg *pg, const char *sql, char *buf, size_t len)
{
	size_t used = 0;
	int n;

	buf[0] = '\0';
	for (int i = 0; i <= pg->nlater; i++) {
		const char *part = i < pg->nlater ? pg->later[i] : sql;

		if (part == NULL)
			break;
		n = snprintf(buf + used, len - used, "%s%s", used > 0 ? "; " : "", part);
		if (n < 0 || (size_t)n >= len - used)
			return 0;
		used += (size_t)n;
	}
	return 1;
}

/* The answer to constant SQL (one or more statements); NULL as pg_await. */
static PGresult *
pg_exec(struct store_pg *pg, const char *sql)
{
	char both[512];
	PGresult *res;
	int kept = pg->nlater > 0;

	if (pg->conn == NULL)
		return NULL;
	if (kept && later_join(pg, sql, both, sizeof(both))) {
		sql = both;
	} else if (kept) {
		/* too long together (a script): what was kept goes first, alone */
		(void)later_join(pg, NULL, both, sizeof(both));
		pg->nlater = 0;
		if ((res = pg_exec(pg, both)) == NULL || !pg_ok(res))
			return res;
		PQclear(res);
	}
	pg->nlater = 0;
	if (!PQsendQuery(pg->conn, sql)) {
		if (!kept)
			return PQstatus(pg->conn) == CONNECTION_OK ? pg_await(pg) : NULL;
		/* what was kept is gone with it: the transaction is lost */
		pg_give_up(pg, "cannot send to the server");
		return NULL;
	}
	return pg_await(pg);
}

store_err_t
pg_later(struct store_pg *pg, const char *sql)
{
	if (!pg->in_txn)
		return STORE_ERR_INVALID;	/* only a transaction's own SQL waits */
	if (pg->conn == NULL)
		return STORE_ERR_UNAVAILABLE;
	if (pg->nlater == PG_LATER_MAX)
		return pg_simple(pg, sql);	/* sends it with what was kept */
	pg->later[pg->nlater++] = sql;
	return STORE_OK;
}

store_err_t
pg_simple(struct store_pg *pg, const char *sql)
{
	PGresult *res = pg_exec(pg, sql);
	store_err_t err = STORE_OK;

	if (res == NULL) {
		if (pg->conn != NULL)
			pg_remember(pg, NULL);
		return STORE_ERR_UNAVAILABLE;
	}
	if (!pg_ok(res)) {
		pg_remember(pg, res);
		err = pg_err_of(pg, res);
	}
	PQclear(res);
	return err;
}

store_err_t
pg_query(struct store_pg *pg, const char *sql, PGresult **out)
{
	PGresult *res = pg_exec(pg, sql);

	*out = NULL;
	if (res == NULL) {
		if (pg->conn != NULL)
			pg_remember(pg, NULL);
		return STORE_ERR_UNAVAILABLE;
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_err_t err;

		pg_remember(pg, res);
		err = pg_err_of(pg, res);
		PQclear(res);
		return err != STORE_OK ? err : STORE_ERR_IO;
	}
	*out = res;
	return STORE_OK;
}

/* ---- connecting ------------------------------------------------------------------ */

static void
pg_notice_ignore(void *arg, const char *message)
{
	(void)arg;
	(void)message;	/* a daemon's stderr is its log: errors are returned instead */
}

/* Constant SQL on a fresh connection (blocking: at open, or in the worker). */
static store_err_t
setup_exec(PGconn *c, const char *sql, char *msg, size_t msglen)
{
	PGresult *res = PQexec(c, sql);
	store_err_t err = STORE_OK;

	if (!pg_ok(res)) {
		set_msg(msg, msglen, PQresultErrorMessage(res));
		err = STORE_ERR_IO;
	}
	PQclear(res);
	return err;
}

static store_err_t
setup_statements(PGconn *c, char *msg, size_t msglen)
{
	for (int i = 0; i < PG_STMT__COUNT; i++) {
		PGresult *res = PQprepare(c, pg_sql[i].name, pg_sql[i].sql, 0, NULL);
		int ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			set_msg(msg, msglen, PQresultErrorMessage(res));
		PQclear(res);
		if (!ok)
			return PQstatus(c) == CONNECTION_OK ? STORE_ERR_IO : STORE_ERR_UNAVAILABLE;
	}
	return STORE_OK;
}

/* A standby (or a read-only default) could approve nothing. */
static store_err_t
setup_check_writable(PGconn *c, char *msg, size_t msglen)
{
	PGresult *res = PQexec(c, "SHOW transaction_read_only");
	store_err_t err = STORE_OK;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		set_msg(msg, msglen, PQresultErrorMessage(res));
		err = STORE_ERR_UNAVAILABLE;
	} else if (strcmp(PQgetvalue(res, 0, 0), "on") == 0) {
		snprintf(msg, msglen, "the server takes no writes (a standby? add "
		    "target_session_attrs=read-write to the URI)");
		err = STORE_ERR_READONLY;
	}
	PQclear(res);
	return err;
}

void
pg_settings_sql(const struct pg_settings *set, char *sql, size_t len)
{
	/*
	 * The instance is [0-9a-f] only (store_set_instance): it goes in as it
	 * is.  READ COMMITTED whatever the role's or database's default: a
	 * statement after a row lock must see what the lock's holder committed
	 * (pg_below_bound, pg_cred_remove's last-passkey rule), where REPEATABLE
	 * READ would count from the transaction's first snapshot.
	 */
	snprintf(sql, len, "SET statement_timeout = %d; SET lock_timeout = %d; "
	    "SET synchronous_commit = %s; SET default_transaction_isolation = 'read committed'; "
	    "SET pk.instance = '%s'", set->stmt_ms, set->lock_ms,
	    set->lazy_commit ? "off" : "on", set->instance);
}

store_err_t
pg_connect(const char *uri, const struct pg_settings *set, int prepare, const char *channel,
    PGconn **out, char *msg, size_t msglen)
{
	/* ours first: the URI's own settings, expanded from dbname, win */
	static const char *const keys[] = { "connect_timeout", "tcp_user_timeout",
	    "keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	    "client_encoding", "dbname", NULL };
	const char *vals[] = { "5", "5000", "1", "10", "5", "3", "UTF8", uri, NULL };
	char sql[PG_SETTINGS_SQL_MAX], *ident;
	store_err_t err;
	PGconn *c;

	*out = NULL;
	msg[0] = '\0';
	if ((c = PQconnectdbParams(keys, vals, 1)) == NULL)
		return STORE_ERR_NOMEM;
	PQsetNoticeProcessor(c, pg_notice_ignore, NULL);
	if (PQstatus(c) != CONNECTION_OK) {
		set_msg(msg, msglen, PQerrorMessage(c));
		PQfinish(c);
		return STORE_ERR_UNAVAILABLE;
	}
	pg_settings_sql(set, sql, sizeof(sql));
	err = setup_exec(c, sql, msg, msglen);
	if (err == STORE_OK)
		err = setup_check_writable(c, msg, msglen);
	if (err == STORE_OK && prepare)
		err = setup_statements(c, msg, msglen);
	if (err == STORE_OK && channel != NULL) {
		if ((ident = PQescapeIdentifier(c, channel, strlen(channel))) == NULL) {
			err = STORE_ERR_NOMEM;
		} else {
			snprintf(sql, sizeof(sql), "LISTEN %s", ident);
			PQfreemem(ident);
			err = setup_exec(c, sql, msg, msglen);
		}
	}
	if (err != STORE_OK) {
		PQfinish(c);
		return err;
	}
	*out = c;
	return STORE_OK;
}

store_err_t
pg_prepare_all(struct store_pg *pg)
{
	store_err_t err = setup_statements(pg->conn, pg->msg, sizeof(pg->msg));

	return err;
}

/* ---- the reconnect worker ------------------------------------------------------ */

struct pg_job {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done, abandoned;
	/* what to make: copies, so that the worker needs nothing of the store */
	char *uri;
	struct pg_settings set;
	int prepare;
	char channel[PG_CHANNEL_MAX];
	/* what came of it */
	PGconn *conn;
	store_err_t err;
	char msg[400];
};

static void
job_free(struct pg_job *j)
{
	PQfinish(j->conn);
	if (j->uri != NULL)
		explicit_bzero(j->uri, strlen(j->uri));	/* it may hold a password */
	free(j->uri);
	pthread_mutex_destroy(&j->mu);
	pthread_cond_destroy(&j->cv);
	free(j);
}

static void *
job_main(void *arg)
{
	struct pg_job *j = arg;
	PGconn *c = NULL;
	char msg[400];
	store_err_t err;
	int abandoned;

	err = pg_connect(j->uri, &j->set, j->prepare,
	    j->channel[0] ? j->channel : NULL, &c, msg, sizeof(msg));
	pthread_mutex_lock(&j->mu);
	j->conn = c;
	j->err = err;
	memcpy(j->msg, msg, sizeof(msg));
	j->done = 1;
	abandoned = j->abandoned;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	if (abandoned)		/* the store was closed meanwhile: ours to free */
		job_free(j);
	return NULL;
}

static struct pg_job *
job_start(struct store_pg *pg, int prepare, const char *channel)
{
	struct pg_job *j = calloc(1, sizeof(*j));
	pthread_attr_t attr;
	pthread_t t;
	int rc;

	if (j == NULL || (j->uri = strdup(pg->conninfo)) == NULL) {
		free(j);
		return NULL;
	}
	pthread_mutex_init(&j->mu, NULL);
	pthread_cond_init(&j->cv, NULL);
	j->set = pg_settings_of(pg);
	j->prepare = prepare;
	snprintf(j->channel, sizeof(j->channel), "%s", channel != NULL ? channel : "");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&t, &attr, job_main, j);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		job_free(j);
		return NULL;
	}
	return j;
}

/* 1 once the worker is done, waiting up to ms for it. */
static int
job_wait(struct pg_job *j, int ms)
{
	struct timespec until;
	int done;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)ms * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&j->mu);
	while (!j->done && pthread_cond_timedwait(&j->cv, &j->mu, &until) == 0)
		;
	done = j->done;
	pthread_mutex_unlock(&j->mu);
	return done;
}

/* A finished job's connection (or failure), and the job freed. */
static store_err_t
job_take(struct pg_job *j, PGconn **conn, char *msg, size_t msglen)
{
	store_err_t err = j->err;

	*conn = j->conn;
	j->conn = NULL;
	snprintf(msg, msglen, "%s", j->msg);
	job_free(j);
	return err;
}

/* The store no longer wants it: freed now if done, else by the worker. */
static void
job_abandon(struct pg_job *j)
{
	int done;

	if (j == NULL)
		return;
	pthread_mutex_lock(&j->mu);
	done = j->done;
	j->abandoned = 1;
	pthread_mutex_unlock(&j->mu);
	if (done)
		job_free(j);
}

void
pg_disconnect(struct store_pg *pg)
{
	job_abandon(pg->job);
	job_abandon(pg->listen_job);
	pg->job = pg->listen_job = NULL;
	PQfinish(pg->listen);
	PQfinish(pg->conn);
	pg->listen = pg->conn = NULL;
}

/* ---- keeping the connection ------------------------------------------------------ */

/*
 * Whether an idle connection still stands.  An idle one has nothing to
 * read (this connection never LISTENs), so readable data is the server's
 * goodbye (a restart, a failover, an admin's pg_terminate_backend) or an
 * EOF; at worst a stray notice costs one new connection.
 */
static int
pg_alive(PGconn *c)
{
	struct pollfd pfd = { .fd = c != NULL ? PQsocket(c) : -1, .events = POLLIN };

	return c != NULL && PQstatus(c) == CONNECTION_OK && pfd.fd >= 0 && poll(&pfd, 1, 0) == 0;
}

static store_err_t
pg_reconnect(struct store_pg *pg)
{
	int64_t now = clock_monotonic_ms(), took;
	PGconn *c;
	store_err_t err;
	int wait_ms = 0;

	if (pg->job == NULL) {
		if (now < pg->retry_after_ms) {
			/* the last failure's reason (store_errmsg_clear may have cleared it) */
			memcpy(pg->msg, pg->retry_why, sizeof(pg->msg));
			return STORE_ERR_UNAVAILABLE;
		}
		PQfinish(pg->conn);
		pg->conn = NULL;
		if ((pg->job = job_start(pg, 1, NULL)) == NULL) {
			snprintf(pg->msg, sizeof(pg->msg), "postgresql: cannot start a reconnect");
			memcpy(pg->retry_why, pg->msg, sizeof(pg->retry_why));
			pg->retry_after_ms = now + PG_RECONNECT_BACKOFF_MS;
			return STORE_ERR_UNAVAILABLE;
		}
		/* only the call that starts it waits: a quick reconnect goes unnoticed */
		wait_ms = PG_RECONNECT_SLICE_MS;
		pg->job_started_ms = now;
	}
	if (!job_wait(pg->job, wait_ms)) {
		snprintf(pg->msg, sizeof(pg->msg), "postgresql: reconnecting");
		return STORE_ERR_UNAVAILABLE;
	}
	/* the timeouts may have changed while it ran: set them again to be sure */
	pg->settings_stale = 1;
	took = clock_monotonic_ms() - pg->job_started_ms;
	err = job_take(pg->job, &c, pg->msg, sizeof(pg->msg));
	pg->job = NULL;
	if (err != STORE_OK) {
		/*
		 * A quick refusal (no socket, connection refused) costs little to
		 * try again at the next call, and the server may be back by then;
		 * one that waited out its timeouts is not tried again at once.
		 */
		pg->retry_after_ms = took < PG_RECONNECT_SLICE_MS ? 0 :
		    clock_monotonic_ms() + PG_RECONNECT_BACKOFF_MS;
		memcpy(pg->retry_why, pg->msg, sizeof(pg->retry_why));
		return err == STORE_ERR_READONLY ? err : STORE_ERR_UNAVAILABLE;
	}
	pg->conn = c;
	return STORE_OK;
}

store_err_t
pg_ready(struct store_pg *pg)
{
	char sql[PG_SETTINGS_SQL_MAX];
	store_err_t err;

	if ((pg->job != NULL || !pg_alive(pg->conn)) && (err = pg_reconnect(pg)) != STORE_OK)
		return err;
	if (pg->settings_stale) {
		struct pg_settings set = pg_settings_of(pg);

		pg_settings_sql(&set, sql, sizeof(sql));
		if ((err = pg_simple(pg, sql)) != STORE_OK)
			return err;
		pg->settings_stale = 0;
	}
	return STORE_OK;
}

/*
 * The connection was lost under a statement sent outside a transaction.
 * A read may be sent again on a new connection; a write may have been
 * done before the loss, so its caller gets the failure instead.
 */
static int
pg_retry_safe(struct store_pg *pg, enum pg_stmt_id id, int was_idle)
{
	return was_idle && (pg->conn == NULL || PQstatus(pg->conn) != CONNECTION_OK) &&
	    pg_sql[id].kind == PG_READ;
}

static int
pg_send_prepared(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a)
{
	return PQsendQueryPrepared(pg->conn, pg_sql[id].name, a != NULL ? a->n : 0,
	    a != NULL ? a->val : NULL, a != NULL ? a->len : NULL, a != NULL ? a->fmt : NULL, 1);
}

/*
 * What was kept, then a prepared statement, in one pipeline: one round
 * trip.  The answer as pg_await's: the first error, else the statement's
 * result.  A pipeline that cannot be sent or ended in order gives the
 * connection up (only inside a transaction are there kept statements, and
 * its caller is told it was lost).
 */
static PGresult *
pg_pipelined(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a)
{
	int64_t deadline = pg_deadline(pg);
	int n = pg->nlater, ok, got, kept_failed = 0;
	PGresult *keep = NULL, *res;

	pg->nlater = 0;
	ok = PQenterPipelineMode(pg->conn);
	for (int i = 0; ok && i < n; i++)
		ok = PQsendQueryParams(pg->conn, pg->later[i], 0, NULL, NULL, NULL, NULL, 0);
	if (!ok || !pg_send_prepared(pg, id, a) || !PQpipelineSync(pg->conn)) {
		pg_give_up(pg, "cannot send to the server");
		return NULL;
	}
	for (got = 0; got <= n; got++) {
		if ((res = pg_await_until(pg, deadline)) == NULL)
			break;
		if (keep != NULL && !pg_ok(keep)) {
			PQclear(res);	/* the first error, then PGRES_PIPELINE_ABORTED */
		} else {
			PQclear(keep);
			keep = res;
			kept_failed = got < n && !pg_ok(keep);
		}
	}
	ok = got == n + 1 && pg_wait_result(pg, deadline);
	if (ok) {
		res = PQgetResult(pg->conn);
		ok = res != NULL && PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
	}
	/*
	 * A BEGIN, SAVEPOINT or RELEASE that failed leaves the journal's marks
	 * in doubt (an undo could reach a part already reported done): never
	 * an error the caller might take as its statement's own.
	 */
	if (ok && kept_failed) {
		PQclear(keep);
		pg_give_up(pg, "a transaction's BEGIN or savepoint failed");
		return NULL;
	}
	if (ok && PQexitPipelineMode(pg->conn))
		return keep;
	/* a lost connection says so; anything else is given up, never half-read */
	if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR && pg->conn != NULL &&
	    PQstatus(pg->conn) != CONNECTION_OK)
		return keep;
	PQclear(keep);
	if (pg->conn != NULL)
		pg_give_up(pg, "the server's answers did not come in order");
	return NULL;
}

store_err_t
pg_run(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a, PGresult **out)
{
	int idle = !pg->in_txn;
	PGresult *res;
	store_err_t err;

	if (out != NULL)
		*out = NULL;
	for (int attempt = 0;; attempt++) {
		if (idle && (err = pg_ready(pg)) != STORE_OK)
			return err;
		if (pg->conn == NULL)
			return STORE_ERR_UNAVAILABLE;	/* lost inside a transaction */
		res = NULL;
		if (pg->nlater > 0)
			res = pg_pipelined(pg, id, a);
		else if (pg_send_prepared(pg, id, a) || PQstatus(pg->conn) == CONNECTION_OK)
			res = pg_await(pg);
		if (res != NULL && pg_ok(res))
			break;
		if (res != NULL)
			pg_remember(pg, res);
		else if (pg->conn != NULL)
			pg_remember(pg, NULL);
		err = res != NULL ? pg_err_of(pg, res) : STORE_ERR_UNAVAILABLE;
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

long
pg_changed(PGresult *res)
{
	return strtol(PQcmdTuples(res), NULL, 10);
}

store_err_t
pg_change(struct store_pg *pg, enum pg_stmt_id id, const struct pg_args *a)
{
	PGresult *res;
	store_err_t err = pg_run(pg, id, a, &res);

	if (err == STORE_OK && pg_changed(res) == 0)
		err = STORE_ERR_NOT_FOUND;
	PQclear(res);
	return err;
}

/* ---- transactions ------------------------------------------------------------------ */

/*
 * in_txn is ours, not libpq's view: when the connection drops inside a
 * transaction libpq no longer knows one was open, and a reconnect there
 * would run the rest of it as separate autocommitted statements.
 */
store_err_t
pg_begin(struct store_pg *pg)
{
	store_err_t err;

	if ((err = pg_ready(pg)) != STORE_OK)
		return err;
	pg->in_txn = 1;
	err = clock_monotonic_ms() - pg->answered_ms < PG_BEGIN_LATER_MS ?
	    pg_later(pg, "BEGIN") : pg_simple(pg, "BEGIN");
	if (err != STORE_OK)
		pg->in_txn = 0;
	return err;
}

/*
 * COMMIT of a transaction that had an error answers "ROLLBACK", not an
 * error: that is a failure here, never a success.  No answer in time is a
 * failure too (fail closed), though the server may have committed.
 */
store_err_t
pg_commit(struct store_pg *pg)
{
	PGresult *res;
	store_err_t err = STORE_OK;

	/* COMMIT releases every savepoint */
	while (pg->nlater > 0 && strcmp(pg->later[pg->nlater - 1], PG_RELEASE_MARK) == 0)
		pg->nlater--;
	if (pg->conn == NULL) {
		err = STORE_ERR_UNAVAILABLE;
	} else if (PQtransactionStatus(pg->conn) == PQTRANS_INERROR) {
		snprintf(pg->msg, sizeof(pg->msg), "postgresql: the transaction had failed");
		err = STORE_ERR_IO;
	} else if ((res = pg_exec(pg, "COMMIT")) == NULL) {
		err = STORE_ERR_UNAVAILABLE;
	} else {
		if (!pg_ok(res)) {
			pg_remember(pg, res);
			err = pg_err_of(pg, res);
		} else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
			snprintf(pg->msg, sizeof(pg->msg), "postgresql: COMMIT answered %s",
			    PQcmdStatus(res));
			err = STORE_ERR_IO;
		}
		PQclear(res);
	}
	pg->nlater = 0;		/* kept SQL would only fail in front of the ROLLBACK */
	if (err != STORE_OK && pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
	    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		(void)pg_simple(pg, "ROLLBACK");
	pg_announce_end(pg, err == STORE_OK);
	pg->in_txn = 0;
	return err;
}

void
pg_rollback(struct store_pg *pg)
{
	pg->nlater = 0;		/* a BEGIN kept was never sent: nothing to undo */
	if (pg->conn != NULL && PQstatus(pg->conn) == CONNECTION_OK &&
	    PQtransactionStatus(pg->conn) != PQTRANS_IDLE)
		(void)pg_simple(pg, "ROLLBACK");
	pg_announce_end(pg, 0);
	pg->in_txn = 0;
}

/* ---- the notices connection ---------------------------------------------------------- */

store_err_t
pg_listen_ready(struct store_pg *pg)
{
	store_err_t err;

	if (pg->listen_job == NULL && pg->listen != NULL && PQstatus(pg->listen) == CONNECTION_OK)
		return STORE_OK;
	if (pg->listen_job == NULL) {
		pg_announce_lost(pg);
		PQfinish(pg->listen);
		pg->listen = NULL;
		if (clock_monotonic_ms() < pg->retry_after_ms ||
		    (pg->listen_job = job_start(pg, 0, pg->channel)) == NULL)
			return STORE_ERR_UNAVAILABLE;
	}
	if (!job_wait(pg->listen_job, 0))
		return STORE_ERR_UNAVAILABLE;
	err = job_take(pg->listen_job, &pg->listen, pg->msg, sizeof(pg->msg));
	pg->listen_job = NULL;
	if (err == STORE_OK && PQsetnonblocking(pg->listen, 1) != 0)
		err = STORE_ERR_IO;
	return err;
}

/* ---- binary columns ------------------------------------------------------------------- */

int64_t
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

int
col_bool(PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && PQgetlength(r, row, col) == 1 &&
	    PQgetvalue(r, row, col)[0] != 0;
}

store_err_t
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

store_err_t
col_fixed(PGresult *r, unsigned char *out, size_t len)
{
	if (PQntuples(r) != 1)
		return STORE_ERR_NOT_FOUND;
	if (PQgetisnull(r, 0, 0) || PQgetlength(r, 0, 0) != (int)len)
		return STORE_ERR_IO;
	memcpy(out, PQgetvalue(r, 0, 0), len);
	return STORE_OK;
}

store_err_t
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
