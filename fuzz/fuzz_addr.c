/*
 * fuzz_addr: host:port (common/cc_addr.h), the parser of every address
 * in the configuration and on the command lines.
 *
 * An accepted address has a host of 1..255 bytes, NUL-terminated where
 * its length says, of the characters a name, an IPv4 or a bracketed IPv6
 * address (with a zone) may hold, and a port in 1..65535; written back
 * ("host:port", or "[host]:port" when the host holds a ':') it parses to
 * the same host and port.  A refusal always says why.
 */

#define _GNU_SOURCE                  /* memmem */

#include "fuzz.h"
#include "cc_addr.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int          n;
    char         back[CC_ADDR_HOST_MAX + 16];
    size_t       i, hlen;
    cc_addr_t   *a, b;
    const char  *why;

    /* exactly the struct: a write past it is ASan's */
    a = malloc(sizeof(cc_addr_t));
    FUZZ_ASSERT(a != NULL);
    memset(a, 0x5a, sizeof(*a));
    why = NULL;

    if (cc_addr_parse((const char *) data, size, a, &why) != 0) {
        FUZZ_ASSERT(why != NULL && why[0] != '\0');
        free(a);
        return 0;
    }

    hlen = strnlen(a->host, sizeof(a->host));

    FUZZ_ASSERT(hlen >= 1 && hlen <= CC_ADDR_HOST_MAX);
    FUZZ_ASSERT(a->port >= 1 && a->port <= 65535);

    for (i = 0; i < hlen; i++) {
        FUZZ_ASSERT(strchr("abcdefghijklmnopqrstuvwxyz"
                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._:%",
                           a->host[i]) != NULL);
    }

    /* the host is the input's, as given (without brackets) */
    FUZZ_ASSERT(memmem(data, size, a->host, hlen) != NULL);

    n = snprintf(back, sizeof(back),
                 strchr(a->host, ':') != NULL ? "[%s]:%u" : "%s:%u",
                 a->host, a->port);
    FUZZ_ASSERT(n > 0 && (size_t) n < sizeof(back));

    memset(&b, 0, sizeof(b));
    FUZZ_ASSERT(cc_addr_parse(back, (size_t) n, &b, &why) == 0);
    FUZZ_ASSERT(strcmp(a->host, b.host) == 0 && a->port == b.port);

    free(a);

    return 0;
}
