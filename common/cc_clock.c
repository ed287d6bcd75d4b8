/*
 * cc_clock: the wall clock in milliseconds.
 */

#include <time.h>

#include "cc_clock.h"


int64_t
cc_now_ms(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_REALTIME, &ts);

    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
