/*
 * cc_split: the pool among the eligible, in integer cents (see cc_split.h
 * for the design).
 */

#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "cc_split.h"


/* ---- random numbers: xoshiro256** (Blackman and Vigna, 2018) ---- */

static uint64_t
cc_split_rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}


static uint64_t
cc_split_le64(const unsigned char *p)
{
    uint64_t  v;
    int       i;

    v = 0;

    for (i = 7; i >= 0; i--) {
        v = (v << 8) | p[i];
    }

    return v;
}


/*
 * The stream's state is SHA-256(seed | 0x00 | stream), read as four
 * little-endian words.  A seed is at most CC_CAMPAIGN_SEED_MAX bytes and a
 * stream a short name: longer ones are cut there (the campaign parser
 * refuses such seeds long before).
 */
void
cc_rng_init(cc_rng_t *g, const char *seed, const char *stream)
{
    int            i;
    char           buf[CC_CAMPAIGN_SEED_MAX + 1 + 64];
    size_t         slen, tlen;
    unsigned char  md[EVP_MAX_MD_SIZE];

    slen = strnlen(seed, CC_CAMPAIGN_SEED_MAX);
    tlen = strnlen(stream, 64);

    memcpy(buf, seed, slen);
    buf[slen] = '\0';                           /* the 0x00 separator */
    memcpy(buf + slen + 1, stream, tlen);

    if (EVP_Digest(buf, slen + 1 + tlen, md, NULL, EVP_sha256(), NULL) != 1)
    {
        memset(md, 0, sizeof(md));              /* never: no engine */
    }

    for (i = 0; i < 4; i++) {
        g->s[i] = cc_split_le64(md + 8 * i);
    }

    /* the one state xoshiro cannot leave; 2^-256 likely, but never stuck */
    if ((g->s[0] | g->s[1] | g->s[2] | g->s[3]) == 0) {
        g->s[0] = 1;
    }
}


uint64_t
cc_rng_next(cc_rng_t *g)
{
    uint64_t  r, t;

    r = cc_split_rotl(g->s[1] * 5, 7) * 9;
    t = g->s[1] << 17;

    g->s[2] ^= g->s[0];
    g->s[3] ^= g->s[1];
    g->s[1] ^= g->s[2];
    g->s[0] ^= g->s[3];
    g->s[2] ^= t;
    g->s[3] = cc_split_rotl(g->s[3], 45);

    return r;
}


/*
 * Rejection: the values below 2^64 mod n would make the low residues
 * likelier, so they are drawn again (at most half of the range is ever
 * rejected, usually almost none).
 */
uint64_t
cc_rng_below(cc_rng_t *g, uint64_t n)
{
    uint64_t  r, threshold;

    if (n <= 1) {
        return 0;
    }

    threshold = (0 - n) % n;

    do {
        r = cc_rng_next(g);
    } while (r < threshold);

    return r % n;
}


/* ---- the order within a shard ---- */

uint64_t
cc_split_key(const char *seed)
{
    unsigned char  md[EVP_MAX_MD_SIZE];

    if (EVP_Digest(seed, strlen(seed), md, NULL, EVP_sha256(), NULL) != 1) {
        memset(md, 0, sizeof(md));
    }

    return cc_split_le64(md);
}


/*
 * The SplitMix64 finaliser over the uid xor the key, then once more with
 * the key added: a bijection of the uid for a given key, so ties of rank
 * (broken by the uid) never happen, and without the key the order cannot
 * be told in advance.
 */
uint64_t
cc_split_rank(uint64_t key, uint64_t uid)
{
    uint64_t  z;

    z = uid ^ key;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;

    z += key;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;

    return z ^ (z >> 31);
}


/* ---- the plan ---- */

/*
 * The number of marked items among r drawn without replacement from m
 * items of which k are marked (hypergeometric), drawn exactly: selection
 * sampling, one draw at a time, each marked with probability (marked
 * left) / (items left).  The law is symmetric in k and r, so the loop
 * draws min(k, r) times.
 */
