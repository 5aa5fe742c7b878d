#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "journal.h"

struct entry {
	journal_apply_fn apply;
	journal_done_fn done;
	void *arg;
};

/* An audit row owns copies of its strings, laid out after it. */
struct event_copy {
	struct store_event ev;
	char text[];
};

struct journal {
	struct entry *q;	/* FIFO: q[0..n) */
	size_t n, cap;
	size_t waited_on;	/* queued entries someone waits for (not lone rows) */
	int64_t first_ms;	/* when the oldest queued entry came, or 0 */
	int closing;		/* journal_free: nothing more is queued */
	int64_t busy_since;	/* first busy attempt of the batch, or 0 */
	int64_t retry_at;
	uint64_t dropped;
};

struct journal *
journal_new(void)
{
	return calloc(1, sizeof(struct journal));
}

static int
push(struct journal *j, journal_apply_fn apply, journal_done_fn done, void *arg,
    int waited_on)
{
	if (j->n == JOURNAL_MAX_ENTRIES || j->closing)
		return -1;
	if (j->n == j->cap) {
		size_t ncap = j->cap == 0 ? 64 : j->cap * 2;
		struct entry *nq = reallocarray(j->q, ncap, sizeof(*nq));

		if (nq == NULL)
			return -1;
		j->q = nq;
		j->cap = ncap;
	}
	j->q[j->n++] = (struct entry){ apply, done, arg };
	j->waited_on += waited_on != 0;
	if (j->first_ms == 0)
		j->first_ms = clock_monotonic_ms();
	return 0;
}

int
journal_add(struct journal *j, journal_apply_fn apply, journal_done_fn done, void *arg)
{
	return push(j, apply, done, arg, 1);
}

int
journal_add_background(struct journal *j, journal_apply_fn apply, journal_done_fn done,
    void *arg)
{
	return push(j, apply, done, arg, 0);
}

static store_err_t
apply_event(store_t *st, void *arg)
{
	return store_event_add(st, &((struct event_copy *)arg)->ev);
}

static void
done_event(struct passkeyd *d, void *arg, store_err_t result)
{
	(void)d;
	(void)result;	/* a lost row is counted by the caller of done */
	free(arg);
}

/* Copies s after *at; returns the copy, or NULL for NULL. */
static const char *
put(char **at, const char *s)
{
	char *p = *at;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(p, s, n);
	*at += n;
	return p;
}

static size_t
len0(const char *s)
{
	return s != NULL ? strlen(s) + 1 : 0;
}

int
journal_event(struct journal *j, const struct store_event *ev)
{
	struct event_copy *c;
	char *at;

	c = malloc(sizeof(*c) + len0(ev->event) + len0(ev->user) + len0(ev->addr) +
	    len0(ev->verdict) + len0(ev->reason) + len0(ev->detail));
	if (c == NULL) {
		j->dropped++;
		return -1;
	}
	at = c->text;
	c->ev = *ev;
	c->ev.event = put(&at, ev->event);
	c->ev.user = put(&at, ev->user);
	c->ev.addr = put(&at, ev->addr);
	c->ev.verdict = put(&at, ev->verdict);
	c->ev.reason = put(&at, ev->reason);
	c->ev.detail = put(&at, ev->detail);
	if (push(j, apply_event, done_event, c, 0) != 0) {
		free(c);
		j->dropped++;
		return -1;
	}
	return 0;
}

/* Hands each entry its result; rows of a failed batch are lost. */
static void
finish_batch(struct journal *j, struct passkeyd *d, struct entry *batch,
    const store_err_t *results, size_t n, store_err_t all)
{
	for (size_t i = 0; i < n; i++) {
		store_err_t r = all != STORE_OK ? all : results[i];

		if (batch[i].apply == apply_event && r != STORE_OK)
			j->dropped++;
		if (batch[i].done != NULL)
			batch[i].done(d, batch[i].arg, r);
	}
}

/* An error after which nothing else in the transaction can be trusted. */
static int
fatal(store_err_t r)
{
	return r == STORE_ERR_IO || r == STORE_ERR_FULL || r == STORE_ERR_NOMEM ||
	    r == STORE_ERR_READONLY || r == STORE_ERR_BUSY || r == STORE_ERR_UNAVAILABLE;
}

static store_err_t
run_batch(store_t *st, struct entry *batch, store_err_t *results, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		store_err_t r = store_txn_mark(st);

		if (r == STORE_OK) {
			r = batch[i].apply(st, batch[i].arg);
			store_txn_mark_end(st, r == STORE_OK);
		}
		results[i] = r;
		if (fatal(r)) {
			store_txn_rollback(st);
			return r;
		}
	}
	return store_txn_commit(st);
}

int
journal_flush(struct journal *j, struct passkeyd *d, store_t *st, int64_t now_ms)
{
	struct entry *batch;
	store_err_t *results, err;
	size_t n;

	if (j->n == 0)
		return -1;
	if (now_ms < j->retry_at)
		return (int)(j->retry_at - now_ms);
	/* lone audit rows wait a little for a write someone waits on */
	if (j->waited_on == 0 && now_ms - j->first_ms < JOURNAL_ROWS_DELAY_MS)
		return (int)(j->first_ms + JOURNAL_ROWS_DELAY_MS - now_ms);
	err = store_txn_begin(st);
	/* another writer's lock, or a store server reconnecting: a later turn */
	if (err == STORE_ERR_BUSY || err == STORE_ERR_UNAVAILABLE) {
		if (j->busy_since == 0)
			j->busy_since = now_ms;
		if (now_ms - j->busy_since < JOURNAL_MAX_WAIT_MS) {
			j->retry_at = now_ms + JOURNAL_RETRY_MS;
			return JOURNAL_RETRY_MS;
		}
	}
	j->busy_since = 0;
	j->retry_at = 0;
	/* take the batch: entries that done() queues belong to the next one */
	batch = j->q;
	n = j->n;
	j->q = NULL;
	j->n = j->cap = 0;
	j->waited_on = 0;
	j->first_ms = 0;
	if ((results = calloc(n, sizeof(*results))) == NULL) {
		if (err == STORE_OK)
			store_txn_rollback(st);
		err = STORE_ERR_NOMEM;
	}
	if (err == STORE_OK)
		err = run_batch(st, batch, results, n);
	finish_batch(j, d, batch, results, n, err);
	free(results);
	free(batch);
	return j->n > 0 ? 0 : -1;
}

size_t
journal_queued(const struct journal *j)
{
	return j->n;
}

uint64_t
journal_take_dropped(struct journal *j)
{
	uint64_t n = j->dropped;

	j->dropped = 0;
	return n;
}

void
journal_free(struct journal *j, struct passkeyd *d)
{
	if (j == NULL)
		return;
	struct entry *batch = j->q;
	size_t n = j->n;

	/*
	 * The queue is taken off first (as journal_flush does): a callback
	 * may queue a failure's audit row, which closing refuses and counts
	 * as lost instead of growing the queue being walked.
	 */
	j->q = NULL;
	j->n = j->cap = 0;
	j->closing = 1;
	finish_batch(j, d, batch, NULL, n, STORE_ERR_IO);
	free(batch);
	free(j);
}
