/*
 * Store writes, group-committed: everything passkeyd writes in one turn
 * of its loop (audit rows, counter updates, new passkeys, renames...) goes
 * into one transaction, committed once at the end of the turn, so a burst
 * of logins shares one fsync instead of paying three each.
 *
 * Each write is an entry: `apply` runs inside the transaction (in a
 * savepoint of its own, so its failure undoes only its part), and `done`
 * runs after the commit with apply's result, or with the commit's error
 * when the whole transaction failed.  So `done` is where an answer that
 * promises durability is given: a login is "approved" only after its
 * counter update and its audit row are on disk.
 *
 * Audit rows alone (a begin, a refusal: nothing waits on them) wait up to
 * JOURNAL_ROWS_DELAY_MS for company, so that they share the fsync of the
 * next write someone waits on, such as the approval of the login they
 * began: one transaction per login, not one per row.  A write with a
 * `done` is committed at the end of the turn it was queued in.
 *
 * The loop never waits for a commit.  passkeyd gives the journal store
 * connections of its own (journal_start_writer), and writer threads
 * commit the batches on them while the loop goes on serving: a slow
 * fsync, another program's lock or a slow database server holds up only
 * the answers that wait for that batch, never the other logins' pages,
 * begins and statuses.  Each writer holds one batch at a time; what is
 * queued while all are busy becomes the next, bigger batch.  With more
 * than one writer (PostgreSQL), a batch held up by a row lock holds up
 * only its own entries: the next goes to another writer.  `apply` runs on the
 * writer thread and may touch only its arg (and what the loop leaves
 * alone while the entry is queued: a committing ceremony); `done` runs on
 * the loop, in journal_flush, after the writer's pipe woke it.
 *
 * Without a writer (tests, fuzzers) the loop commits the batch itself at
 * the end of its turn, and when another program holds the store's lock
 * (or a store server is being reconnected to), the batch is kept and
 * tried again on a later turn.  Either way, only after JOURNAL_MAX_WAIT_MS
 * do its entries fail (STORE_ERR_BUSY, or STORE_ERR_UNAVAILABLE).  The
 * queue is bounded: beyond JOURNAL_MAX_ENTRIES a new entry is refused at
 * once and an audit row is dropped and counted.
 */
#ifndef PASSKEYD_JOURNAL_H
#define PASSKEYD_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define JOURNAL_MAX_ENTRIES	8192
#define JOURNAL_MAX_WAIT_MS	5000
#define JOURNAL_RETRY_MS	10
#define JOURNAL_ROWS_DELAY_MS	100
#define JOURNAL_MAX_WRITERS	4

struct passkeyd;
struct journal;

typedef store_err_t (*journal_apply_fn)(store_t *st, void *arg);
typedef void (*journal_done_fn)(struct passkeyd *d, void *arg, store_err_t result);

struct journal *journal_new(void);
/*
 * Entries still queued get done(STORE_ERR_IO); events are dropped.  A
 * batch with the writer is waited for (its store calls are bounded).
 */
void journal_free(struct journal *j, struct passkeyd *d);

/*
 * Commits from now on in writer threads: this adds one, on `own` (a
 * connection to the same store as the loop's; the journal closes it).
 * Each idle writer takes the next batch, so several writers commit at
 * once (for a store that takes concurrent writers).  -1 when the thread
 * cannot start or JOURNAL_MAX_WRITERS run: `own` is closed, and the
 * writers there are (or the loop) go on committing.
 */
int journal_start_writer(struct journal *j, store_t *own);
/* Readable when the writer has finished a batch; -1 without a writer. */
int journal_poll_fd(const struct journal *j);

/*
 * Queues a write, committed at the end of this turn; -1 when the queue is
 * full (nothing queued, done not called).
 */
int journal_add(struct journal *j, journal_apply_fn apply, journal_done_fn done,
    void *arg);
/*
 * Queues an audit row (copied), committed with the next write or within
 * JOURNAL_ROWS_DELAY_MS; -1 when the queue is full (counted as dropped).
 */
int journal_event(struct journal *j, const struct store_event *ev);
/* Queues a write nobody waits on (retention), as journal_event does. */
int journal_add_background(struct journal *j, journal_apply_fn apply,
    journal_done_fn done, void *arg);

/*
 * Answers the batch the writer finished, and commits (or hands the
 * writer) what is queued, once per loop turn (or lets lone audit rows
 * wait for company).  `st` is the loop's store, used only without a
 * writer.  Returns the milliseconds until it wants to run again, or -1
 * when it needs no timer (nothing queued, or the writer's pipe will wake
 * the loop).
 */
int journal_flush(struct journal *j, struct passkeyd *d, store_t *st, int64_t now_ms);
/*
 * At the end: commits everything queued, for at most timeout_ms.  0 when
 * nothing is left, -1 when something is (journal_free fails it).
 */
int journal_drain(struct journal *j, struct passkeyd *d, store_t *st, int timeout_ms);

size_t journal_queued(const struct journal *j);
/* Audit rows lost since the last call (queue full, or a failed commit). */
uint64_t journal_take_dropped(struct journal *j);
/* The writer's store's own words for the last batch that failed, or "". */
const char *journal_errmsg(const struct journal *j);

#endif
