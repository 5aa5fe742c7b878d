/*
 * Store calls the loop does not wait for (a fleet's PostgreSQL).
 *
 * A login step that must read the store first (a page's passkeys, the
 * credential an assertion names, another instance's ceremony row) or
 * move its ceremony's row (status's approved -> used) hands that call to
 * an offload worker: a thread with a store connection of its own.  The
 * loop goes on serving; when the call returns, the worker wakes the loop
 * through the offload's pipe, and the loop runs the step's `done` with
 * the call's result.  So a slow server, or a statement waiting for a
 * row lock, holds up only the step that waits for it, never the other
 * logins' steps: the loop itself does not wait on the server for them.
 *
 * Unlike the journal, nothing is batched and there is no transaction:
 * each call runs at once, alone, as the loop would have run it (its
 * statements autocommit).  Calls run in the order they were added, by
 * whichever worker is free; two workers run two calls at once.
 *
 * `fn` runs on a worker and may touch only its arg (and what the loop
 * leaves alone while the call is out: a ceremony the caller pinned);
 * `done` runs on the loop, in offload_flush.  Without a worker (SQLite,
 * tests) offload_add returns -1 and the caller calls the store itself.
 * A result other than what fn returns (STORE_ERR_BUSY: it waited too long;
 * STORE_ERR_UNAVAILABLE: the daemon stopped) means fn never ran.
 */
#ifndef PASSKEYD_OFFLOAD_H
#define PASSKEYD_OFFLOAD_H

#include <stddef.h>

#include "store.h"

#define OFFLOAD_MAX_WORKERS	4
#define OFFLOAD_MAX_CALLS	4096	/* queued, running and answered, at once */
/*
 * A call still queued after this long is answered STORE_ERR_BUSY without
 * running: every step waits a bounded time (this, then the store's own
 * timeouts for the call), however long the queue in front of it.
 */
#define OFFLOAD_MAX_WAIT_MS	5000

struct passkeyd;
struct offload;

typedef store_err_t (*offload_fn)(store_t *st, void *arg);
typedef void (*offload_done_fn)(struct passkeyd *d, void *arg, store_err_t result);

struct offload *offload_new(void);
/*
 * Adds a worker on `own` (a connection to the loop's store; the offload
 * closes it).  -1 when no thread can start or OFFLOAD_MAX_WORKERS run
 * (`own` is closed).
 */
int offload_start_worker(struct offload *o, store_t *own);
/* Whether calls can be handed off at all (a worker runs). */
int offload_ready(const struct offload *o);
/*
 * Hands fn(arg) to a worker; done(d, arg, result) follows on the loop.
 * -1 without a worker or with OFFLOAD_MAX_CALLS out: nothing was added,
 * and the caller runs the call itself.
 */
int offload_add(struct offload *o, offload_fn fn, offload_done_fn done, void *arg);
/*
 * The same, or, when nothing can be handed off, fn(here, arg) on the
 * loop at once: done follows either way.  For a call that must happen
 * even when it costs the loop a round trip.
 */
void offload_call(struct offload *o, struct passkeyd *d, store_t *here, offload_fn fn,
    offload_done_fn done, void *arg);
/* Readable when a call has returned; -1 without a worker. */
int offload_poll_fd(const struct offload *o);
/* Runs `done` for every call that has returned (on the loop). */
void offload_flush(struct offload *o, struct passkeyd *d);
/* Calls out now: queued or running, not yet answered (metrics). */
size_t offload_outstanding(struct offload *o);
/*
 * Waits for the running calls (each is bounded by the store's timeouts),
 * answers them, fails the queued ones with STORE_ERR_UNAVAILABLE, stops.
 */
void offload_free(struct offload *o, struct passkeyd *d);

#endif
