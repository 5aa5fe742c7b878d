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
 * The loop never waits for the store's lock: when another program holds
 * it (or a store server is being reconnected to), the batch is kept and
 * tried again on a later turn, and only after JOURNAL_MAX_WAIT_MS do its
 * entries fail (STORE_ERR_BUSY, or STORE_ERR_UNAVAILABLE).  The queue is
 * bounded: beyond JOURNAL_MAX_ENTRIES a new entry is refused at once and
 * an audit row is dropped and counted.
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

struct passkeyd;
struct journal;

typedef store_err_t (*journal_apply_fn)(store_t *st, void *arg);
typedef void (*journal_done_fn)(struct passkeyd *d, void *arg, store_err_t result);

struct journal *journal_new(void);
/* Entries still queued get done(STORE_ERR_IO); events are dropped. */
void journal_free(struct journal *j, struct passkeyd *d);

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
 * Commits what is queued, once per loop turn (or lets lone audit rows
 * wait for company).  Returns the milliseconds until it wants to run
 * again, or -1 when nothing is queued.
 */
int journal_flush(struct journal *j, struct passkeyd *d, store_t *st, int64_t now_ms);

size_t journal_queued(const struct journal *j);
/* Audit rows lost since the last call (queue full, or a failed commit). */
uint64_t journal_take_dropped(struct journal *j);

#endif
