/*
 * The change notices this process sends (migration 9 says why the
 * database no longer sends them itself, inside the commit that decides).
 *
 * A row that moves out of pending on any of the process's connections is
 * staged there until its transaction commits, then queued on one store's
 * queue (store_set_announcer), which that store sends on its listening
 * connection, as one statement per batch, without waiting for the answer:
 * passkeyd's loop calls store_announce each turn.  A NOTIFY's commit may
 * wait on the server's one notify lock, or fail on a full queue; either
 * way only the notices wait or are lost, never a verdict.  A notice is a
 * hint (store.h): a lost one costs the host its fallback read, no more.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_pg.h"

void
pg_announce_init(struct store_pg *pg)
{
	pthread_mutex_init(&pg->queue.mu, NULL);
	pg->announce_via = pg;
}

void
pg_announce_free(struct store_pg *pg)
{
	pthread_mutex_destroy(&pg->queue.mu);
	free(pg->queue.q);
	free(pg->staged);
}

store_err_t
pg_set_announcer(store_t *st, store_t *via)
{
	if (via->ops != st->ops)
		return STORE_ERR_INVALID;
	pg_of(st)->announce_via = pg_of(via);
	return STORE_OK;
}

int
pg_channel_ok(const char *s)
{
	return s != NULL && strlen(s) == PG_CHANNEL_MAX - 1 && strncmp(s, "pk:", 3) == 0 &&
	    strspn(s + 3, "0123456789abcdef") == PG_CHANNEL_MAX - 1 - 3;
}

static void
count_dropped(struct pg_announce_queue *q, size_t n)
{
	pthread_mutex_lock(&q->mu);
	q->dropped += n;
	pthread_mutex_unlock(&q->mu);
}

/* Only the store that sends needs room: the others never push to their own. */
static void
queue_push(struct pg_announce_queue *q, const struct pg_announcement *a, size_t n)
{
	pthread_mutex_lock(&q->mu);
	if (q->q == NULL && (q->q = calloc(PG_ANNOUNCE_MAX, sizeof(*q->q))) == NULL) {
		q->dropped += n;
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (q->n == PG_ANNOUNCE_MAX) {
			q->dropped += n - i;
			break;
		}
		q->q[(q->head + q->n++) % PG_ANNOUNCE_MAX] = a[i];
	}
	pthread_mutex_unlock(&q->mu);
}

/* Room for one more staged notice (a journal batch may decide thousands). */
static int
staged_room(struct store_pg *pg)
{
	struct pg_announcement *more;
	size_t cap;

	if (pg->nstaged < pg->staged_cap)
		return 1;
	if (pg->staged_cap == PG_ANNOUNCE_MAX)
		return 0;
	cap = pg->staged_cap == 0 ? 16 : 2 * pg->staged_cap;
	if (cap > PG_ANNOUNCE_MAX)
		cap = PG_ANNOUNCE_MAX;
	if ((more = realloc(pg->staged, cap * sizeof(*more))) == NULL)
		return 0;
	pg->staged = more;
	pg->staged_cap = cap;
	return 1;
}

/* A row that moved out of pending on this connection, unless this instance made it. */
static void
announce_stage(struct store_pg *pg, const char *channel, const char *waiter,
    const unsigned char hash[STORE_TOKEN_HASH_LEN])
{
	struct pg_announcement a;

	/*
	 * no channel: its role never listened; this instance made it: it
	 * knows, and nobody else waits for it
	 */
	if (!pg_channel_ok(channel) || (waiter != NULL && waiter[0] != '\0' &&
	    strcmp(waiter, pg->instance) == 0))
		return;
	memcpy(a.channel, channel, sizeof(a.channel));
	memcpy(a.hash, hash, sizeof(a.hash));
	if (!pg->in_txn)
		queue_push(&pg->announce_via->queue, &a, 1);
	else if (staged_room(pg))
		pg->staged[pg->nstaged++] = a;
	else
		pg->staged_over++;	/* counted if it commits */
}

/*
 * A row of res (its host's channel and waiter in columns col, col + 1)
 * that left pending: announced to its host once committed.
 */
void
pg_announce_row(struct store_pg *pg, PGresult *res, int row, int col,
    const unsigned char hash[STORE_TOKEN_HASH_LEN])
{
	if (!PQgetisnull(res, row, col))
		announce_stage(pg, PQgetvalue(res, row, col), PQgetisnull(res, row, col + 1) ?
		    NULL : PQgetvalue(res, row, col + 1), hash);
}

void
pg_announce_mark(struct store_pg *pg)
{
	pg->nstaged_mark = pg->nstaged;
}

void
pg_announce_mark_undone(struct store_pg *pg)
{
	if (pg->nstaged > pg->nstaged_mark)
		pg->nstaged = pg->nstaged_mark;
}

