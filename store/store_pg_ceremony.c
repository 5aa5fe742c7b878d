/*
 * Ceremonies in PostgreSQL: a fleet's shared state (store.h, "Ceremonies
 * in the store").  The rows, their limits and who may change what are the
 * database's (the admit trigger of migrations 2 and 3, and the policies of
 * store_fleet.c); this file only reads and moves them.  Change notices
 * come on a second connection that LISTENs to the role's channel, which
 * only it and the web instances may read (migration 12).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "store_pg.h"
#include "text.h"

store_err_t
pg_ceremony_add(store_t *st, const struct store_ceremony *c, char *refusal, size_t refusal_len)
{
	struct store_pg *pg = pg_of(st);
	struct pg_args a = { .n = 0 };
	store_err_t err;
	const char *m;

	arg_bytes(&a, c->token_hash, sizeof(c->token_hash));
	arg_text(&a, c->hostname);
	arg_text(&a, c->kind ? "register" : "login");
	arg_text(&a, c->code);
	arg_text(&a, c->user);
	arg_text(&a, c->rhost);
	arg_text(&a, c->service);
	arg_text(&a, c->addr_key);
	arg_bytes(&a, c->challenge, sizeof(c->challenge));
	if (c->has_handle)
		arg_bytes(&a, c->user_handle, sizeof(c->user_handle));
	else
		arg_text(&a, NULL);
	arg_bool(&a, c->consumes_enrollment);
	arg_int(&a, c->created);
	arg_int(&a, c->expires);
	arg_int(&a, c->reuse);
	arg_text(&a, c->client_key);
	arg_text(&a, c->requester != NULL ? c->requester : "");
	arg_bool(&a, c->local);
	err = pg_run(pg, PG_CER_INSERT, &a, NULL);
	/* the trigger's message is the refusal's code: pass on only one of ours */
	if (err == STORE_ERR_LIMIT && refusal != NULL && refusal_len > 0) {
		m = strstr(pg->msg, "limit_");
		snprintf(refusal, refusal_len, "%.*s", m != NULL ? (int)strspn(m,
		    "abcdefghijklmnopqrstuvwxyz_") : 0, m != NULL ? m : "");
	}
	return err;
}

static store_err_t
pg_ceremony_read(PGresult *r, struct store_ceremony *c)
{
	unsigned char *b;
	size_t n;
	store_err_t err;

	memset(c, 0, sizeof(*c));
	if ((err = col_blob(r, 0, 0, &b, &n)) != STORE_OK)
		return err;
	if (n == sizeof(c->token_hash))
		memcpy(c->token_hash, b, n);
	free(b);
	if (n != sizeof(c->token_hash))
		return STORE_ERR_IO;
	if ((err = col_text(r, 0, 1, &c->host_role)) != STORE_OK ||
	    (err = col_text(r, 0, 2, &c->hostname)) != STORE_OK ||
	    (err = col_text(r, 0, 5, &c->reason)) != STORE_OK ||
	    (err = col_text(r, 0, 7, &c->user)) != STORE_OK ||
	    (err = col_text(r, 0, 8, &c->rhost)) != STORE_OK ||
	    (err = col_text(r, 0, 9, &c->service)) != STORE_OK ||
	    (err = col_text(r, 0, 10, &c->addr_key)) != STORE_OK)
		return err;
	c->kind = strcmp(PQgetvalue(r, 0, 3), "register") == 0;
	snprintf(c->state, sizeof(c->state), "%s", PQgetvalue(r, 0, 4));
	snprintf(c->code, sizeof(c->code), "%s", PQgetvalue(r, 0, 6));
	if ((err = col_blob(r, 0, 11, &b, &n)) != STORE_OK)
		return err;
	if (n == sizeof(c->challenge))
		memcpy(c->challenge, b, n);
	free(b);
	if ((err = col_blob(r, 0, 12, &b, &n)) != STORE_OK)
		return err;
	if ((c->has_handle = n == sizeof(c->user_handle)))
		memcpy(c->user_handle, b, n);
	free(b);
	c->consumes_enrollment = col_bool(r, 0, 13);
	c->created = col_int(r, 0, 14);
	c->expires = col_int(r, 0, 15);
	c->finished = col_int(r, 0, 16);
	c->reuse = (int)col_int(r, 0, 17);
	/* cut short, a key would be another key: refuse it instead */
	if (PQgetlength(r, 0, 18) >= (int)sizeof(c->client_key))
		return STORE_ERR_IO;
	memcpy(c->client_key, PQgetvalue(r, 0, 18), (size_t)PQgetlength(r, 0, 18));
	if ((err = col_text(r, 0, 19, &c->requester)) != STORE_OK)
		return err;
	c->local = col_bool(r, 0, 20);
	return c->user != NULL && c->hostname != NULL && c->rhost != NULL && c->service != NULL &&
	    c->addr_key != NULL && c->requester != NULL ? STORE_OK : STORE_ERR_IO;
}

