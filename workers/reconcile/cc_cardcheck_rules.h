/*
 * cc_cardcheck_rules: what the cards check (cc_cardcheck.h) reads, with no
 * server: what a combine consumed, and an outbox entry.  Unit-tested in
 * t/unit/test_cardcheck.c.
 *
 * What a combine consumed is said here and nowhere else: the columns of
 * eligibility the check selects (CC_CARDCHECK_COMBINE_COLS, their number
 * CC_CARDCHECK_COMBINE_NCOLS), a row of them read into a
 * cc_cardcheck_combine_t, and the cards of each kind it took: one of
 * every kind of the campaign (combine.lua), or with a wildcard (万能福,
 * cc_wildcard_kind) the wildcards used of the wildcard's kind, none of the
 * kinds they stood in for (replaced_kinds, bit k kind k) and one of every
 * other kind (sql/shard.sql says the same of the columns).
 */

#ifndef CC_CARDCHECK_RULES_H
#define CC_CARDCHECK_RULES_H

#include <stddef.h>
#include <stdint.h>

#define CC_CARDCHECK_COMBINE_COLS \
    "uid IS NOT NULL, wildcard_kind, wildcards_used, replaced_kinds"
#define CC_CARDCHECK_COMBINE_NCOLS  4

typedef struct {
    int       combined;
    int       wild;                 /* a wildcard campaign's combine */
    unsigned  wild_kind;
    unsigned  wild_used;
    uint32_t  replaced;             /* bit k: kind k */
} cc_cardcheck_combine_t;

/* the CC_CARDCHECK_COMBINE_NCOLS values of a row (NULL a NULL) into *c */
void cc_cardcheck_combine_read(const char *const *cols,
    cc_cardcheck_combine_t *c);

/* the cards of kind the combine took, of a campaign of nkinds kinds */
int64_t cc_cardcheck_consumed(const cc_cardcheck_combine_t *c, unsigned kind,
    unsigned nkinds);

#endif /* CC_CARDCHECK_RULES_H */
