/*
 * The wall clock re-approval windows are measured on, which never runs
 * backwards.  A window's opening and end are wall times (the store keeps
 * them for every instance and across restarts), so a clock stepped back
 * (NTP after a bad boot clock, an admin's `date`) would stretch every open
 * window by the step.  After a step back this clock goes on from its
 * latest reading at the pace of CLOCK_MONOTONIC; a step forward it takes
 * at once (windows then end early: the safe side).  A restart forgets the
 * latest reading; then the store's own rule still holds: a window opened
 * later than now (past STORE_WINDOW_SKEW, room for a fleet's clocks to
 * differ) lets no one in (store.h store_window_find).
 *
 * One per daemon, read on the loop only (no lock): what runs off the loop
 * is handed the time it was queued with.
 */
#ifndef PASSKEYD_WALLCLOCK_H
#define PASSKEYD_WALLCLOCK_H

#include <stdint.h>


struct wallclock {
	int64_t wall_ms;	/* the latest reading taken as the clock gave it; 0: none */
	int64_t mono_ms;	/* CLOCK_MONOTONIC then */
};

/* Seconds since the epoch, never less than an earlier answer of w's. */
int64_t wallclock_now(struct wallclock *w);

/* The same with the two clocks' readings given (ms): the unit tests' entry. */
int64_t wallclock_at(struct wallclock *w, int64_t real_ms, int64_t mono_ms);

#endif
