/*
 * cc_event: a draw as it travels from the flip to MySQL.
 */

#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cc_event.h"
#include "cc_cards.h"
#include "cc_json.h"


static int cc_draw_fields(const cJSON *o, cc_draw_t *d, const char **why);
static int cc_combine_check_wild(const cc_combine_t *c, const char **why);


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


/* the fields every event has: uid, ts and request_id */
static int
cc_event_common(const cJSON *o, uint64_t *uid, int64_t *ts_ms, char *rid,
    const char **why)
{
    double        ts;
    const cJSON  *u, *r;

    u = cJSON_GetObjectItemCaseSensitive(o, "uid");
    r = cJSON_GetObjectItemCaseSensitive(o, "request_id");

    if (!cJSON_IsString(u)
        || cc_parse_uid(u->valuestring, strlen(u->valuestring), uid) != 0)
    {
        *why = "bad uid";
        return -1;
    }

    if (cc_event_int(o, "ts", 1, (double) CC_TS_MAX, &ts) != 0) {
        *why = "bad ts";
        return -1;
    }

    if (!cJSON_IsString(r)
        || cc_check_request_id(r->valuestring, strlen(r->valuestring)) != 0)
    {
        *why = "bad request_id";
        return -1;
    }

    *ts_ms = (int64_t) ts;
    strcpy(rid, r->valuestring);

    return 0;
}


