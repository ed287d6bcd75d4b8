/*
 * cc_promfile: a worker's figures as a Prometheus textfile-collector file
 * (node_exporter --collector.textfile.directory), written to PATH.tmp and
 * renamed over PATH, so the collector never reads half a file.  The text
 * passes `promtool check metrics`: a # HELP and # TYPE line per metric,
 * names cc_<worker>_<what>[_total|_seconds].
 *
 *   cc_promfile_t pf;
 *   cc_promfile_begin(&pf);
 *   cc_promfile_add(&pf, "cc_payout_credits_total", "counter",
 *                   "Awards credited by this process", (double) n);
 *   cc_promfile_commit(&pf, path);      // path NULL: does nothing
 *
 * A name may carry labels, cc_reconcile_money_breaks{class="pool_sum"}:
 * the # HELP and # TYPE lines are written once for consecutive samples of
 * one metric (the caller adds a metric's samples together and writes any
 * label value it builds already escaped).
 */

#ifndef CC_PROMFILE_H
#define CC_PROMFILE_H

#include <stddef.h>

#define CC_PROMFILE_MAX  16384

typedef struct {
    char    text[CC_PROMFILE_MAX];
    size_t  len;
    int     overflow;
    char    last[128];      /* the metric of the last # TYPE line */
} cc_promfile_t;

void cc_promfile_begin(cc_promfile_t *pf);

/* type: "counter" or "gauge" */
void cc_promfile_add(cc_promfile_t *pf, const char *name, const char *type,
    const char *help, double value);

/* 0, or -1 (errno set) when the file could not be written */
int cc_promfile_commit(cc_promfile_t *pf, const char *path);

#endif /* CC_PROMFILE_H */
