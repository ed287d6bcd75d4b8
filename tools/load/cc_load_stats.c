/*
 * cc_load_stats.c: cc-load's output: a JSON line a second (and the
 * progress line on stderr), then the total line with the run's counters
 * and the phase's own.  The run's counters are the sessions' and the
 * connections'; this part only reads them, and folds each second's
 * latencies into the run's.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cc_load_stats.h"


static const char *cc_load_ep_names[CC_LOAD_EP_N] = {
    "grant", "flip", "combine", "award", "claim", "eligibility", "gifts",
    "gift", "ask"
};

static const char *cc_load_err_names[CC_LOAD_ERR_N] = {
    "connect", "timeout", "reset", "bad_response"
};


static cJSON *
cc_load_status_json(const uint64_t *st)
{
    cJSON  *o = cJSON_CreateObject();
    char    code[8];
    int     i;

    for (i = 0; i < CC_LOAD_STATUS_MAX; i++) {
        if (st[i]) {
            snprintf(code, sizeof(code), "%d", i);
            cJSON_AddNumberToObject(o, code, (double) st[i]);
        }
    }
    return o;
}


/*
 * " 200 n 429 n 503 n": every status answered, by code, for the progress
 * lines: a 429 or a 503 re-sent is said, not folded into "other".
 */
static void
cc_load_status_text(const uint64_t *st, char *buf, size_t len)
{
    size_t  off = 0;
    int     i, n;

    buf[0] = '\0';
    for (i = 0; i < CC_LOAD_STATUS_MAX && off < len; i++) {
        if (st[i]) {
            n = snprintf(buf + off, len - off, " %d %" PRIu64, i, st[i]);
            if (n < 0) {
                break;
            }
            off += (size_t) n;
        }
    }
    if (off == 0) {
        snprintf(buf, len, " no answer");
    }
}


static const char *
cc_load_phase_name(cc_load_phase_e p)
{
    return p == CC_LOAD_PHASE_GRANT ? "grant"
           : p == CC_LOAD_PHASE_FLIP ? "flip"
           : p == CC_LOAD_PHASE_CLAIM ? "claim" : "social";
}


static void
cc_load_emit(cc_load_run_t *r, cJSON *o)
{
    char  *text = cJSON_PrintUnformatted(o);

    if (text == NULL) {
        cc_load_die("out of memory");
    }
    fprintf(r->stats, "%s\n", text);
    fflush(r->stats);
    free(text);
    cJSON_Delete(o);
}


static double
cc_load_elapsed(cc_load_run_t *r)
{
    return (double) (cc_load_now_ns() - r->t0) / 1e9;
}


void
cc_load_second(cc_load_run_t *r)
{
    cJSON  *o = cJSON_CreateObject();
    double  el = cc_load_elapsed(r);
    char    codes[256];

    r->second_no++;
    cJSON_AddStringToObject(o, "type", "second");
    cJSON_AddStringToObject(o, "phase", cc_load_phase_name(r->o.phase));
    cJSON_AddNumberToObject(o, "t", r->second_no);
    cJSON_AddNumberToObject(o, "ts_ms", (double) cc_now_ms());
    cJSON_AddNumberToObject(o, "sent", (double) r->sec.sent);
    cJSON_AddNumberToObject(o, "answered", (double) r->sec.answered);
    cJSON_AddItemToObject(o, "status", cc_load_status_json(r->sec.status));
    cJSON_AddNumberToObject(o, "errors", (double) r->sec.errors);
    cJSON_AddNumberToObject(o, "draws", (double) r->sec.draws);
    cJSON_AddItemToObject(o, "latency_us", cc_load_hist_json(&r->sec.lat, 0));
    cc_load_emit(r, o);

    if (!r->o.quiet) {
        cc_load_status_text(r->sec.status, codes, sizeof(codes));
        fprintf(stderr, "cc-load %s: %4.0fs users %" PRIu64 "/%" PRIu64
                " sent %" PRIu64 " (%" PRIu64 "/s)%s resent %" PRIu64
                " errors %" PRIu64 " gave up %" PRIu64 " p99 %.1fms\n",
                cc_load_phase_name(r->o.phase), el, r->users_done, r->o.users,
                r->sent, r->sec.sent, codes, r->resends,
                r->errors[0] + r->errors[1] + r->errors[2] + r->errors[3],
                r->gave_up,
                (double) cc_load_hist_pct(&r->sec.lat, 0.99) / 1000.0);
    }
    cc_load_hist_merge(&r->lat_total, &r->sec.lat);
    memset(&r->sec, 0, sizeof(r->sec));
}


