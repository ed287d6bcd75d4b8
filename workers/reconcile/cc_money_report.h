/*
 * cc_money_report.h: the breaks and what is reported of them
 * (cc_money_report.c).
 */

#ifndef CC_MONEY_REPORT_H
#define CC_MONEY_REPORT_H

#include "cc_money_run.h"

/*
 * Counts a break, prints it and adds it to the document; its JSON object
 * (owned by the document), or NULL when it was left out.  shard < 0,
 * award_id NULL, uid 0: does not apply.
 */
cJSON *cc_money_break(cc_money_t *m, cc_money_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found);

/* --statement's breaks, as the others (a cc_stmt_break_pt; ctx is m) */
void *cc_money_stmt_break(void *ctx, cc_stmt_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found);

/* a progress line, at most every CC_MONEY_PROGRESS_MS */
void cc_money_progress(cc_money_t *m, const char *what);

/* the document, printed (the caller frees); m->breaks moves into it */
char *cc_money_document(cc_money_t *m, unsigned long long total);

/* text and a newline to path, by a rename; -1 with errno */
int cc_money_write_file(const char *path, const char *text);

/* the --metrics-file textfile, if asked for; a failure is logged */
void cc_money_metrics(cc_money_t *m, unsigned long long total,
    int64_t done_ms);

/* the campaign's alert command with json on stdin; its failure logged */
void cc_money_alert(cc_money_t *m, const char *json);

#endif /* CC_MONEY_REPORT_H */
