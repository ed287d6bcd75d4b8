/*
 * ngx_http_cc_wildcard: cc_wildcard_kind K, the wildcard card (万能福).
 *
 * The wildcard is one kind of cc_cards: drawn by its weight like any
 * other, capped by cc_card_stock if it is stocked (flip.lua knows nothing
 * of it).  The set to complete is every other kind; combine.lua takes one
 * wildcard for each kind of the set the user lacks (WILD, written in
 * front of it by ngx_http_cc_script.c).  Here: the directive's check
 * against cc_cards, and the fields the wildcard adds to the answers of
 * /cc/eligibility and /cc/combine (none without one, so those answers
 * keep their shape where no wildcard is configured):
 *
 *   ,"wildcard_kind":W,"wildcards":H,"missing":[k,...],
 *    "wildcards_needed":M,"completable":bool
 *
 * H the wildcards held, missing the kinds of the set held 0 times, M
 * their number, completable M <= H (the cards held complete the set);
 * and, for a combine's 200 (made now or before):
 *
 *   ,"consumed":[k,...],"wildcards_used":N,"replaced":[k,...]
 *
 * consumed one entry per card the combine took: the set's kinds it took
 * one of, in kind order, then the wildcard once per use; replaced the
 * kinds the wildcards stood in for.  These come from the field x (the
 * replaced kinds) that the combine kept, so a retry, or a second combine,
 * answers what the first consumed.
 */


#include "ngx_http_cc_module.h"


/* the longest fields: 16 kinds of 3 bytes ("15,") in each of the lists */
#define NGX_HTTP_CC_WILDCARD_LEN                                             \
    (sizeof(",\"wildcard_kind\":,\"wildcards\":,\"missing\":[],"              \
            "\"wildcards_needed\":,\"completable\":false"                     \
            ",\"consumed\":[],\"wildcards_used\":,\"replaced\":[]")           \
     + NGX_INT64_LEN + 7 * 3 + 5 * CC_KINDS_MAX * 3)


static u_char *ngx_http_cc_wildcard_list(u_char *p, uint32_t mask,
    ngx_uint_t n);


/* once cc_cards is known: the wildcard is one of its kinds */
ngx_int_t
ngx_http_cc_wildcard_check(ngx_conf_t *cf, ngx_http_cc_main_conf_t *cmcf)
{
    if (cmcf->wildcard == NGX_CONF_UNSET) {
        return NGX_OK;
    }

    if (cmcf->wildcard < 0
        || (ngx_uint_t) cmcf->wildcard >= cmcf->cards.nkinds)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"cc_wildcard_kind\" %i is not a kind of "
                      "\"cc_cards\", which has kinds 0..%ui",
                      cmcf->wildcard, cmcf->cards.nkinds - 1);
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* what the wildcard adds to a cards body at most; 0 without one */
size_t
ngx_http_cc_wildcard_len(ngx_http_cc_main_conf_t *cmcf)
{
    return cmcf->wildcard == NGX_CONF_UNSET ? 0 : NGX_HTTP_CC_WILDCARD_LEN;
}


/*
 * The wildcard's fields after those of the cards body, from the cards
 * held (the reply's elements 1..n); replaced: the mask of a combine's 200,
 * or -1 (eligibility, a refused combine): no consumed fields.
 */
u_char *
ngx_http_cc_wildcard_fields(u_char *p, ngx_http_cc_main_conf_t *cmcf,
    redisReply *reply, ngx_int_t replaced)
{
    uint32_t    missing, bits;
    ngx_uint_t  i, n, w, need, used;

    if (cmcf->wildcard == NGX_CONF_UNSET) {
        return p;
    }

    n = cmcf->cards.nkinds;
    w = (ngx_uint_t) cmcf->wildcard;

    for (i = 0, missing = 0, need = 0; i < n; i++) {
        if (i != w && reply->element[i + 1]->integer < 1) {
            missing |= 1u << i;
            need++;
        }
    }

    p = ngx_sprintf(p, ",\"wildcard_kind\":%ui,\"wildcards\":%L,"
                    "\"missing\":[", w, reply->element[w + 1]->integer);
    p = ngx_http_cc_wildcard_list(p, missing, n);
    p = ngx_sprintf(p, "],\"wildcards_needed\":%ui,\"completable\":%s",
                    need,
                    (long long) need <= reply->element[w + 1]->integer
                    ? "true" : "false");

    if (replaced < 0) {
        return p;
    }

    /* every kind of the set not replaced, then the wildcard once a use */

    for (bits = (uint32_t) replaced, used = 0; bits; bits &= bits - 1) {
        used++;
    }

    p = ngx_sprintf(p, ",\"consumed\":[");
    p = ngx_http_cc_wildcard_list(p, ((1u << n) - 1) & ~(1u << w)
                                     & ~(uint32_t) replaced, n);

    for (i = 0; i < used; i++) {
        p = ngx_sprintf(p, "%s%ui", p[-1] == '[' ? "" : ",", w);
    }

    p = ngx_sprintf(p, "],\"wildcards_used\":%ui,\"replaced\":[", used);
    p = ngx_http_cc_wildcard_list(p, (uint32_t) replaced, n);

    return ngx_sprintf(p, "]");
}


/* the kinds of a mask, "1,3" */
static u_char *
ngx_http_cc_wildcard_list(u_char *p, uint32_t mask, ngx_uint_t n)
{
    ngx_uint_t  i, first;

    for (i = 0, first = 1; i < n; i++) {
        if (mask & (1u << i)) {
            p = ngx_sprintf(p, "%s%ui", first ? "" : ",", i);
            first = 0;
        }
    }

    return p;
}


/*
 * A combine reply's mask, its element n + 1 (combine.lua): within the
 * kinds and not the wildcard's own bit, else NGX_DECLINED (an invalid
 * reply).  Called once the cards body has checked the elements.
 */
ngx_int_t
ngx_http_cc_wildcard_replaced(ngx_http_cc_main_conf_t *cmcf,
    redisReply *reply, uint32_t *replaced)
{
    long long  m;

    m = reply->element[cmcf->cards.nkinds + 1]->integer;

    if (m < 0 || m >= (1LL << cmcf->cards.nkinds)
        || (m >> cmcf->wildcard) & 1)
    {
        return NGX_DECLINED;
    }

    *replaced = (uint32_t) m;

    return NGX_OK;
}
