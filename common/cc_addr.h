/*
 * cc_addr: the one parser of "host:port" for the addresses the workers
 * and tools are given (Redis shards, MySQL shards "host:port/db", the
 * module's cc_redis_shards, cc-wallet-sim's --listen, cc-load's --url).
 * Kafka's bootstrap list goes to librdkafka as written, unparsed.
 *
 *   127.0.0.1:6379   redis.internal:6379   [::1]:6379   [fe80::1%eth0]:6379
 *
 * An IPv6 literal is in brackets; the host is returned without them, ready
 * for getaddrinfo, hiredis or mysql_real_connect.  The port is 1..65535
 * (0..65535 with CC_ADDR_PORT_ANY), decimal, no sign.  Plain C, no
 * allocation.
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

/* port 0 is taken too: a listen address's "any free port" */
#define CC_ADDR_PORT_ANY  0x1

/* cc_addr_parse with flags (CC_ADDR_PORT_ANY or 0) */
int cc_addr_parse_flags(const char *s, size_t len, unsigned flags,
    cc_addr_t *a, const char **why);

#endif /* CC_ADDR_H */
