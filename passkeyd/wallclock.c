#include <time.h>

#include "clock.h"
#include "wallclock.h"

/* Whole seconds, rounded down for negative times too. */
static int64_t
seconds_of(int64_t ms)
{
	return ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
}

int64_t
wallclock_at(struct wallclock *w, int64_t real_ms, int64_t mono_ms)
{
	int64_t projected = w->wall_ms + (mono_ms - w->mono_ms);

	if (w->wall_ms == 0 || real_ms >= projected) {
		w->wall_ms = real_ms;
		w->mono_ms = mono_ms;
		return seconds_of(real_ms);
	}
	/* stepped back: on from the latest reading, at the monotonic pace */
	return seconds_of(projected);
}

int64_t
wallclock_now(struct wallclock *w)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return wallclock_at(w, (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000,
	    clock_monotonic_ms());
}
