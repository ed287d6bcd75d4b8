package CcTest;

# CcTest - a small, self-contained integration test harness for
# ngx_http_cc_module, in the spirit of Test::Nginx (but written from scratch
# on top of Test::Base).
#
# On import it starts two throw-away redis-server shards and picks free
# ports.  run_tests() then walks the __DATA__ blocks of the test file: for
# each block it flushes redis, seeds it, writes an nginx.conf, starts nginx,
# sends the request(s), checks the response, the error log and redis, and
# stops nginx again.  Helpers for plain Test::More style tests (raw HTTP,
# concurrency, redis fault injection, ad-hoc nginx instances) are exported
# too, as are, for the tests that need them, a throw-away MariaDB server
# (started on demand by mysql_start), the project's Kafka mock broker
# (kafka_start) and background worker processes (spawn_worker,
# run_worker).  See the "API summary" comment at the end of this file, and
# t/README.md (how to write and run a test).
#
# This file only puts the harness together: one-time setup at import, the
# cleanup at END, and everything the modules below export, re-exported
# (with the $CcTest:: variables the tests set or read):
#
#   CcTest::Util       temp dir, free ports, processes, files, sanitizer scan
#   CcTest::Redis      the redis shards and the RESP client
#   CcTest::NginxConf  every nginx.conf text the harness generates
#   CcTest::Nginx      nginx instances: start, stop, nginx -t, logs
#   CcTest::HTTP       the HTTP client
#   CcTest::Workers    background programs (spawn_worker, run_worker)
#   CcTest::Kafka      the mock broker
#   CcTest::MySQL      the mariadbd and queries
#   CcTest::Blocks     the block runner (run_tests)

use strict;
use warnings;

use Test::Base;        # blocks(), section filters, Test::More subset, diff-aware is()
use Test::More ();     # done_testing, note, explain, subtest, BAIL_OUT
use Test::Builder;
use CcTest::Failure;   # a failure's diagnostics kept for the end of the run (CC_FAIL_DIR)
use Exporter ();
use File::Temp qw(tempdir);

use CcTest::Util qw(free_port wait_until sanitizer_reports sanitizer_found);
use CcTest::Redis qw(:DEFAULT redis_init redis_cleanup);
use CcTest::NginxConf;
use CcTest::Nginx qw(:DEFAULT nginx_cleanup);
use CcTest::HTTP;
use CcTest::Workers qw(:DEFAULT workers_cleanup);
use CcTest::Kafka;
use CcTest::MySQL qw(:DEFAULT mysql_cleanup);
use CcTest::Blocks;

our @ISA = ('Exporter');

# Things from Test::More that Test::Base does not re-export.
BEGIN {
    no strict 'refs';
    *{"CcTest::$_"} = \&{"Test::More::$_"} for qw(done_testing note explain subtest BAIL_OUT);
}

our @EXPORT = (
    # re-exported test functions (is() is Test::Base's diff-aware version)
    qw(plan ok is isnt like unlike is_deeply cmp_ok pass fail diag note explain
       skip todo_skip can_ok isa_ok subtest done_testing BAIL_OUT
       blocks no_diff filters),
    # block runner (CcTest::Blocks), and the config blocks share, also
    # Test::Base filters (CcTest::NginxConf)
    @CcTest::Blocks::EXPORT, @CcTest::NginxConf::EXPORT,
    # redis helpers
    @CcTest::Redis::EXPORT,
    # nginx and http helpers
    @CcTest::Nginx::EXPORT, @CcTest::HTTP::EXPORT,
    qw(free_port wait_until sanitizer_reports),
    # mysql (mariadb) helpers
    @CcTest::MySQL::EXPORT,
    # worker processes
    @CcTest::Workers::EXPORT,
    # kafka mock broker
    @CcTest::Kafka::EXPORT,
);

# The $CcTest:: names of the modules' variables, aliased (the same
# variable, so that "local $CcTest::RedisTimeout = 1" works), and the
# internals some tests call as CcTest::NAME.
BEGIN {
    no strict 'refs';
    my %var = (
        'CcTest::Util'    => [qw(StartTimeout)],
        'CcTest::Redis'   => [qw(RedisServer RedisTimeout)],
        'CcTest::Nginx'   => [qw(NginxBinary StopGrace)],
        'CcTest::HTTP'    => [qw(error)],
        'CcTest::Workers' => [qw(WorkerDir TestToolDir)],
        'CcTest::Kafka'   => [qw(KafkaStartTimeout)],
        'CcTest::MySQL'   => [qw(MysqlInstallDb Mysqld MysqlClient MysqlStartTimeout
                                 MysqlStopTimeout MysqlTimeout)],
        'CcTest::Blocks'  => [qw(status body headers block)],
    );
    for my $pkg (keys %var) {
        *{"CcTest::$_"} = *{"${pkg}::$_"} for @{ $var{$pkg} };
    }
    my %sub = (
        'CcTest::Util'  => [qw(_slurp _spew)],
        'CcTest::NginxConf' => [qw(_subst)],
        'CcTest::HTTP'  => [qw(_abort_request _parse_response)],
    );
    for my $pkg (keys %sub) {
        *{"CcTest::$_"} = \&{"${pkg}::$_"} for @{ $sub{$pkg} };
    }
}

