/*
 * cc_event: a draw as it travels from the flip to MySQL.
 */

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cc_event.h"
#include "cc_cards.h"


#define CC_TS_MAX  4102444800000LL     /* 2100-01-01 in ms: a sane bound */


char *
cc_draw_encode(const cc_draw_t *d)
{
    char    num[24], id[48];
    char   *text;
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    snprintf(num, sizeof(num), "%llu", (unsigned long long) d->uid);
    snprintf(id, sizeof(id), "%s:%u", num, d->seq);

    if (cJSON_AddStringToObject(o, "draw_id", id) == NULL
        || cJSON_AddStringToObject(o, "uid", num) == NULL
        || cJSON_AddNumberToObject(o, "seq", d->seq) == NULL
        || cJSON_AddNumberToObject(o, "card", d->card) == NULL
        || cJSON_AddStringToObject(o, "request_id", d->request_id) == NULL
        || cJSON_AddNumberToObject(o, "ts", (double) d->ts_ms) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    return text;
}


/* an integral JSON number in [min, max] */
static int
cc_event_int(const cJSON *o, const char *name, double min, double max,
    double *out)
{
    const cJSON  *v;

    v = cJSON_GetObjectItemCaseSensitive(o, name);

    if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max
        || v->valuedouble != (double) (int64_t) v->valuedouble)
    {
        return -1;
    }

    *out = v->valuedouble;
    return 0;
}


int
cc_draw_decode(const char *p, size_t len, cc_draw_t *d, const char **why)
{
    char          expect[48];
    double        seq, card, ts;
    cJSON        *o;
    const cJSON  *uid, *rid, *did;

    if (len == 0 || len > CC_EVENT_MAX_LEN) {
        *why = "bad length";
        return -1;
    }

    o = cJSON_ParseWithLength(p, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        *why = "not a JSON object";
        cJSON_Delete(o);
        return -1;
    }

    uid = cJSON_GetObjectItemCaseSensitive(o, "uid");
    rid = cJSON_GetObjectItemCaseSensitive(o, "request_id");
    did = cJSON_GetObjectItemCaseSensitive(o, "draw_id");

    if (!cJSON_IsString(uid)
        || cc_parse_uid(uid->valuestring, strlen(uid->valuestring), &d->uid)
           != 0)
    {
        *why = "bad uid";
        goto bad;
    }

    if (cc_event_int(o, "seq", 1, 4294967295.0, &seq) != 0) {
        *why = "bad seq";
        goto bad;
    }

    if (cc_event_int(o, "card", 0, CC_KINDS_MAX - 1, &card) != 0) {
        *why = "bad card";
        goto bad;
    }

    if (cc_event_int(o, "ts", 1, (double) CC_TS_MAX, &ts) != 0) {
        *why = "bad ts";
        goto bad;
    }

    if (!cJSON_IsString(rid)
        || cc_check_request_id(rid->valuestring, strlen(rid->valuestring))
           != 0)
    {
        *why = "bad request_id";
        goto bad;
    }

    d->seq = (uint32_t) seq;
    d->card = (uint32_t) card;
    d->ts_ms = (int64_t) ts;
    strcpy(d->request_id, rid->valuestring);

    snprintf(expect, sizeof(expect), "%llu:%u", (unsigned long long) d->uid,
             d->seq);

    if (!cJSON_IsString(did) || strcmp(did->valuestring, expect) != 0) {
        *why = "draw_id is not uid:seq";
        goto bad;
    }

    cJSON_Delete(o);
    return 0;

bad:

    cJSON_Delete(o);
    return -1;
}


int
cc_draw_check(const cc_draw_t *d, const char **why)
{
    if (d->uid == 0) {
        *why = "bad uid";
        return -1;
    }

    if (d->seq == 0) {
        *why = "bad seq";
        return -1;
    }

    if (d->card >= CC_KINDS_MAX) {
        *why = "bad card";
        return -1;
    }

    if (d->ts_ms < 1 || d->ts_ms > CC_TS_MAX) {
        *why = "bad ts";
        return -1;
    }

    if (cc_check_request_id(d->request_id, strlen(d->request_id)) != 0) {
        *why = "bad request_id";
        return -1;
    }

    return 0;
}
