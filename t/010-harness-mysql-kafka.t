# Self-test of the CcTest helpers for MySQL (a throw-away mariadbd), worker
# processes and the Kafka mock broker (build/workers/cc-mockbroker).

use lib 't/lib';
use CcTest;

use IO::Socket::INET;

sub slurp { open my $fh, '<', $_[0] or return undef; local $/; <$fh> }

# --- MySQL -----------------------------------------------------------------

ok(!defined $ENV{TEST_MYSQL_PORT}, 'no TEST_MYSQL_PORT before mysql_start');
my $port = mysql_start();
like($port, qr/^\d+$/, 'mysql_start returns the port');
is($ENV{TEST_MYSQL_PORT}, $port, 'TEST_MYSQL_PORT');
is($ENV{TEST_MYSQL_HOST}, '127.0.0.1', 'TEST_MYSQL_HOST');
ok(-S $ENV{TEST_MYSQL_SOCKET}, 'TEST_MYSQL_SOCKET is a socket');

my $pid_file = mysql_value('SELECT @@pid_file');
my $pid = slurp($pid_file);
mysql_start();
is(slurp($pid_file), $pid, 'mysql_start while running is a no-op');

# workers connect over TCP as root without a password
my $tcp = `mariadb --no-defaults -h $ENV{TEST_MYSQL_HOST} -P $ENV{TEST_MYSQL_PORT} -u $ENV{TEST_MYSQL_USER} -N -B -e 'select 6*7' 2>&1`;
is($tcp, "42\n", 'root over TCP');

mysql_query('CREATE DATABASE cc_test');
mysql_query('CREATE TABLE t (id INT PRIMARY KEY, s VARCHAR(64) NULL, n INT NULL) ENGINE=InnoDB',
            'cc_test');