my $OWNER_PID;            # only this process cleans up (not forked children)
my $initialised = 0;

sub import {
    my $class = shift;
    _init() unless $initialised++;
    $class->export_to_level(1, $class, @_);
}

# One-time setup: temp dir, ports, redis shards, environment variables.
sub _init {
    $OWNER_PID = $$;
    $SIG{PIPE} = 'IGNORE';    # nginx may close on us mid-write
    my %signo = (HUP => 1, INT => 2, TERM => 15);
    for my $sig (keys %signo) {
        # make ^C and friends run the END block so servers get stopped
        $SIG{$sig} = sub { exit 128 + $signo{$sig} } if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
    }

    # these belong to mysql_start() / kafka_start(), never to the caller
    delete $ENV{$_} for grep { /^TEST_(?:MYSQL|KAFKA)_/ } keys %ENV;

    my $top = tempdir('cctest-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CC_TEST_KEEP});
    chmod 0755, $top;         # nginx workers may run as "nobody" when we are root
    $CcTest::Util::TOPDIR = $top;
    Test::More::diag("CcTest: temp dir $top kept (CC_TEST_KEEP)") if $ENV{CC_TEST_KEEP};

    $ENV{TEST_NGINX_SERVER_PORT}  = free_port();
    $ENV{TEST_NGINX_SERVER_PORT1} = free_port();   # spare ports for multi-server configs
    $ENV{TEST_NGINX_SERVER_PORT2} = free_port();

    redis_init();
}

END {
    if (defined $OWNER_PID && $$ == $OWNER_PID) {
        local $?;    # keep the test's exit status
        nginx_cleanup();
        workers_cleanup();
        mysql_cleanup();
        redis_cleanup();
    }
    # a sanitizer report anywhere fails the file, whatever the tests said
    if (defined $OWNER_PID && $$ == $OWNER_PID && (my @found = sanitizer_found())) {
        print STDERR "# sanitizer report: $_\n" for @found;
        $? = 1 unless $?;
    }
}

1;

__END__

API summary
===========

Block sections (Test::Base syntax; "--- name: value" or multi-line):

  nginx.conf       main_config, http_config, config, raw_config (replaces the
                   default http part; if it contains "http {" it is used as is
                   plus temp paths), workers (default 1), log_level (default
                   debug), no_module (no load_module line)
  config tests     must_die + error_log: "nginx -t" must fail and its stderr
                   must contain every error_log line
  request          request ("METHOD URI [PROTO]" then body lines, final newline
                   dropped), more_headers, timeout (default 5), abort,
                   skip_nginx, wait (extra seconds before log checks)
  response         error_code (default 200), response_body, response_body_like,
                   response_headers ("Name: value", "!Name" = absent),
                   response_headers_like
  logs             error_log, no_error_log (substring per line; qr// items with
                   the Test::Base "eval" filter)
  redis            redis_before[_shard1] (commands, run before nginx starts),
                   redis_after[_shard1] ("CMD args => text" exact, or
                   "CMD args =~ regex"); replies as text: integers as digits,
                   bulk raw, nil "(nil)", arrays joined by ",", errors
                   "(error) MSG"
  perl             init (once, after nginx started), check (per repetition,
                   after the response and the "wait"), check_tests: N
  shared config    filters on_shard0 / on_shards (http_config: the shard
                   line, then the block's lines) and all_locations (config:
                   the block's lines, then a location per handler they do
                   not locate themselves); also plain functions, e.g. for
                   start_nginx(http_config => on_shard0(...))
  beside it        t/lib/CcKeys.pm (Redis key names, mirroring
                   common/cc_keys.h), t/lib/CcToken.pm (signed tokens, the
                   secret file, the with_token filter), t/lib/CcMetrics.pm
                   (metrics(), outcome(): one request counted once)

Tests per block: per repetition 1 (status) + 1 per response_body(_like) +
1 per response_headers(_like) line + check_tests + 1 per error_log /
no_error_log line; plus once 1 per redis_after line.  must_die blocks:
1 + error_log lines.  planned_tests() computes the total.
A fatal problem in a block (nginx does not start, redis_before error, init or
check dies, unknown section or $TEST_NGINX_ variable) is one failed test, and
the block's remaining tests are skipped, so a numeric plan still holds.  A
worker that exited on a signal, or an nginx that needed SIGKILL, adds one
failed "nginx health" test.

Helpers: repeat_each, run_tests, planned_tests, redis_cmd, redis_text,
redis_port, redis_stop/start/pause/resume, redis_snapshot (every shard's
whole dataset as text, to compare before and after), start_nginx,
stop_nginx, nginx_error_log, nginx_pids, http_request, concurrent_requests,
send_request / read_response (a request now, its answer later or never),
free_port, wait_until, sanitizer_reports(FILES) (the ASan / UBSan report
lines in FILES).  Sanitizer builds (make test-asan): every nginx stopped
and every worker reaped has its logs scanned; any report is an "nginx
health" failure of its block and fails the test file at END.  Environment: TEST_NGINX_SERVER_PORT (+ spare PORT1, PORT2),
TEST_NGINX_REDIS_PORT0/1, TEST_NGINX_REDIS_SHARD0/1, TEST_NGINX_REDIS_SHARDS;
CC_MODULE_SO, TEST_NGINX_BINARY, CC_REDIS_SERVER, CC_TEST_KEEP are read.

MySQL (a throw-away mariadbd; nothing runs until a test file asks):
  mysql_start()        install a datadir under the temp dir (once), start
                       mariadbd on a free loopback port, wait until it answers
                       (up to $CcTest::MysqlStartTimeout = 30 s); returns the
                       port and sets TEST_MYSQL_HOST (127.0.0.1), TEST_MYSQL_PORT,
                       TEST_MYSQL_SOCKET, TEST_MYSQL_USER (root, no password;
                       over TCP as well).  No-op while running; after a
                       stop/kill it restarts on the same port and datadir.
                       Server charset utf8mb4.  Stopped (SIGTERM) at END.
  mysql_stop()         SIGTERM, wait for exit (SIGKILL after 30 s)
  mysql_kill()         SIGKILL, like a crash (committed data survives)
  mysql_restart()      mysql_stop + mysql_start
  mysql_pause()/mysql_resume()   SIGSTOP / SIGCONT
  mysql_query($sql, $db)  run $sql (";"-separated statements allowed) with
                       the mariadb client as root over the socket, optional
                       default database; returns [ [col, ...], ... ] (rows of
                       every result set, values as byte strings, NULL as
                       undef; a string 'NULL' reads as undef too).  Dies with
                       the client's error (and the SQL) on failure or after
                       $CcTest::MysqlTimeout (30) s.
  mysql_value($sql, $db)  first column of the first row, or undef
  Call mysql_start() before run_tests() when blocks use $TEST_MYSQL_ vars.

Workers (any program; the project's are build/workers/cc-*):
  spawn_worker($name_or_path, @args)  fork+exec in its own process group,
                       stdin /dev/null, stdout and stderr to files under the
                       temp dir; a name without '/' is build/workers/<name>
                       ($CcTest::WorkerDir, env CC_WORKER_DIR).  Dies if it
                       cannot be executed.  Returns a handle: $h->{pid},
                       $h->pid, and methods stdout, stderr, alive, stop, kill,
                       wait, exit_code.  (C programs fully buffer stdout into
                       a file: it shows up only after a flush or at exit.)
  run_worker([$name_or_path, @args], timeout => 10, ok => 0)
                       spawn_worker, then wait for its end: returns (exit
                       code, stdout, stderr).  Still running after timeout
                       s: SIGKILLed (its group too), exit code undef.
                       ok => 1: dies with the command, the exit code and
                       its stderr unless it exited 0.
  worker_stdout($h), worker_stderr($h)   the files' contents so far
  worker_alive($h)     true while running (reaps it once it exited)
  wait_worker($h, $timeout = 10)  exit code, or undef if still running
  stop_worker($h, $signal = 'TERM', $timeout = 10)  signal it, wait, return
                       the exit code; on timeout SIGKILL it and return undef
                       (with a diag).  Already exited: just its exit code.
  kill_worker($h)      SIGKILL, reap, return the exit code
  Exit codes: exit status, or 128 + N after death by signal N (143 = TERM,
  137 = KILL).  When a worker is reaped, whatever is left in its process
  group is SIGKILLed.  Workers still running at END are SIGKILLed.

Kafka (build/workers/cc-mockbroker, librdkafka's mock cluster):
  kafka_start(partitions => 4, topics => ['cc.draws'], brokers => 1)
                       spawn it, wait for its bootstrap line (5 s), set
                       TEST_KAFKA_BROKERS ("127.0.0.1:PORT[,...]") and return
                       it.  No-op (same list) while it runs.
  kafka_down()         SIGUSR1: every broker down (connections are accepted,
                       then closed at once); returns when the mock confirmed
  kafka_up()           SIGUSR2: up again, data kept
  kafka_stop()         SIGTERM; returns its exit code.  A new kafka_start()
                       is a fresh, empty cluster on new ports.
  kafka_worker()       its spawn_worker handle (undef when not started)
  Killed at END.  Call kafka_start() before run_tests() when blocks use
  $TEST_KAFKA_BROKERS.

Block sections substitute $TEST_NGINX_XXX, $TEST_MYSQL_XXX and
$TEST_KAFKA_XXX from %ENV (unknown ones are a fatal block error).  Any
TEST_MYSQL_* / TEST_KAFKA_* inherited from the environment is dropped at
import.  Also read: CC_MYSQL_INSTALL_DB, CC_MYSQLD, CC_MYSQL_CLIENT (program
names), CC_WORKER_DIR.