/* the fields of a draw in a parsed message */
static int
cc_draw_fields(const cJSON *o, cc_draw_t *d, const char **why)
{
    char          expect[48];
    double        seq, card;
    const cJSON  *did;

    if (cc_event_common(o, &d->uid, &d->ts_ms, d->request_id, why) != 0) {
        return -1;
    }

    if (cc_event_int(o, "seq", 1, 4294967295.0, &seq) != 0) {
        *why = "bad seq";
        return -1;
    }

    if (cc_event_int(o, "card", 0, CC_KINDS_MAX - 1, &card) != 0) {
        *why = "bad card";
        return -1;
    }

    d->seq = (uint32_t) seq;
    d->card = (uint32_t) card;

    snprintf(expect, sizeof(expect), "%llu:%u", (unsigned long long) d->uid,
             d->seq);

    did = cJSON_GetObjectItemCaseSensitive(o, "draw_id");

    if (!cJSON_IsString(did) || strcmp(did->valuestring, expect) != 0) {
        *why = "draw_id is not uid:seq";
        return -1;
    }

    return 0;
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


char *
cc_combine_encode(const cc_combine_t *c)
{
    char    num[24];
    char   *text;
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    snprintf(num, sizeof(num), "%llu", (unsigned long long) c->uid);

    if (cJSON_AddStringToObject(o, "type", "combine") == NULL
        || cJSON_AddStringToObject(o, "uid", num) == NULL
        || cJSON_AddStringToObject(o, "request_id", c->request_id) == NULL
        || cJSON_AddNumberToObject(o, "ts", (double) c->ts_ms) == NULL
        || (c->wildcard > 0
            && (cJSON_AddNumberToObject(o, "wildcard", c->wildcard - 1)
                == NULL
                || cJSON_AddNumberToObject(o, "wild", c->wild) == NULL
                || cJSON_AddNumberToObject(o, "replaced", c->replaced)
                   == NULL)))
    {
        cJSON_Delete(o);
        return NULL;
    }

    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    return text;
}


int
cc_combine_check(const cc_combine_t *c, const char **why)
{
    if (c->uid == 0) {
        *why = "bad uid";
        return -1;
    }

    if (c->ts_ms < 1 || c->ts_ms > CC_TS_MAX) {
        *why = "bad ts";
        return -1;
    }

    if (cc_check_request_id(c->request_id, strlen(c->request_id)) != 0) {
        *why = "bad request_id";
        return -1;
    }

    return cc_combine_check_wild(c, why);
}


/* the wildcard fields: what cc_combine_check says of them */
static int
cc_combine_check_wild(const cc_combine_t *c, const char **why)
{
    uint32_t  bits, n;

    if (c->wildcard > CC_KINDS_MAX) {
        *why = "bad wildcard";
        return -1;
    }

    if (c->replaced >= (1u << CC_KINDS_MAX)
        || (c->wildcard > 0 && (c->replaced >> (c->wildcard - 1)) & 1))
    {
        *why = "bad replaced";
        return -1;
    }

    for (bits = c->replaced, n = 0; bits; bits &= bits - 1) {
        n++;
    }

    if (c->wild != n || (c->wildcard == 0 && c->wild != 0)) {
        *why = "bad wild";
        return -1;
    }

    return 0;
}


static int
cc_combine_decode(const cJSON *o, cc_combine_t *c, const char **why)
{
    double  kind, wild, replaced;

    if (cc_event_common(o, &c->uid, &c->ts_ms, c->request_id, why) != 0) {
        return -1;
    }

    c->wildcard = 0;
    c->wild = 0;
    c->replaced = 0;

    /* a message from before the wildcard, or with none: every kind taken */

    if (cJSON_GetObjectItemCaseSensitive(o, "wildcard") == NULL) {
        if (cJSON_GetObjectItemCaseSensitive(o, "wild") != NULL
            || cJSON_GetObjectItemCaseSensitive(o, "replaced") != NULL)
        {
            *why = "bad wild";
            return -1;
        }

        return 0;
    }

    if (cc_event_int(o, "wildcard", 0, CC_KINDS_MAX - 1, &kind) != 0) {
        *why = "bad wildcard";
        return -1;
    }

    if (cc_event_int(o, "wild", 0, CC_KINDS_MAX - 1, &wild) != 0) {
        *why = "bad wild";
        return -1;
    }

    if (cc_event_int(o, "replaced", 0, (1 << CC_KINDS_MAX) - 1, &replaced)
        != 0)
    {
        *why = "bad replaced";
        return -1;
    }

    c->wildcard = (uint32_t) kind + 1;
    c->wild = (uint32_t) wild;
    c->replaced = (uint32_t) replaced;

    return cc_combine_check_wild(c, why);
}


size_t
cc_gift_id(const cc_gift_t *g, char *buf)
{
    return (size_t) snprintf(buf, CC_GIFT_ID_MAX + 1, "%llu:%s",
                             (unsigned long long) cc_gift_giver(g),
                             g->request_id);
}


int
cc_gift_id_parse(const char *s, size_t len, uint64_t *giver, char *rid)
{
    const char  *colon;

    colon = memchr(s, ':', len);

    if (colon == NULL
        || cc_parse_uid(s, (size_t) (colon - s), giver) != 0
        || cc_check_request_id(colon + 1, (size_t) (s + len - colon - 1))
           != 0)
    {
        return -1;
    }

    memcpy(rid, colon + 1, (size_t) (s + len - colon - 1));
    rid[s + len - colon - 1] = '\0';

    return 0;
}


char *
cc_gift_encode(const cc_gift_t *g)
{
    char    num[24], peer[24], id[CC_GIFT_ID_MAX + 1];
    char   *text;
    cJSON  *o;

    o = cJSON_CreateObject();
    if (o == NULL) {
        return NULL;
    }

    snprintf(num, sizeof(num), "%llu", (unsigned long long) g->uid);
    snprintf(peer, sizeof(peer), "%llu", (unsigned long long) g->peer);
    cc_gift_id(g, id);

    if (cJSON_AddStringToObject(o, "type", g->in ? "gift_in" : "gift_out")
           == NULL
        || cJSON_AddStringToObject(o, "gift_id", id) == NULL
        || cJSON_AddStringToObject(o, "uid", num) == NULL
        || cJSON_AddStringToObject(o, g->in ? "from" : "to", peer) == NULL
        || cJSON_AddNumberToObject(o, "card", g->card) == NULL
        || cJSON_AddNumberToObject(o, "ts", (double) g->ts_ms) == NULL)
    {
        cJSON_Delete(o);
        return NULL;
    }

    text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);

    return text;
}


int
cc_gift_check(const cc_gift_t *g, const char **why)
{
    if (g->uid == 0) {
        *why = "bad uid";
        return -1;
    }

    if (g->peer == 0 || g->peer == g->uid) {
        *why = g->in ? "bad from" : "bad to";
        return -1;
    }

    if (g->card >= CC_KINDS_MAX) {
        *why = "bad card";
        return -1;
    }

    if (g->ts_ms < 1 || g->ts_ms > CC_TS_MAX) {
        *why = "bad ts";
        return -1;
    }

    if (cc_check_request_id(g->request_id, strlen(g->request_id)) != 0) {
        *why = "bad gift_id";
        return -1;
    }

    return 0;
}


