/*
 * cc_load_session.c: cc-load's sessions, one a user, in the phases grant,
 * flip (with client retries and the combine) and claim (the social
 * phase's own requests and answers: cc_load_social.c): the request a
 * session sends next, what its answers say (counted in the run) and
 * when it ends; the next user then takes the connection.  The sending
 * is cc_load_http.c's.
 */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "cc_load_http.h"
#include "cc_load_session.h"
#include "cc_load_social.h"


/*
 * splitmix64: a well mixed 64-bit value from the seed, the uid and the
 * flip, so which flips are retried and which users claim is the same on
 * every run with the same options.
 */
static uint64_t
cc_load_mix(uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t  z = a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (c * 0xbf58476d1ce4e5b9ULL);

    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}


int
cc_load_chosen(uint64_t seed, uint64_t uid, uint64_t n, double pct)
{
    return (double) (cc_load_mix(seed, uid, n) % 1000000) < pct * 10000.0;
}


static int
cc_load_identity(cc_load_run_t *r, cc_load_session_t *s, char *buf, size_t len)
{
    if (r->o.secret_len > 0) {
        return snprintf(buf, len, "Authorization: Bearer %s\r\n", s->token);
    }
    return snprintf(buf, len, "X-CC-Uid: %" PRIu64 "\r\n", s->uid);
}


void
cc_load_build_request(cc_load_run_t *r, cc_load_conn_t *c)
{
    cc_load_session_t  *s = &c->s;
    char                id[400];
    int                 n = 0;

    cc_load_identity(r, s, id, sizeof(id));
    switch (s->ep) {
    case CC_LOAD_EP_GRANT:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/grant?grant_id=%s&n=%u HTTP/1.1\r\n"
                     "Host: %s\r\nX-CC-Uid: %" PRIu64 "\r\n"
                     "Content-Length: 0\r\n\r\n",
                     r->o.grant_id, r->o.chances, r->o.host, s->uid);
        break;
    case CC_LOAD_EP_FLIP:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/flip?request_id=%s-%u HTTP/1.1\r\n"
                     "Host: %s\r\n%sContent-Length: 0\r\n\r\n",
                     r->o.rid_prefix, s->flip_no, r->o.host, id);
        break;
    case CC_LOAD_EP_COMBINE:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/combine?request_id=%s-set HTTP/1.1\r\n"
                     "Host: %s\r\n%sContent-Length: 0\r\n\r\n",
                     r->o.rid_prefix, r->o.host, id);
        break;
    case CC_LOAD_EP_AWARD:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "GET /cc/award HTTP/1.1\r\nHost: %s\r\n%s\r\n",
                     r->o.host, id);
        break;
    case CC_LOAD_EP_CLAIM:
        n = snprintf(c->wbuf, sizeof(c->wbuf),
                     "POST /cc/claim HTTP/1.1\r\n"
                     "Host: %s\r\n%sContent-Length: 0\r\n\r\n",
                     r->o.host, id);
        break;
    default:
        n = cc_load_social_request(r, c, id);
        break;
    }
    c->wlen = (size_t) n;
    c->woff = 0;
    c->rlen = 0;
}


/*
 * Whether cards (per kind) complete the set: every kind held, or with
 * --wildcard W every other kind held but as many as the W cards held
 * (the module's combine takes one wildcard for each kind lacked).
 */
int
cc_load_completable(cc_load_run_t *r, const uint32_t *cards)
{
    unsigned  k, missing = 0;

    for (k = 0; k < r->o.kinds; k++) {
        if (cards[k] == 0 && (int) k != r->o.wildcard) {
            missing++;
        }
    }
    return r->o.wildcard < 0 ? missing == 0
                             : missing <= cards[r->o.wildcard];
}


/* after a flip or a combine: the session's next request, or its end */
static void
cc_load_flip_next(cc_load_run_t *r, cc_load_conn_t *c)
{
    cc_load_session_t  *s = &c->s;

    if (r->o.combine && !s->combine_sent && cc_load_completable(r, s->cards)) {
        s->combine_sent = 1;
        s->ep = CC_LOAD_EP_COMBINE;
    } else if (s->chances_left == 0
               || (r->o.max_flips && s->flip_no >= r->o.max_flips))
    {
        cc_load_session_end(r, c);
        return;
    } else {
        s->ep = CC_LOAD_EP_FLIP;
        s->flip_no++;
    }
    s->tries = 0;
    s->client_retry = 0;
    cc_load_send(r, c);
}


