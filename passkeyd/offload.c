#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "offload.h"
#include "passkeyd.h"

struct call {
	offload_fn fn;
	offload_done_fn done;
	void *arg;
	store_err_t result;
	int64_t queued_ms;	/* when it was added */
	char *words;		/* the worker's connection's error, if any (store.h) */
};

/* A first-in first-out ring of calls; its room is the offload's bound. */
struct ring {
	struct call c[OFFLOAD_MAX_CALLS];
	size_t head, n;
};

struct worker {
	struct offload *o;
	store_t *st;
	pthread_t thread;
};

/*
 * Under mu: todo, answered, out, stop, signalled.  A call is in todo
 * until a worker takes it, then the worker's alone, then in answered
 * until the loop runs its done; `out` counts all three, so the two rings
 * (each OFFLOAD_MAX_CALLS long) can never fill.
 */
struct offload {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct ring todo, answered;
	size_t out;
	int stop;
	int signalled;		/* a byte is in the pipe, not yet read by the loop */
	int wake[2];		/* [0] polled by the loop, [1] written by the workers */
	struct worker *w[OFFLOAD_MAX_WORKERS];
	size_t nw;
};

static void
ring_push(struct ring *r, struct call c)
{
	r->c[(r->head + r->n++) % OFFLOAD_MAX_CALLS] = c;
}

static struct call
ring_pop(struct ring *r)
{
	struct call c = r->c[r->head];

	r->head = (r->head + 1) % OFFLOAD_MAX_CALLS;
	r->n--;
	return c;
}

struct offload *
offload_new(void)
{
	struct offload *o = calloc(1, sizeof(*o));

	if (o == NULL)
		return NULL;
	o->wake[0] = o->wake[1] = -1;
	pthread_mutex_init(&o->mu, NULL);
	pthread_cond_init(&o->cv, NULL);
	return o;
}

/* Runs c on st, keeping what st said of an error it met (store.h). */
static store_err_t
run(store_t *st, struct call *c)
{
	store_err_t result;
	const char *words;

	store_errmsg_clear(st);
	result = c->fn(st, c->arg);
	if ((words = store_errmsg_new(st)) != NULL)
		c->words = strdup(words);	/* NULL: the loop's words, as before */
	return result;
}

/* c's done, told whose words an error it met has (NULL: the loop's). */
static void
answer(struct passkeyd *d, struct call *c, store_err_t result)
{
	const char *was = d != NULL ? d->store_words : NULL;

	if (d != NULL)
		d->store_words = c->words;
	c->done(d, c->arg, result);
	if (d != NULL)
		d->store_words = was;
	free(c->words);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	struct offload *o = w->o;
	struct call c;

	pthread_mutex_lock(&o->mu);
	for (;;) {
		while (!o->stop && o->todo.n == 0)
			pthread_cond_wait(&o->cv, &o->mu);
		if (o->stop)
			break;
		c = ring_pop(&o->todo);
		pthread_mutex_unlock(&o->mu);
		/* its step has waited long enough: answered, not run */
		if (clock_monotonic_ms() - c.queued_ms > OFFLOAD_MAX_WAIT_MS) {
			c.result = STORE_ERR_BUSY;
			c.words = strdup("passkeyd: no store worker was free in time");
		} else
			c.result = run(w->st, &c);
		pthread_mutex_lock(&o->mu);
		ring_push(&o->answered, c);
		/* one byte wakes the loop for every answer it finds then */
		if (!o->signalled && write(o->wake[1], "", 1) == 1)
			o->signalled = 1;
	}
	pthread_mutex_unlock(&o->mu);
	return NULL;
}

