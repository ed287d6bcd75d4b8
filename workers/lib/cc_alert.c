/*
 * cc_alert: the campaign's alert command, with a deadline.
 */

#define _GNU_SOURCE

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cc_alert.h"
#include "cc_worker.h"


/*
 * The command's whole environment: the worker's holds secrets
 * (CC_MYSQL_PASSWORD, CREDENTIALS_DIRECTORY) that a pager script has no
 * business seeing; the JSON on stdin is its whole input.
 */
static char *const  cc_alert_env[] = { "PATH=/usr/bin:/bin", NULL };

static const char   cc_alert_exec_failed[] =
    "cc alert: cannot run /bin/sh, exit 127\n";


/*
 * In the child, before exec: every descriptor from lo up closed.  The
 * worker's hiredis and MySQL sockets (not close-on-exec, and logged in
 * as the worker's user), its Kafka sockets and files are no business of
 * the alert script.  close_range() where the kernel has it (5.9), else
 * each possible descriptor up to the limit read before fork (sysconf is
 * not async-signal-safe).
 */
static void
cc_alert_close_from(int lo, long maxfd)
{
    int  i;

    if (close_range((unsigned int) lo, ~0U, 0) == 0) {
        return;
    }

    if (maxfd < 0 || maxfd > 1048576) {
        maxfd = 1048576;
    }

    for (i = lo; i < maxfd; i++) {
        (void) close(i);
    }
}


int
cc_alert_run(const char *cmd, const char *json, long long timeout_s)
{
    int      fd, status;
    long     maxfd;
    FILE    *f;
    pid_t    pid, w;
    int64_t  deadline;

    f = tmpfile();
    if (f == NULL || fputs(json, f) == EOF || fflush(f) != 0) {
        cc_log("alert %s: cannot write its input: %s", cmd, strerror(errno));
        if (f) {
            fclose(f);
        }
        return -1;
    }

    fd = fileno(f);
    lseek(fd, 0, SEEK_SET);

    /* nothing buffered is written twice by the child */
    fflush(NULL);

    maxfd = sysconf(_SC_OPEN_MAX);

    pid = fork();

    if (pid == -1) {
        cc_log("alert %s: fork: %s", cmd, strerror(errno));
        fclose(f);
        return -1;
    }

    if (pid == 0) {
        /* a forked thread of a threaded worker: async-signal-safe calls */
        setpgid(0, 0);
        dup2(fd, STDIN_FILENO);
        dup2(STDERR_FILENO, STDOUT_FILENO);
        cc_alert_close_from(3, maxfd);
        execle("/bin/sh", "sh", "-c", cmd, (char *) NULL, cc_alert_env);
        if (write(STDERR_FILENO, cc_alert_exec_failed,
                  sizeof(cc_alert_exec_failed) - 1) < 0)
        {
            /* nowhere else to say it: the exit status says it */
        }

        _exit(127);
    }

    setpgid(pid, pid);
    fclose(f);

    deadline = cc_now_ms() + timeout_s * 1000;

    while ((w = waitpid(pid, &status, WNOHANG)) == 0
           || (w == -1 && errno == EINTR))
    {
        if (cc_now_ms() >= deadline) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            cc_log("alert %s: still running after %lld s, killed", cmd,
                   timeout_s);
            return -1;
        }

        usleep(20000);
    }

    if (w == -1) {
        cc_log("alert %s: waitpid: %s", cmd, strerror(errno));
        return -1;
    }

    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        cc_log("alert %s: sent", cmd);
        return 0;
    }

    if (WIFEXITED(status)) {
        cc_log("alert %s: failed, exit status %d", cmd, WEXITSTATUS(status));

    } else {
        cc_log("alert %s: failed, killed by signal %d", cmd,
               WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    }

    return -1;
}
