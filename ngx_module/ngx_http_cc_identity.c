/*
 * ngx_http_cc_identity: who the caller is, from the identity the location
 * trusts (cc_identity): a signed token, or a header a gateway sets.  The
 * handlers ask here, and so does $cc_uid, the verified uid, for the
 * limits and logs of the tier that verifies it.  Each 401 a handler
 * answers is counted by its reason and logged, at most once a second a
 * worker.
 */


#include "ngx_http_cc_module.h"


/* the reasons of a 401: cc_token_rc_e's, and no bearer token at all */
#define NGX_HTTP_CC_UNAUTH_MISSING  (CC_TOKEN_TOO_LONG_LIVED + 1)


static ngx_uint_t ngx_http_cc_header_count(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_int_t ngx_http_cc_uid_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


static struct {
    ngx_uint_t   metric;
    char        *name;
} ngx_http_cc_unauth[] = {
    [CC_TOKEN_OK] = { NGX_HTTP_CC_METRIC_NONE, "ok" },
    [CC_TOKEN_MALFORMED] =
        { NGX_HTTP_CC_METRIC_UNAUTH_MALFORMED, "malformed" },
    [CC_TOKEN_UNKNOWN_KEY] =
        { NGX_HTTP_CC_METRIC_UNAUTH_UNKNOWN_KEY, "unknown_key" },
    [CC_TOKEN_BAD_SIGNATURE] =
        { NGX_HTTP_CC_METRIC_UNAUTH_BAD_SIGNATURE, "bad_signature" },
    [CC_TOKEN_EXPIRED] = { NGX_HTTP_CC_METRIC_UNAUTH_EXPIRED, "expired" },
    [CC_TOKEN_TOO_LONG_LIVED] =
        { NGX_HTTP_CC_METRIC_UNAUTH_TOO_LONG_LIVED, "too_long_lived" },
    [NGX_HTTP_CC_UNAUTH_MISSING] =
        { NGX_HTTP_CC_METRIC_UNAUTH_MISSING, "missing" },
};


/* the log's rate limit: this worker's last line, and the 401s since */
static time_t      ngx_http_cc_unauth_logged;
static ngx_uint_t  ngx_http_cc_unauth_quiet;


static ngx_http_variable_t  ngx_http_cc_vars[] = {

    { ngx_string("cc_uid"), NULL, ngx_http_cc_uid_variable, 0, 0, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_cc_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_cc_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * The caller's uid, from the identity the location trusts: NGX_OK, or
 * NGX_DECLINED (no valid uid, or no cc_identity in scope: 400), or
 * NGX_HTTP_UNAUTHORIZED (401) with its reason in *reason, for
 * ngx_http_cc_identity_refused().
 */
ngx_int_t
ngx_http_cc_identity_uid(ngx_http_request_t *r, uint64_t *uid,
    ngx_uint_t *reason)
{
    ngx_str_t                  tok;
    cc_token_rc_e              rc;
    ngx_table_elt_t           *auth;
    ngx_http_cc_loc_conf_t    *clcf;
    ngx_http_variable_value_t *v;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_cc_module);

    if (clcf->identity == NGX_CONF_UNSET_UINT) {
        return NGX_DECLINED;                /* no identity: nobody */
    }

    if (clcf->identity == NGX_HTTP_CC_IDENTITY_TOKEN) {
        auth = r->headers_in.authorization;

        if (auth == NULL || auth->value.len <= sizeof("Bearer ") - 1
            || ngx_strncasecmp(auth->value.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1) != 0)
        {
            *reason = NGX_HTTP_CC_UNAUTH_MISSING;
            return NGX_HTTP_UNAUTHORIZED;
        }

        tok.data = auth->value.data + sizeof("Bearer ") - 1;
        tok.len = auth->value.len - (sizeof("Bearer ") - 1);

        rc = cc_token_verify(clcf->keys->elts, clcf->keys->nelts,
                             (const char *) tok.data, tok.len, ngx_time(),
                             clcf->max_ttl, uid);

        if (rc != CC_TOKEN_OK) {
            *reason = rc;
            return NGX_HTTP_UNAUTHORIZED;
        }

        return NGX_OK;
    }

    /* nginx's $http_ variable reads only the first of repeated headers */

    if (ngx_http_cc_header_count(r, &clcf->uid_header) != 1) {
        return NGX_DECLINED;
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
 * A handler's 401: counted by its reason, and logged at most once a
 * second a worker (a flood of forged tokens must not flood the log),
 * saying how many went unlogged since.
 */
void
ngx_http_cc_identity_refused(ngx_http_request_t *r, ngx_uint_t reason)
{
    if (reason == CC_TOKEN_OK || reason > NGX_HTTP_CC_UNAUTH_MISSING) {
        return;
    }

    ngx_http_cc_metric_inc(ngx_http_cc_unauth[reason].metric);

    if (ngx_http_cc_unauth_logged == ngx_time()) {
        ngx_http_cc_unauth_quiet++;
        return;
    }

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "cc: unauthorized, %s token (%ui more 401s not logged "
                  "before this one)", ngx_http_cc_unauth[reason].name,
                  ngx_http_cc_unauth_quiet);

    ngx_http_cc_unauth_logged = ngx_time();
    ngx_http_cc_unauth_quiet = 0;
}


/*
 * How many times the request carries the header NAME, matched as nginx
 * matches the variable $http_NAME: case folded, '-' and '_' alike.
 */
static ngx_uint_t
ngx_http_cc_header_count(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char            a, b;
    ngx_uint_t        i, k, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n = 0;
    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len != name->len) {
            continue;
        }

        for (k = 0; k < name->len; k++) {
            a = ngx_tolower(h[i].key.data[k]);
            b = ngx_tolower(name->data[k]);

            if (a != b && !((a == '-' || a == '_') && (b == '-' || b == '_')))
            {
                break;
            }
        }

        if (k == name->len) {
            n++;
        }
    }

    return n;
}


/*
 * $cc_uid: the caller's uid as the location's cc_identity verifies it, in
 * decimal; empty (not found) when there is none or it does not verify, so
 * that "limit_req_zone $cc_uid" counts verified users only and a forged
 * token naming a user never spends that user's allowance.
 */
static ngx_int_t
ngx_http_cc_uid_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v,
    uintptr_t data)
{
    u_char      *p;
    uint64_t     uid;
    ngx_uint_t   reason;

    if (ngx_http_cc_identity_uid(r, &uid, &reason) != NGX_OK) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%uL", uid) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}