static uint64_t
cc_split_hypergeometric(cc_rng_t *g, uint64_t m, uint64_t k, uint64_t r)
{
    uint64_t  x, t, draws, left, marked;

    draws = k < r ? k : r;
    marked = k < r ? r : k;
    left = m;
    x = 0;

    for (t = 0; t < draws && marked > 0; t++) {
        if (cc_rng_below(g, left) < marked) {
            x++;
            marked--;
        }

        left--;
    }

    return x;
}


/*
 * How many of the r extra cents fall among the k users of a shard, of m
 * users not yet placed.  With X(m,k,r) = r - X(m,m-k,r) and X(m,k,r) =
 * k - X(m,k,m-r) the loop above runs min(k, m-k, r, m-r) times: a few
 * million steps for ten million users, nothing for most shards.
 */
static uint64_t
cc_split_extra_of(cc_rng_t *g, uint64_t m, uint64_t k, uint64_t r)
{
    uint64_t  kk, rr, x;

    kk = k > m - k ? m - k : k;                 /* this shard, or the rest */
    rr = r > m - r ? m - r : r;                 /* the extras, or the rest */

    x = cc_split_hypergeometric(g, m, kk, rr);  /* kk-users among rr */

    if (rr != r) {
        x = kk - x;                             /* kk-users among r */
    }

    if (kk != k) {
        x = r - x;                              /* k-users among r */
    }

    return x;
}


/*
 * equal: base cents each; the r = pool % N extra cents go to a uniform
 * r-subset of the N users: shard by shard, the number of them among this
 * shard's n[s] users out of the m users not yet placed is hypergeometric.
 */
static void
cc_split_shares_equal(cc_split_shard_t *sh, const uint64_t *n,
    size_t nshards, uint64_t pool, uint64_t total, cc_rng_t *g,
    uint64_t base)
{
    size_t    s;
    uint64_t  m, r, w;

    m = total;
    r = pool % total;

    for (s = 0; s < nshards; s++) {
        w = s + 1 == nshards ? r : cc_split_extra_of(g, m, n[s], r);
        sh[s].n = n[s];
        sh[s].extra = w;
        sh[s].total = base * n[s] + w;
        m -= n[s];
        r -= w;
    }
}


/*
 * random: each shard's proportional share, floored; the cents left
 * (fewer than the shards) one at a time to a shard drawn with weight
 * n[s] among those still below n[s] * cap.  pool >= N makes every
 * share >= n[s], pool <= cap * N every floor <= n[s] * cap, and the
 * room left is at least the cents left.
 */
static void
cc_split_shares_random(cc_split_shard_t *sh, const uint64_t *n,
    size_t nshards, uint64_t pool, uint64_t cap, uint64_t total,
    cc_rng_t *g)
{
    size_t             s;
    uint64_t           r, room, pick, placed;
    unsigned __int128  q;

    placed = 0;

    for (s = 0; s < nshards; s++) {
        q = (unsigned __int128) pool * n[s] / total;
        sh[s].n = n[s];
        sh[s].extra = 0;
        sh[s].total = (uint64_t) q;
        placed += sh[s].total;
    }

    for (r = pool - placed; r > 0; r--) {
        room = 0;

        for (s = 0; s < nshards; s++) {
            if ((unsigned __int128) n[s] * cap > sh[s].total) {
                room += n[s];
            }
        }

        pick = cc_rng_below(g, room);

        for (s = 0; s < nshards; s++) {
            if ((unsigned __int128) n[s] * cap <= sh[s].total) {
                continue;
            }

            if (pick < n[s]) {
                sh[s].total++;
                break;
            }

            pick -= n[s];
        }
    }
}


