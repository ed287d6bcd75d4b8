/*
 * fuzz_event: the Kafka message decoder (common/cc_event.h), the one
 * place a draw or a combine enters cc-ingest.
 *
 * Whatever it accepts passes the checks of a hand-made event
 * (cc_draw_check, cc_combine_check), and encoding it again gives a
 * message that decodes to the same event: what ingest stores is what the
 * flip published, field by field.
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

    } else {
        FUZZ_ASSERT(a->u.combine.uid == b->u.combine.uid
                    && a->u.combine.ts_ms == b->u.combine.ts_ms
                    && strcmp(a->u.combine.request_id,
                              b->u.combine.request_id) == 0);
    }
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

    why = NULL;

    if (ev.type == CC_EVENT_DRAW) {
        FUZZ_ASSERT(cc_draw_check(&ev.u.draw, &why) == 0);
        text = cc_draw_encode(&ev.u.draw);

    } else {
        FUZZ_ASSERT(ev.type == CC_EVENT_COMBINE);
        FUZZ_ASSERT(cc_combine_check(&ev.u.combine, &why) == 0);
        text = cc_combine_encode(&ev.u.combine);
    }

    FUZZ_ASSERT(text != NULL);

    len = strlen(text);
    FUZZ_ASSERT(len <= CC_EVENT_MAX_LEN);

    memset(&back, 0, sizeof(back));
    FUZZ_ASSERT(cc_event_decode(text, len, &back, &why) == 0);
    fuzz_same_event(&ev, &back);

    free(text);

    return 0;
}
