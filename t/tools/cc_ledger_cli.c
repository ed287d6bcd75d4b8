/*
 * cc-ledger-cli: a test-only driver of cc_ledger.c against a real MySQL
 * shard, so t/030-ledger.t can reach every rc of the ledger (cc-payout
 * reaches only some: it never funds) in the transaction shape the
 * workers use: one command, one transaction, committed unless the ledger
 * says to roll back.
 *
 *   cc-ledger-cli --mysql H:P/DB fund CAMPAIGN SHARD CENTS
 *   cc-ledger-cli --mysql H:P/DB credit CAMPAIGN AWARD_ID:UID:CENTS ...
 *   cc-ledger-cli --mysql H:P/DB retry CAMPAIGN AWARD_ID:UID:CENTS:FAILED ...
 *   cc-ledger-cli --mysql H:P/DB pending CAMPAIGN AWARD_ID:UID:CENTS ...
 *   cc-ledger-cli --mysql H:P/DB post CAMPAIGN AWARD_ID:UID:CENTS ...
 *
 * pending is cc_ledger_phase_pending (then "committed"), post is
 * cc_ledger_phase_post of the entries (then "added N"; an entry written
 * "-ID:UID:CENTS" is one the wallet did not apply: not posted), as
 * cc-payout's role: the two phases of the clearing account's books.
 *
 *   cc-ledger-cli --mysql H:P/DB round CAMPAIGN ID:UID:CENTS:ROUND:ATTEMPT ...
 *
 * round is cc_ledger_phase_post_rounds (a batch's round posts: ROUND 0
 * is an entry not to post, ATTEMPT the attempt whose pending it posts)
 * and, as cc-payout's transaction does, the posted awards set credited,
 * each flipped from pending or crediting or the whole rolled back (the
 * guard cc_wallet.h asks of a caller); then "added N" or "rolled back:
 * <reason>".
 *
 * retry is cc_ledger_phase_retry (the void of attempt FAILED's pending
 * transfer and the next attempt's), as cc_payout's role; it prints
 * "voided N" or "rolled back: <reason>".
 *
 * Prints one "ID rc" line per transfer, then "added N" or
 * "rolled back: <reason>".  Exit 0 when the command ran (whatever the
 * rcs), 2 on bad usage or a connection failure.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cc_ledger.h"
#include "cc_ledger_phase.h"
#include "cc_secret.h"
#include "cc_store.h"


/* retry's entries: c[], failed[] and sel[] of argv[5..argc) */
/*
 * ID:UID:CENTS into c, cut from the end (the id has a ':' of its own):
 * the award id is what is left, "<campaign>:<uid>", in place.
 */
static void
cc_ledger_cli_entry(char *arg, cc_ledger_credit_t *c)
{
    char  *p;

    p = strrchr(arg, ':');
    c->amount_cents = p ? strtoull(p + 1, NULL, 10) : 0;
    *(p ? p : arg) = '\0';
    p = strrchr(arg, ':');
    c->uid = p ? strtoull(p + 1, NULL, 10) : 0;
    *(p ? p : arg) = '\0';
    c->award_id = arg;
}


static int
cc_ledger_cli_retry(MYSQL *db, int argc, char **argv)
{
    int                 *sel, i, rc;
    long                 voided;
    char                 err[512], *p;
    size_t               n;
    unsigned            *failed;
    cc_ledger_credit_t  *c;

    n = argc - 5;
    c = calloc(n, sizeof(cc_ledger_credit_t));
    failed = calloc(n, sizeof(unsigned));
    sel = calloc(n, sizeof(int));
    rc = 2;

    if (c == NULL || failed == NULL || sel == NULL) {
        goto done;
    }

    for (i = 5; i < argc; i++) {
        /* ID:UID:CENTS:FAILED: FAILED cut from the end, then the rest */
        p = strrchr(argv[i], ':');
        failed[i - 5] = p ? (unsigned) strtoul(p + 1, NULL, 10) : 0;
        *(p ? p : argv[i]) = '\0';
        cc_ledger_cli_entry(argv[i], &c[i - 5]);
        sel[i - 5] = 1;
    }

    voided = cc_ledger_phase_retry(db, argv[4], c, failed, sel, NULL, n,
                                   err, sizeof(err));

    if (voided >= 0) {
        rc = mysql_commit(db) != 0 ? 2 : 0;
        printf("voided %ld\n", voided);

    } else {
        mysql_rollback(db);
        printf("rolled back: %s\n", err);
        rc = 0;
    }

done:

    free(c);
    free(failed);
    free(sel);

    return rc;
}


/* a number cut from the end of arg ("...:N"), 0 when there is none */
static unsigned
cc_ledger_cli_tail(char *arg)
{
    char      *p;
    unsigned   v;

    p = strrchr(arg, ':');
    v = p ? (unsigned) strtoul(p + 1, NULL, 10) : 0;
    *(p ? p : arg) = '\0';

    return v;
}


