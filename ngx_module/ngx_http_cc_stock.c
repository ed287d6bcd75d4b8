/*
 * ngx_http_cc_stock: cc_card_stock K TOTAL, at most TOTAL cards of kind K
 * over all shards.  The one owner of the stock: the directive, its check
 * against cc_cards, and what it adds to the flip's script call:
 *
 *   - KEYS: the shard's issue counter of each stocked kind (cc:stock:K);
 *   - ARGV, per shard: the shard's quota of each stocked kind, TOTAL split
 *     evenly over the shards (the first TOTAL mod n shards one more), so
 *     the quotas add up to TOTAL exactly;
 *   - ARGV, per flip: a second random number (31 bits, of the worker's
 *     CSPRNG) for the script to draw again when the drawn kind's quota is
 *     spent;
 *   - Lua: STOCK_OF, the counter of each stocked kind, and STOCK_KIND, the
 *     kind + 1 of each counter (see ngx_module/lua/flip.lua).
 */


#include "ngx_http_cc_module.h"


typedef struct {
    ngx_uint_t                kind;
    ngx_uint_t                total;
} ngx_http_cc_stock_t;


char *
ngx_http_cc_card_stock(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_cc_main_conf_t *cmcf = conf;

    ngx_int_t             kind, total;
    ngx_str_t            *value;
    ngx_uint_t            i;
    ngx_http_cc_stock_t  *stock;

    value = cf->args->elts;

    kind = ngx_atoi(value[1].data, value[1].len);
    total = ngx_atoi(value[2].data, value[2].len);

    if (kind == NGX_ERROR || kind >= CC_KINDS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid card kind \"%V\", expected 0..%d",
                           &value[1], CC_KINDS_MAX - 1);
        return NGX_CONF_ERROR;
    }

    if (total == NGX_ERROR || total > 1000000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid card stock \"%V\", expected 0..1000000000",
                           &value[2]);
        return NGX_CONF_ERROR;
    }

    if (cmcf->stock == NULL) {
        cmcf->stock = ngx_array_create(cf->pool, 2,
                                       sizeof(ngx_http_cc_stock_t));
        if (cmcf->stock == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    stock = cmcf->stock->elts;

    for (i = 0; i < cmcf->stock->nelts; i++) {
        if (stock[i].kind == (ngx_uint_t) kind) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "duplicate stock of card kind %i", kind);
            return NGX_CONF_ERROR;
        }
    }

    stock = ngx_array_push(cmcf->stock);
    if (stock == NULL) {
        return NGX_CONF_ERROR;
    }

    stock->kind = kind;
    stock->total = total;

    return NGX_CONF_OK;
}


/* once cc_cards is known: every stocked kind is one of its kinds */
ngx_int_t
ngx_http_cc_stock_check(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf)
{
    ngx_uint_t            i;
    ngx_http_cc_stock_t  *stock;

    if (cmcf->stock == NULL) {
        return NGX_OK;
    }

    stock = cmcf->stock->elts;

    for (i = 0; i < cmcf->stock->nelts; i++) {
        if (stock[i].kind >= cmcf->cards.nkinds) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"cc_card_stock\" of kind %ui, but "
                          "\"cc_cards\" has kinds 0..%ui",
                          stock[i].kind, cmcf->cards.nkinds - 1);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * Adds the stock to the flip's script (its shared keys so far are the
 * draw log): the counters' keys, the shards' quotas, the extra argument,
 * and the Lua locals into *prelude.
 */
