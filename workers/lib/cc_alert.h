/*
 * cc_alert: the campaign's alert command (campaign file: alert), run the
 * one way every worker raises one: cc-reconcile --money and --statement
 * with its breaks, cc-payout's wallet adapter with a batch's mismatches
 * and refusals.
 */

#ifndef CC_ALERT_H
#define CC_ALERT_H

#define CC_ALERT_TIMEOUT_S  10        /* the default of --alert-timeout */

/*
 * Runs cmd (a command line, by /bin/sh: it may take arguments) with json
 * on its stdin (a file, so a command that does not read cannot block the
 * caller), in its own process group, with no environment but
 * PATH=/usr/bin:/bin (none of the worker's secrets), for at most
 * timeout_s seconds; then the group is killed.  The outcome is logged ("alert CMD: sent", "...:
 * failed, exit status N", "...: still running after N s, killed").  0
 * when it exited 0, else -1.
 */
int cc_alert_run(const char *cmd, const char *json, long long timeout_s);

#endif /* CC_ALERT_H */