static void
cc_load_on_flip_200(cc_load_run_t *r, cc_load_conn_t *c, const char *body,
    size_t blen)
{
    cc_load_session_t  *s = &c->s;
    cJSON              *j, *d, *k, *left;
    uint64_t            uid, seq;
    char               *colon;
    int                 ok = 0;

    r->flips_200++;
    if (s->client_retry) {
        /* the same request id again: the first answer, byte for byte */
        if (blen == s->last_len && memcmp(body, s->last_body, blen) == 0) {
            r->retries_same++;
        } else {
            r->retries_differ++;
        }
        s->client_retry = 0;
        cc_load_flip_next(r, c);
        return;
    }

    j = cJSON_Parse(body);
    d = cJSON_GetObjectItemCaseSensitive(j, "draw_id");
    k = cJSON_GetObjectItemCaseSensitive(j, "card");
    left = cJSON_GetObjectItemCaseSensitive(j, "chances_left");
    if (cJSON_IsString(d) && cJSON_IsNumber(k) && cJSON_IsNumber(left)
        && k->valuedouble >= 0 && k->valuedouble < r->o.kinds
        && left->valuedouble >= 0)
    {
        uid = strtoull(d->valuestring, &colon, 10);
        if (*colon == ':' && uid == s->uid) {
            seq = strtoull(colon + 1, NULL, 10);
            ok = 1;
            s->chances_left = (int64_t) left->valuedouble;
            if (seq > s->max_seq) {
                s->max_seq = seq;
                s->cards[k->valueint]++;
                r->cards[k->valueint]++;
                r->draws++;
                r->sec.draws++;
            } else {
                r->dup_draw_ids++;
            }
        }
    }
    cJSON_Delete(j);
    if (!ok) {
        r->bad_answers++;
        cc_load_session_end(r, c);
        return;
    }

    if (r->o.retry_pct > 0
        && cc_load_chosen(r->o.seed, s->uid, s->flip_no, r->o.retry_pct)
        && blen < sizeof(s->last_body))
    {
        memcpy(s->last_body, body, blen);
        s->last_len = blen;
        s->client_retry = 1;
        s->tries = 0;
        r->retries_sent++;
        cc_load_send(r, c);
        return;
    }
    cc_load_flip_next(r, c);
}


static void
cc_load_on_award_200(cc_load_run_t *r, cc_load_conn_t *c, const char *body)
{
    cc_load_session_t  *s = &c->s;
    cJSON              *j, *st, *amt;
    int                 winner = 0;

    j = cJSON_Parse(body);
    st = cJSON_GetObjectItemCaseSensitive(j, "status");
    amt = cJSON_GetObjectItemCaseSensitive(j, "amount_cents");
    if (!cJSON_IsString(st)) {
        r->bad_answers++;
    } else if (strcmp(st->valuestring, "none") == 0) {
        r->award_none++;
    } else if (cJSON_IsNumber(amt) && amt->valuedouble >= 0
               && (strcmp(st->valuestring, "pending") == 0
                   || strcmp(st->valuestring, "credited") == 0))
    {
        if (st->valuestring[0] == 'p') {
            r->award_pending++;
        } else {
            r->award_credited++;
        }
        r->award_cents += (uint64_t) amt->valuedouble;
        winner = 1;
    } else {
        r->bad_answers++;
    }
    cJSON_Delete(j);

    if (winner && cc_load_chosen(r->o.seed, s->uid, 0, r->o.claim_pct)) {
        s->ep = CC_LOAD_EP_CLAIM;
        s->tries = 0;
        r->claims_sent++;
        cc_load_send(r, c);
        return;
    }
    cc_load_session_end(r, c);
}


static void
cc_load_on_claim_200(cc_load_run_t *r, const char *body)
{
    cJSON  *j, *amt;

    j = cJSON_Parse(body);
    amt = cJSON_GetObjectItemCaseSensitive(j, "amount_cents");
    if (cJSON_IsNumber(amt) && amt->valuedouble >= 0) {
        r->claimed_cents += (uint64_t) amt->valuedouble;
    } else {
        r->bad_answers++;
    }
    cJSON_Delete(j);
}


/*
 * --answers: "TIME_S UID STATUS TRIES BODY", a flip's answer or its
 * failure (status 0), so that what each user was acknowledged can be
 * checked against the store afterwards.  The body on one line: a line
 * break in it (nginx ends none of the campaign's answers with one) would
 * start a record, so it is cut there.
 */
void
cc_load_answer_line(cc_load_run_t *r, cc_load_conn_t *c, int status,
    const char *body, size_t blen)
{
    int64_t      ms;
    const char  *nl;

    if (r->answers == NULL || c->s.ep != CC_LOAD_EP_FLIP) {
        return;
    }
    if (body == NULL) {
        body = "";
        blen = 0;
    }
    nl = memchr(body, '\n', blen);
    if (nl != NULL) {
        blen = (size_t) (nl - body);
    }
    if (blen > 0 && body[blen - 1] == '\r') {
        blen--;
    }
    ms = cc_now_ms();
    fprintf(r->answers, "%" PRId64 ".%03d %" PRIu64 " %d %u %.*s\n",
            ms / 1000, (int) (ms % 1000), c->s.uid, status, c->s.tries,
            (int) blen, body);
}


