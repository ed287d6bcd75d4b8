/*
 * cc_money_mysql.c: the money checks' access to a MySQL shard
 * (the shard being read is m->shard: queries, streams, statements, the
 * parsing of a cell) and cc_money_shard, which runs every check of one
 * shard in order: the plan, the awards against their transfers
 * (cc_money_awards.c), the pool and the ledger
 * (cc_money_ledger.c), the statement (cc_stmt.c).
 */

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cc_money_awards.h"
#include "cc_money_ledger.h"
#include "cc_money_mysql.h"
#include "cc_money_report.h"
#include "cc_worker.h"


MYSQL *
cc_money_db(cc_money_t *m)
{
    return m->st.shards[m->shard].conn;
}


MYSQL_RES *
cc_money_query(cc_money_t *m, const char *sql, int stream)
{
    MYSQL      *db;
    MYSQL_RES  *res;

    db = cc_money_db(m);

    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        goto failed;
    }

    res = stream ? mysql_use_result(db) : mysql_store_result(db);
    if (res == NULL) {
        goto failed;
    }

    return res;

failed:

    cc_log("mysql %s: %s", m->st.shards[m->shard].name, mysql_error(db));
    return NULL;
}


/* after mysql_fetch_row() returned NULL: 0 at the end, -1 on an error */
int
cc_money_stream_end(cc_money_t *m, MYSQL_RES *res)
{
    MYSQL  *db;

    db = cc_money_db(m);
    mysql_free_result(res);

    if (mysql_errno(db) != 0) {
        cc_log("mysql %s: %s (while reading)", m->st.shards[m->shard].name,
               mysql_error(db));
        return -1;
    }

    return 0;
}


int
cc_money_exec(cc_money_t *m, const char *sql)
{
    MYSQL  *db;

    db = cc_money_db(m);

    if (mysql_real_query(db, sql, strlen(sql)) != 0) {
        cc_log("mysql %s: %s", m->st.shards[m->shard].name, mysql_error(db));
        return -1;
    }

    return 0;
}


uint64_t
cc_money_u64(const char *s)
{
    return s ? strtoull(s, NULL, 10) : 0;
}


uint64_t
cc_money_wallet_uid(const char *account)
{
    return strncmp(account, "wallet:", 7) == 0 ? cc_money_u64(account + 7)
                                               : 0;
}


void
cc_money_stream_abort(MYSQL_RES *res)
{
    while (mysql_fetch_row(res) != NULL) { /* void */ }
    mysql_free_result(res);
}


/* every check of one MySQL shard */
int
cc_money_shard(cc_money_t *m, uint32_t s)
{
    int       has_plan;
    uint64_t  total;

    m->shard = s;
    m->award_sum = 0;
    m->pending = 0;
    m->nmoved = 0;
    m->moved_all = 0;
    total = 0;

    has_plan = cc_money_plan(m, &total);
    if (has_plan == -1) {
        return -1;
    }

    m->plan_sum += total;

    /* the ledger first: a missing credit's line says if money moved */
    if (cc_money_ledger(m) != 0
        || (m->camp.wallet == CC_WALLET_HTTP && cc_money_clearing(m) != 0)
        || cc_money_awards(m) != 0
        || cc_money_pool(m, has_plan, total) != 0
        || cc_money_orphans(m) != 0
        || cc_money_eligible(m) != 0
        || (m->stmt != NULL
            && cc_stmt_shard(m->stmt, cc_money_db(m), s, cc_money_stmt_break,
                             m) != 0))
    {
        return -1;
    }

    cc_log("shard %u (%s): %" PRIu64 " in awards, %llu pending; %llu rows "
           "checked so far", s, m->st.shards[s].name, m->award_sum,
           m->pending, m->rows);

    return 0;
}
