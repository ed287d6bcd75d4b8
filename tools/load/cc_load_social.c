/*
 * cc_load_social.c: cc-load's social phase (送福, 要福), run after the
 * flips.  Each user's session:
 *
 *   1. GET /cc/eligibility: the cards it holds, whether it combined;
 *   2. a user chosen by --social-pct (the seed and the uid decide) then
 *      GET /cc/gifts, and plans: a gift answering each open ask addressed
 *      to it whose kind it holds twice or more (one card kept), an ask to
 *      its partner for each kind it lacks (before its combine), and one
 *      duplicate given to its partner: of the kind it holds the most of,
 *      twice or more (one a run, as a user sends one card at a time);
 *   3. every user that holds a full set and did not combine: the combine.
 *
 * A user neither chosen nor the partner of a chosen one sends nothing:
 * no gift nor ask reaches it, its set is as the flips left it.
 *
 * The partner of a user is its neighbour, uid - first ^ 1 (the last user
 * of an odd count: the first), so the gifts and asks of a pair meet:
 * a second run of the phase (another --rid-prefix) answers the asks of
 * the first and combines the sets its gifts completed.  The --rare kind
 * and the --wildcard kind are never given nor asked for
 * (cc_gift_rare off), and a set is complete with a wildcard for each kind
 * lacked, as the module's combine takes it.  A 429 gift_limit or
 * ask_limit, a 409 no_card or ask_answered, a 404, a 410 are answers:
 * counted, the next request follows; the edge's 429 and a 5xx are
 * resent with the same request id, which replays.
 */

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cc_load_http.h"
#include "cc_load_session.h"
#include "cc_load_social.h"


static uint64_t
cc_load_partner(cc_load_run_t *r, uint64_t uid)
{
    uint64_t  off = (uid - r->o.first_uid) ^ 1;

    if (off >= r->o.users) {
        off = 0;
    }
    return r->o.first_uid + off;
}


int
cc_load_social_idle(cc_load_run_t *r, uint64_t uid)
{
    return !cc_load_chosen(r->o.seed, uid, 0, r->o.social_pct)
           && !cc_load_chosen(r->o.seed, cc_load_partner(r, uid), 0,
                              r->o.social_pct);
}