/*
 * The DONE entries' awards set credited, as cc-payout's mark, with its
 * guard (cc_wallet.h): each must flip from pending or crediting.  0, or
 * -1 with err set.
 */
static int
cc_ledger_cli_mark(MYSQL *db, const cc_ledger_credit_t *c, size_t n,
    char *err, size_t errlen)
{
    char      sql[256];
    size_t    i, k, flipped;

    for (i = 0, k = 0, flipped = 0; i < n; i++) {
        if (c[i].rc != CC_LEDGER_DONE) {
            continue;
        }

        snprintf(sql, sizeof(sql), "UPDATE awards SET status = 'credited' "
                 "WHERE status IN ('pending', 'crediting') AND award_id = "
                 "'%.64s'", c[i].award_id);

        if (mysql_query(db, sql) != 0) {
            snprintf(err, errlen, "mark: %s", mysql_error(db));
            return -1;
        }

        k++;
        flipped += (size_t) mysql_affected_rows(db);
    }

    if (flipped != k) {
        snprintf(err, errlen, "mark: %zu of %zu awards credited by another "
                 "payer", k - flipped, k);
        return -1;
    }

    return 0;
}


static int
cc_ledger_cli_round(MYSQL *db, int argc, char **argv)
{
    int                  i, rc;
    long                 added;
    char                 err[512];
    size_t               n;
    unsigned            *round, *attempt;
    cc_ledger_credit_t  *c;

    n = argc - 5;
    c = calloc(n, sizeof(cc_ledger_credit_t));
    round = calloc(n, sizeof(unsigned));
    attempt = calloc(n, sizeof(unsigned));
    rc = 2;

    if (c == NULL || round == NULL || attempt == NULL) {
        goto done;
    }

    for (i = 5; i < argc; i++) {
        attempt[i - 5] = cc_ledger_cli_tail(argv[i]);
        round[i - 5] = cc_ledger_cli_tail(argv[i]);
        cc_ledger_cli_entry(argv[i], &c[i - 5]);
        c[i - 5].rc = CC_LEDGER_ERROR;      /* in no round: said so */
    }

    added = cc_ledger_phase_post_rounds(db, argv[4], c, n, round, attempt,
                                        NULL, err, sizeof(err));

    if (added >= 0 && cc_ledger_cli_mark(db, c, n, err, sizeof(err)) != 0) {
        added = -1;
    }

    if (added >= 0) {
        for (i = 0; i < (int) n; i++) {
            printf("%s %s\n", c[i].award_id, cc_ledger_rc_name(c[i].rc));
        }

        rc = mysql_commit(db) != 0 ? 2 : 0;
        printf("added %ld\n", added);

    } else {
        mysql_rollback(db);
        printf("rolled back: %s\n", err);
        rc = 0;
    }

done:

    free(c);
    free(round);
    free(attempt);

    return rc;
}


/*
 * pending CAMPAIGN ID:UID:CENTS ...: cc_ledger_phase_pending (the first
 * phase of wallet http's per_credit books, a claim's single call): each
 * entry's rc, then "committed" or "rolled back: why".
 */
static int
cc_ledger_cli_phase(MYSQL *db, int argc, char **argv, int post)
{
    int                 *ok, i, rc;
    long                 added;
    char                 err[512];
    size_t               n;
    cc_ledger_phase_e   *st;
    cc_ledger_credit_t  *c;

    n = argc - 5;
    c = calloc(n, sizeof(cc_ledger_credit_t));
    st = calloc(n, sizeof(cc_ledger_phase_e));
    ok = calloc(n, sizeof(int));
    rc = 2;

    if (c == NULL || st == NULL || ok == NULL) {
        goto done;
    }

    /* "-ID:UID:CENTS": an entry the wallet did not apply (post: ok 0) */
    for (i = 5; i < argc; i++) {
        ok[i - 5] = argv[i][0] != '-';
        cc_ledger_cli_entry(argv[i] + !ok[i - 5], &c[i - 5]);
    }

    added = post ? cc_ledger_phase_post(db, argv[4], c, n, ok, err,
                                        sizeof(err))
                 : cc_ledger_phase_pending(db, argv[4], c, n, st, err,
                                           sizeof(err));

    if (added >= 0) {
        for (i = 0; i < (int) n; i++) {
            printf("%s %s\n", c[i].award_id, cc_ledger_rc_name(c[i].rc));
        }

        rc = mysql_commit(db) != 0 ? 2 : 0;

        if (post) {
            printf("added %ld\n", added);
        } else {
            printf("committed\n");
        }

    } else {
        mysql_rollback(db);
        printf("rolled back: %s\n", err);
        rc = 0;
    }

done:

    free(c);
    free(st);
    free(ok);

    return rc;
}


