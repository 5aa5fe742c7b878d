#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "journal.h"
#include "passkeyd.h"

struct entry {
	journal_apply_fn apply;
	journal_done_fn done;
	void *arg;
	char *words;	/* its connection's words for an error it met (store.h) */
};

/* An audit row owns copies of its strings, laid out after it. */
struct event_copy {
	struct store_event ev;
	char text[];
};

/*
 * A writer thread and the batch it holds.  The loop hands a batch over
 * (busy), the writer commits it on its own store connection and hands it
 * back (done), then says so through the journal's pipe, which the loop
 * polls.  Under mu: busy, done, stop, all, why; the batch's entries are
 * the writer's only between the two hand-overs.
 */
struct writer {
	store_t *st;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int wake;		/* the journal's pipe, the end the writer writes */
	unsigned *signals;	/* the journal's count of wake-ups sent (atomic) */
	int stop, busy, done;
	double took;		/* the batch's BEGIN to COMMIT, in seconds */
	struct entry *batch;
	store_err_t *results;
	size_t n;
	store_err_t all;
	char why[256];		/* the store's own words for a failed batch */
};

struct journal {
	/* none: batches are committed by the loop itself */
	struct writer *w[JOURNAL_MAX_WRITERS];
	size_t nw;
	int wake[2];		/* [0] polled by the loop, [1] written by the writers */
	/*
	 * Wake-ups the writers sent (atomic, counted before the byte is
	 * written) and the loop has read: the pipe is read only while they
	 * differ, not on every loop turn.
	 */
	unsigned signals, drained;
	struct entry *q;	/* FIFO: q[0..n) */
	size_t n, cap;
	size_t waited_on;	/* queued entries someone waits for (not lone rows) */
	int64_t first_ms;	/* when the oldest queued entry came, or 0 */
	int closing;		/* journal_free: nothing more is queued */
	int64_t busy_since;	/* first busy attempt of the batch, or 0 */
	int64_t retry_at;
	uint64_t dropped;
	char why[256];		/* the store's words for the last failed batch */
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
	/* NULL: passkeyd is stopping and the journal is gone (a close after its drain) */
	if (j == NULL || j->n == JOURNAL_MAX_ENTRIES || j->closing)
		return -1;
	if (j->n == j->cap) {
		size_t ncap = j->cap == 0 ? 64 : j->cap * 2;
		struct entry *nq = reallocarray(j->q, ncap, sizeof(*nq));

		if (nq == NULL)
			return -1;
		j->q = nq;
		j->cap = ncap;
	}
	j->q[j->n++] = (struct entry){ apply, done, arg, NULL };
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

/*
 * Hands each entry its result; rows of a failed batch are lost.  took:
 * the commit's seconds (metrics), or a negative number when there was
 * no commit (the journal closing).
 */
/*
 * Whose words go with entry i's answer: its own error's, when that is what
 * it is told (it alone failed, or its error failed the batch); else the
 * failed batch's; NULL: none of the writer's, the loop's own.
 */
static const char *
words_of(const struct journal *j, const struct entry *e, const store_err_t *results,
    size_t i, store_err_t all)
{
	if (e->words != NULL && (all == STORE_OK || results[i] == all))
		return e->words;
	return all != STORE_OK && j->why[0] != '\0' ? j->why : NULL;
}

static void
finish_batch(struct journal *j, struct passkeyd *d, struct entry *batch,
    const store_err_t *results, size_t n, store_err_t all, double took)
{
	if (took >= 0 && d != NULL)
		metrics_commit(d->metrics, took, all);
	for (size_t i = 0; i < n; i++) {
		store_err_t r = all != STORE_OK ? all : results[i];

		if (batch[i].apply == apply_event && r != STORE_OK)
			j->dropped++;
		if (d != NULL)
			d->store_words = words_of(j, &batch[i], results, i, all);
		if (batch[i].done != NULL)
			batch[i].done(d, batch[i].arg, r);
		if (d != NULL)
			d->store_words = NULL;
		free(batch[i].words);
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
		const char *words;

		if (r == STORE_OK) {
			store_errmsg_clear(st);
			r = batch[i].apply(st, batch[i].arg);
			/* before the mark's end, whose success would say "no error" */
			if (r != STORE_OK && (words = store_errmsg_new(st)) != NULL)
				batch[i].words = strdup(words);
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

/* Takes the queue as one batch: entries queued meanwhile go in the next. */
static struct entry *
take_queue(struct journal *j, size_t *n)
{
	struct entry *batch = j->q;

	*n = j->n;
	j->q = NULL;
	j->n = j->cap = 0;
	j->waited_on = 0;
	j->first_ms = 0;
	return batch;
}

/* Whether the queue should be committed now; else the wait in *wait_ms. */
static int
due(struct journal *j, int64_t now_ms, int *wait_ms)
{
	*wait_ms = -1;
	if (j->n == 0)
		return 0;
	if (now_ms < j->retry_at) {
		*wait_ms = (int)(j->retry_at - now_ms);
		return 0;
	}
	/* lone audit rows wait a little for a write someone waits on */
	if (j->waited_on == 0 && now_ms - j->first_ms < JOURNAL_ROWS_DELAY_MS) {
		*wait_ms = (int)(j->first_ms + JOURNAL_ROWS_DELAY_MS - now_ms);
		return 0;
	}
	return 1;
}

/* The loop commits the batch itself, on its own connection (no writer). */
static int
flush_here(struct journal *j, struct passkeyd *d, store_t *st, int64_t now_ms)
{
	struct entry *batch;
	store_err_t *results, err;
	size_t n;
	double t0 = clock_monotonic_s();
	int wait;

	if (!due(j, now_ms, &wait))
		return wait;
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
	batch = take_queue(j, &n);
	if ((results = calloc(n, sizeof(*results))) == NULL) {
		if (err == STORE_OK)
			store_txn_rollback(st);
		err = STORE_ERR_NOMEM;
	}
	if (err == STORE_OK)
		err = run_batch(st, batch, results, n);
	/* the loop's own connection: its words, not a writer's of before */
	if (err != STORE_OK)
		snprintf(j->why, sizeof(j->why), "%s", store_errmsg(st));
	finish_batch(j, d, batch, results, n, err, clock_monotonic_s() - t0);
	free(results);
	free(batch);
	return j->n > 0 ? 0 : -1;
}

/*
 * The writer's BEGIN: another program's lock, or a server being
 * reconnected to, is waited out here, off the loop, for as long as the
 * loop would have retried (JOURNAL_MAX_WAIT_MS).
 */
static store_err_t
writer_begin(struct writer *w)
{
	int64_t start = clock_monotonic_ms();
	store_err_t err;

	while ((err = store_txn_begin(w->st)) == STORE_ERR_BUSY ||
	    err == STORE_ERR_UNAVAILABLE) {
		if (clock_monotonic_ms() - start >= JOURNAL_MAX_WAIT_MS)
			break;
		(void)poll(NULL, 0, JOURNAL_RETRY_MS);
	}
	return err;
}

static void *
writer_main(void *arg)
{
	struct writer *w = arg;
	store_err_t err;
	sigset_t all;

	/* signals are the loop's: its poll() must be the one they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		while (!w->stop && !(w->busy && !w->done))
			pthread_cond_wait(&w->cv, &w->mu);
		if (!(w->busy && !w->done))
			break;	/* stopping, and nothing handed over */
		pthread_mutex_unlock(&w->mu);
		double t0 = clock_monotonic_s();

		err = w->results == NULL ? STORE_ERR_NOMEM : writer_begin(w);
		if (err == STORE_OK)
			err = run_batch(w->st, w->batch, w->results, w->n);
		pthread_mutex_lock(&w->mu);
		w->took = clock_monotonic_s() - t0;
		w->all = err;
		snprintf(w->why, sizeof(w->why), "%s", err != STORE_OK ?
		    store_errmsg(w->st) : "");
		w->done = 1;
		/* counted first: the loop reads the pipe until it has them all */
		__atomic_add_fetch(w->signals, 1, __ATOMIC_SEQ_CST);
		/* a full pipe already holds a wake-up: one is enough */
		if (write(w->wake, "", 1) != 1)
			__atomic_sub_fetch(w->signals, 1, __ATOMIC_SEQ_CST);
	}
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* The batch w finished, answered on the loop; 0 when none. */
static int
collect(struct journal *j, struct writer *w, struct passkeyd *d)
{
	struct entry *batch;
	store_err_t *results, all;
	double took;
	size_t n;

	pthread_mutex_lock(&w->mu);
	if (!w->done) {
		pthread_mutex_unlock(&w->mu);
		return 0;
	}
	batch = w->batch;
	results = w->results;
	n = w->n;
	all = w->all;
	took = w->took;
	if (all != STORE_OK)
		snprintf(j->why, sizeof(j->why), "%s", w->why);
	w->batch = NULL;
	w->results = NULL;
	w->busy = w->done = 0;
	pthread_mutex_unlock(&w->mu);
	finish_batch(j, d, batch, results, n, results == NULL ? STORE_ERR_NOMEM : all, took);
	free(results);
	free(batch);
	return 1;
}

/*
 * Every batch the writers finished, in the order of the writers.  The
 * pipe is drained only while a wake-up sent is not yet read: a byte is
 * written after its count, so one not arrived yet is read on the turn
 * its arrival wakes.
 */
static void
collect_all(struct journal *j, struct passkeyd *d)
{
	char drain[64];
	ssize_t n;

	while (__atomic_load_n(&j->signals, __ATOMIC_SEQ_CST) != j->drained &&
	    (n = read(j->wake[0], drain, sizeof(drain))) > 0)
		j->drained += (unsigned)n;
	for (size_t i = 0; i < j->nw; i++)
		(void)collect(j, j->w[i], d);
}

/* Hands the queue to w, an idle writer. */
static void
hand_over(struct journal *j, struct writer *w)
{
	size_t n;
	struct entry *batch = take_queue(j, &n);
	store_err_t *results = calloc(n, sizeof(*results));

	pthread_mutex_lock(&w->mu);
	w->batch = batch;
	w->results = results;	/* NULL: the writer fails the batch (NOMEM) */
	w->n = n;
	w->busy = 1;
	w->done = 0;
	pthread_mutex_unlock(&w->mu);
	/*
	 * After the unlock: a writer woken while the loop still holds its
	 * mutex would only block on it again (two more futex calls and a
	 * context switch per batch).  It checks busy under the mutex before
	 * it waits, so the wake-up cannot be missed.
	 */
	pthread_cond_signal(&w->cv);
}

static int
writer_busy(struct writer *w)
{
	int busy;

	pthread_mutex_lock(&w->mu);
	busy = w->busy;
	pthread_mutex_unlock(&w->mu);
	return busy;
}

static struct writer *
idle_writer(struct journal *j)
{
	for (size_t i = 0; i < j->nw; i++)
		if (!writer_busy(j->w[i]))
			return j->w[i];
	return NULL;
}

static int
any_writer_busy(struct journal *j)
{
	for (size_t i = 0; i < j->nw; i++)
		if (writer_busy(j->w[i]))
			return 1;
	return 0;
}

int
journal_flush(struct journal *j, struct passkeyd *d, store_t *st, int64_t now_ms)
{
	struct writer *w;
	int wait;

	if (j->nw == 0)
		return flush_here(j, d, st, now_ms);
	collect_all(j, d);
	/*
	 * A batch per idle writer: one held up (a row lock, a slow server)
	 * holds up only its own entries, and what comes meanwhile goes to
	 * another writer, or waits to be the next, bigger batch.
	 */
	if ((w = idle_writer(j)) == NULL)
		return -1;	/* a writer's wake-up comes through the pipe */
	if (!due(j, now_ms, &wait))
		return wait;
	hand_over(j, w);
	return -1;
}

int
journal_poll_fd(const struct journal *j)
{
	return j->nw > 0 ? j->wake[0] : -1;
}

const char *
journal_errmsg(const struct journal *j)
{
	return j->why;
}

int
journal_drain(struct journal *j, struct passkeyd *d, store_t *st, int timeout_ms)
{
	int64_t until = clock_monotonic_ms() + timeout_ms;
	int64_t now;
	int wait;

	while ((now = clock_monotonic_ms()) < until) {
		/* at the end, lone rows need not wait for company */
		wait = journal_flush(j, d, st, now + JOURNAL_ROWS_DELAY_MS);
		if (any_writer_busy(j)) {
			struct pollfd p = { .fd = j->wake[0], .events = POLLIN };

			(void)poll(&p, 1, (int)(until - now));
			continue;
		}
		if (wait < 0)
			return 0;
		(void)poll(NULL, 0, wait > 0 ? wait : 1);
	}
	return journal_queued(j) > 0 ? -1 : 0;
}

static void
writer_free(struct writer *w)
{
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->cv);
	store_close(w->st);
	free(w);
}

int
journal_start_writer(struct journal *j, store_t *own)
{
	struct writer *w;

	if (j->nw == JOURNAL_MAX_WRITERS || (w = calloc(1, sizeof(*w))) == NULL) {
		store_close(own);
		return -1;
	}
	if (j->nw == 0 && pipe2(j->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		free(w);
		store_close(own);
		return -1;
	}
	w->st = own;
	w->wake = j->wake[1];
	w->signals = &j->signals;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	if (pthread_create(&w->thread, NULL, writer_main, w) != 0) {
		writer_free(w);
		if (j->nw == 0) {
			close(j->wake[0]);
			close(j->wake[1]);
		}
		return -1;
	}
	j->w[j->nw++] = w;
	return 0;
}

/* Waits for the batches in flight (their writes are bounded), then stops. */
static void
stop_writers(struct journal *j, struct passkeyd *d)
{
	for (size_t i = 0; i < j->nw; i++) {
		struct writer *w = j->w[i];

		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
	}
	for (size_t i = 0; i < j->nw; i++)
		pthread_join(j->w[i]->thread, NULL);
	for (size_t i = 0; i < j->nw; i++) {
		(void)collect(j, j->w[i], d);
		writer_free(j->w[i]);
		j->w[i] = NULL;
	}
	j->nw = 0;
	close(j->wake[0]);
	close(j->wake[1]);
}

size_t
journal_queued(const struct journal *j)
{
	size_t n = j->n;

	for (size_t i = 0; i < j->nw; i++) {
		pthread_mutex_lock(&j->w[i]->mu);
		n += j->w[i]->busy ? j->w[i]->n : 0;
		pthread_mutex_unlock(&j->w[i]->mu);
	}
	return n;
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
	if (j->nw > 0)
		stop_writers(j, d);

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
	finish_batch(j, d, batch, NULL, n, STORE_ERR_IO, -1);
	free(batch);
	free(j);
}