int
cc_load_social_request(cc_load_run_t *r, cc_load_conn_t *c, const char *id)
{
    cc_load_session_t  *s = &c->s;
    cc_load_act_t      *a = &s->act[s->act_i];

    switch (s->ep) {
    case CC_LOAD_EP_ELIGIBILITY:
        return snprintf(c->wbuf, sizeof(c->wbuf),
                        "GET /cc/eligibility HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                        r->o.host, id);
    case CC_LOAD_EP_GIFTS:
        return snprintf(c->wbuf, sizeof(c->wbuf),
                        "GET /cc/gifts HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                        r->o.host, id);
    case CC_LOAD_EP_GIFT:
        if (a->ask_id[0] != '\0') {
            return snprintf(c->wbuf, sizeof(c->wbuf),
                            "POST /cc/gift?ask_id=%s&request_id=%s-x%u"
                            " HTTP/1.1\r\nHost: %s\r\n%s"
                            "Content-Length: 0\r\n\r\n",
                            a->ask_id, r->o.rid_prefix, s->act_i, r->o.host,
                            id);
        }
        return snprintf(c->wbuf, sizeof(c->wbuf),
                        "POST /cc/gift?to=%" PRIu64 "&kind=%u"
                        "&request_id=%s-g%u HTTP/1.1\r\nHost: %s\r\n%s"
                        "Content-Length: 0\r\n\r\n",
                        cc_load_partner(r, s->uid), a->kind, r->o.rid_prefix,
                        a->kind, r->o.host, id);
    case CC_LOAD_EP_ASK:
        return snprintf(c->wbuf, sizeof(c->wbuf),
                        "POST /cc/ask?from=%" PRIu64 "&kind=%u"
                        "&request_id=%s-a%u HTTP/1.1\r\nHost: %s\r\n%s"
                        "Content-Length: 0\r\n\r\n",
                        cc_load_partner(r, s->uid), a->kind, r->o.rid_prefix,
                        a->kind, r->o.host, id);
    default:
        return 0;
    }
}


/* the rare kind and the wildcard are kept: cc_gift_rare off refuses them */
static int
cc_load_kept(cc_load_run_t *r, unsigned k)
{
    return (int) k == r->o.rare || (int) k == r->o.wildcard;
}


static cc_load_act_t *
cc_load_act_add(cc_load_session_t *s, cc_load_ep_e ep, unsigned kind)
{
    cc_load_act_t  *a;

    if (s->act_n >= CC_LOAD_ACTS_MAX) {
        return NULL;
    }
    a = &s->act[s->act_n++];
    a->ep = ep;
    a->kind = kind;
    a->ask_id[0] = '\0';
    return a;
}


/* the eligibility body into s->held; 1 combined, 0 not, -1 not the contract */
static int
cc_load_held(cc_load_run_t *r, cc_load_session_t *s, const char *body)
{
    cJSON     *j, *cards, *comb, *n;
    unsigned   k = 0;
    int        rc = -1;

    j = cJSON_Parse(body);
    cards = cJSON_GetObjectItemCaseSensitive(j, "cards");
    comb = cJSON_GetObjectItemCaseSensitive(j, "combined");
    if (cJSON_IsArray(cards) && cJSON_IsBool(comb)
        && cJSON_GetArraySize(cards) == (int) r->o.kinds)
    {
        cJSON_ArrayForEach(n, cards) {
            if (!cJSON_IsNumber(n) || n->valuedouble < 0) {
                break;
            }
            s->held[k++] = (uint32_t) n->valuedouble;
        }
        rc = k == r->o.kinds ? cJSON_IsTrue(comb) : -1;
    }
    cJSON_Delete(j);
    return rc;
}


/*
 * The plan of a user chosen to be social, from GET /cc/gifts' open asks
 * (NULL: none read) and its cards: the answers first (at most one a kind
 * the user can spare), the asks for what it lacks, then one duplicate to
 * its partner.
 */
static void
cc_load_plan_social(cc_load_run_t *r, cc_load_session_t *s, cJSON *asks,
    int combined)
{
    cJSON          *a, *id, *kind, *st;
    cc_load_act_t  *act;
    unsigned        k, most, answered = 0;

    cJSON_ArrayForEach(a, asks) {
        id = cJSON_GetObjectItemCaseSensitive(a, "ask_id");
        kind = cJSON_GetObjectItemCaseSensitive(a, "kind");
        st = cJSON_GetObjectItemCaseSensitive(a, "status");
        if (!cJSON_IsString(id) || !cJSON_IsNumber(kind)
            || !cJSON_IsString(st) || kind->valuedouble < 0
            || kind->valuedouble >= r->o.kinds
            || strlen(id->valuestring) >= CC_LOAD_ASK_ID_MAX)
        {
            r->bad_answers++;
            continue;
        }
        if (strcmp(st->valuestring, "open") != 0) {
            continue;
        }
        r->asks_open_seen++;
        k = (unsigned) kind->valuedouble;
        if (cc_load_kept(r, k) || s->held[k] < 2 || answered >= r->o.kinds) {
            continue;
        }
        act = cc_load_act_add(s, CC_LOAD_EP_GIFT, k);
        if (act != NULL) {
            memcpy(act->ask_id, id->valuestring, strlen(id->valuestring) + 1);
            s->held[k]--;
            answered++;
        }
    }

    if (cc_load_partner(r, s->uid) == s->uid) {
        return;
    }
    most = r->o.kinds;
    for (k = 0; k < r->o.kinds; k++) {
        if (!combined && s->held[k] == 0 && !cc_load_kept(r, k)) {
            cc_load_act_add(s, CC_LOAD_EP_ASK, k);
        }
    }
    for (k = 0; k < r->o.kinds; k++) {
        if (s->held[k] >= 2 && !cc_load_kept(r, k)
            && (most == r->o.kinds || s->held[k] > s->held[most]))
        {
            most = k;
        }
    }
    if (most < r->o.kinds && cc_load_act_add(s, CC_LOAD_EP_GIFT, most) != NULL) {
        s->held[most]--;
    }
}


/* the plan's next request, or the session's end */
static void
cc_load_social_next(cc_load_run_t *r, cc_load_conn_t *c)
{
    cc_load_session_t  *s = &c->s;

    if (s->act_i >= s->act_n) {
        cc_load_session_end(r, c);
        return;
    }
    s->ep = s->act[s->act_i].ep;
    s->tries = 0;
    cc_load_send(r, c);
}


/* after the eligibility (asks NULL) or the gifts list: the plan, then on */
static void
cc_load_plan(cc_load_run_t *r, cc_load_conn_t *c, cJSON *asks, int social)
{
    cc_load_session_t  *s = &c->s;
    int                 combined = s->combine_sent;

    s->act_n = 0;
    s->act_i = 0;
    if (social) {
        cc_load_plan_social(r, s, asks, combined);
    }
    if (!combined && cc_load_completable(r, s->held)) {
        cc_load_act_add(s, CC_LOAD_EP_COMBINE, 0);
    }
    cc_load_social_next(r, c);
}


static void
cc_load_on_gift(cc_load_run_t *r, cc_load_session_t *s, int status,
    const char *body)
{
    cJSON  *j, *st;

    if (status != 200) {
        r->gifts_refused++;
        return;
    }
    j = cJSON_Parse(body);
    st = cJSON_GetObjectItemCaseSensitive(j, "status");
    if (cJSON_IsString(st) && strcmp(st->valuestring, "delivered") == 0) {
        r->gifts_delivered++;
    } else if (cJSON_IsString(st) && strcmp(st->valuestring, "sent") == 0) {
        r->gifts_sent++;
    } else {
        r->bad_answers++;
    }
    if (s->act[s->act_i].ask_id[0] != '\0') {
        r->ask_answers++;
    }
    cJSON_Delete(j);
}


void
cc_load_social_on_answer(cc_load_run_t *r, cc_load_conn_t *c, int status,
    const char *body)
{
    cc_load_session_t  *s = &c->s;
    cJSON              *j;
    int                 held;

    /* a gift or ask limit is an answer; the edge's 429, a 5xx: again */
    if ((status == 429 && strstr(body, "_limit\"") == NULL) || status >= 500) {
        cc_load_retry(r, c);
        return;
    }

    switch (s->ep) {
    case CC_LOAD_EP_ELIGIBILITY:
        held = status == 200 ? cc_load_held(r, s, body) : -1;
        if (held < 0) {
            r->bad_answers += status == 200;
            cc_load_session_end(r, c);
            return;
        }
        s->combine_sent = held;
        if (cc_load_chosen(r->o.seed, s->uid, 0, r->o.social_pct))
        {
            r->social_users++;
            s->ep = CC_LOAD_EP_GIFTS;
            s->tries = 0;
            cc_load_send(r, c);
            return;
        }
        cc_load_plan(r, c, NULL, 0);
        return;

    case CC_LOAD_EP_GIFTS:
        if (status != 200) {
            cc_load_session_end(r, c);
            return;
        }
        j = cJSON_Parse(body);
        if (!cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "asks"))) {
            r->bad_answers++;
        }
        cc_load_plan(r, c, cJSON_GetObjectItemCaseSensitive(j, "asks"), 1);
        cJSON_Delete(j);
        return;

    case CC_LOAD_EP_GIFT:
        cc_load_on_gift(r, s, status, body);
        break;

    case CC_LOAD_EP_ASK:
        if (status == 200) {
            r->asks++;
        } else {
            r->asks_refused++;
        }
        break;

    case CC_LOAD_EP_COMBINE:
        if (status == 200 && strstr(body, "\"combined\":true") != NULL) {
            r->combined++;
        }
        break;

    default:
        break;
    }
    s->act_i++;
    cc_load_social_next(r, c);
}