store_err_t
pg_ceremony_get(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    struct store_ceremony *out)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	memset(out, 0, sizeof(*out));	/* pg_ceremony_move's own, too */
	arg_bytes(&a, hash, STORE_TOKEN_HASH_LEN);
	if ((err = pg_run(pg_of(st), PG_CER_GET, &a, &res)) != STORE_OK)
		return err;
	err = PQntuples(res) == 1 ? pg_ceremony_read(res, out) : STORE_ERR_NOT_FOUND;
	PQclear(res);
	if (err != STORE_OK)
		store_ceremony_free(out);
	return err;
}

store_err_t
pg_ceremony_move(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const char *from, const char *to, const char *reason, int64_t now)
{
	struct store_pg *pg = pg_of(st);
	struct store_ceremony now_row;
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_bytes(&a, hash, STORE_TOKEN_HASH_LEN);
	arg_text(&a, from);
	arg_text(&a, to);
	arg_text(&a, reason);
	arg_int(&a, now);
	if ((err = pg_run(pg, PG_CER_MOVE, &a, &res)) != STORE_OK)
		return err;
	if (PQntuples(res) == 1) {
		/* only leaving pending is news: a host follows its row from there */
		if (strcmp(from, "pending") == 0 && strcmp(to, "pending") != 0)
			pg_announce_row(pg, res, 0, 0, hash);
		PQclear(res);
		return STORE_OK;
	}
	PQclear(res);
	/* no row changed: gone (or not ours to see), or no longer in `from` */
	if ((err = pg_ceremony_get(st, hash, &now_row)) != STORE_OK)
		return err;
	store_ceremony_free(&now_row);
	return STORE_ERR_CONFLICT;
}

store_err_t
pg_ceremony_set_handle(store_t *st, const unsigned char hash[STORE_TOKEN_HASH_LEN],
    const unsigned char handle[STORE_USER_HANDLE_LEN], unsigned char out[STORE_USER_HANDLE_LEN])
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_bytes(&a, hash, STORE_TOKEN_HASH_LEN);
	arg_bytes(&a, handle, STORE_USER_HANDLE_LEN);
	if ((err = pg_run(pg_of(st), PG_CER_SET_HANDLE, &a, &res)) != STORE_OK)
		return err;
	err = col_fixed(res, out, STORE_USER_HANDLE_LEN);	/* none: gone, or no longer pending */
	PQclear(res);
	return err;
}

static store_err_t pg_recount(struct store_pg *);
static store_err_t pg_end_held(struct store_pg *);

/*
 * The final rows ended before forget_before, in batches, up to
 * PG_FORGET_BATCHES a sweep while they come full: the rows a fleet's
 * hosts end can outrun one batch a second.  Also the rows a host ended
 * with no end time, or one over PG_FINISHED_AHEAD ahead: a host may
 * write `finished` (a red-team pass kept 5000 ended rows from ever going
 * with NULL), and those never reach forget_before.
 */
#define PG_FORGET_BATCHES	8
#define PG_FINISHED_AHEAD	3600

static store_err_t
forget_rows(struct store_pg *pg, int64_t now, int64_t forget_before, size_t batch,
    size_t *forgotten)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;
	size_t n = batch;

	arg_int(&a, forget_before);
	arg_int(&a, (int64_t)batch);
	arg_int(&a, now + PG_FINISHED_AHEAD);
	/* a batch is up to three times $2: one per range (PG_CER_FORGET) */
	for (int i = 0; i < PG_FORGET_BATCHES && n >= batch; i++) {
		err = pg_run(pg, PG_CER_FORGET, &a, &res);
		if (err == STORE_ERR_DENIED) {
			pg->may_forget = 0;	/* a host's role: the web instances forget */
			return STORE_OK;
		}
		if (err != STORE_OK)
			return err;
		n = (size_t)pg_changed(res);
		*forgotten += n;
		PQclear(res);
	}
	return STORE_OK;
}

