/*
 * ngx_http_cc_util: what every handler does with the request: read and
 * check the caller's identity and ids, answer with a JSON body.
 */


#include "ngx_http_cc_module.h"


static ngx_int_t ngx_http_cc_check_method(ngx_http_request_t *r,
    ngx_uint_t method);
static ngx_uint_t ngx_http_cc_closed(ngx_http_request_t *r,
    ngx_uint_t combine);


static ngx_str_t  ngx_http_cc_json_type = ngx_string("application/json");


/*
 * What every handler checks first, in this order: its one method (405),
 * the caller's identity (400 or 401, counted in the metric bad, or
 * NGX_HTTP_CC_METRIC_N for none), and for writes the campaign window
 * (403).  NGX_OK: go on with *uid.  NGX_DONE: answered, the handler
 * returns *rc.
 */
ngx_int_t
ngx_http_cc_begin(ngx_http_request_t *r, ngx_uint_t method, ngx_uint_t access,
    ngx_uint_t bad, uint64_t *uid, ngx_int_t *rc)
{
    *rc = ngx_http_cc_check_method(r, method);

    if (*rc == NGX_HTTP_NOT_ALLOWED) {
        *rc = ngx_http_cc_send_error(r, NGX_HTTP_NOT_ALLOWED,
                                     "method_not_allowed");
        return NGX_DONE;
    }

    if (*rc != NGX_OK) {
        return NGX_DONE;
    }

    *rc = ngx_http_cc_get_uid(r, uid);

    if (*rc != NGX_OK) {
        ngx_http_cc_metric_inc(bad);
        *rc = ngx_http_cc_send_uid_error(r, *rc);
        return NGX_DONE;
    }

    if (access != NGX_HTTP_CC_READ
        && ngx_http_cc_closed(r, access == NGX_HTTP_CC_COMBINE))
    {
        *rc = ngx_http_cc_send_error(r, NGX_HTTP_FORBIDDEN,
                                     "campaign_closed");
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * The caller's uid, from the identity the location trusts: NGX_OK, or
 * NGX_DECLINED (no valid uid: 400) or NGX_HTTP_UNAUTHORIZED (401), for
 * ngx_http_cc_send_uid_error().
 */
ngx_int_t
ngx_http_cc_get_uid(ngx_http_request_t *r, uint64_t *uid)
{
    ngx_str_t                  tok;
    ngx_table_elt_t           *auth;
    ngx_http_cc_loc_conf_t    *clcf;
    ngx_http_variable_value_t *v;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_cc_module);

    if (clcf->identity == NGX_HTTP_CC_IDENTITY_TOKEN) {
        auth = r->headers_in.authorization;

        if (auth == NULL || auth->value.len <= sizeof("Bearer ") - 1
            || ngx_strncasecmp(auth->value.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1) != 0)
        {
            return NGX_HTTP_UNAUTHORIZED;
        }

        tok.data = auth->value.data + sizeof("Bearer ") - 1;
        tok.len = auth->value.len - (sizeof("Bearer ") - 1);

        if (cc_token_verify(clcf->secret.data, clcf->secret.len,
                            (const char *) tok.data, tok.len, ngx_time(), uid)
            != CC_TOKEN_OK)
        {
            return NGX_HTTP_UNAUTHORIZED;
        }

        return NGX_OK;
    }

    v = ngx_http_get_indexed_variable(r, clcf->uid_var_index);

    if (v == NULL || v->not_found
        || cc_parse_uid((const char *) v->data, v->len, uid) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * A query argument that must be an id (1..64 of [A-Za-z0-9_-]).  The raw,
 * still escaped value is checked: an id never needs escaping, so a '%' is
 * simply invalid.
 */
ngx_int_t
ngx_http_cc_get_id_arg(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value)
{
    if (ngx_http_arg(r, (u_char *) name, len, value) != NGX_OK
        || cc_check_request_id((const char *) value->data, value->len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The one method a handler takes (GET or POST); the body is not used and
 * is discarded.  NGX_OK to go on,
 * NGX_HTTP_NOT_ALLOWED (with the Allow header set) or another status or
 * NGX_ERROR for the handler to return as it is.
 */
static ngx_int_t
ngx_http_cc_check_method(ngx_http_request_t *r, ngx_uint_t method)
{
    ngx_table_elt_t  *allow;

    if (r->method == method) {
        return ngx_http_discard_request_body(r);
    }

    allow = ngx_list_push(&r->headers_out.headers);
    if (allow == NULL) {
        return NGX_ERROR;
    }

    allow->hash = 1;
    ngx_str_set(&allow->key, "Allow");

    if (method == NGX_HTTP_GET) {
        ngx_str_set(&allow->value, "GET");

    } else {
        ngx_str_set(&allow->value, "POST");
    }

    return NGX_HTTP_NOT_ALLOWED;
}


ngx_int_t
ngx_http_cc_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *body, size_t len)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    r->headers_out.status = status;
    r->headers_out.content_type = ngx_http_cc_json_type;
    r->headers_out.content_type_len = ngx_http_cc_json_type.len;
    r->headers_out.content_length_n = len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = body;
    b->last = body + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_cc_send_error(ngx_http_request_t *r, ngx_uint_t status, char *code)
{
    u_char  *body, *last;
    size_t   len;

    len = sizeof("{\"error\":\"\"}") - 1 + ngx_strlen(code);

    body = ngx_pnalloc(r->pool, len);
    if (body == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = ngx_sprintf(body, "{\"error\":\"%s\"}", code);

    return ngx_http_cc_send_json(r, status, body, last - body);
}


ngx_int_t
ngx_http_cc_send_uid_error(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_table_elt_t  *h;

    if (rc == NGX_HTTP_UNAUTHORIZED) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        ngx_str_set(&h->value, "Bearer");

        return ngx_http_cc_send_error(r, NGX_HTTP_UNAUTHORIZED,
                                      "unauthorized");
    }

    return ngx_http_cc_send_error(r, NGX_HTTP_BAD_REQUEST, "bad_uid");
}


/*
 * Outside the campaign window [cc_campaign_start, cc_campaign_end), and for
 * a combine after cc_combine_cutoff, the campaign is closed to writes.
 */
static ngx_uint_t
ngx_http_cc_closed(ngx_http_request_t *r, ngx_uint_t combine)
{
    time_t                    now;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    now = ngx_time();

    if ((cmcf->start != NGX_CONF_UNSET && now < cmcf->start)
        || (cmcf->end != NGX_CONF_UNSET && now >= cmcf->end)
        || (combine && cmcf->cutoff != NGX_CONF_UNSET && now >= cmcf->cutoff))
    {
        ngx_http_cc_metric_inc(NGX_HTTP_CC_CLOSED);
        return 1;
    }

    return 0;
}


/*
 * 200 {"cards":[n0,n1,...],"kinds":K,"combined":bool,"eligible":bool}
 * from a reply element {combined, n0, n1, ...} (combined 0 or not).
 * eligible is combined: a combine is only taken before the cutoff.
 */
void
ngx_http_cc_finalize_cards(ngx_http_request_t *r, redisReply *reply,
    ngx_uint_t combined)
{
    u_char                   *body, *p;
    ngx_uint_t                i, n;
    ngx_http_cc_main_conf_t  *cmcf;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    n = cmcf->cards.nkinds;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n + 1) {
        goto invalid;
    }

    for (i = 0; i <= n; i++) {
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            goto invalid;
        }
    }

    body = ngx_pnalloc(r->pool, sizeof("{\"cards\":[],\"kinds\":,"
                                       "\"combined\":false,"
                                       "\"eligible\":false}")
                                + (n + 1) * (NGX_INT64_LEN + 1));
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(body, "{\"cards\":[");

    for (i = 1; i <= n; i++) {
        p = ngx_sprintf(p, "%s%L", i > 1 ? "," : "",
                        reply->element[i]->integer);
    }

    p = ngx_sprintf(p, "],\"kinds\":%ui,\"combined\":%s,\"eligible\":%s}",
                    n, combined ? "true" : "false",
                    combined ? "true" : "false");

    ngx_http_finalize_request(r, ngx_http_cc_send_json(r, NGX_HTTP_OK, body,
                                                       p - body));
    return;

invalid:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cc: unexpected reply from redis (type %d)", reply->type);

    ngx_http_cc_finalize_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                               "storage_unavailable");
}


/*
 * Queues the request's script call and returns what its content handler
 * returns: NGX_DONE while Redis works (the reply handler finalizes), or
 * the 503 now when the shard is known to be down, counted in the metric
 * unavailable (NGX_HTTP_CC_METRIC_N: none).
 */
ngx_int_t
ngx_http_cc_call(ngx_http_request_t *r, uint64_t uid, ngx_uint_t script,
    ngx_str_t *keys, ngx_str_t *args, ngx_http_cc_reply_pt handler,
    ngx_uint_t unavailable)
{
    ngx_int_t  rc;

    rc = ngx_http_cc_redis_eval(r, uid, script, keys, args, handler);

    if (rc == NGX_DECLINED) {
        ngx_http_cc_metric_inc(unavailable);
        return ngx_http_cc_send_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "storage_unavailable");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* notice a client that hangs up while Redis works */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/* for the reply handlers, which run outside the content phase */
void
ngx_http_cc_finalize_error(ngx_http_request_t *r, ngx_uint_t status,
    char *code)
{
    ngx_http_finalize_request(r, ngx_http_cc_send_error(r, status, code));
}
