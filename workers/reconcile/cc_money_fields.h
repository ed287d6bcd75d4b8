/*
 * cc_money_fields.c: --repair of the award fields w that a user's Redis
 * shard lost or holds behind MySQL (a failover promoted a replica that
 * lacked cc-draw's "p:..." or cc-payout's "c:..."; found by the award
 * check as status_mismatch).  Each is written again from MySQL through
 * award_set.lua, the script cc-draw and cc-payout use, which never moves a
 * field back (c is never overwritten by p): a second repair, or a payout
 * racing it, writes nothing more.
 */

#ifndef CC_MONEY_FIELDS_H
#define CC_MONEY_FIELDS_H

#include "cc_money_run.h"

/* a field to write: the award of l, credited or pending; 0 or -1 (nomem) */
int cc_money_add_field(cc_money_t *m, const cc_money_look_t *l,
    int credited);

/* every kept field written, a call a shard; m->fields_repaired counts them */
void cc_money_repair_fields(cc_money_t *m);

#endif /* CC_MONEY_FIELDS_H */
