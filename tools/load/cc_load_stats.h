/*
 * cc_load_stats.h: cc-load's JSON lines on r->stats (cc_load_stats.c).
 */

#ifndef CC_LOAD_STATS_H
#define CC_LOAD_STATS_H

#include "cc_load.h"

/* the line of the second just past (and the progress line); r->sec reset */
void cc_load_second(cc_load_run_t *r);

/* the total line, and the summary on stderr */
void cc_load_total(cc_load_run_t *r);

#endif /* CC_LOAD_STATS_H */
