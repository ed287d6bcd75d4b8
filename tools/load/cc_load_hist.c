/*
 * cc_load_hist.c: the latency histogram of cc-load, HDR-style (the
 * buckets are said in cc_load_hist.h): constant memory, a percentile
 * within 3% and never low.
 */

#include <math.h>

#include "cc_load_hist.h"


static unsigned
cc_load_hist_index(uint64_t v)
{
    int  msb, shift;

    if (v < 64) {
        return (unsigned) v;
    }
    msb = 63 - __builtin_clzll(v);
    shift = msb - 5;
    return (unsigned) (shift * 32 + (int) (v >> shift));
}


/* the highest value of a bucket: a percentile never reads low */
static uint64_t
cc_load_hist_value(unsigned i)
{
    unsigned  shift, mant;

    if (i < 64) {
        return i;
    }
    shift = i / 32 - 1;
    mant = i - shift * 32;
    return (((uint64_t) mant + 1) << shift) - 1;
}


void
cc_load_hist_add(cc_load_hist_t *h, uint64_t v)
{
    h->n[cc_load_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max) {
        h->max = v;
    }
}


void
cc_load_hist_merge(cc_load_hist_t *to, const cc_load_hist_t *from)
{
    unsigned  i;

    for (i = 0; i < CC_LOAD_HIST_N; i++) {
        to->n[i] += from->n[i];
    }
    to->count += from->count;
    to->sum += from->sum;
    if (from->max > to->max) {
        to->max = from->max;
    }
}


/* the value at or below which a share q of the samples lie */
uint64_t
cc_load_hist_pct(const cc_load_hist_t *h, double q)
{
    uint64_t  rank, seen;
    unsigned  i;

    if (h->count == 0) {
        return 0;
    }
    rank = (uint64_t) ceil(q * (double) h->count);
    if (rank == 0) {
        rank = 1;
    }
    seen = 0;
    for (i = 0; i < CC_LOAD_HIST_N; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t  v = cc_load_hist_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}


cJSON *
cc_load_hist_json(const cc_load_hist_t *h, int full)
{
    cJSON  *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "p50", (double) cc_load_hist_pct(h, 0.50));
    cJSON_AddNumberToObject(o, "p90", (double) cc_load_hist_pct(h, 0.90));
    cJSON_AddNumberToObject(o, "p99", (double) cc_load_hist_pct(h, 0.99));
    if (full) {
        cJSON_AddNumberToObject(o, "p999", (double) cc_load_hist_pct(h, 0.999));
        cJSON_AddNumberToObject(o, "mean", h->count
                                ? (double) (h->sum / h->count) : 0);
    }
    cJSON_AddNumberToObject(o, "max", (double) h->max);
    return o;
}
