/*
 * cc_load_hist.h: cc-load's latency histogram (cc_load_hist.c), in us.
 */

#ifndef CC_LOAD_HIST_H
#define CC_LOAD_HIST_H

#include <stdint.h>

#include <cjson/cJSON.h>


/*
 * Latency histogram, HDR-style: values below 64 us have a bucket each;
 * above, each power of two is split in 32 equal buckets, so a bucket is
 * within 1/32 (3%) of its values.  Bucket of v (msb = highest set bit):
 * v if v < 64, else (msb - 5) * 32 + (v >> (msb - 5)); the mantissa
 * v >> (msb - 5) is 32..63, so the indexes run on without gaps.
 */
#define CC_LOAD_HIST_N        ((63 - 5) * 32 + 64)

typedef struct {
    uint64_t     n[CC_LOAD_HIST_N];
    uint64_t     count;
    uint64_t     max;
    uint64_t     sum;
} cc_load_hist_t;


void cc_load_hist_add(cc_load_hist_t *h, uint64_t v);
void cc_load_hist_merge(cc_load_hist_t *to, const cc_load_hist_t *from);

/* the value at or below which a share q of the samples lie */
uint64_t cc_load_hist_pct(const cc_load_hist_t *h, double q);

/* {p50, p90, p99[, p999, mean], max}; full adds the bracketed */
cJSON *cc_load_hist_json(const cc_load_hist_t *h, int full);


#endif /* CC_LOAD_HIST_H */