static int
cc_ledger_cli_usage(void)
{
    fprintf(stderr,
            "usage: cc-ledger-cli --mysql H:P/DB fund CAMPAIGN SHARD CENTS\n"
            "       cc-ledger-cli --mysql H:P/DB credit CAMPAIGN "
            "ID:UID:CENTS ...\n"
            "       cc-ledger-cli --mysql H:P/DB retry CAMPAIGN "
            "ID:UID:CENTS:FAILED ...\n"
            "       cc-ledger-cli --mysql H:P/DB pending CAMPAIGN "
            "ID:UID:CENTS ...\n"
            "       cc-ledger-cli --mysql H:P/DB post CAMPAIGN "
            "ID:UID:CENTS ...\n"
            "       cc-ledger-cli --mysql H:P/DB round CAMPAIGN "
            "ID:UID:CENTS:ROUND:ATTEMPT ...\n");
    return 2;
}


int
main(int argc, char **argv)
{
    int                  rc, i;
    long                 added;
    char                 err[512], *p, *q;
    MYSQL               *db;
    size_t               n;
    cc_store_t           st;
    cc_ledger_rc_e       frc;
    cc_ledger_credit_t  *c;

    if (argc < 5 || strcmp(argv[1], "--mysql") != 0) {
        return cc_ledger_cli_usage();
    }

    if (cc_store_open(&st, &argv[2], 1, strcmp(argv[3], "retry") == 0
                                        || strcmp(argv[3], "pending") == 0
                                        || strcmp(argv[3], "post") == 0
                                        || strcmp(argv[3], "round") == 0
                                        ? CC_ROLE_PAYOUT : CC_ROLE_DRAW,
                      getenv("CC_MYSQL_PASSWORD"))
        != 0 || cc_store_connect(&st) != 0)
    {
        fprintf(stderr, "cc-ledger-cli: %s\n", st.err);
        return 2;
    }

    db = st.shards[0].conn;
    err[0] = '\0';
    rc = 0;

    if (strcmp(argv[3], "fund") == 0 && argc == 7) {
        frc = cc_ledger_fund(db, argv[4], (unsigned) atoi(argv[5]),
                             strtoull(argv[6], NULL, 10), err, sizeof(err));
        printf("fund %s\n", cc_ledger_rc_name(frc));

        if (frc == CC_LEDGER_DONE || frc == CC_LEDGER_EXISTS) {
            rc = mysql_commit(db);
            printf("committed\n");

        } else {
            mysql_rollback(db);
            printf("rolled back: %s\n", err);
        }

    } else if (strcmp(argv[3], "credit") == 0 && argc >= 6) {
        n = argc - 5;
        c = calloc(n, sizeof(cc_ledger_credit_t));
        if (c == NULL) {
            return 2;
        }

        for (i = 5; i < argc; i++) {
            p = strchr(argv[i], ':');
            p = p ? strchr(p + 1, ':') : NULL;     /* after "<campaign>:" */
            q = p ? strchr(p + 1, ':') : NULL;

            if (p == NULL || q == NULL) {
                return cc_ledger_cli_usage();
            }

            *p = '\0';
            *q = '\0';
            c[i - 5].award_id = argv[i];
            c[i - 5].uid = strtoull(p + 1, NULL, 10);
            c[i - 5].amount_cents = strtoull(q + 1, NULL, 10);
        }

        added = cc_ledger_credit_batch(db, argv[4], c, n, err, sizeof(err));

        for (i = 0; i < (int) n; i++) {
            printf("%s %s\n", c[i].award_id, cc_ledger_rc_name(c[i].rc));
        }

        if (added >= 0) {
            rc = mysql_commit(db);
            printf("added %ld\n", added);

        } else {
            mysql_rollback(db);
            printf("rolled back: %s\n", err);
        }

        free(c);

    } else if (strcmp(argv[3], "round") == 0 && argc >= 6) {
        rc = cc_ledger_cli_round(db, argc, argv);

    } else if (strcmp(argv[3], "retry") == 0 && argc >= 6) {
        rc = cc_ledger_cli_retry(db, argc, argv);

    } else if (strcmp(argv[3], "pending") == 0 && argc >= 6) {
        rc = cc_ledger_cli_phase(db, argc, argv, 0);

    } else if (strcmp(argv[3], "post") == 0 && argc >= 6) {
        rc = cc_ledger_cli_phase(db, argc, argv, 1);

    } else {
        return cc_ledger_cli_usage();
    }

    if (rc != 0) {
        fprintf(stderr, "cc-ledger-cli: commit: %s\n", mysql_error(db));
        rc = 2;
    }

    cc_store_close(&st);

    return rc;
}
