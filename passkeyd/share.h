/*
 * The loop's time for work that can wait, when the loop has other work.
 *
 * A root listing of every passkey is thousands of pages, each a fraction
 * of a millisecond of the loop; asked back to back, they would take the
 * loop's time from the logins it serves meanwhile (performance issue: a
 * big listing must not slow logins).  So the control ops that only read
 * for a person (list, events, export, sessions: the op table's
 * SHARE_WAITS) draw on a budget, but only while the loop is busy with
 * everything else: when the other work took at least SHARE_BUSY_PERCENT
 * of the loop's time over the last SHARE_WINDOW_US, they may use at most
 * SHARE_PERCENT of it, with a burst of SHARE_BURST_US.  Past that, their
 * next request waits in its connection's buffer (it is not refused) until
 * the budget has grown back, and then runs.  Root has a budget of its own,
 * so no account's reads can hold back an admin's listing.  A quiet loop,
 * or one serving a few logins a second, lets them run at full speed.  (A
 * loop busy between half and all of its time still caps them: logins
 * first, while they want much of the loop.)
 *
 * Pure bookkeeping: the caller passes the times, so the unit test drives it.
 */
#ifndef PASSKEYD_SHARE_H
#define PASSKEYD_SHARE_H

#include <stdint.h>

#define SHARE_PERCENT		5
#define SHARE_BURST_US		2000
#define SHARE_BUSY_PERCENT	50
#define SHARE_WINDOW_US		100000
/* A read that overran much leaves at most this debt: a wait of 1 s at 5 % */
#define SHARE_MAX_DEBT_US	50000

/* Root's reads (an admin's listing) and everyone else's: no account can spend root's. */
enum share_who { SHARE_ROOT, SHARE_USERS, SHARE_WHO };

struct share_bucket {
	int64_t tokens_us;	/* what may still be spent; below 0 after a long page */
	int64_t refilled_us;	/* the time up to which tokens_us has been grown */
};

struct share {
	struct share_bucket bucket[SHARE_WHO];
	int64_t window_us;	/* when the current measuring window began */
	int64_t other_us;	/* the loop's time on other work in that window */
	int64_t read_us;	/* the reads' time in the current turn */
	int busy_percent;	/* other work's share of the last whole window */
	uint64_t held;		/* times a read was told to wait (metrics) */
};

void share_init(struct share *s, int64_t now_us);
/* One turn of the loop ended at now_us, after busy_us of work (reads included). */
void share_turn(struct share *s, int64_t now_us, int64_t busy_us);
/*
 * 0 when a read of who's may run now, else the microseconds to wait.  A
 * read told to wait runs when that time is over, whatever the budget
 * says then (control.c): a wait is never renewed, so none is starved.
 */
int64_t share_wait_us(struct share *s, enum share_who who, int64_t now_us);
/* A read of who's ran for spent_us. */
void share_charge(struct share *s, enum share_who who, int64_t spent_us);

#endif
