/* clock.h - the monotonic clock, for deadlines and elapsed times */
#ifndef MEMGATE_UTIL_CLOCK_H
#define MEMGATE_UTIL_CLOCK_H

#include <stdint.h>

/* nanoseconds of CLOCK_MONOTONIC: only differences mean anything */
uint64_t mg_monotonic_ns(void);

#endif
