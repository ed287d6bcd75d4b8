/*
 * cc_addr: the one parser of "host:port".
 */

#include <string.h>

#include "cc_addr.h"


/* letters, digits and "-._": a name or an IPv4 address */
static int
cc_addr_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}


/*
 * The host is what comes before the port's ':'.  In brackets it is an IPv6
 * literal, hex digits, ':' and '.', with an optional zone after '%' (an
 * interface name); bare it is a name or an IPv4 address, and holds no ':'
 * (a bare "::1:6379" could be read two ways, so it is refused).
 */
int
cc_addr_parse(const char *s, size_t len, cc_addr_t *a, const char **why)
{
    return cc_addr_parse_flags(s, len, 0, a, why);
}


int
cc_addr_parse_flags(const char *s, size_t len, unsigned flags,
    cc_addr_t *a, const char **why)
{
    size_t       i, hlen;
    unsigned     port;
    const char  *host, *last, *p, *zone;

    if (memchr(s, '\0', len) != NULL) {
        *why = "embedded NUL";
        return -1;
    }

    last = s + len;

    if (len > 0 && s[0] == '[') {
        host = s + 1;
        p = memchr(host, ']', len - 1);

        if (p == NULL) {
            *why = "unclosed bracket";
            return -1;
        }

        hlen = (size_t) (p - host);
        p++;

        zone = memchr(host, '%', hlen);

        for (i = 0; i < hlen; i++) {
            if (zone != NULL && host + i > zone) {
                if (!cc_addr_name_char(host[i])) {
                    break;
                }

            } else if (host + i != zone && host[i] != ':' && host[i] != '.'
                       && !((host[i] >= '0' && host[i] <= '9')
                            || (host[i] >= 'a' && host[i] <= 'f')
                            || (host[i] >= 'A' && host[i] <= 'F')))
            {
                break;
            }
        }

        if (hlen > 0 && (i < hlen || memchr(host, ':', hlen) == NULL
                         || (zone != NULL && zone + 1 == host + hlen)))
        {
            *why = "bad IPv6 address";
            return -1;
        }

    } else {
        host = s;
        p = memchr(s, ':', len);

        if (p == NULL) {
            *why = "missing port";
            return -1;
        }

        hlen = (size_t) (p - host);

        if (memchr(p + 1, ':', (size_t) (last - p - 1)) != NULL) {
            *why = "IPv6 address not in brackets";
            return -1;
        }

        for (i = 0; i < hlen; i++) {
            if (!cc_addr_name_char(host[i])) {
                *why = "bad host";
                return -1;
            }
        }
    }

    if (hlen == 0) {
        *why = "empty host";
        return -1;
    }

    if (hlen > CC_ADDR_HOST_MAX) {
        *why = "host too long";
        return -1;
    }

    /* p is past the host: ":port" to the end */

    if (p < last && *p != ':') {
        *why = "bad IPv6 address";
        return -1;
    }

    if (p == last || p + 1 == last) {
        *why = "missing port";
        return -1;
    }

    port = 0;

    for (p++; p < last; p++) {
        if (*p < '0' || *p > '9') {
            *why = "bad port";
            return -1;
        }

        port = port * 10 + (unsigned) (*p - '0');

        if (port > 65535) {
            *why = "bad port";
            return -1;
        }
    }

    if (port == 0 && !(flags & CC_ADDR_PORT_ANY)) {
        *why = "bad port";
        return -1;
    }

    memcpy(a->host, host, hlen);
    a->host[hlen] = '\0';
    a->port = port;

    return 0;
}