int
cc_split_plan(cc_split_plan_t *p, cc_split_shard_t *sh,
    const uint64_t *n, size_t nshards, cc_split_mode_e mode, uint64_t pool,
    uint64_t cap, const char *seed, const char **why)
{
    size_t             s;
    uint64_t           total;
    cc_rng_t           g;
    cc_split_plan_t    out;

    if (nshards == 0) {
        *why = "no shard";
        return -1;
    }

    total = 0;

    for (s = 0; s < nshards; s++) {
        if (n[s] > UINT64_MAX - total) {
            *why = "the eligible count overflows";
            return -1;
        }

        total += n[s];
    }

    if (total == 0) {
        *why = "no eligible user";
        return -1;
    }

    if (pool < total) {
        *why = "pool smaller than the eligible count";
        return -1;
    }

    if (mode == CC_SPLIT_RANDOM && cap == 0) {
        *why = "cap_cents is 0";
        return -1;
    }

    if (mode == CC_SPLIT_RANDOM
        && (unsigned __int128) cap * total < (unsigned __int128) pool)
    {
        *why = "cap_cents times the eligible count is below the pool";
        return -1;
    }

    memset(&out, 0, sizeof(out));
    out.mode = mode;
    out.pool = pool;
    out.cap = mode == CC_SPLIT_RANDOM ? cap : 0;
    out.n = total;
    out.base = pool / total;

    cc_rng_init(&g, seed, "plan");

    if (mode == CC_SPLIT_EQUAL) {
        cc_split_shares_equal(sh, n, nshards, pool, total, &g, out.base);

    } else {
        cc_split_shares_random(sh, n, nshards, pool, cap, total, &g);
    }

    *p = out;
    return 0;
}


/* ---- one shard's amounts ---- */

void
cc_split_iter_init(cc_split_iter_t *it, const cc_split_plan_t *p,
    const cc_split_shard_t *sh, size_t shard, const char *seed)
{
    char  stream[32];

    memset(it, 0, sizeof(*it));
    it->mode = p->mode;
    it->base = p->base;
    it->cap = p->cap;
    it->users_left = sh->n;
    it->cents_left = sh->total;
    it->extra_left = sh->extra;

    snprintf(stream, sizeof(stream), "shard:%zu", shard);
    cc_rng_init(&it->rng, seed, stream);
}


/*
 * equal: base + 1 for the first extra users, base for the rest.
 * random (the "double mean" red packet): with c cents for u users, an
 * award is drawn uniformly from [lo, min(hi, 2c/u)], where lo = max(1,
 * c - (u-1) cap) and hi = min(cap, c - (u-1)) keep the rest feasible
 * (each of the u-1 others gets 1..cap); lo <= c/u <= 2c/u, so the range is
 * never empty.  The last user takes what is left, in [1, cap] by the same
 * bounds.
 */
uint64_t
cc_split_next(cc_split_iter_t *it)
{
    uint64_t           c, u, lo, hi, mean2, a;
    unsigned __int128  others;

    if (it->users_left == 0) {
        return 0;
    }

    if (it->mode == CC_SPLIT_EQUAL) {
        it->users_left--;

        if (it->extra_left > 0) {
            it->extra_left--;
            a = it->base + 1;

        } else {
            a = it->base;
        }

        it->cents_left -= a;
        return a;
    }

    c = it->cents_left;
    u = it->users_left;

    if (u == 1) {
        it->users_left = 0;
        it->cents_left = 0;
        return c;
    }

    others = (unsigned __int128) (u - 1) * it->cap;
    lo = others >= c ? 1 : c - (uint64_t) others;
    hi = c - (u - 1);

    if (hi > it->cap) {
        hi = it->cap;
    }

    mean2 = 2 * (c / u) + (2 * (c % u)) / u;    /* floor(2c/u), no overflow */

    if (hi > mean2) {
        hi = mean2;
    }

    a = lo + cc_rng_below(&it->rng, hi - lo + 1);

    it->users_left--;
    it->cents_left -= a;

    return a;
}