/* the fields of a gift's half in a parsed message, g->in already set */
static int
cc_gift_decode(const cJSON *o, cc_gift_t *g, const char **why)
{
    double        ts, card;
    uint64_t      giver;
    const cJSON  *u, *p, *id;

    u = cJSON_GetObjectItemCaseSensitive(o, "uid");
    p = cJSON_GetObjectItemCaseSensitive(o, g->in ? "from" : "to");
    id = cJSON_GetObjectItemCaseSensitive(o, "gift_id");

    if (!cJSON_IsString(u)
        || cc_parse_uid(u->valuestring, strlen(u->valuestring), &g->uid) != 0)
    {
        *why = "bad uid";
        return -1;
    }

    if (!cJSON_IsString(p)
        || cc_parse_uid(p->valuestring, strlen(p->valuestring), &g->peer)
           != 0
        || g->peer == g->uid)
    {
        *why = g->in ? "bad from" : "bad to";
        return -1;
    }

    if (cc_event_int(o, "card", 0, CC_KINDS_MAX - 1, &card) != 0) {
        *why = "bad card";
        return -1;
    }

    if (cc_event_int(o, "ts", 1, (double) CC_TS_MAX, &ts) != 0) {
        *why = "bad ts";
        return -1;
    }

    if (!cJSON_IsString(id)
        || cc_gift_id_parse(id->valuestring, strlen(id->valuestring), &giver,
                            g->request_id) != 0
        || giver != cc_gift_giver(g))
    {
        *why = "bad gift_id";
        return -1;
    }

    g->card = (uint32_t) card;
    g->ts_ms = (int64_t) ts;

    return cc_gift_check(g, why);
}


int
cc_event_decode(const char *p, size_t len, cc_event_t *ev, const char **why)
{
    int           rc;
    cJSON        *o;
    const char   *end;
    const cJSON  *type;

    if (len == 0 || len > CC_EVENT_MAX_LEN) {
        *why = "bad length";
        return -1;
    }

    /*
     * A NUL in a string (raw or \u0000): cJSON keeps it and every reader
     * of the string stops at it, so "7\u0000x" would be read as the uid 7.
     * No field needs one, so the message is refused whole.
     */
    if (cc_json_has_nul(p, len)) {
        *why = "a NUL in the message";
        return -1;
    }

    if (cc_json_has_ctl(p, len)) {
        *why = "a control byte in the message";
        return -1;
    }

    /*
     * Every number an integer in its one form, as cJSON writes them:
     * cJSON itself reads "seq":007, 7.0 and 7e0 all as 7.
     */
    if (!cc_json_ints_canonical(p, len)) {
        *why = "a number not in the integer form";
        return -1;
    }

    /* one object, the whole message: nothing after it but blanks */
    o = cJSON_ParseWithLengthOpts(p, len, &end, 0);

    if (o != NULL) {
        while (end < p + len && (*end == ' ' || *end == '\t'
                                 || *end == '\r' || *end == '\n'))
        {
            end++;
        }
    }

    if (o == NULL || !cJSON_IsObject(o) || end != p + len) {
        *why = "not a JSON object";
        cJSON_Delete(o);
        return -1;
    }

    type = cJSON_GetObjectItemCaseSensitive(o, "type");

    if (type == NULL) {
        ev->type = CC_EVENT_DRAW;
        rc = cc_draw_fields(o, &ev->u.draw, why);

    } else if (cJSON_IsString(type)
               && strcmp(type->valuestring, "combine") == 0)
    {
        ev->type = CC_EVENT_COMBINE;
        rc = cc_combine_decode(o, &ev->u.combine, why);

    } else if (cJSON_IsString(type)
               && (strcmp(type->valuestring, "gift_out") == 0
                   || strcmp(type->valuestring, "gift_in") == 0))
    {
        ev->type = CC_EVENT_GIFT;
        memset(&ev->u.gift, 0, sizeof(ev->u.gift));
        ev->u.gift.in = type->valuestring[5] == 'i';
        rc = cc_gift_decode(o, &ev->u.gift, why);

    } else {
        *why = "unknown type";
        rc = -1;
    }

    cJSON_Delete(o);

    return rc;
}
