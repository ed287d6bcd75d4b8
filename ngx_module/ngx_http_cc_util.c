/*
 * ngx_http_cc_util: what every endpoint does with its requests: check the
 * method, the caller's identity and the campaign window, build the user's
 * keys, queue the script call, and answer through the endpoint's table of
 * outcomes, which counts each answer once.
 */


#include "ngx_http_cc_module.h"


static ngx_uint_t ngx_http_cc_closed(ngx_http_request_t *r,
    ngx_uint_t access);
static ngx_int_t ngx_http_cc_add_header(ngx_http_request_t *r, char *key,
    char *value);
static ngx_int_t ngx_http_cc_send_json(ngx_http_request_t *r,
    ngx_uint_t status, u_char *body, size_t len);


static ngx_str_t  ngx_http_cc_json_type = ngx_string("application/json");


/*
 * The status and body of each outcome, the same at every endpoint: an
 * error's code, or NULL for the body the handler made, or for the
 * endpoint's own code (bad_id, refused).
 */
static struct {
    ngx_uint_t   status;
    char        *error;
} ngx_http_cc_outcomes[] = {
    [NGX_HTTP_CC_OUTCOME_OK] = { NGX_HTTP_OK, NULL },
    [NGX_HTTP_CC_OUTCOME_REPLAYED] = { NGX_HTTP_OK, NULL },
    [NGX_HTTP_CC_OUTCOME_REFUSED] = { NGX_HTTP_CONFLICT, NULL },
    [NGX_HTTP_CC_OUTCOME_BAD_UID] = { NGX_HTTP_BAD_REQUEST, "bad_uid" },
    [NGX_HTTP_CC_OUTCOME_UNAUTHORIZED] =
        { NGX_HTTP_UNAUTHORIZED, "unauthorized" },
    [NGX_HTTP_CC_OUTCOME_BAD_ID] = { NGX_HTTP_BAD_REQUEST, NULL },
    [NGX_HTTP_CC_OUTCOME_BAD_N] = { NGX_HTTP_BAD_REQUEST, "bad_n" },
    [NGX_HTTP_CC_OUTCOME_METHOD] =
        { NGX_HTTP_NOT_ALLOWED, "method_not_allowed" },
    [NGX_HTTP_CC_OUTCOME_BODY] =
        { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, "body_not_allowed" },
    [NGX_HTTP_CC_OUTCOME_CLOSED] = { NGX_HTTP_FORBIDDEN, "campaign_closed" },
    [NGX_HTTP_CC_OUTCOME_UNAVAILABLE] =
        { NGX_HTTP_SERVICE_UNAVAILABLE, "storage_unavailable" },
    [NGX_HTTP_CC_OUTCOME_NONE] = { NGX_HTTP_OK, NULL },
    [NGX_HTTP_CC_OUTCOME_PENDING] = { NGX_HTTP_OK, NULL },
    [NGX_HTTP_CC_OUTCOME_CREDITED] = { NGX_HTTP_OK, NULL },
    [NGX_HTTP_CC_OUTCOME_ACCEPTED] = { NGX_HTTP_ACCEPTED, NULL },
    [NGX_HTTP_CC_OUTCOME_NO_AWARD] = { NGX_HTTP_NOT_FOUND, "no_award" },
    [NGX_HTTP_CC_OUTCOME_SENT] = { NGX_HTTP_OK, NULL },
    [NGX_HTTP_CC_OUTCOME_BAD_TO] = { NGX_HTTP_BAD_REQUEST, NULL },
    [NGX_HTTP_CC_OUTCOME_BAD_KIND] = { NGX_HTTP_BAD_REQUEST, "bad_kind" },
    [NGX_HTTP_CC_OUTCOME_SELF] = { NGX_HTTP_BAD_REQUEST, NULL },
    [NGX_HTTP_CC_OUTCOME_NOT_GIVABLE] =
        { NGX_HTTP_BAD_REQUEST, "kind_not_givable" },
    [NGX_HTTP_CC_OUTCOME_BAD_ASK] = { NGX_HTTP_BAD_REQUEST, "bad_ask_id" },
    [NGX_HTTP_CC_OUTCOME_GIFT_LIMIT] =
        { NGX_HTTP_TOO_MANY_REQUESTS, "gift_limit" },
    [NGX_HTTP_CC_OUTCOME_ASK_LIMIT] =
        { NGX_HTTP_TOO_MANY_REQUESTS, "ask_limit" },
    [NGX_HTTP_CC_OUTCOME_ASK_NOT_FOUND] =
        { NGX_HTTP_NOT_FOUND, "ask_not_found" },
    [NGX_HTTP_CC_OUTCOME_ASK_ANSWERED] = { NGX_HTTP_CONFLICT, "ask_answered" },
    [NGX_HTTP_CC_OUTCOME_ASK_EXPIRED] = { 410, "ask_expired" },
};


