/*
 * cc_load_hist.c: the latency histogram of cc-load, HDR-style (the
 * buckets are said in cc_load_hist.h): constant memory, a percentile
 * within 3% and never low.
 */

#include <math.h>

#include "cc_load_hist.h"


static unsigned
cl_hist_index(uint64_t v)
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
cl_hist_value(unsigned i)
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
cl_hist_add(cl_hist_t *h, uint64_t v)
{
    h->n[cl_hist_index(v)]++;
    h->count++;
    h->sum += v;
    if (v > h->max) {
        h->max = v;
    }
}


void
cl_hist_merge(cl_hist_t *to, const cl_hist_t *from)
{
    unsigned  i;

    for (i = 0; i < CL_HIST_N; i++) {
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
cl_hist_pct(const cl_hist_t *h, double q)
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
    for (i = 0; i < CL_HIST_N; i++) {
        seen += h->n[i];
        if (seen >= rank) {
            uint64_t  v = cl_hist_value(i);
            return v < h->max ? v : h->max;
        }
    }
    return h->max;
}


cJSON *
cl_hist_json(const cl_hist_t *h, int full)
{
    cJSON  *o = cJSON_CreateObject();

    cJSON_AddNumberToObject(o, "p50", (double) cl_hist_pct(h, 0.50));
    cJSON_AddNumberToObject(o, "p90", (double) cl_hist_pct(h, 0.90));
    cJSON_AddNumberToObject(o, "p99", (double) cl_hist_pct(h, 0.99));
    if (full) {
        cJSON_AddNumberToObject(o, "p999", (double) cl_hist_pct(h, 0.999));
        cJSON_AddNumberToObject(o, "mean", h->count
                                ? (double) (h->sum / h->count) : 0);
    }
    cJSON_AddNumberToObject(o, "max", (double) h->max);
    return o;
}
