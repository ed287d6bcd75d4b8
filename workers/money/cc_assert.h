/*
 * cc_assert: CC_ASSERT(e), an assert() that never compiles out.
 *
 * The money code states its invariants (a batch's debits equal its
 * credits, an amount is above 0, a transfer's state moves one way) as
 * TigerBeetle's state machine does: checked where they must hold.  A
 * broken one is a bug that could move money wrongly, so the process
 * stops at once, with the expression, in release builds as well: the
 * build uses -O2 without -DNDEBUG, and this macro does not look at
 * NDEBUG anyway.  Never for what the outside may send (ids, answers,
 * MySQL errors): those are guard clauses with a named result.
 */

#ifndef CC_ASSERT_H
#define CC_ASSERT_H

#include <stdio.h>
#include <stdlib.h>

#define CC_ASSERT(e)                                                         \
    ((e) ? (void) 0 : cc_assert_fail(#e, __FILE__, __LINE__, __func__))

static inline void __attribute__((noreturn, cold))
cc_assert_fail(const char *e, const char *file, int line, const char *func)
{
    fprintf(stderr, "%s:%d: %s: assertion \"%s\" failed\n", file, line, func,
            e);
    abort();
}

#endif /* CC_ASSERT_H */
