/*
 * cc_clock: the one wall clock of the programs, in milliseconds since the
 * epoch (CLOCK_REALTIME: what log lines, metrics and stored times use).
 * The workers reach it through cc_worker.h; tools that link only common/
 * include this.  Not for the nginx module: it has ngx_current_msec.
 */

#ifndef CC_CLOCK_H
#define CC_CLOCK_H

#include <stdint.h>

int64_t cc_now_ms(void);

#endif /* CC_CLOCK_H */
