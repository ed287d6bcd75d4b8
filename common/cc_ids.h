/*
 * cc_ids: validation of the identifiers that enter from outside.
 *
 * Shared by the nginx module and the workers; pure C, no allocation.
 */

#ifndef CC_IDS_H
#define CC_IDS_H

#include <stddef.h>
#include <stdint.h>

#define CC_REQUEST_ID_MAX  64
#define CC_UID_MAX_DIGITS  20

/*
 * A uid is a positive decimal that fits in 64 bits, with no sign, no
 * leading zero, no space.  Returns 0 and sets *uid, or -1.
 */
int cc_parse_uid(const char *s, size_t len, uint64_t *uid);

/* A request, grant or combine id: 1..64 of [A-Za-z0-9_-].  0 or -1. */
int cc_check_request_id(const char *s, size_t len);

/*
 * A bounded positive decimal count (the n of a grant): 1..max.
 * Returns 0 and sets *n, or -1.
 */
int cc_parse_count(const char *s, size_t len, uint64_t max, uint64_t *n);

/*
 * A decimal in 0..max written one way only: "0", or a digit 1..9 then
 * digits; no sign, no space, no leading zero.  Returns 0 and sets *n, or
 * -1 (*n untouched).
 */
int cc_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *n);

/*
 * An award id, the ledger's transfer id ("<campaign>:<uid>", "post:..."):
 * 1..64 of [A-Za-z0-9_-] and ':'.  It goes into SQL text unquoted.  0 or -1.
 */
#define CC_AWARD_ID_MAX  64

int cc_check_award_id(const char *s, size_t len);

#endif /* CC_IDS_H */
