/*
 * ngx_http_cc_script: the Lua run inside Redis.
 *
 * The scripts are the files ngx_module/lua/<name>.lua, embedded at build
 * time (the Makefile makes them build/gen/ngx_http_cc_lua.h).  Each one
 * gets the configuration it reads (the card weights, the answers' TTL, the
 * stock) as Lua locals written in front of it here, at configuration time,
 * so a call carries none of it.
 *
 * The scripts take a batch: the requests a worker receives in one turn of
 * its event loop for one shard go to Redis as one EVALSHA (see
 * ngx_http_cc_redis_batch.c), which spares Redis most of its per-call
 * cost.  Each user lives in one hash, cc:{uid}:u (cc_keys.h); {uid} is a
 * hash tag: a user's keys stay together even on a Redis Cluster.
 */


#include "ngx_http_cc_module.h"

#include <openssl/sha.h>

#include "ngx_http_cc_lua.h"


#define NGX_HTTP_CC_LUA_NAMES_LEN  (CC_KINDS_MAX * 16 + 4)


/* the configuration as Lua texts, written once for every script's prelude */
typedef struct {
    char       w[CC_KINDS_MAX * 12 + 4];   /* the weights */
    u_char    *fields;                      /* {'k0','k1',...} */
    u_char    *field_of;                    /* {['0']='k0',...} */
    u_char    *kinds;                       /* {'0','1',...} */
    u_char    *givable;                     /* {['0']=true,...} */
} ngx_http_cc_lua_conf_t;


static ngx_int_t ngx_http_cc_script_prelude(ngx_conf_t *cf,
    ngx_http_cc_main_conf_t *cmcf, ngx_http_cc_script_t *sc,
    ngx_http_cc_lua_conf_t *lc, ngx_str_t *pre, ngx_uint_t *npre);
static void ngx_http_cc_lua_names(u_char *text, ngx_uint_t n, char *prefix,
    ngx_uint_t keyed);
static void ngx_http_cc_lua_givable(ngx_http_cc_main_conf_t *cmcf,
    u_char *text);
static ngx_int_t ngx_http_cc_script_text(ngx_pool_t *pool,
    ngx_http_cc_script_t *sc, ngx_str_t *prelude, ngx_uint_t nprelude,
    const char *body, size_t len);