# real tabs and newlines in the SQL text; \\\\ is one backslash in SQL
is_deeply(mysql_query("INSERT INTO t VALUES (1, 'plain', 10), (2, NULL, NULL),
                       (3, 'a\tb', 3), (4, 'line1\nline2', -4), (5, 'back\\\\slash\\\\n', 5),
                       (6, '', 6), (7, 'caf\xc3\xa9 \xe2\x9c\x93', 7)", 'cc_test'),
          [], 'INSERT returns no rows');
my $want = [ ['1', 'plain', '10'], ['2', undef, undef], ['3', "a\tb", '3'],
             ['4', "line1\nline2", '-4'], ['5', 'back\\slash\\n', '5'], ['6', '', '6'],
             ['7', "caf\xc3\xa9 \xe2\x9c\x93", '7'] ];
is_deeply(mysql_query('SELECT id, s, n FROM t ORDER BY id', 'cc_test'), $want,
          'mysql_query: NULL, tab, newline, backslash, empty, utf8mb4 values');
is_deeply(mysql_query("SELECT ''"), [['']], 'one empty column is one row');
is_deeply(mysql_query('SELECT 1 FROM cc_test.t WHERE id < 0'), [], 'no rows');
is_deeply(mysql_query('SELECT 1; SELECT 2, 3'), [['1'], ['2', '3']], 'several result sets');
is(mysql_value('SELECT COUNT(*) FROM t', 'cc_test'), 7, 'mysql_value');
is(mysql_value('SELECT s FROM t WHERE id = 2', 'cc_test'), undef, 'mysql_value: NULL');
is(mysql_value('SELECT s FROM t WHERE id = 99', 'cc_test'), undef, 'mysql_value: no row');
ok(!eval { mysql_query('SELEC 1'); 1 }, 'SQL error dies');
like($@, qr/ERROR 1064.*\n  SQL: SELEC 1\n/, '... with the client error and the SQL');

# a crash keeps committed data; a restart comes back on the same port
mysql_query('INSERT INTO t VALUES (8, "committed", 8)', 'cc_test');
mysql_kill();
ok(!eval { mysql_query('SELECT 1'); 1 }, 'mysql_kill: queries fail');
like($@, qr/Can't connect/, '... cannot connect');
is(mysql_start(), $port, 'mysql_start after mysql_kill: same port');
is(mysql_value('SELECT s FROM t WHERE id = 8', 'cc_test'), 'committed', 'committed row survives the crash');
isnt(slurp($pid_file), $pid, 'a new mariadbd');

mysql_restart();
is($ENV{TEST_MYSQL_PORT}, $port, 'mysql_restart: same port');
is(mysql_value('SELECT COUNT(*) FROM t', 'cc_test'), 8, 'mysql_restart keeps the data');

# --- workers ---------------------------------------------------------------

my $w = spawn_worker('/bin/sh', '-c', 'echo out; echo err >&2; sleep 30');
like($w->{pid}, qr/^\d+$/, 'spawn_worker: pid field');
is($w->pid, $w->{pid}, 'spawn_worker: pid method');
ok(wait_until(sub { worker_stdout($w) eq "out\n" && worker_stderr($w) eq "err\n" }),
   'worker_stdout / worker_stderr');
ok(worker_alive($w), 'worker_alive');
is(wait_worker($w, 0.2), undef, 'wait_worker: undef while running');
is(stop_worker($w), 128 + 15, 'stop_worker: 128 + SIGTERM');
ok(!worker_alive($w), 'not alive after stop_worker');
ok(!kill(0, $w->{pid}), 'process gone');
is(stop_worker($w), 143, 'stop_worker again: the same exit code');

my $e = spawn_worker('/bin/sh', '-c', 'exit 3');
is(wait_worker($e, 5), 3, 'wait_worker: exit code 3');
is($e->exit_code, 3, 'exit_code method');

my $k = spawn_worker('/bin/sleep', 30);
is(kill_worker($k), 128 + 9, 'kill_worker: 128 + SIGKILL');

my $stubborn = spawn_worker('/bin/sh', '-c', 'trap "" TERM; echo ready; while :; do sleep 0.05; done');
wait_until(sub { worker_stdout($stubborn) =~ /ready/ });
{
    my $tb = Test::Builder->new;
    my ($saved, $diag) = ($tb->failure_output, '');
    $tb->failure_output(\$diag);
    my $code = stop_worker($stubborn, 'TERM', 0.3);
    $tb->failure_output($saved);
    is($code, undef, 'stop_worker: undef when it ignores the signal');
    like($diag, qr/still running 0\.3s after SIGTERM, killed/, '... with a diag');
}
ok(!worker_alive($stubborn), '... and it is killed');

ok(!eval { spawn_worker('cc-no-such-worker'); 1 }, 'spawn_worker: unknown worker dies');
like($@, qr{\Q$CcTest::WorkerDir\E/cc-no-such-worker.*make workers}, '... naming the path');

# --- Kafka mock --------------------------------------------------------------

my $bootstrap = kafka_start();
like($bootstrap, qr/^127\.0\.0\.1:(\d+)$/, 'kafka_start: bootstrap list');
is($ENV{TEST_KAFKA_BROKERS}, $bootstrap, 'TEST_KAFKA_BROKERS');
my ($kport) = $bootstrap =~ /:(\d+)$/;
ok(IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $kport, Proto => 'tcp', Timeout => 2),
   'the broker accepts TCP connections');
my $mock = kafka_worker();
is(kafka_start(), $bootstrap, 'kafka_start while running: same list');
is(kafka_worker(), $mock, '... same process');

kafka_down();
like(worker_stderr($mock), qr/brokers down/, 'kafka_down');
ok(worker_alive($mock), '... mock still running');
kafka_up();
like(worker_stderr($mock), qr/brokers up/, 'kafka_up');
ok(worker_alive($mock), '... mock still running');

is(kafka_stop(), 0, 'kafka_stop: clean exit');
ok(!worker_alive($mock), '... mock stopped');
like(worker_stderr($mock), qr/stopped/, '... after its shutdown');

my $three = kafka_start(brokers => 3, partitions => 2, topics => ['a', 'b']);
like($three, qr/^127\.0\.0\.1:\d+(,127\.0\.0\.1:\d+){2}$/, 'kafka_start(brokers => 3)');
like(kafka_worker()->stderr, qr/3 broker\(s\), 2 topic\(s\) of 2 partitions/, '... options passed');

# --- substitution in block sections -----------------------------------------

is(CcTest::_subst('$TEST_MYSQL_HOST:$TEST_MYSQL_PORT $TEST_KAFKA_BROKERS'),
   "127.0.0.1:$port $three", '$TEST_MYSQL_ and $TEST_KAFKA_ variables are substituted');
ok(!eval { CcTest::_subst('$TEST_MYSQL_NOPE'); 1 }, 'unknown $TEST_MYSQL_ variable dies');
like($@, qr/call mysql_start\(\) before run_tests/, '... with a hint');

# ... and end to end through a block's nginx.conf (run_tests ends the plan)
run_tests();

__DATA__

=== TEST 1: $TEST_MYSQL_ and $TEST_KAFKA_ in a block
--- no_module
--- config
    location = /t { return 200 "$TEST_MYSQL_HOST:$TEST_MYSQL_PORT $TEST_KAFKA_BROKERS"; }
--- request
GET /t
--- check_tests: 1
--- check
is($body, "$ENV{TEST_MYSQL_HOST}:$ENV{TEST_MYSQL_PORT} $ENV{TEST_KAFKA_BROKERS}", 'substituted');
--- no_error_log
[error]