void
cc_load_total(cc_load_run_t *r)
{
    cJSON     *o = cJSON_CreateObject(), *eps, *errs, *x;
    double     el = cc_load_elapsed(r);
    uint64_t   st[CC_LOAD_STATUS_MAX], nerr = 0;
    unsigned   e, i;
    double     cards[CC_LOAD_KINDS_MAX];
    char       codes[256];

    cJSON_AddStringToObject(o, "type", "total");
    cJSON_AddStringToObject(o, "phase", cc_load_phase_name(r->o.phase));
    cJSON_AddStringToObject(o, "url", r->o.url);
    cJSON_AddNumberToObject(o, "users", (double) r->o.users);
    cJSON_AddNumberToObject(o, "first_uid", (double) r->o.first_uid);
    cJSON_AddNumberToObject(o, "users_done", (double) r->users_done);
    cJSON_AddNumberToObject(o, "conc", r->o.conc);
    cJSON_AddNumberToObject(o, "started_ms", (double) r->wall0_ms);
    cJSON_AddNumberToObject(o, "elapsed_s", el);
    cJSON_AddNumberToObject(o, "sent", (double) r->sent);
    cJSON_AddNumberToObject(o, "answered", (double) r->answered);
    cJSON_AddNumberToObject(o, "rps", el > 0 ? (double) r->answered / el
                                             : 0);
    memset(st, 0, sizeof(st));
    eps = cJSON_AddObjectToObject(o, "endpoints");
    for (e = 0; e < CC_LOAD_EP_N; e++) {
        if (r->sent_ep[e] == 0) {
            continue;
        }
        x = cc_load_status_json(r->status[e]);
        cJSON_AddNumberToObject(x, "sent", (double) r->sent_ep[e]);
        cJSON_AddItemToObject(eps, cc_load_ep_names[e], x);
        for (i = 0; i < CC_LOAD_STATUS_MAX; i++) {
            st[i] += r->status[e][i];
        }
    }
    cJSON_AddItemToObject(o, "status", cc_load_status_json(st));
    errs = cJSON_AddObjectToObject(o, "errors");
    for (e = 0; e < CC_LOAD_ERR_N; e++) {
        cJSON_AddNumberToObject(errs, cc_load_err_names[e],
                                (double) r->errors[e]);
        nerr += r->errors[e];
    }
    cJSON_AddNumberToObject(o, "errors_total", (double) nerr);
    cJSON_AddNumberToObject(o, "reconnects", (double) r->reconnects);
    cJSON_AddNumberToObject(o, "resends", (double) r->resends);
    cJSON_AddNumberToObject(o, "gave_up", (double) r->gave_up);
    cJSON_AddNumberToObject(o, "bad_answers", (double) r->bad_answers);
    cJSON_AddItemToObject(o, "latency_us", cc_load_hist_json(&r->lat_total, 1));

    switch (r->o.phase) {
    case CC_LOAD_PHASE_GRANT:
        x = cJSON_AddObjectToObject(o, "grant");
        cJSON_AddNumberToObject(x, "chances", r->o.chances);
        cJSON_AddNumberToObject(x, "chances_sum", (double) r->chances_sum);
        break;
    case CC_LOAD_PHASE_FLIP:
        x = cJSON_AddObjectToObject(o, "flip");
        cJSON_AddNumberToObject(x, "answers_200", (double) r->flips_200);
        cJSON_AddNumberToObject(x, "draws", (double) r->draws);
        cJSON_AddNumberToObject(x, "retries_sent", (double) r->retries_sent);
        cJSON_AddNumberToObject(x, "retries_same", (double) r->retries_same);
        cJSON_AddNumberToObject(x, "retries_differ",
                                (double) r->retries_differ);
        cJSON_AddNumberToObject(x, "dup_draw_ids", (double) r->dup_draw_ids);
        cJSON_AddNumberToObject(x, "users_no_chances",
                                (double) r->users_no_chances);
        cJSON_AddNumberToObject(x, "kinds", r->o.kinds);
        for (i = 0; i < r->o.kinds; i++) {
            cards[i] = (double) r->cards[i];
        }
        cJSON_AddItemToObject(x, "cards",
                              cJSON_CreateDoubleArray(cards, (int) r->o.kinds));
        cJSON_AddNumberToObject(x, "combines_200",
                                (double) r->status[CC_LOAD_EP_COMBINE][200]);
        cJSON_AddNumberToObject(x, "combined", (double) r->combined);
        break;
    case CC_LOAD_PHASE_CLAIM:
        x = cJSON_AddObjectToObject(o, "claim");
        cJSON_AddNumberToObject(x, "award_none", (double) r->award_none);
        cJSON_AddNumberToObject(x, "award_pending",
                                (double) r->award_pending);
        cJSON_AddNumberToObject(x, "award_credited",
                                (double) r->award_credited);
        cJSON_AddNumberToObject(x, "award_cents", (double) r->award_cents);
        cJSON_AddNumberToObject(x, "claims_sent", (double) r->claims_sent);
        cJSON_AddNumberToObject(x, "claims_200",
                                (double) r->status[CC_LOAD_EP_CLAIM][200]);
        cJSON_AddNumberToObject(x, "claims_202",
                                (double) r->status[CC_LOAD_EP_CLAIM][202]);
        cJSON_AddNumberToObject(x, "claims_404",
                                (double) r->status[CC_LOAD_EP_CLAIM][404]);
        cJSON_AddNumberToObject(x, "claimed_cents",
                                (double) r->claimed_cents);
        break;
    case CC_LOAD_PHASE_SOCIAL:
        x = cJSON_AddObjectToObject(o, "social");
        cJSON_AddNumberToObject(x, "pct", r->o.social_pct);
        cJSON_AddNumberToObject(x, "social_users", (double) r->social_users);
        cJSON_AddNumberToObject(x, "gifts_delivered",
                                (double) r->gifts_delivered);
        cJSON_AddNumberToObject(x, "gifts_sent", (double) r->gifts_sent);
        cJSON_AddNumberToObject(x, "gifts_refused",
                                (double) r->gifts_refused);
        cJSON_AddNumberToObject(x, "answers", (double) r->ask_answers);
        cJSON_AddNumberToObject(x, "asks", (double) r->asks);
        cJSON_AddNumberToObject(x, "asks_refused", (double) r->asks_refused);
        cJSON_AddNumberToObject(x, "asks_open_seen",
                                (double) r->asks_open_seen);
        cJSON_AddNumberToObject(x, "combines_200",
                                (double) r->status[CC_LOAD_EP_COMBINE][200]);
        cJSON_AddNumberToObject(x, "combined", (double) r->combined);
        break;
    }
    cJSON_AddBoolToObject(o, "interrupted", cc_load_stop != 0);
    cc_load_emit(r, o);

    cc_load_status_text(st, codes, sizeof(codes));
    fprintf(stderr, "cc-load %s: done in %.1fs: %" PRIu64 " requests,"
            " %.0f/s, p50 %.2fms p99 %.2fms, sent %" PRIu64 " answered"
            " %" PRIu64 " (%s), resent %" PRIu64 ", errors %" PRIu64
            ", gave up %" PRIu64 "\n",
            cc_load_phase_name(r->o.phase), el, r->answered,
            el > 0 ? (double) r->answered / el : 0,
            (double) cc_load_hist_pct(&r->lat_total, 0.5) / 1000.0,
            (double) cc_load_hist_pct(&r->lat_total, 0.99) / 1000.0,
            r->sent, r->answered, codes + 1, r->resends, nerr, r->gave_up);
}