/*
 * What every handler checks first, in this order: its one method (405),
 * no body (413), the caller's identity (400 or 401), and for writes the
 * campaign window (403).  NGX_OK: go on with *uid.  NGX_DONE: answered,
 * the handler returns *rc.
 */
ngx_int_t
ngx_http_cc_begin(ngx_http_request_t *r, const ngx_http_cc_endpoint_t *ep,
    uint64_t *uid, ngx_int_t *rc)
{
    ngx_uint_t  reason;

    if (r->method != ep->method) {
        *rc = ngx_http_cc_answer(r, ep, NGX_HTTP_CC_OUTCOME_METHOD, NULL, 0);
        return NGX_DONE;
    }

    *rc = ngx_http_cc_refuse_body(r, ep);

    if (*rc != NGX_DECLINED) {
        return NGX_DONE;
    }

    /* "Content-Length: 0": nothing to read, but keep the connection sane */

    *rc = ngx_http_discard_request_body(r);

    if (*rc != NGX_OK) {
        return NGX_DONE;
    }

    *rc = ngx_http_cc_identity_uid(r, uid, &reason);

    if (*rc != NGX_OK) {
        if (*rc == NGX_HTTP_UNAUTHORIZED) {
            ngx_http_cc_identity_refused(r, reason);
        }

        *rc = ngx_http_cc_answer(r, ep,
                                 *rc == NGX_HTTP_UNAUTHORIZED
                                 ? NGX_HTTP_CC_OUTCOME_UNAUTHORIZED
                                 : NGX_HTTP_CC_OUTCOME_BAD_UID,
                                 NULL, 0);
        return NGX_DONE;
    }

    if (ngx_http_cc_closed(r, ep->access)) {
        *rc = ngx_http_cc_answer(r, ep, NGX_HTTP_CC_OUTCOME_CLOSED, NULL, 0);
        return NGX_DONE;
    }

    return NGX_OK;
}


/*
 * No endpoint takes a body: one sent (Content-Length above 0, or chunked,
 * even empty) is refused before anything else is read or done, 413
 * body_not_allowed, and discarded so that the connection stays in step.
 * A chunked body over client_max_body_size is refused so too: discarding
 * does not count it.  (A Content-Length over client_max_body_size never
 * gets here: nginx answers its own 413 page first.)  ep NULL: the
 * metrics, which count no answer.  Returns NGX_DECLINED when there is no
 * body, else what a content handler returns.
 */
ngx_int_t
ngx_http_cc_refuse_body(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep)
{
    ngx_int_t  rc;

    static u_char  refused[] = "{\"error\":\"body_not_allowed\"}";

    if (r->headers_in.content_length_n <= 0 && !r->headers_in.chunked) {
        return NGX_DECLINED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    if (ep == NULL) {
        return ngx_http_cc_send_json(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                     refused, sizeof(refused) - 1);
    }

    return ngx_http_cc_answer(r, ep, NGX_HTTP_CC_OUTCOME_BODY, NULL, 0);
}


/*
 * A query argument given exactly once, as its raw, still escaped value:
 * NGX_OK, or NGX_DECLINED when it is missing or repeated.  A repeated
 * argument is refused rather than one of them chosen: the copies may
 * disagree, and a proxy in front may have read the other one.  Names
 * compare without regard to case, as in ngx_http_arg().
 */
ngx_int_t
ngx_http_cc_get_arg(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value)
{
    u_char      *p, *last, *amp, *eq;
    ngx_uint_t   n;

    n = 0;
    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        amp = ngx_strlchr(p, last, '&');
        if (amp == NULL) {
            amp = last;
        }

        eq = ngx_strlchr(p, amp, '=');

        if ((size_t) ((eq ? eq : amp) - p) == len
            && ngx_strncasecmp(p, (u_char *) name, len) == 0)
        {
            if (n++) {
                return NGX_DECLINED;
            }

            value->data = eq ? eq + 1 : amp;
            value->len = amp - value->data;
        }

        p = amp + 1;
    }

    return (n == 1) ? NGX_OK : NGX_DECLINED;
}