ngx_int_t
ngx_http_cc_stock_flip_script(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf,
    ngx_http_cc_script_t *sc, ngx_str_t *prelude)
{
    u_char               *p;
    ngx_str_t            *shared, *quota;
    ngx_uint_t            i, s, n, nshards;
    ngx_http_cc_stock_t  *stock;

    n = cmcf->stock ? cmcf->stock->nelts : 0;
    stock = cmcf->stock ? cmcf->stock->elts : NULL;
    nshards = cmcf->shards->nelts;

    prelude->data = ngx_pnalloc(cf->pool, sizeof("local STOCK_OF, STOCK_KIND"
                                                 " = {}, {}\n")
                                          + n * 2 * (NGX_INT_T_LEN + 8));
    if (prelude->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(prelude->data, "local STOCK_OF, STOCK_KIND = {");

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%s['%ui']=%ui", i ? "," : "", stock[i].kind,
                        i + 1);
    }

    p = ngx_sprintf(p, "}, {");

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, "%s%ui", i ? "," : "", stock[i].kind + 1);
    }

    p = ngx_sprintf(p, "}\n");
    prelude->len = p - prelude->data;

    if (n == 0) {
        return NGX_OK;
    }

    shared = ngx_palloc(cf->pool, (sc->nshared + n) * sizeof(ngx_str_t));
    quota = ngx_palloc(cf->pool, nshards * n * sizeof(ngx_str_t));
    p = ngx_pnalloc(cf->pool, n * CC_KEY_MAX + nshards * n * NGX_INT_T_LEN);

    if (shared == NULL || quota == NULL || p == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(shared, sc->shared, sc->nshared * sizeof(ngx_str_t));

    for (i = 0; i < n; i++) {
        shared[sc->nshared + i].data = p;
        shared[sc->nshared + i].len = cc_key_stock((char *) p,
                                                   (unsigned) stock[i].kind);
        p += CC_KEY_MAX;
    }

    for (s = 0; s < nshards; s++) {
        for (i = 0; i < n; i++) {
            quota[s * n + i].data = p;
            p = ngx_sprintf(p, "%ui", stock[i].total / nshards
                                      + (s < stock[i].total % nshards));
            quota[s * n + i].len = p - quota[s * n + i].data;
        }
    }

    sc->shared = shared;
    sc->nshared += n;
    sc->shard_args = quota;
    sc->nshard_args = n;
    sc->nargs++;

    return NGX_OK;
}


/*
 * The flip's extra argument, when there is stock: 31 random bits (of the
 * worker's CSPRNG, ngx_http_cc_random()) at p for the script to draw
 * again if the kind drawn is spent; 31, as the script's Lua numbers take
 * them exactly.  Returns the end, or NULL when there was no random number.
 */
u_char *
ngx_http_cc_stock_flip_arg(ngx_http_request_t *r,
    ngx_http_cc_main_conf_t *cmcf, u_char *p, ngx_str_t *arg)
{
    uint64_t  v;

    if (cmcf->stock == NULL) {
        return p;
    }

    if (ngx_http_cc_random(r->connection->log, &v) != NGX_OK) {
        return NULL;
    }

    arg->data = p;
    p = ngx_sprintf(p, "%uL", v >> 33);
    arg->len = p - arg->data;

    return p;
}


/* 1 when kind has a cc_card_stock (a rare kind), else 0 */
ngx_uint_t
ngx_http_cc_stocked(ngx_http_cc_main_conf_t *cmcf, ngx_uint_t kind)
{
    ngx_uint_t            i;
    ngx_http_cc_stock_t  *stock;

    if (cmcf->stock == NULL) {
        return 0;
    }

    stock = cmcf->stock->elts;

    for (i = 0; i < cmcf->stock->nelts; i++) {
        if (stock[i].kind == kind) {
            return 1;
        }
    }

    return 0;
}


/*
 * 1 when a gift or an ask may name kind: any kind with cc_gift_rare on;
 * else neither a rare kind (a cc_card_stock) nor the wildcard (万能福,
 * cc_wildcard_kind), the two kinds a campaign keeps scarce on purpose (in
 * 集五福 the wildcard is not given either)
 */
ngx_uint_t
ngx_http_cc_givable(ngx_http_cc_main_conf_t *cmcf, ngx_uint_t kind)
{
    return cmcf->gift_rare
           || (!ngx_http_cc_stocked(cmcf, kind)
               && (cmcf->wildcard < 0 || (ngx_uint_t) cmcf->wildcard != kind));
}
