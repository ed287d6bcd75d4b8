/*
 * fuzz_event: the Kafka message decoder (common/cc_event.h), the one
 * place a draw or a combine enters cc-ingest.
 *
 * Whatever it accepts passes the checks of a hand-made event
 * (cc_draw_check, cc_combine_check), and encoding it again gives a
 * message that decodes to the same event: what ingest stores is what the
 * flip published, field by field.  And no string was cut short: a message
 * with a NUL in it, raw or as a \u escape of the code point 0, is never
 * accepted.  Every number it took stands in the message in its one form
 * (no 007, 7.0 or 7e0, which cJSON alone reads as 7).
 */

#include "fuzz.h"
#include "cc_event.h"


static void
fuzz_same_event(const cc_event_t *a, const cc_event_t *b)
{
    FUZZ_ASSERT(a->type == b->type);

    if (a->type == CC_EVENT_DRAW) {
        FUZZ_ASSERT(a->u.draw.uid == b->u.draw.uid
                    && a->u.draw.seq == b->u.draw.seq
                    && a->u.draw.card == b->u.draw.card
                    && a->u.draw.ts_ms == b->u.draw.ts_ms
                    && strcmp(a->u.draw.request_id, b->u.draw.request_id)
                       == 0);

    } else if (a->type == CC_EVENT_GIFT) {
        FUZZ_ASSERT(a->u.gift.uid == b->u.gift.uid
                    && a->u.gift.peer == b->u.gift.peer
                    && a->u.gift.card == b->u.gift.card
                    && a->u.gift.in == b->u.gift.in
                    && a->u.gift.ts_ms == b->u.gift.ts_ms
                    && strcmp(a->u.gift.request_id, b->u.gift.request_id)
                       == 0);

    } else {
        FUZZ_ASSERT(a->u.combine.uid == b->u.combine.uid
                    && a->u.combine.ts_ms == b->u.combine.ts_ms
                    && a->u.combine.wildcard == b->u.combine.wildcard
                    && a->u.combine.wild == b->u.combine.wild
                    && a->u.combine.replaced == b->u.combine.replaced
                    && strcmp(a->u.combine.request_id,
                              b->u.combine.request_id) == 0);
    }
}


/* a NUL raw, or a \uXXXX escape of 0 inside a string (found by its value) */
static int
fuzz_has_nul(const uint8_t *p, size_t len)
{
    char    hex[5];
    size_t  i;

    for (i = 0; i < len; i++) {
        if (p[i] == '\0') {
            return 1;
        }

        if (p[i] == '\\' && i + 5 < len && p[i + 1] == 'u') {
            memcpy(hex, p + i + 2, 4);
            hex[4] = '\0';

            if (strspn(hex, "0123456789abcdefABCDEF") == 4
                && strtoul(hex, NULL, 16) == 0)
            {
                return 1;
            }
        }

        if (p[i] == '\\') {
            i++;
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char         *text;
    size_t        len;
    cc_event_t    ev, back;
    const char   *why;

    memset(&ev, 0, sizeof(ev));
    why = NULL;

    if (cc_event_decode((const char *) data, size, &ev, &why) != 0) {
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
        return 0;
    }

    FUZZ_ASSERT(size > 0 && size <= CC_EVENT_MAX_LEN);
    FUZZ_ASSERT(!fuzz_has_nul(data, size));

    why = NULL;

    if (ev.type == CC_EVENT_DRAW) {
        FUZZ_ASSERT(cc_draw_check(&ev.u.draw, &why) == 0);
        text = cc_draw_encode(&ev.u.draw);

    } else if (ev.type == CC_EVENT_GIFT) {
        FUZZ_ASSERT(cc_gift_check(&ev.u.gift, &why) == 0);
        text = cc_gift_encode(&ev.u.gift);

    } else {
        FUZZ_ASSERT(ev.type == CC_EVENT_COMBINE);
        FUZZ_ASSERT(cc_combine_check(&ev.u.combine, &why) == 0);
        text = cc_combine_encode(&ev.u.combine);
    }

    FUZZ_ASSERT(text != NULL);

    if (ev.type == CC_EVENT_DRAW) {
        FUZZ_ASSERT(fuzz_has_int_value(data, size, ev.u.draw.seq));
        FUZZ_ASSERT(fuzz_has_int_value(data, size, ev.u.draw.card));
        FUZZ_ASSERT(fuzz_has_int_value(data, size,
                                       (uint64_t) ev.u.draw.ts_ms));

    } else if (ev.type == CC_EVENT_GIFT) {
        FUZZ_ASSERT(fuzz_has_int_value(data, size, ev.u.gift.card));
        FUZZ_ASSERT(fuzz_has_int_value(data, size,
                                       (uint64_t) ev.u.gift.ts_ms));

    } else {
        FUZZ_ASSERT(fuzz_has_int_value(data, size,
                                       (uint64_t) ev.u.combine.ts_ms));
    }

    len = strlen(text);
    FUZZ_ASSERT(len <= CC_EVENT_MAX_LEN);

    memset(&back, 0, sizeof(back));
    FUZZ_ASSERT(cc_event_decode(text, len, &back, &why) == 0);
    fuzz_same_event(&ev, &back);

    free(text);

    return 0;
}
