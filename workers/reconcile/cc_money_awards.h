/*
 * cc_money_awards.h: the checks of a shard's awards, each a
 * MySQL stream (cc_money_awards.c); 0, or -1 when the shard or
 * a Redis shard could not be read.
 */

#ifndef CC_MONEY_AWARDS_H
#define CC_MONEY_AWARDS_H

#include "cc_money_run.h"

/* each award against its transfers, its eligibility row and field w */
int cc_money_awards(cc_money_t *m);

/* credit transfers of the campaign whose award is not there */
int cc_money_orphans(cc_money_t *m);

/* the users eligible before the cutoff: an award each, and field e */
int cc_money_eligible(cc_money_t *m);

#endif /* CC_MONEY_AWARDS_H */
