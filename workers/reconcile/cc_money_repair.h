/*
 * cc_money_repair.h: --repair (cc_money_repair.c).
 */

#ifndef CC_MONEY_REPAIR_H
#define CC_MONEY_REPAIR_H

#include "cc_money_run.h"

/* keeps a missing credit of m->shard for the repair; -1 out of memory */
int cc_money_add_missing(cc_money_t *m, const cc_money_award_t *a,
    cJSON *json);

/* credits every kept missing credit; counted in m->repaired */
void cc_money_repair(cc_money_t *m);

#endif /* CC_MONEY_REPAIR_H */
