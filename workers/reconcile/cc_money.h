/*
 * cc_money: `cc-reconcile --money`, the checks that the money of a drawn
 * campaign adds up (see cc_money.c for each check).  The files
 * workers/reconcile/cc_money*.c are these checks; the books they check
 * are workers/money/ (cc_ledger, cc_wallet).
 * cc-reconcile hands over its whole command line when it holds --money;
 * this part parses its own options.
 */

#ifndef CC_MONEY_H
#define CC_MONEY_H

/*
 * Exit status: 0 every check passed; 1 a break was found (each printed on
 * stdout, written as JSON, handed to the campaign's alert command); 2 a
 * bad input or a store that could not be read (nothing was checked to
 * the end, nothing alerted).
 */
int cc_money_main(int argc, char **argv);

#endif /* CC_MONEY_H */
