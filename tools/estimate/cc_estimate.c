/*
 * cc-estimate: the storage and the machines a campaign needs, worked out
 * ahead of time.
 *
 * Storage (the default, cc_estimate_storage.c): Redis memory, Kafka disk
 * and MySQL rows and bytes, in total and per shard.
 *
 * Capacity (--capacity, cc_estimate_capacity.c): the app nodes, Redis
 * shards, MySQL hosts and shards and payout workers, and how long the draw
 * and the payout take, from the per-node figures bench/all.sh measured.
 *
 * Here: which of the two a command line asks for.
 */

#include <string.h>

#include "cc_worker.h"
#include "cc_estimate.h"


int
main(int argc, char **argv)
{
    int  i, capacity;

    cc_worker_init("cc-estimate");

    capacity = 0;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--capacity") == 0) {
            capacity = 1;
        }
    }

    return capacity ? cc_est_capacity(argc, argv)
                    : cc_est_storage(argc, argv);
}
