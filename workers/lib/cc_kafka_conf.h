/*
 * cc_kafka_conf: librdkafka properties given by the operator, for every
 * worker that talks to Kafka (cc-ingest, cc-produce): SASL, TLS,
 * client.id and the rest pass through to rd_kafka_conf_set.
 *
 *   --kafka-property NAME=VALUE   repeatable
 *   --kafka-config FILE           NAME=VALUE lines ('#' comments, blank
 *                                 lines), for secrets such as
 *                                 sasl.password: refused when its group
 *                                 or others have any permission on it
 *
 * Each property is checked when the option is read, on a scratch
 * configuration, so a bad name or value stops the worker at start (exit
 * 2) with librdkafka's own words; the worker applies them after its own
 * settings, so they win.  Hence the settings the worker's correctness
 * rests on (cc-ingest's manual commits, its group, its brokers) are its
 * own: a worker names them in kp->own before reading its options, and a
 * property of one of those names (or an alias librdkafka has for it) is
 * refused at start (exit 2), saying which option sets it, or why.  This
 * code never prints a value (it may be a secret); librdkafka's refusal of
 * a value quotes it, which only a property with a set of values
 * (security.protocol) can get.  A line's
 * value is what follows '=', its trailing blanks dropped.
 */

#ifndef CC_KAFKA_CONF_H
#define CC_KAFKA_CONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#define CC_KAFKA_PROPS_MAX  64

/* a property the worker sets itself: its name, and why, for the refusal */
typedef struct {
    const char  *name;
    const char  *why;       /* "--brokers sets it", "cc-ingest commits ..." */
} cc_kafka_own_t;

typedef struct {
    char                  *name[CC_KAFKA_PROPS_MAX];    /* owned */
    char                  *value[CC_KAFKA_PROPS_MAX];   /* owned */
    size_t                 n;
    const cc_kafka_own_t  *own;     /* refused names, ended by a NULL name;
                                       NULL: none (static, not owned) */
} cc_kafka_props_t;

/* --kafka-property NAME=VALUE: 0, or -1 after "cc-NAME: ..." on stderr */
int cc_kafka_opt_property(cc_kafka_props_t *kp, const char *arg);

/* --kafka-config FILE: 0, or -1 after "cc-NAME: ..." on stderr */
int cc_kafka_opt_config(cc_kafka_props_t *kp, const char *path);

/* every property set on conf: 0, or -1 with err set */
int cc_kafka_props_apply(const cc_kafka_props_t *kp, rd_kafka_conf_t *conf,
    char *err, size_t errlen);

void cc_kafka_props_free(cc_kafka_props_t *kp);

#endif /* CC_KAFKA_CONF_H */