ngx_int_t
ngx_http_cc_scripts_build(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf)
{
    ngx_str_t                pre[2];
    ngx_uint_t               i, npre;
    ngx_http_cc_script_t    *sc;
    ngx_http_cc_lua_conf_t   lc;

    static ngx_str_t  draws = ngx_string(CC_KEY_LOG);
    static ngx_str_t  claims = ngx_string(CC_KEY_CLAIMS);
    static ngx_str_t  gift_out[] = { ngx_string(CC_KEY_LOG),
                                     ngx_string(CC_KEY_OUTBOX) };
    static ngx_str_t  outbox[] = { ngx_string(CC_KEY_OUTBOX),
                                   ngx_string(CC_KEY_OUTBOX_GIFTS) };

    /* the file, the keys and arguments of an entry, its shared key */
    static struct {
        const char          *lua;
        size_t               len;
        ngx_uint_t           nkeys;
        ngx_uint_t           nargs;
        ngx_str_t           *shared;
        ngx_uint_t           nshared;       /* 0: 1 if shared */
    } files[NGX_HTTP_CC_SCRIPTS] = {
        [NGX_HTTP_CC_SCRIPT_FLIP] = { ngx_http_cc_lua_flip,
                                      sizeof(ngx_http_cc_lua_flip) - 1,
                                      1, 4, &draws },
        [NGX_HTTP_CC_SCRIPT_GRANT] = { ngx_http_cc_lua_grant,
                                       sizeof(ngx_http_cc_lua_grant) - 1,
                                       2, 2, NULL },
        [NGX_HTTP_CC_SCRIPT_ELIG] = { ngx_http_cc_lua_eligibility,
                                      sizeof(ngx_http_cc_lua_eligibility) - 1,
                                      1, 0, NULL },
        [NGX_HTTP_CC_SCRIPT_COMBINE] = { ngx_http_cc_lua_combine,
                                         sizeof(ngx_http_cc_lua_combine) - 1,
                                         1, 3, &draws },
        [NGX_HTTP_CC_SCRIPT_AWARD] = { ngx_http_cc_lua_award,
                                       sizeof(ngx_http_cc_lua_award) - 1,
                                       1, 0, NULL },
        [NGX_HTTP_CC_SCRIPT_CLAIM] = { ngx_http_cc_lua_claim,
                                       sizeof(ngx_http_cc_lua_claim) - 1,
                                       1, 1, &claims },
        [NGX_HTTP_CC_SCRIPT_GIFT_OUT] = { ngx_http_cc_lua_gift_out,
                                          sizeof(ngx_http_cc_lua_gift_out) - 1,
                                          3, 6, gift_out, 2 },
        [NGX_HTTP_CC_SCRIPT_GIFT_IN] = { ngx_http_cc_lua_gift_in,
                                         sizeof(ngx_http_cc_lua_gift_in) - 1,
                                         3, 5, &draws, 1 },
        [NGX_HTTP_CC_SCRIPT_GIFT_DONE] = { ngx_http_cc_lua_gift_done,
                                           sizeof(ngx_http_cc_lua_gift_done)
                                           - 1, 0, 1, outbox, 2 },
        [NGX_HTTP_CC_SCRIPT_ASK_OUT] = { ngx_http_cc_lua_ask_out,
                                         sizeof(ngx_http_cc_lua_ask_out) - 1,
                                         1, 4, NULL, 0 },
        [NGX_HTTP_CC_SCRIPT_ASK_IN] = { ngx_http_cc_lua_ask_in,
                                        sizeof(ngx_http_cc_lua_ask_in) - 1,
                                        2, 4, NULL, 0 },
        [NGX_HTTP_CC_SCRIPT_GIFTS] = { ngx_http_cc_lua_gifts,
                                       sizeof(ngx_http_cc_lua_gifts) - 1,
                                       5, 2, outbox, 1 },
    };

    if (cc_cards_lua_weights(&cmcf->cards, lc.w, sizeof(lc.w)) < 0) {
        return NGX_ERROR;
    }

    lc.fields = ngx_pnalloc(cf->pool, 4 * NGX_HTTP_CC_LUA_NAMES_LEN);
    pre[0].data = ngx_pnalloc(cf->pool,
                              sizeof(lc.w) + 4 * NGX_HTTP_CC_LUA_NAMES_LEN);

    if (lc.fields == NULL || pre[0].data == NULL) {
        return NGX_ERROR;
    }

    lc.field_of = lc.fields + NGX_HTTP_CC_LUA_NAMES_LEN;
    lc.kinds = lc.field_of + NGX_HTTP_CC_LUA_NAMES_LEN;
    lc.givable = lc.kinds + NGX_HTTP_CC_LUA_NAMES_LEN;

    ngx_http_cc_lua_names(lc.fields, cmcf->cards.nkinds, "k", 0);
    ngx_http_cc_lua_names(lc.field_of, cmcf->cards.nkinds, "k", 1);
    ngx_http_cc_lua_names(lc.kinds, cmcf->cards.nkinds, "", 0);
    ngx_http_cc_lua_givable(cmcf, lc.givable);

    for (i = 0; i < NGX_HTTP_CC_SCRIPTS; i++) {
        sc = &cmcf->scripts[i];
        sc->index = i;
        sc->nshared = files[i].nshared ? files[i].nshared
                                       : (files[i].shared != NULL);
        sc->shared = files[i].shared;
        sc->nkeys = files[i].nkeys;
        sc->nargs = files[i].nargs;

        if (ngx_http_cc_script_prelude(cf, cmcf, sc, &lc, pre, &npre)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        if (ngx_http_cc_script_text(cf->pool, sc, pre, npre, files[i].lua,
                                    files[i].len)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * The Lua locals in front of script sc: pre[0..*npre), pre[0].data
 * allocated by the caller; the flip's second part comes from the stock.
 */
static ngx_int_t
ngx_http_cc_script_prelude(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf,
    ngx_http_cc_script_t *sc, ngx_http_cc_lua_conf_t *lc, ngx_str_t *pre,
    ngx_uint_t *npre)
{
    switch (sc->index) {

    case NGX_HTTP_CC_SCRIPT_FLIP:

        /* NARGS is known once the stock added its argument */

        if (ngx_http_cc_stock_flip_script(cf, cmcf, sc, &pre[1])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        pre[0].len = ngx_sprintf(pre[0].data,
                                 "local WEIGHTS, WEIGHT_TOTAL = %s, %uL\n"
                                 "local FIELD_OF, KINDS = %s, %s\n"
                                 "local TTL = %T\n"
                                 "local NARGS = %ui\n",
                                 lc->w, (uint64_t) cmcf->cards.total,
                                 lc->field_of, lc->kinds, cmcf->request_ttl,
                                 sc->nargs)
                     - pre[0].data;
        *npre = 2;
        break;

    case NGX_HTTP_CC_SCRIPT_ELIG:

        /* it reads every kind's field */

        pre[0].len = ngx_sprintf(pre[0].data, "local FIELDS = %s\n",
                                 lc->fields)
                     - pre[0].data;
        *npre = 1;
        break;

    case NGX_HTTP_CC_SCRIPT_COMBINE:

        /* every kind's field, the cutoff by Redis's clock, the wildcard */

        pre[0].len = ngx_sprintf(pre[0].data,
                                 "local FIELDS = %s\n"
                                 "local CUTOFF = %T\n"
                                 "local WILD = %i\n",
                                 lc->fields,
                                 cmcf->cutoff != NGX_CONF_UNSET
                                 ? cmcf->cutoff
                                 : cmcf->end != NGX_CONF_UNSET
                                 ? cmcf->end : (time_t) -1,
                                 cmcf->wildcard)
                     - pre[0].data;
        *npre = 1;
        break;

    case NGX_HTTP_CC_SCRIPT_GIFT_OUT:

        /* the kinds, those that may be given, the limit, the end */

        pre[0].len = ngx_sprintf(pre[0].data,
                                 "local FIELD_OF, GIVABLE = %s, %s\n"
                                 "local LIMIT = %i\n"
                                 "local CUTOFF = %T\n",
                                 lc->field_of, lc->givable, cmcf->gift_limit,
                                 cmcf->end != NGX_CONF_UNSET
                                 ? cmcf->end : (time_t) -1)
                     - pre[0].data;
        *npre = 1;
        break;

    case NGX_HTTP_CC_SCRIPT_ASK_OUT:

        pre[0].len = ngx_sprintf(pre[0].data,
                                 "local ASK_MAX = %i\n"
                                 "local ASK_TTL = %T000\n",
                                 cmcf->ask_limit, cmcf->ask_ttl)
                     - pre[0].data;
        *npre = 1;
        break;

    default: /* the grant, the award, the claim, the gift's others:
                no configuration (gift_in.lua is cc-redrive's too) */
        *npre = 0;
    }

    return NGX_OK;
}


/*
 * A Lua table of strings: {'k0','k1',...} or {'0','1',...}; keyed by the
 * kind's digits: {['0']='k0',['1']='k1',...}.  NUL-terminated.
 */
static void
ngx_http_cc_lua_names(u_char *text, ngx_uint_t n, char *prefix,
    ngx_uint_t keyed)
{
    u_char      *p;
    ngx_uint_t   i;

    p = ngx_sprintf(text, "{");

    for (i = 0; i < n; i++) {
        p = ngx_sprintf(p, i ? "," : "");

        if (keyed) {
            p = ngx_sprintf(p, "['%ui']=", i);
        }

        p = ngx_sprintf(p, "'%s%ui'", prefix, i);
    }

    *ngx_sprintf(p, "}") = '\0';
}


/*
 * GIVABLE, the kinds a gift or an ask may name: {['0']=true,...}, the
 * stocked ones and the wildcard only with cc_gift_rare
 * (ngx_http_cc_givable).  NUL-terminated.
 */
static void
ngx_http_cc_lua_givable(ngx_http_cc_main_conf_t *cmcf, u_char *text)
{
    u_char      *p;
    ngx_uint_t   i;

    p = ngx_sprintf(text, "{");

    for (i = 0; i < cmcf->cards.nkinds; i++) {
        if (ngx_http_cc_givable(cmcf, i)) {
            p = ngx_sprintf(p, "['%ui']=true,", i);
        }
    }

    *ngx_sprintf(p, "}") = '\0';
}


/* the script's text: the prelude's parts, then the .lua file; its sha */
static ngx_int_t
ngx_http_cc_script_text(ngx_pool_t *pool, ngx_http_cc_script_t *sc,
    ngx_str_t *prelude, ngx_uint_t nprelude, const char *body, size_t len)
{
    u_char      *p, md[SHA_DIGEST_LENGTH];
    size_t       size;
    ngx_uint_t   i;

    size = len;

    for (i = 0; i < nprelude; i++) {
        size += prelude[i].len;
    }

    p = ngx_pnalloc(pool, size);
    if (p == NULL) {
        return NGX_ERROR;
    }

    sc->text.data = p;
    sc->text.len = size;

    for (i = 0; i < nprelude; i++) {
        p = ngx_cpymem(p, prelude[i].data, prelude[i].len);
    }

    ngx_memcpy(p, body, len);

    SHA1(sc->text.data, sc->text.len, md);
    ngx_hex_dump(sc->sha, md, SHA_DIGEST_LENGTH);
    sc->sha[40] = '\0';

    return NGX_OK;
}
