/*
 * A wall clock that a test can step (LD_PRELOAD; never installed): time(),
 * gettimeofday() and clock_gettime() on CLOCK_REALTIME and
 * CLOCK_REALTIME_COARSE answer the real time moved by the whole seconds
 * written in the file CLOCK_SHIFT_FILE names ("-3600": an hour back; no
 * file or no number: 0).  The file is read again at most every 20 ms of
 * CLOCK_MONOTONIC, which is left alone: a step of the wall clock under a
 * running passkeyd, as NTP or an admin's `date` makes one, is what
 * tests/cli/test_manage.py test_window_clock needs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* RTLD_NEXT */
#endif
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#define REREAD_NS	20000000LL

static int (*real_clock_gettime)(clockid_t, struct timespec *);

static int
real(clockid_t id, struct timespec *ts)
{
	int (*fn)(clockid_t, struct timespec *) = __atomic_load_n(&real_clock_gettime,
	    __ATOMIC_ACQUIRE);

	if (fn == NULL) {
		fn = (int (*)(clockid_t, struct timespec *))dlsym(RTLD_NEXT, "clock_gettime");
		if (fn == NULL)
			abort();	/* no clock at all: nothing the test could trust */
		__atomic_store_n(&real_clock_gettime, fn, __ATOMIC_RELEASE);
	}
	return fn(id, ts);
}

/* The shift in seconds; threads may race to re-read it, and any answer is a whole one. */
static long long
shift(void)
{
	static long long value, read_at = -REREAD_NS - 1;
	const char *path = getenv("CLOCK_SHIFT_FILE");
	struct timespec mono;
	long long now, v = 0;
	FILE *f;

	if (path == NULL || real(CLOCK_MONOTONIC, &mono) != 0)
		return 0;
	now = (long long)mono.tv_sec * 1000000000LL + mono.tv_nsec;
	if (now - __atomic_load_n(&read_at, __ATOMIC_ACQUIRE) < REREAD_NS)
		return __atomic_load_n(&value, __ATOMIC_RELAXED);
	if ((f = fopen(path, "re")) != NULL) {
		if (fscanf(f, "%lld", &v) != 1)
			v = 0;
		fclose(f);
	}
	__atomic_store_n(&value, v, __ATOMIC_RELAXED);
	__atomic_store_n(&read_at, now, __ATOMIC_RELEASE);
	return v;
}

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	int rc = real(id, ts);

	if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE))
		ts->tv_sec += (time_t)shift();
	return rc;
}

time_t
time(time_t *out)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (time_t)-1;
	if (out != NULL)
		*out = ts.tv_sec;
	return ts.tv_sec;
}

int
gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	struct timespec ts;

	(void)tz;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return -1;
	tv->tv_sec = ts.tv_sec;
	tv->tv_usec = ts.tv_nsec / 1000;
	return 0;
}