/*
 * A query argument that must be an id (1..64 of [A-Za-z0-9_-]), given
 * once.  The raw, still escaped value is checked: an id never needs
 * escaping, so a '%' is simply invalid.
 */
ngx_int_t
ngx_http_cc_get_id_arg(ngx_http_request_t *r, char *name, size_t len,
    ngx_str_t *value)
{
    if (ngx_http_cc_get_arg(r, name, len, value) != NGX_OK
        || cc_check_request_id((const char *) value->data, value->len) != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * A write with ?request_id=ID: the id checked (else the answer bad_id),
 * and the request's context, with the moment of the write.  NGX_OK: go on
 * with *ctx.  NGX_DONE: answered, the handler returns *rc.
 */
ngx_int_t
ngx_http_cc_write_ctx(ngx_http_request_t *r, const ngx_http_cc_endpoint_t *ep,
    uint64_t uid, ngx_http_cc_ctx_t **ctx, ngx_int_t *rc)
{
    ngx_str_t           rid;
    ngx_time_t         *tp;
    ngx_http_cc_ctx_t  *c;

    if (ngx_http_cc_get_id_arg(r, "request_id", sizeof("request_id") - 1,
                               &rid)
        != NGX_OK)
    {
        *rc = ngx_http_cc_answer(r, ep, NGX_HTTP_CC_OUTCOME_BAD_ID, NULL, 0);
        return NGX_DONE;
    }

    c = ngx_palloc(r->pool, sizeof(ngx_http_cc_ctx_t));
    if (c == NULL) {
        *rc = NGX_HTTP_INTERNAL_SERVER_ERROR;
        return NGX_DONE;
    }

    tp = ngx_timeofday();

    c->uid = uid;
    c->rid = rid;
    c->ts_ms = (int64_t) tp->sec * 1000 + tp->msec;
    ngx_http_set_ctx(r, c, ngx_http_cc_module);

    *ctx = c;

    return NGX_OK;
}


/*
 * Outside the campaign window [cc_campaign_start, cc_campaign_end), and for
 * a combine from cc_combine_cutoff on, the campaign is closed to writes.
 */
static ngx_uint_t
ngx_http_cc_closed(ngx_http_request_t *r, ngx_uint_t access)
{
    time_t                    now;
    ngx_http_cc_main_conf_t  *cmcf;

    if (access == NGX_HTTP_CC_ACCESS_READ) {
        return 0;
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_cc_module);
    now = ngx_time();

    return (cmcf->start != NGX_CONF_UNSET && now < cmcf->start)
           || (cmcf->end != NGX_CONF_UNSET && now >= cmcf->end)
           || (access == NGX_HTTP_CC_ACCESS_COMBINE
               && cmcf->cutoff != NGX_CONF_UNSET && now >= cmcf->cutoff);
}


/*
 * The user's keys (cc_keys.h) in the request pool: the hash, the set of
 * grant ids, and the uid's decimal for the scripts' arguments; each one
 * NULL when not wanted.
 */
ngx_int_t
ngx_http_cc_user_keys(ngx_http_request_t *r, uint64_t uid, ngx_str_t *user,
    ngx_str_t *grants, ngx_str_t *dec)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, 2 * CC_KEY_MAX + NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    if (user != NULL) {
        user->data = p;
        user->len = cc_key_user((char *) p, uid);
        p += user->len;
    }

    if (grants != NULL) {
        grants->data = p;
        grants->len = cc_key_grants((char *) p, uid);
        p += grants->len;
    }

    if (dec != NULL) {
        dec->data = p;
        dec->len = ngx_sprintf(p, "%uL", uid) - p;
    }

    return NGX_OK;
}


/*
 * 64 random bits for a draw, from the worker's cc_rand buffer (cc_rand.h):
 * not ngx_random(), whose outputs predict the next ones.  The buffer is
 * emptied in each new process (ngx_pid differs after a fork), so workers
 * never share a master's bytes.  NGX_ERROR: OpenSSL had no randomness.
 */
ngx_int_t
ngx_http_cc_random(ngx_log_t *log, uint64_t *v)
{
    static ngx_pid_t  pid;
    static cc_rand_t  rnd;

    if (pid != ngx_pid) {
        cc_rand_init(&rnd);
        pid = ngx_pid;
    }

    if (cc_rand_u64(&rnd, v) != 0) {
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "cc: RAND_bytes failed: no random numbers to draw");
        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Queues the request's script call and returns what its content handler
 * returns: NGX_DONE while Redis works (the endpoint's reply handler
 * answers), or the answer "unavailable" now when the shard is known to be
 * down.
 */
ngx_int_t
ngx_http_cc_call(ngx_http_request_t *r, const ngx_http_cc_endpoint_t *ep,
    uint64_t uid, ngx_str_t *keys, ngx_str_t *args)
{
    ngx_int_t  rc;

    rc = ngx_http_cc_redis_eval(r, uid, ep->script, keys, args, ep->reply);

    if (rc == NGX_DECLINED) {
        return ngx_http_cc_answer(r, ep, NGX_HTTP_CC_OUTCOME_UNAVAILABLE,
                                  NULL, 0);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* notice a client that hangs up while Redis works */
    r->read_event_handler = ngx_http_test_reading;

    return NGX_DONE;
}


/*
 * Every answer of an endpoint: the outcome's status and body from the
 * table above (the body {"error":"..."}, or the one the handler made), its
 * counter from the endpoint's table.  Returns what a content handler
 * returns.
 */
ngx_int_t
ngx_http_cc_answer(ngx_http_request_t *r, const ngx_http_cc_endpoint_t *ep,
    ngx_uint_t outcome, u_char *body, size_t len)
{
    char            *error;
    ngx_msec_int_t   ms;
    ngx_time_t      *tp;

    if (ep->metric[outcome] == NGX_HTTP_CC_METRIC_NONE) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "cc: outcome %ui is not in the endpoint's table",
                      outcome);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_cc_metric_inc(ep->metric[outcome]);

    if (ep->latency) {
        tp = ngx_timeofday();
        ms = (ngx_msec_int_t) ((tp->sec - r->start_sec) * 1000
                               + (tp->msec - r->start_msec));
        ngx_http_cc_latency_observe(ep->latency,
                                    ms > 0 ? (ngx_msec_t) ms : 0);
    }

    if (outcome == NGX_HTTP_CC_OUTCOME_METHOD
        && ngx_http_cc_add_header(r, "Allow", ep->method == NGX_HTTP_GET
                                              ? "GET" : "POST")
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (outcome == NGX_HTTP_CC_OUTCOME_UNAUTHORIZED
        && ngx_http_cc_add_header(r, "WWW-Authenticate", "Bearer") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* issue 18: a shard without a primary is back within seconds */
    if (outcome == NGX_HTTP_CC_OUTCOME_UNAVAILABLE
        && ngx_http_cc_add_header(r, "Retry-After", "1") != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    error = (outcome == NGX_HTTP_CC_OUTCOME_BAD_ID) ? ep->bad_id
            : (outcome == NGX_HTTP_CC_OUTCOME_REFUSED) ? ep->refused
            : ngx_http_cc_outcomes[outcome].error;

    if (error != NULL) {
        len = sizeof("{\"error\":\"\"}") - 1 + ngx_strlen(error);

        body = ngx_pnalloc(r->pool, len);
        if (body == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        (void) ngx_sprintf(body, "{\"error\":\"%s\"}", error);
    }

    return ngx_http_cc_send_json(r, ngx_http_cc_outcomes[outcome].status,
                                 body, len);
}


/* ngx_http_cc_answer() for the reply handlers, outside the content phase */
void
ngx_http_cc_finalize(ngx_http_request_t *r, const ngx_http_cc_endpoint_t *ep,
    ngx_uint_t outcome, u_char *body, size_t len)
{
    ngx_http_finalize_request(r, ngx_http_cc_answer(r, ep, outcome, body,
                                                    len));
}


/* a reply that is not what the endpoint's script answers: unavailable */
void
ngx_http_cc_finalize_invalid(ngx_http_request_t *r,
    const ngx_http_cc_endpoint_t *ep, redisReply *reply)
{
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "cc: unexpected reply from redis (type %d) to \"%V\"",
                  reply->type, &r->uri);

    ngx_http_cc_finalize(r, ep, NGX_HTTP_CC_OUTCOME_UNAVAILABLE, NULL, 0);
}


static ngx_int_t
ngx_http_cc_add_header(ngx_http_request_t *r, char *key, char *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) key;
    h->key.len = ngx_strlen(key);
    h->value.data = (u_char *) value;
    h->value.len = ngx_strlen(value);

    return NGX_OK;
}


static ngx_int_t
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
