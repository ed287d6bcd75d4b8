/*
 * cc_money_report.c: what the money checks report.  Each break
 * is counted by class, printed on one line of stdout and added to the
 * JSON document (its first CC_MONEY_JSON_MAX); at the end the document
 * is written (--json), the metrics textfile (--metrics-file), and, when
 * there is a break, the campaign's alert command is run with the
 * document on stdin.  The progress line on stderr is here too.
 */

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cc_alert.h"
#include "cc_promfile.h"
#include "cc_money_report.h"
#include "cc_worker.h"


const char  *const cc_money_class_names[CC_MONEY_NCLASS] = {
    "missing_credit", "duplicate_credit", "amount_mismatch",
    "transfer_without_award", "stale_pending", "status_mismatch",
    "eligible_mismatch", "pool_sum", "ledger_unbalanced", "pool_not_empty",
    "long_at_wallet", "short_at_wallet", "wallet_amount_mismatch",
    "duplicate_at_wallet", "unknown_key"
};


/*
 * What --repair does with each class (cc_money_repair.c: it re-drives
 * missing credits only, through the payout's idempotent call; with
 * --statement, cc_stmt.c says it of each break).  A missing credit whose
 * money already moved, or under wallet http, says otherwise
 * (CC_MONEY_REPAIR_MOVED, _HTTP).  The rest changed money or state
 * beyond what a retry mends: a person decides, and money that moved
 * wrongly is moved back by a correcting transfer.
 */
#define CC_MONEY_SEE  "see README \"Correcting transfers\""

const char  *const cc_money_class_repair[CC_MONEY_STATEMENT] = {
    /* missing_credit */
    "repair: re-drives it",
    /* duplicate_credit */
    "repair: no; a correcting transfer is needed: " CC_MONEY_SEE,
    /* amount_mismatch */
    "repair: no; a correcting transfer is needed: " CC_MONEY_SEE,
    /* transfer_without_award */
    "repair: no; a correcting transfer is needed: " CC_MONEY_SEE,
    /* stale_pending */
    "repair: no; its transfer is there: a person finds why cc-payout "
    "left it pending: " CC_MONEY_SEE,
    /* status_mismatch */
    "repair: no; not money: a person sets w from the award in MySQL: "
    CC_MONEY_SEE,
    /* eligible_mismatch */
    "repair: no; a person checks the user's combine: " CC_MONEY_SEE,
    /* pool_sum */
    "repair: no; a correcting transfer is needed if a funding is wrong: "
    CC_MONEY_SEE,
    /* ledger_unbalanced */
    "repair: no; a correcting transfer, or the lost transfer row put "
    "back, is needed: " CC_MONEY_SEE,
    /* pool_not_empty */
    "repair: no; a correcting transfer returns it to the sponsor: "
    CC_MONEY_SEE
};


/*
 * Counts a break, prints it on one line and adds it to the document (the
 * first CC_MONEY_JSON_MAX of them; the rest are counted in
 * breaks_omitted).  shard < 0, award_id NULL, uid 0: does not apply.
 */
cJSON *
cc_money_break(cc_money_t *m, cc_money_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found)
{
    return cc_money_break_repair(m, cls, shard, award_id, uid, expected,
                                 found, cls < CC_MONEY_STATEMENT
                                        ? cc_money_class_repair[cls]
                                        : CC_STMT_REPAIR_NO);
}


cJSON *
cc_money_break_repair(cc_money_t *m, cc_money_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found, const char *repair)
{
    char    u[24];
    cJSON  *b;

    m->counts[cls]++;

    snprintf(u, sizeof(u), "%" PRIu64, uid);

    printf("break %s shard %s%ld award %s uid %s: expected %s, found %s "
           "(%s)\n", cc_money_class_names[cls], shard < 0 ? "-" : "",
           shard < 0 ? 0L : shard, award_id ? award_id : "-",
           uid ? u : "-", expected, found, repair);

    if (m->njson == CC_MONEY_JSON_MAX) {
        m->omitted++;
        return NULL;
    }

    b = cJSON_CreateObject();
    if (b == NULL) {
        m->omitted++;
        return NULL;
    }

    cJSON_AddStringToObject(b, "class", cc_money_class_names[cls]);

    if (shard < 0) {
        cJSON_AddNullToObject(b, "shard");
    } else {
        cJSON_AddNumberToObject(b, "shard", (double) shard);
    }

    if (award_id) {
        cJSON_AddStringToObject(b, "award_id", award_id);
    } else {
        cJSON_AddNullToObject(b, "award_id");
    }

    /* a string: a uid may exceed a double's 53 bits */
    if (uid) {
        cJSON_AddStringToObject(b, "uid", u);
    } else {
        cJSON_AddNullToObject(b, "uid");
    }

    cJSON_AddStringToObject(b, "expected", expected);
    cJSON_AddStringToObject(b, "found", found);
    cJSON_AddStringToObject(b, "repair", repair);

    cJSON_AddItemToArray(m->breaks, b);
    m->njson++;

    return b;
}


