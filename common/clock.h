/*
 * One monotonic clock for every deadline: a wall-clock step (NTP, an
 * admin's date command) must not stretch or cut a wait.
 */
#ifndef COMMON_CLOCK_H
#define COMMON_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t clock_monotonic_ms(void);
/* Microseconds on CLOCK_MONOTONIC: for budgets of loop time (share.h). */
int64_t clock_monotonic_us(void);
/* Seconds on CLOCK_MONOTONIC, to the nanosecond: for measuring, not deadlines. */
double clock_monotonic_s(void);

#endif
