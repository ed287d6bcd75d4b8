/*
 * cc_addr: the one parser of "host:port" for every address the project
 * is given (Redis shards, MySQL shards "host:port/db", brokers' bootstrap).
 *
 *   127.0.0.1:6379   redis.internal:6379   [::1]:6379   [fe80::1%eth0]:6379
 *
 * An IPv6 literal is in brackets; the host is returned without them, ready
 * for getaddrinfo, hiredis or mysql_real_connect.  The port is 1..65535,
 * decimal, no sign.  Plain C, no allocation.
 */

#ifndef CC_ADDR_H
#define CC_ADDR_H

#include <stddef.h>

#define CC_ADDR_HOST_MAX  255

typedef struct {
    char      host[CC_ADDR_HOST_MAX + 1];
    unsigned  port;
} cc_addr_t;

/*
 * Parses s[0..len) as host:port.  0, or -1 with *why set to a static
 * reason ("empty host", "missing port", "bad port", "unclosed bracket",
 * "host too long", "bad host", "bad IPv6 address", "IPv6 address not in
 * brackets", "embedded NUL").
 */
int cc_addr_parse(const char *s, size_t len, cc_addr_t *a, const char **why);

#endif /* CC_ADDR_H */
