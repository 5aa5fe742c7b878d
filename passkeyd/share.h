/*
 * The loop's time for work that can wait, while logins are being served.
 *
 * A root listing of every passkey is thousands of pages, each a fraction
 * of a millisecond of the loop; asked back to back, they would take the
 * loop's time from the logins it serves meanwhile (performance issue: a
 * big listing must not slow logins).  So the control ops that only read
 * for a person (list, events, export, sessions) draw on a budget: while
 * a login step was served in the last SHARE_ACTIVE_MS, they may use at
 * most SHARE_PERCENT of the loop's time, with a burst of SHARE_BURST_US.
 * Past that, their next request waits in its connection's buffer (it is
 * not refused) until the budget has grown back.  With no login going on
 * they run at full speed.  Login steps are what their callers may take:
 * root's begin, a ceremony's status, a page step on a ceremony that
 * exists (so ping and the like slow no listing).
 *
 * Pure bookkeeping: the caller passes the time, so the unit test drives it.
 */
#ifndef PASSKEYD_SHARE_H
#define PASSKEYD_SHARE_H

#include <stdint.h>

#define SHARE_PERCENT		10
#define SHARE_BURST_US		2000
#define SHARE_ACTIVE_MS		250
/* A read that overran much leaves at most this debt: a wait of 1 s at 10 % */
#define SHARE_MAX_DEBT_US	100000

struct share {
	int64_t tokens_us;	/* what may still be spent; below 0 after a long page */
	int64_t refilled_us;	/* when tokens_us was last brought up to date */
	int64_t login_us;	/* the last login step served */
	uint64_t held;		/* times a read was told to wait (metrics) */
};

void share_init(struct share *s, int64_t now_us);
/* A login step was served (a begin, a status, a page's options or finish). */
void share_note_login(struct share *s, int64_t now_us);
/* 0 when work that can wait may run now, else the microseconds to wait. */
int64_t share_wait_us(struct share *s, int64_t now_us);
/* Work that can wait ran for spent_us. */
void share_charge(struct share *s, int64_t spent_us);

#endif
