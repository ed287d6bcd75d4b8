/*
 * fuzz_award: the field w of the user hash (common/cc_award.h), read by
 * the module's award and claim from whatever Redis holds.
 *
 * Held against a reference reading (strspn and strtoull): both accept the
 * same texts; an accepted one written back is the input byte for byte, so
 * an award has one spelling and its id goes into JSON unescaped.
 */

#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "cc_award.h"


#define FUZZ_AWARD_ID_CHARS \
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_:-"


static int
fuzz_ref_award(const uint8_t *data, size_t size)
{
    int                 ok;
    char               *s, *end, *id;
    unsigned long long  v;

    if (memchr(data, '\0', size) != NULL) {
        return -1;
    }

    s = malloc(size + 1);
    FUZZ_ASSERT(s != NULL);
    memcpy(s, data, size);
    s[size] = '\0';

    ok = 0;

    if (size >= 2 && (s[0] == 'p' || s[0] == 'c') && s[1] == ':'
        && s[2] >= '1' && s[2] <= '9')
    {
        errno = 0;
        v = strtoull(s + 2, &end, 10);
        id = end + 1;

        ok = errno == 0 && v <= CC_AWARD_AMOUNT_MAX && *end == ':'
             && strlen(id) >= 1 && strlen(id) <= CC_AWARD_ID_MAX
             && strspn(id, FUZZ_AWARD_ID_CHARS) == strlen(id);
    }

    free(s);

    return ok ? 0 : -1;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          ok, n;
    char         back[128];
    cc_award_t   aw, untouched;

    memset(&aw, 0x5a, sizeof(aw));
    memset(&untouched, 0x5a, sizeof(untouched));

    ok = cc_award_parse((const char *) data, size, &aw) == 0;

    FUZZ_ASSERT(ok == (fuzz_ref_award(data, size) == 0));

    if (!ok) {
        FUZZ_ASSERT(memcmp(&aw, &untouched, sizeof(aw)) == 0);
        return 0;
    }

    FUZZ_ASSERT(aw.amount >= 1 && aw.amount <= CC_AWARD_AMOUNT_MAX);
    FUZZ_ASSERT(aw.id_len >= 1 && aw.id_len <= CC_AWARD_ID_MAX);
    FUZZ_ASSERT(aw.id >= (const char *) data
                && aw.id + aw.id_len == (const char *) data + size);

    n = snprintf(back, sizeof(back), "%c:%" PRIu64 ":%.*s",
                 aw.credited ? 'c' : 'p', aw.amount, (int) aw.id_len, aw.id);
    FUZZ_ASSERT(n > 0 && (size_t) n == size && memcmp(back, data, size) == 0);

    return 0;
}
