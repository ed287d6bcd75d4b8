/*
 * cc_load_social.h: cc-load's social phase (cc_load_social.c): users
 * who give their duplicates away, ask for what they lack, answer the asks
 * addressed to them and combine once a gift completed their set.
 */

#ifndef CC_LOAD_SOCIAL_H
#define CC_LOAD_SOCIAL_H

#include "cc_load.h"

/* the request of the social phase's endpoints (eligibility, gifts, gift,
 * ask) into c->wbuf, the identity header id given; its length */
int cc_load_social_request(cc_load_run_t *r, cc_load_conn_t *c,
    const char *id);

/* 1: the user uid has nothing to do in the phase (neither it nor its
 * partner is chosen: no gift, no ask comes its way) */
int cc_load_social_idle(cc_load_run_t *r, uint64_t uid);

/* one complete answer to a request of a social session */
void cc_load_social_on_answer(cc_load_run_t *r, cc_load_conn_t *c,
    int status, const char *body);

#endif /* CC_LOAD_SOCIAL_H */
