/*
 * cc_stmt_line: one line of the external wallet's
 * statement (see cc_stmt.h),
 *
 *   key,uid,amount_cents,currency,applied_at_ms
 *
 * read strictly: the statement is the wallet's word on money, so a line
 * that is not exactly this is a bad line, never a guess.  Plain C, no
 * allocation, no MySQL: the fuzz build links it alone.
 */

#ifndef CC_STMT_LINE_H
#define CC_STMT_LINE_H

#include <stddef.h>
#include <stdint.h>

#define CC_STMT_KEY_MAX  80

typedef struct {
    char       key[CC_STMT_KEY_MAX + 1];
    uint64_t   uid;
    uint64_t   amount;
    char       currency[4];
    int64_t    applied_ms;
    int        seen;
} cc_stmt_line_t;

/*
 * One line of len bytes (one trailing "\n" allowed, a NUL anywhere is
 * refused: getline's buffer may hold one).  The rules:
 *
 *   key            1..80 printable ASCII bytes, no space
 *   uid            a uid (cc_parse_uid: no sign, space or leading zero)
 *   amount_cents   a decimal in 1..10^15, in its one form
 *   currency       3 capital letters
 *   applied_at_ms  a decimal in 1..CC_TS_MAX, in its one form
 *
 * and exactly five fields.  0 with *l filled (seen 0), or -1 with *why
 * set and *l untouched.
 */
int cc_stmt_line_parse(const char *p, size_t len, cc_stmt_line_t *l,
    const char **why);

#endif /* CC_STMT_LINE_H */