static store_err_t
sweep_rows(struct store_pg *pg, int64_t now, int64_t forget_before, size_t batch,
    size_t *expired, size_t *forgotten)
{
	struct pg_args a = { .n = 0 };
	PGresult *res;
	store_err_t err;

	arg_int(&a, now);
	arg_int(&a, (int64_t)batch);
	if ((err = pg_run(pg, PG_CER_EXPIRE, &a, &res)) != STORE_OK)
		return err;
	*expired = (size_t)PQntuples(res);
	for (int i = 0; i < PQntuples(res); i++)
		if (PQgetlength(res, i, 0) == STORE_TOKEN_HASH_LEN)
			pg_announce_row(pg, res, i, 1, (const unsigned char *)PQgetvalue(res, i, 0));
	PQclear(res);
	*forgotten = 0;
	if (pg->may_forget && (err = forget_rows(pg, now, forget_before, batch, forgotten)) !=
	    STORE_OK)
		return err;
	return pg_recount(pg);
}

/*
 * The watchdog first, and whatever the rest does: what a host holds open
 * may be what the expiry would wait on (a review had the expiry time out
 * each second, and so skip the watchdog, by a host's notices).
 */
store_err_t
pg_ceremony_sweep(store_t *st, int64_t now, int64_t forget_before, size_t batch,
    size_t *expired, size_t *forgotten)
{
	struct store_pg *pg = pg_of(st);
	store_err_t held = pg_end_held(pg);
	store_err_t err = sweep_rows(pg, now, forget_before, batch, expired, forgotten);

	return err != STORE_OK ? err : held;
}

/*
 * Whether the role may call a function the web instances call each
 * second: asked first, and again a minute later while it may not (a
 * host's role, or a web role before the fleet's SQL is run again after
 * an upgrade): a refused call would write an error to the server's log
 * each second, per host.
 */
#define PG_MAY_ASK_MS	60000

static store_err_t
pg_may(struct store_pg *pg, enum pg_stmt_id ask, struct pg_may *may)
{
	int64_t now = clock_monotonic_ms();
	PGresult *res;
	store_err_t err;

	if (may->yes || (may->asked_ms != 0 && now - may->asked_ms < PG_MAY_ASK_MS))
		return STORE_OK;
	if ((err = pg_run(pg, ask, NULL, &res)) != STORE_OK)
		return err;
	may->yes = col_bool(res, 0, 0);
	may->asked_ms = now;
	PQclear(res);
	return STORE_OK;
}

/* A call the role may make, or (revoked since) no longer. */
static store_err_t
pg_may_call(struct store_pg *pg, enum pg_stmt_id call, struct pg_args *a, struct pg_may *may)
{
	PGresult *res;
	store_err_t err;

	if (!may->yes)
		return STORE_OK;
	if ((err = pg_run(pg, call, a, &res)) == STORE_OK)
		PQclear(res);
	else if (err == STORE_ERR_DENIED) {	/* revoked since */
		may->yes = 0;
		err = STORE_OK;
	}
	return err;
}

/*
 * The fleet's pending counts (migration 6), which the admit trigger uses
 * while they are fresh.  Every web instance asks; the database counts at
 * most once a second, so asking is cheap.  Meanwhile, or where the role
 * may not, the trigger counts every row, as before.
 */
static store_err_t
pg_recount(struct store_pg *pg)
{
	store_err_t err;

	if ((err = pg_may(pg, PG_CER_MAY_RECOUNT, &pg->recount)) != STORE_OK)
		return err;
	return pg_may_call(pg, PG_CER_RECOUNT, NULL, &pg->recount);
}

/*
 * A host's sessions that hold a transaction open, or a snapshot while the
 * server cannot write to them, for PG_HELD_S seconds are ended
 * (store_fleet.c watchdog): any role may turn its own timeouts off.  No
 * host's own work takes a second; what is held longer holds back others.
 */
#define PG_HELD_S	10

static store_err_t
pg_end_held(struct store_pg *pg)
{
	struct pg_args a = { .n = 0 };
	store_err_t err;

	if ((err = pg_may(pg, PG_CER_MAY_END_HELD, &pg->end_held)) != STORE_OK)
		return err;
	arg_int(&a, PG_HELD_S);
	return pg_may_call(pg, PG_CER_END_HELD, &a, &pg->end_held);
}

/* ---- change notices --------------------------------------------------------- */