int
offload_start_worker(struct offload *o, store_t *own)
{
	struct worker *w = NULL;
	sigset_t all, was;
	int started;

	if (o->nw == OFFLOAD_MAX_WORKERS || (w = calloc(1, sizeof(*w))) == NULL)
		goto fail;
	if (o->wake[0] < 0 && pipe2(o->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
		o->wake[0] = o->wake[1] = -1;
		goto fail;
	}
	w->o = o;
	w->st = own;
	/* signals are the loop's: its poll() must be the one they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &was);
	started = pthread_create(&w->thread, NULL, worker_main, w) == 0;
	pthread_sigmask(SIG_SETMASK, &was, NULL);
	if (!started)
		goto fail;
	o->w[o->nw++] = w;
	return 0;
fail:
	free(w);
	store_close(own);
	return -1;
}

int
offload_ready(const struct offload *o)
{
	return o != NULL && o->nw > 0;
}

int
offload_add(struct offload *o, offload_fn fn, offload_done_fn done, void *arg)
{
	int added = 0;

	if (!offload_ready(o))
		return -1;
	pthread_mutex_lock(&o->mu);
	if (!o->stop && o->out < OFFLOAD_MAX_CALLS) {
		ring_push(&o->todo, (struct call){ fn, done, arg, STORE_OK,
		    clock_monotonic_ms(), NULL });
		o->out++;
		added = 1;
	}
	pthread_mutex_unlock(&o->mu);
	/* after the unlock: a woken worker would only block on the mutex */
	if (added)
		pthread_cond_signal(&o->cv);
	return added ? 0 : -1;
}

void
offload_call(struct offload *o, struct passkeyd *d, store_t *here, offload_fn fn,
    offload_done_fn done, void *arg)
{
	struct call here_call = { fn, done, arg, STORE_OK, 0, NULL };

	if (offload_add(o, fn, done, arg) != 0)
		answer(d, &here_call, fn(here, arg));	/* run here: the loop's own words */
}

int
offload_poll_fd(const struct offload *o)
{
	return offload_ready(o) ? o->wake[0] : -1;
}

/* Takes up to max answered calls off the ring, oldest first. */
static size_t
take_answered(struct offload *o, struct call *out, size_t max)
{
	char drain[64];
	size_t n = 0;

	pthread_mutex_lock(&o->mu);
	/* under mu: a worker writes its byte only while none is unread */
	if (o->signalled) {
		while (read(o->wake[0], drain, sizeof(drain)) > 0)
			;
		o->signalled = 0;
	}
	while (n < max && o->answered.n > 0)
		out[n++] = ring_pop(&o->answered);
	o->out -= n;
	/* answers left for a later pass: say so again */
	if (o->answered.n > 0 && write(o->wake[1], "", 1) == 1)
		o->signalled = 1;
	pthread_mutex_unlock(&o->mu);
	return n;
}

void
offload_flush(struct offload *o, struct passkeyd *d)
{
	struct call batch[64];
	size_t n;

	if (!offload_ready(o))
		return;
	/*
	 * Answers in bounded passes: a done may add a call of its own, which
	 * is answered on a later turn, not in this one.
	 */
	n = take_answered(o, batch, sizeof(batch) / sizeof(batch[0]));
	for (size_t i = 0; i < n; i++)
		answer(d, &batch[i], batch[i].result);
}

size_t
offload_outstanding(struct offload *o)
{
	size_t n;

	if (o == NULL)
		return 0;
	pthread_mutex_lock(&o->mu);
	n = o->out;
	pthread_mutex_unlock(&o->mu);
	return n;
}

void
offload_free(struct offload *o, struct passkeyd *d)
{
	struct call c;

	if (o == NULL)
		return;
	pthread_mutex_lock(&o->mu);
	o->stop = 1;
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
	/* a running call ends within the store's timeouts */
	for (size_t i = 0; i < o->nw; i++) {
		pthread_join(o->w[i]->thread, NULL);
		store_close(o->w[i]->st);
		free(o->w[i]);
	}
	/* no worker left: the rings are the loop's alone */
	while (o->answered.n > 0) {
		c = ring_pop(&o->answered);
		answer(d, &c, c.result);
	}
	while (o->todo.n > 0) {
		c = ring_pop(&o->todo);
		c.words = strdup("passkeyd: stopping before the call ran");
		answer(d, &c, STORE_ERR_UNAVAILABLE);
	}
	if (o->wake[0] >= 0) {
		close(o->wake[0]);
		close(o->wake[1]);
	}
	pthread_mutex_destroy(&o->mu);
	pthread_cond_destroy(&o->cv);
	free(o);
}
