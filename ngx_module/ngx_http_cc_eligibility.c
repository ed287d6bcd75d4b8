/*
 * ngx_http_cc_eligibility: GET /cc/eligibility, the cards a user holds and
 * whether the user is eligible for the split (ngx_module/lua/
 * eligibility.lua); and the cards body, which the combine answers too.
 */


#include "ngx_http_cc_module.h"


static void ngx_http_cc_eligibility_reply(ngx_http_request_t *r,
    redisReply *reply);


static ngx_http_cc_endpoint_t  ngx_http_cc_eligibility = {
    NGX_HTTP_GET,
    NGX_HTTP_CC_ACCESS_READ,
    NGX_HTTP_CC_SCRIPT_ELIG,
    ngx_http_cc_eligibility_reply,
    0,
    NULL,
    NULL,
    {
        [NGX_HTTP_CC_OUTCOME_OK] = NGX_HTTP_CC_METRIC_ELIG_OK,
        [NGX_HTTP_CC_OUTCOME_BAD_UID] = NGX_HTTP_CC_METRIC_ELIG_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
            NGX_HTTP_CC_METRIC_ELIG_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_METHOD] = NGX_HTTP_CC_METRIC_ELIG_METHOD,
        [NGX_HTTP_CC_OUTCOME_BODY] = NGX_HTTP_CC_METRIC_ELIG_BAD_REQUEST,
        [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] = NGX_HTTP_CC_METRIC_ELIG_UNAVAILABLE,
    }
};


ngx_int_t
ngx_http_cc_eligibility_handler(ngx_http_request_t *r)
{
    uint64_t   uid;
    ngx_int_t  rc;
    ngx_str_t  key;

    if (ngx_http_cc_begin(r, &ngx_http_cc_eligibility, &uid, &rc) != NGX_OK)
    {
        return rc;
    }

    if (ngx_http_cc_user_keys(r, uid, &key, NULL, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_cc_call(r, &ngx_http_cc_eligibility, uid, &key, NULL);
}


static void
ngx_http_cc_eligibility_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_int_t  rc;
    ngx_str_t  body;

    if (reply == NULL) {
        ngx_http_cc_finalize(r, &ngx_http_cc_eligibility,
                             NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
        return;
    }

    rc = ngx_http_cc_cards_body(r, reply,
                                reply->type == REDIS_REPLY_ARRAY
                                && reply->elements > 0
                                && reply->element[0]->type
                                   == REDIS_REPLY_INTEGER
                                && reply->element[0]->integer == 1,
                                0, &body);

    if (rc == NGX_ERROR) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    if (rc != NGX_OK) {
        ngx_http_cc_finalize_invalid(r, &ngx_http_cc_eligibility, reply);
        return;
    }

    ngx_http_cc_finalize(r, &ngx_http_cc_eligibility, NGX_HTTP_CC_OUTCOME_OK,
                         body.data, body.len);
}


/*
 * {"cards":[n0,n1,...],"kinds":K,"combined":bool,"eligible":bool} from a
 * reply element {combined, n0, n1, ...} (combined 0 or not).  eligible is
 * combined: a combine is only taken before the cutoff.  With a wildcard,
 * its fields follow (ngx_http_cc_wildcard.c); a combine's reply then ends
 * with the kinds its wildcards stood in for, and a combine's 200 (combine
 * 1, combined 1) says what it consumed.  NGX_DECLINED: the reply is not
 * such an element.
 */
ngx_int_t
ngx_http_cc_cards_body(ngx_http_request_t *r, redisReply *reply,
    ngx_uint_t combined, ngx_uint_t combine, ngx_str_t *body)
{
    u_char                   *p;
    uint32_t                  replaced;
    ngx_uint_t                i, n, extra;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    n = cmcf->cards.nkinds;
    extra = (combine && cmcf->wildcard != NGX_CONF_UNSET);

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements != n + 1 + extra)
    {
        return NGX_DECLINED;
    }

    for (i = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            return NGX_DECLINED;
        }
    }

    if (extra
        && ngx_http_cc_wildcard_replaced(cmcf, reply, &replaced) != NGX_OK)
    {
        return NGX_DECLINED;
    }

    body->data = ngx_pnalloc(r->pool, sizeof("{\"cards\":[],\"kinds\":,"
                                             "\"combined\":false,"
                                             "\"eligible\":false}")
                                      + (n + 1) * (NGX_INT64_LEN + 1)
                                      + ngx_http_cc_wildcard_len(cmcf));
    if (body->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(body->data, "{\"cards\":[");

    for (i = 1; i <= n; i++) {
        p = ngx_sprintf(p, "%s%L", i > 1 ? "," : "",
                        reply->element[i]->integer);
    }

    p = ngx_sprintf(p, "],\"kinds\":%ui,\"combined\":%s,\"eligible\":%s",
                    n, combined ? "true" : "false",
                    combined ? "true" : "false");

    p = ngx_http_cc_wildcard_fields(p, cmcf, reply,
                                    extra && combined ? (ngx_int_t) replaced
                                                      : -1);
    *p++ = '}';

    body->len = p - body->data;

    return NGX_OK;
}
