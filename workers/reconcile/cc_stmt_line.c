/*
 * cc_stmt_line: one statement line (see the header).
 *
 * The line is cut at its commas by length, not by strlen or strsep, so a
 * NUL cannot shorten a field unseen; each number goes through the strict
 * parsers of cc_ids (strtoll would take " 5", "+5" and "05").
 */

#include <string.h>

#include "cc_campaign.h"
#include "cc_event.h"
#include "cc_ids.h"
#include "cc_stmt_line.h"


int
cc_stmt_line_parse(const char *p, size_t len, cc_stmt_line_t *l,
    const char **why)
{
    size_t           i, n, flen[5];
    uint64_t         ts;
    const char      *f[5], *comma, *end;
    cc_stmt_line_t   out;

    if (len > 0 && p[len - 1] == '\n') {
        len--;
    }

    if (memchr(p, '\0', len) != NULL) {
        *why = "a NUL byte in the line";
        return -1;
    }

    end = p + len;

    for (n = 0; n < 5; n++) {
        comma = memchr(p, ',', (size_t) (end - p));

        f[n] = p;
        flen[n] = (size_t) ((comma != NULL ? comma : end) - p);

        if (comma == NULL) {
            break;
        }

        p = comma + 1;
    }

    if (n != 4) {
        *why = "not five comma-separated fields";
        return -1;
    }

    memset(&out, 0, sizeof(out));

    if (flen[0] == 0 || flen[0] > CC_STMT_KEY_MAX) {
        *why = "bad key";
        return -1;
    }

    for (i = 0; i < flen[0]; i++) {
        if (f[0][i] <= ' ' || f[0][i] > '~') {
            *why = "bad key";
            return -1;
        }
    }

    if (cc_parse_uid(f[1], flen[1], &out.uid) != 0) {
        *why = "bad uid";
        return -1;
    }

    if (cc_parse_count(f[2], flen[2], CC_CAMPAIGN_POOL_MAX, &out.amount)
        != 0)
    {
        *why = "bad amount_cents";
        return -1;
    }

    if (flen[3] != 3 || f[3][0] < 'A' || f[3][0] > 'Z' || f[3][1] < 'A'
        || f[3][1] > 'Z' || f[3][2] < 'A' || f[3][2] > 'Z')
    {
        *why = "bad currency";
        return -1;
    }

    if (cc_parse_count(f[4], flen[4], CC_TS_MAX, &ts) != 0) {
        *why = "bad applied_at_ms";
        return -1;
    }

    memcpy(out.key, f[0], flen[0]);
    memcpy(out.currency, f[3], 3);
    out.applied_ms = (int64_t) ts;

    *l = out;
    return 0;
}