/* --statement's breaks, as the others (cc_stmt_break_pt) */
void *
cc_money_stmt_break(void *ctx, cc_stmt_class_e cls, long shard,
    const char *award_id, uint64_t uid, const char *expected,
    const char *found, const char *repair)
{
    return cc_money_break_repair(ctx, CC_MONEY_STATEMENT + cls, shard,
                                 award_id, uid, expected, found, repair);
}


void
cc_money_progress(cc_money_t *m, const char *what)
{
    int64_t  now;

    now = cc_now_ms();

    if (now - m->progress_ms >= CC_MONEY_PROGRESS_MS) {
        cc_log("shard %u: %s; %llu rows checked in all, %llu breaks so far",
               m->shard, what, m->rows, m->omitted + m->njson);
        m->progress_ms = now;
    }
}


char *
cc_money_document(cc_money_t *m, unsigned long long total)
{
    int     i;
    cJSON  *checks, *c;

    cJSON_AddStringToObject(m->doc, "campaign", m->camp.id);
    cJSON_AddBoolToObject(m->doc, "ok", total == 0);

    checks = cJSON_AddArrayToObject(m->doc, "checks");

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        if (i >= CC_MONEY_STATEMENT && m->stmt == NULL) {
            break;                      /* no --statement: not checked */
        }

        c = cJSON_CreateObject();
        cJSON_AddStringToObject(c, "name", cc_money_class_names[i]);
        cJSON_AddBoolToObject(c, "ok", m->counts[i] == 0);
        cJSON_AddNumberToObject(c, "breaks", (double) m->counts[i]);
        cJSON_AddItemToArray(checks, c);
    }

    cJSON_AddItemToObject(m->doc, "breaks", m->breaks);
    m->breaks = NULL;                   /* now owned by the document */

    cJSON_AddNumberToObject(m->doc, "breaks_omitted", (double) m->omitted);

    if (m->camp.wallet == CC_WALLET_HTTP) {
        c = cJSON_AddObjectToObject(m->doc, "three_way");
        cJSON_AddStringToObject(c, "books", m->per_user ? "per_user"
                                                        : "clearing");
        cJSON_AddNumberToObject(c, "posted_to_clearing",
                                (double) m->clearing_sum);
        cJSON_AddNumberToObject(c, "credited_awards",
                                (double) m->credited_sum);

        if (m->stmt != NULL) {
            cJSON_AddNumberToObject(c, "statement", (double) m->stmt_sum);
        } else {
            cJSON_AddNullToObject(c, "statement");
        }
    }

    if (m->repair) {
        cJSON_AddNumberToObject(m->doc, "repaired", (double) m->repaired);
    }

    return cJSON_PrintUnformatted(m->doc);
}


int
cc_money_write_file(const char *path, const char *text)
{
    int    rc;
    char   tmp[4096];
    FILE  *f;

    if ((size_t) snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }

    f = fopen(tmp, "w");
    if (f == NULL) {
        return -1;
    }

    rc = fputs(text, f) == EOF || fputc('\n', f) == EOF;
    rc |= fclose(f) != 0;

    if (rc || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }

    return 0;
}


void
cc_money_metrics(cc_money_t *m, unsigned long long total, int64_t done_ms)
{
    int            i;
    char           name[96];
    cc_promfile_t  pf;

    if (m->metrics_path == NULL) {
        return;
    }

    cc_promfile_begin(&pf);
    cc_promfile_add(&pf, "cc_reconcile_money_rows_total", "counter",
                    "Rows the money checks read (awards, eligibility, "
                    "Redis users)", (double) m->rows);
    cc_promfile_add(&pf, "cc_reconcile_money_rate", "gauge",
                    "Rows checked per second by the last run",
                    m->rows * 1000.0 / (double) (done_ms - m->started_ms + 1));
    cc_promfile_add(&pf, "cc_reconcile_money_last_success_timestamp_seconds",
                    "gauge", "When the money checks last ran to the end "
                    "(unix seconds)", done_ms / 1000.0);
    cc_promfile_add(&pf, "cc_reconcile_money_ok", "gauge",
                    "1 when the last run found no break", total == 0);
    cc_promfile_add(&pf, "cc_reconcile_money_pending_awards", "gauge",
                    "Awards not yet credited (pending or crediting), "
                    "every shard", (double) m->pending_all);
    cc_promfile_add(&pf, "cc_reconcile_money_repaired_total", "counter",
                    "Missing credits the last run repaired",
                    (double) m->repaired);

    for (i = 0; i < CC_MONEY_NCLASS; i++) {
        snprintf(name, sizeof(name), "cc_reconcile_money_breaks{class=\"%s\"}",
                 cc_money_class_names[i]);
        cc_promfile_add(&pf, name, "gauge",
                        "Breaks the last run found, by class",
                        (double) m->counts[i]);
    }

    if (cc_promfile_commit(&pf, m->metrics_path) != 0) {
        cc_log("metrics file %s: %s", m->metrics_path, strerror(errno));
    }
}


/* the campaign's alert command with the breaks' document (cc_alert.h) */
void
cc_money_alert(cc_money_t *m, const char *json)
{
    if (m->camp.alert[0] == '\0') {
        cc_log("breaks found; the campaign file names no alert command");
        return;
    }

    (void) cc_alert_run(m->camp.alert, json, m->alert_timeout_s);
}