void
pg_announce_end(struct store_pg *pg, int committed)
{
	if (committed && pg->nstaged > 0)
		queue_push(&pg->announce_via->queue, pg->staged, pg->nstaged);
	if (committed && pg->staged_over > 0)
		count_dropped(&pg->announce_via->queue, pg->staged_over);
	pg->nstaged = pg->nstaged_mark = pg->staged_over = 0;
}

/* The batch's end: counted as sent, or as dropped when the server refused it. */
static void
batch_done(struct store_pg *pg)
{
	pthread_mutex_lock(&pg->queue.mu);
	if (pg->announce_failed)
		pg->queue.dropped += pg->announcing;
	else
		pg->queue.sent += pg->announcing;
	pthread_mutex_unlock(&pg->queue.mu);
	pg->announcing = 0;
	pg->announce_failed = 0;
}

void
pg_announce_lost(struct store_pg *pg)
{
	pg->announce_failed = 1;
	batch_done(pg);
}

void
pg_announce_read(struct store_pg *pg)
{
	PGresult *r;

	while (pg->announcing > 0 && pg->listen != NULL && !PQisBusy(pg->listen)) {
		if ((r = PQgetResult(pg->listen)) == NULL) {
			batch_done(pg);
			return;
		}
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			pg->announce_failed = 1;	/* a lock timeout, a full queue */
		PQclear(r);
	}
}

/* Up to PG_ANNOUNCE_BATCH from the queue; how many. */
static size_t
queue_take(struct pg_announce_queue *q, struct pg_announcement out[PG_ANNOUNCE_BATCH])
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	for (n = 0; n < PG_ANNOUNCE_BATCH && q->n > 0; n++, q->n--) {	/* none: q->q NULL */
		out[n] = q->q[q->head];
		q->head = (q->head + 1) % PG_ANNOUNCE_MAX;
	}
	pthread_mutex_unlock(&q->mu);
	return n;
}

/*
 * One SELECT of pg_notify calls: one transaction, so one wait for the
 * notify lock per batch.  A channel is drawn by pk_channel() and checked
 * (pg_channel_ok), quoted by libpq all the same; the payload is hex.
 */
static char *
batch_sql(PGconn *c, const struct pg_announcement *a, size_t n)
{
	size_t cap = 16 + n * (2 * PG_CHANNEL_MAX + 2 * STORE_TOKEN_HASH_LEN + 32), len;
	char *sql = malloc(cap), *lit;

	if (sql == NULL)
		return NULL;
	len = (size_t)snprintf(sql, cap, "SELECT");
	for (size_t i = 0; i < n; i++) {
		if ((lit = PQescapeLiteral(c, a[i].channel, strlen(a[i].channel))) == NULL) {
			free(sql);
			return NULL;
		}
		len += (size_t)snprintf(sql + len, cap - len, "%s pg_notify(%s, '", i ? "," : "",
		    lit);
		PQfreemem(lit);
		for (size_t j = 0; j < STORE_TOKEN_HASH_LEN; j++)
			len += (size_t)snprintf(sql + len, cap - len, "%02x", a[i].hash[j]);
		len += (size_t)snprintf(sql + len, cap - len, "')");
	}
	return sql;
}

store_err_t
pg_announce(store_t *st)
{
	struct store_pg *pg = pg_of(st);
	struct pg_announcement a[PG_ANNOUNCE_BATCH];
	char *sql;
	size_t n;

	if (pg->channel[0] == '\0')
		return STORE_ERR_INVALID;	/* store_ceremony_listen first */
	if (pg->listen == NULL || PQstatus(pg->listen) != CONNECTION_OK)
		return STORE_ERR_UNAVAILABLE;	/* store_notices makes it again */
	/*
	 * A batch out: only the rest of it, if the socket took part.  Its
	 * answer is read by store_notices when the connection is readable;
	 * read here, the notices that come with it would sit in libpq's
	 * buffer with nothing to wake the poll for them.
	 */
	if (pg->announcing > 0)
		return PQflush(pg->listen) < 0 ? STORE_ERR_UNAVAILABLE : STORE_OK;
	if ((n = queue_take(&pg->queue, a)) == 0)
		return STORE_OK;
	if ((sql = batch_sql(pg->listen, a, n)) == NULL || !PQsendQuery(pg->listen, sql)) {
		count_dropped(&pg->queue, n);
		free(sql);
		return sql == NULL ? STORE_ERR_NOMEM : STORE_ERR_UNAVAILABLE;
	}
	free(sql);
	pg->announcing = n;
	return PQflush(pg->listen) < 0 ? STORE_ERR_UNAVAILABLE : STORE_OK;
}

void
pg_announce_counts(store_t *st, uint64_t *sent, uint64_t *dropped)
{
	struct store_pg *pg = pg_of(st);

	pthread_mutex_lock(&pg->queue.mu);
	*sent = pg->queue.sent;
	*dropped = pg->queue.dropped;
	pthread_mutex_unlock(&pg->queue.mu);
}