/* one complete answer to the session's current request */
void
cc_load_on_answer(cc_load_run_t *r, cc_load_conn_t *c, int status,
    const char *body, size_t blen)
{
    cc_load_session_t  *s = &c->s;

    cc_load_answer_line(r, c, status, body, blen);
    r->answered++;
    r->sec.answered++;
    r->status[s->ep][status]++;
    r->sec.status[status]++;

    if (r->o.phase == CC_LOAD_PHASE_SOCIAL) {
        cc_load_social_on_answer(r, c, status, body);
        return;
    }

    /* too many requests, or the server's trouble: the same again later */
    if (status == 429 || status >= 500) {
        cc_load_retry(r, c);
        return;
    }

    switch (s->ep) {
    case CC_LOAD_EP_GRANT:
        if (status == 200) {
            cJSON  *j = cJSON_Parse(body);
            cJSON  *n = cJSON_GetObjectItemCaseSensitive(j, "chances");
            if (cJSON_IsNumber(n) && n->valuedouble >= 0) {
                r->chances_sum += (uint64_t) n->valuedouble;
            } else {
                r->bad_answers++;
            }
            cJSON_Delete(j);
        }
        cc_load_session_end(r, c);
        return;

    case CC_LOAD_EP_FLIP:
        if (status == 200) {
            cc_load_on_flip_200(r, c, body, blen);
            return;
        }
        if (s->client_retry) {
            r->retries_differ++;        /* an answered id must replay */
            s->client_retry = 0;
        }
        if (status == 409) {
            r->users_no_chances++;
            s->chances_left = 0;
            s->client_retry = 0;
            cc_load_flip_next(r, c);
            return;
        }
        cc_load_session_end(r, c);
        return;

    case CC_LOAD_EP_COMBINE:
        if (status == 200 && strstr(body, "\"combined\":true") != NULL) {
            r->combined++;
        }
        if (status == 200 || status == 409) {
            cc_load_flip_next(r, c);
            return;
        }
        cc_load_session_end(r, c);
        return;

    case CC_LOAD_EP_AWARD:
        if (status == 200) {
            cc_load_on_award_200(r, c, body);
            return;
        }
        cc_load_session_end(r, c);
        return;

    case CC_LOAD_EP_CLAIM:
        if (status == 200) {
            cc_load_on_claim_200(r, body);
        }
        cc_load_session_end(r, c);
        return;

    default:
        cc_load_session_end(r, c);
    }
}


int
cc_load_session_start(cc_load_run_t *r, cc_load_conn_t *c)
{
    cc_load_session_t  *s = &c->s;
    uint64_t            uid;

    if (cc_load_stop || r->next_uid >= r->end_uid) {
        return 0;
    }
    if (r->o.rate > 0
        && r->next_uid - r->o.first_uid
           >= 1 + (cc_load_now_ns() - r->t0) / 1000000ULL * r->o.rate / 1000)
    {
        return 0;       /* not yet: cc_load_tick starts it in its time */
    }
    uid = r->next_uid++;
    while (r->o.phase == CC_LOAD_PHASE_SOCIAL && cc_load_social_idle(r, uid)) {
        r->users_done++;            /* nothing to give, nothing given it */
        if (r->next_uid >= r->end_uid) {
            return 0;
        }
        uid = r->next_uid++;
    }
    memset(s, 0, sizeof(*s));
    s->uid = uid;
    s->chances_left = -1;
    if (r->o.secret_len > 0
        && cc_token_sign(r->o.secret, r->o.secret_len, r->o.token_kid, uid,
                         (int64_t) time(NULL) + r->o.token_ttl,
                         s->token, sizeof(s->token)) < 0)
    {
        cc_load_die("cannot sign a token for uid %" PRIu64, uid);
    }
    switch (r->o.phase) {
    case CC_LOAD_PHASE_GRANT:
        s->ep = CC_LOAD_EP_GRANT;
        break;
    case CC_LOAD_PHASE_FLIP:
        s->ep = CC_LOAD_EP_FLIP;
        s->flip_no = 1;
        break;
    case CC_LOAD_PHASE_CLAIM:
        s->ep = CC_LOAD_EP_AWARD;
        break;
    case CC_LOAD_PHASE_SOCIAL:
        s->ep = CC_LOAD_EP_ELIGIBILITY;
        break;
    }
    r->active++;
    cc_load_send(r, c);
    return 1;
}


/* the connection stays open for the next user */
void
cc_load_session_end(cc_load_run_t *r, cc_load_conn_t *c)
{
    r->active--;
    r->users_done++;
    c->state = CC_LOAD_C_FREE;
    if (c->fd >= 0 && c->rlen != 0) {
        cc_load_close_fd(r, c);
    }
    cc_load_session_start(r, c);
}