store_err_t
pg_ceremony_listen(store_t *st)
{
	struct store_pg *pg = pg_of(st);
	struct pg_settings set;
	PGresult *res;
	store_err_t err;

	if ((err = pg_ready(pg)) != STORE_OK ||
	    (err = pg_query(pg, "SELECT pk_channel()", &res)) != STORE_OK)
		return err;
	if (!pg_channel_ok(PQgetvalue(res, 0, 0))) {
		PQclear(res);
		snprintf(pg->msg, sizeof(pg->msg), "pk_channel() gave no channel");
		return STORE_ERR_SCHEMA;
	}
	memcpy(pg->channel, PQgetvalue(res, 0, 0), sizeof(pg->channel));
	PQclear(res);
	pg_announce_lost(pg);
	PQfinish(pg->listen);
	set = pg_settings_of(pg);
	if ((err = pg_connect(pg->conninfo, &set, 0,
	    pg->channel, &pg->listen, pg->msg, sizeof(pg->msg))) != STORE_OK)
		return err;
	return PQsetnonblocking(pg->listen, 1) == 0 ? STORE_OK : STORE_ERR_IO;
}

int
pg_notice_fd(store_t *st)
{
	struct store_pg *pg = pg_of(st);

	if (pg->listen == NULL || PQstatus(pg->listen) != CONNECTION_OK)
		return -1;
	return PQsocket(pg->listen);
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A notice's payload: the token hash in lower-case hex, exactly. */
static int
payload_hash(const char *p, unsigned char hash[STORE_TOKEN_HASH_LEN])
{
	for (size_t i = 0; i < STORE_TOKEN_HASH_LEN; i++) {
		int hi = nibble(p[2 * i]), lo = hi < 0 ? -1 : nibble(p[2 * i + 1]);

		if (lo < 0)
			return 0;
		hash[i] = (unsigned char)(hi << 4 | lo);
	}
	return p[2 * STORE_TOKEN_HASH_LEN] == '\0';
}

/*
 * Reads what arrived, without waiting.  A lost listening connection is
 * made again by the worker (store_pg_conn.c); meanwhile this says
 * STORE_ERR_UNAVAILABLE, and notices sent in between are lost: the
 * caller's fallback re-reads are what make that harmless.
 */
store_err_t
pg_notices(store_t *st, void (*fn)(const unsigned char[STORE_TOKEN_HASH_LEN], void *), void *arg)
{
	struct store_pg *pg = pg_of(st);
	unsigned char hash[STORE_TOKEN_HASH_LEN];
	store_err_t err;
	PGnotify *n;

	if (pg->channel[0] == '\0')
		return STORE_ERR_INVALID;	/* store_ceremony_listen first */
	if (pg->listen != NULL && PQstatus(pg->listen) == CONNECTION_OK &&
	    PQconsumeInput(pg->listen) != 1)
		PQfinish(pg->listen), pg->listen = NULL;
	if ((err = pg_listen_ready(pg)) != STORE_OK)
		return err;
	pg_announce_read(pg);	/* a batch of ours answered */
	while ((n = PQnotifies(pg->listen)) != NULL) {
		if (payload_hash(n->extra, hash))
			fn(hash, arg);
		PQfreemem(n);
	}
	return STORE_OK;
}

/* The server's WARNINGs, one per line, as many as fit: what an admin must read. */
struct pg_warnings {
	char *buf;
	size_t len;
};

static void
collect_warning(void *arg, const PGresult *res)
{
	struct pg_warnings *w = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	size_t used = strlen(w->buf);

	if (sev == NULL || msg == NULL || strcmp(sev, "WARNING") != 0 || used + 2 >= w->len)
		return;
	/* the server's words: one line (a newline too is '?'), nothing a terminal acts on */
	text_sanitize(msg, w->buf + used, w->len - used - 1);
	strcat(w->buf + used, "\n");
}

store_err_t
pg_exec_script(store_t *st, const char *sql, char *warn, size_t warnlen)
{
	struct store_pg *pg = pg_of(st);
	struct pg_warnings w = { warn, warnlen };
	PQnoticeReceiver prev;
	PGconn *c;
	store_err_t err;

	if (pg->in_txn)
		return STORE_ERR_INVALID;
	if ((err = pg_begin(pg)) != STORE_OK)
		return err;
	/* the connection's own receiver (pg_connect's: nothing shown) comes back after */
	c = pg->conn;
	prev = PQsetNoticeReceiver(c, collect_warning, &w);
	if ((err = pg_simple(pg, sql)) != STORE_OK)
		pg_rollback(pg);
	else
		err = pg_commit(pg);
	if (pg->conn == c)
		PQsetNoticeReceiver(c, prev, NULL);
	return err;
}
