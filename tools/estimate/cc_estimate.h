/*
 * cc_estimate: the two halves of cc-estimate, the storage estimate
 * (cc_estimate_storage.c) and --capacity (cc_estimate_capacity.c), and what
 * they share.
 */

#ifndef CC_ESTIMATE_H
#define CC_ESTIMATE_H

#include <stdint.h>

/*
 * Each parses the whole command line, prints its report on stdout and
 * answers the exit code: 0, or 2 on a bad command line (said on stderr);
 * --help prints the usage and answers 0.
 */
int cc_est_storage(int argc, char **argv);
int cc_est_capacity(int argc, char **argv);

/* a / b rounded up: every division of the estimates */
static inline uint64_t
cc_est_div_up(uint64_t a, uint64_t b)
{
    return a / b + (a % b != 0);
}

#endif /* CC_ESTIMATE_H */
