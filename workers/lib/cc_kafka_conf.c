/*
 * cc_kafka_conf: see cc_kafka_conf.h.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cc_kafka_conf.h"
#include "cc_worker.h"


/*
 * name=value (name[0..nlen)) checked on a scratch configuration and
 * kept.  where names the option (and line) for the message.
 */
static int
cc_kafka_props_add(cc_kafka_props_t *kp, const char *name, size_t nlen,
    const char *value, const char *where)
{
    char                   errstr[512];
    char                  *n, *v;
    rd_kafka_conf_t       *conf;
    rd_kafka_conf_res_t    res;
    const cc_kafka_own_t  *own;

    for (own = kp->own; own != NULL && own->name != NULL; own++) {
        if (strlen(own->name) == nlen
            && strncasecmp(own->name, name, nlen) == 0)
        {
            fprintf(stderr, "%s: %s: Kafka property \"%s\" is not the "
                    "operator's to set: %s\n", cc_worker_name, where,
                    own->name, own->why);
            return -1;
        }
    }

    if (kp->n == CC_KAFKA_PROPS_MAX) {
        fprintf(stderr, "%s: %s: more than %d Kafka properties\n",
                cc_worker_name, where, CC_KAFKA_PROPS_MAX);
        return -1;
    }

    n = strndup(name, nlen);
    v = strdup(value);
    conf = rd_kafka_conf_new();

    if (n == NULL || v == NULL || conf == NULL) {
        fprintf(stderr, "%s: out of memory\n", cc_worker_name);
        goto failed;
    }

    res = rd_kafka_conf_set(conf, n, v, errstr, sizeof(errstr));
    rd_kafka_conf_destroy(conf);
    conf = NULL;

    if (res != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "%s: %s: Kafka property \"%s\": %s\n",
                cc_worker_name, where, n, errstr);
        goto failed;
    }

    kp->name[kp->n] = n;
    kp->value[kp->n] = v;
    kp->n++;

    return 0;

failed:

    if (conf != NULL) {
        rd_kafka_conf_destroy(conf);
    }

    free(n);
    free(v);

    return -1;
}


int
cc_kafka_opt_property(cc_kafka_props_t *kp, const char *arg)
{
    const char  *eq;

    eq = strchr(arg, '=');

    if (eq == NULL || eq == arg) {
        fprintf(stderr, "%s: bad --kafka-property \"%s\", expected "
                "NAME=VALUE\n", cc_worker_name, arg);
        return -1;
    }

    return cc_kafka_props_add(kp, arg, (size_t) (eq - arg), eq + 1,
                              "--kafka-property");
}


int
cc_kafka_opt_config(cc_kafka_props_t *kp, const char *path)
{
    int           rc;
    char         *line, *p, *end, *eq, where[320];
    FILE         *f;
    size_t        cap;
    ssize_t       len;
    unsigned      lineno;
    struct stat   sb;

    f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: --kafka-config %s: %s\n", cc_worker_name, path,
                strerror(errno));
        return -1;
    }

    /* it holds secrets (sasl.password, ssl.key.password) */
    if (fstat(fileno(f), &sb) != 0 || (sb.st_mode & (S_IRWXG | S_IRWXO))) {
        fprintf(stderr, "%s: --kafka-config %s: its group or others may "
                "read or change it (mode %04o): it may hold secrets, "
                "chmod 600 it\n", cc_worker_name, path,
                (unsigned) (sb.st_mode & 07777));
        fclose(f);
        return -1;
    }

    line = NULL;
    cap = 0;
    lineno = 0;
    rc = 0;

    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        lineno++;

        /* the line without its newline and the blanks around it */
        end = line + len;
        while (end > line && (end[-1] == '\n' || end[-1] == '\r'
                              || end[-1] == ' ' || end[-1] == '\t'))
        {
            end--;
        }
        *end = '\0';

        for (p = line; *p == ' ' || *p == '\t'; p++) { /* void */ }

        if (*p == '\0' || *p == '#') {
            continue;
        }

        snprintf(where, sizeof(where), "--kafka-config %.256s: line %u",
                 path, lineno);
        eq = strchr(p, '=');

        if (eq == NULL || eq == p) {
            fprintf(stderr, "%s: %s: expected NAME=VALUE\n", cc_worker_name,
                    where);
            rc = -1;
            break;
        }

        /* blanks around the name; the value as written after '=' */
        end = eq;
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
            end--;
        }

        rc = cc_kafka_props_add(kp, p, (size_t) (end - p), eq + 1, where);
    }

    free(line);
    fclose(f);

    return rc;
}


int
cc_kafka_props_apply(const cc_kafka_props_t *kp, rd_kafka_conf_t *conf,
    char *err, size_t errlen)
{
    size_t  i;
    char    errstr[512];

    for (i = 0; i < kp->n; i++) {
        if (rd_kafka_conf_set(conf, kp->name[i], kp->value[i], errstr,
                              sizeof(errstr)) != RD_KAFKA_CONF_OK)
        {
            snprintf(err, errlen, "Kafka property \"%s\": %s", kp->name[i],
                     errstr);
            return -1;
        }
    }

    return 0;
}


void
cc_kafka_props_free(cc_kafka_props_t *kp)
{
    size_t  i;

    for (i = 0; i < kp->n; i++) {
        free(kp->name[i]);
        free(kp->value[i]);
    }

    kp->n = 0;
}
