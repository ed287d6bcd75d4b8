/*
 * cc_money_mysql.h: a MySQL shard as the money checks read it
 * (cc_money_mysql.c).  Every call works on m->shard.
 */

#ifndef CC_MONEY_MYSQL_H
#define CC_MONEY_MYSQL_H

#include "cc_money_run.h"

/* every check of MySQL shard s; 0, or -1 when the shard could not be read */
int cc_money_shard(cc_money_t *m, uint32_t s);

MYSQL *cc_money_db(cc_money_t *m);

/* a query's result, streamed (mysql_use_result) or stored; NULL: logged */
MYSQL_RES *cc_money_query(cc_money_t *m, const char *sql, int stream);

/* after mysql_fetch_row() returned NULL: 0 at the end, -1 on an error */
int cc_money_stream_end(cc_money_t *m, MYSQL_RES *res);

/* a stream given up early: the rest read (before the next query), freed */
void cc_money_stream_abort(MYSQL_RES *res);

/* a statement without a result; -1: logged */
int cc_money_exec(cc_money_t *m, const char *sql);

/* a cell as a number, 0 for NULL */
uint64_t cc_money_u64(const char *s);

/* the uid of a ledger account "wallet:<uid>", 0 for any other account */
uint64_t cc_money_wallet_uid(const char *account);

#endif /* CC_MONEY_MYSQL_H */
