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

/*
 * As cc_money_break, saying what --repair does with this one: the line
 * ends with " (REPAIR)" and the JSON object has "repair": REPAIR.
 * cc_money_break gives the class's own (cc_money_class_repair).
 */
cJSON *cc_money_break_repair(cc_money_t *m, cc_money_class_e cls,
    long shard, const char *award_id, uint64_t uid, const char *expected,
    const char *found, const char *repair);

/* what --repair does with each class, in cc_money_class_e order */
extern const char  *const cc_money_class_repair[CC_MONEY_STATEMENT];

/* a missing credit that --repair does not re-drive, and why */
#define CC_MONEY_REPAIR_MOVED  "repair: no; its wallet account already " \
    "holds a credit no transfer explains (a deleted transfer?): " \
    "re-driving would pay twice; see README \"Correcting transfers\""
#define CC_MONEY_REPAIR_HTTP   "repair: no (wallet http): cc-payout pays " \
    "a pending award through the wallet; a credited one needs a person: " \
    "see README \"Correcting transfers\""

/* --statement's breaks, as the others (a cc_stmt_break_pt; ctx is m) */
void *cc_money_stmt_break(void *ctx, cc_stmt_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found, const char *repair);

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
