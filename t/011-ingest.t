# Every draw reaches sharded MySQL: flips through nginx -> Kafka ->
# cc-ingest -> MySQL; redelivery inserts nothing; bad messages go to
# dead_letters; cc-reconcile finds nothing missing and trims the logs.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use Time::HiRes qw(time);

# the campaign's draws (uids 9001 and 9002 are the reconciler's hand-made
# log entries)
sub total_rows {
    mysql_value('SELECT COUNT(*) FROM cc_s0.draws WHERE uid < 9000')
        + mysql_value('SELECT COUNT(*) FROM cc_s1.draws WHERE uid < 9000');
}

# five kinds of equal weight: after 10 flips about half the users hold a set
campaign_up(http_config => "    cc_cards 1 1 1 1 1;\n");
my $ingest = start_ingest();

grant_users(1, 40, 10);
my $ok = flip_users(1, 40, 12, 'a');
is($ok, 400, '400 flips answered 200 (40 users x 10 chances, 2 refused each)');

my $n = wait_until(sub {
    my $c = mysql_value('SELECT COUNT(*) FROM cc_s0.draws') + mysql_value('SELECT COUNT(*) FROM cc_s1.draws');
    $c == 400 ? $c : 0 }, 20);
is($n, 400, '400 rows across the MySQL shards');
ok(mysql_value('SELECT COUNT(*) FROM cc_s0.draws') > 0 && mysql_value('SELECT COUNT(*) FROM cc_s1.draws') > 0,
   'both shards hold draws');
is_deeply([ state_diff(1 .. 40) ], [], 'each user: rows in its shard, seqs 1..s, card counts equal Redis');

my $row = mysql_query("SELECT request_id, drawn_at > 1700000000000 FROM draws WHERE uid = 7 AND seq = 1",
                      shard_of_uids(7)->{7});
like($row->[0][0], qr/^a_\d+$/, 'a row keeps the request id of its flip');
is($row->[0][1], 1, 'and the time of the draw, in ms');

my ($st, $body) = http_request('GET', '/cc/metrics');
like($body, qr/^cc_flips_total\{result="ok"\} 400$/m, 'metrics: 400 flips ok');
like($body, qr/^cc_flips_total\{result="no_chances"\} 80$/m, 'metrics: 80 refused');
ok(wait_until(sub { (http_request('GET', '/cc/metrics'))[1] =~ /^cc_kafka_delivered_total 400$/m }, 5),
   'metrics: 400 draws acknowledged by Kafka');

# ---- combines reach the eligibility table --------------------------------------

my ($combined, $missing) = (0, 0);
for my $uid (1 .. 40) {
    my ($s, $b) = http_request('POST', "/cc/combine?request_id=set$uid", { 'X-CC-Uid' => $uid });
    $combined++ if $s == 200 && $b =~ /"combined":true/;
    $missing++ if $s == 409 && $b eq '{"error":"missing_cards"}';
}
is($combined + $missing, 40, "40 combines: $combined combined, $missing missing a kind");
ok($combined > 0 && $missing > 0, 'both outcomes happen');
ok(wait_until(sub { mysql_value('SELECT COUNT(*) FROM cc_s0.eligibility')
                  + mysql_value('SELECT COUNT(*) FROM cc_s1.eligibility') == $combined }, 20),
   "$combined eligibility rows in MySQL");
is_deeply([ state_diff(1 .. 40) ], [], 'eligibility rows in the users\' shards; cards held equal Redis');

# ---- bad messages ----------------------------------------------------------

my $p = spawn_worker('/bin/sh', '-c',
    "printf 'garbage\\n7\\t{\"uid\":\"7\",\"seq\":1}\\n1\\t{\"draw_id\":\"2:1\",\"uid\":\"1\",\"seq\":1,\"card\":0,\"request_id\":\"x\",\"ts\":1}\\n' "
  . "| $CcTest::WorkerDir/cc-produce --brokers $ENV{TEST_KAFKA_BROKERS}");
is(wait_worker($p, 10), 0, 'three malformed messages produced');
my $dead = wait_until(sub { my $d = mysql_query('SELECT reason, payload FROM dead_letters ORDER BY reason', 'cc_s0'); @$d == 3 ? $d : undef }, 10);
is_deeply([ map { $_->[0] } @{ $dead // [] } ], [ 'bad ts', 'draw_id is not uid:seq', 'not a JSON object' ],
          'each is a dead letter with its reason');
is($dead->[2][1], 'garbage', 'and its payload');
ok(worker_alive($ingest), 'cc-ingest lives on');
is_deeply([ state_diff(1 .. 40) ], [], 'and no draw changed');

# ---- graceful stop, then the same messages again under another group ------

ok(wait_until(sub { worker_stderr($ingest) =~ /lag \d+/ }, 5), 'a progress line comes every --progress seconds');
is(stop_worker($ingest, 'TERM', 10), 0, 'SIGTERM: cc-ingest exits 0');
like(worker_stderr($ingest), qr/stopping: \d+ read, ${\( 400 + $combined )} inserted, 0 duplicate, 3 dead/, 'and says what it did');
like(worker_stderr($ingest), qr/read, \d+ inserted.*\/s; lag \d+/, 'progress lines with rate and lag');

my $again = start_ingest('group', '--group', 'replay', '--exit-idle', 5);
is(wait_worker($again, 40), 0, 'a second consumer group (joined, not assigned) reads the whole topic again');
my $events = 400 + $combined;
like(worker_stderr($again), qr/stopping: ${\( $events + 3 )} read, 0 inserted, $events duplicate, 3 dead/,
     'redelivered draws and combines insert nothing');
is(mysql_value('SELECT COUNT(*) FROM dead_letters', 'cc_s0'), 3, 'redelivered bad messages are not kept twice');
is_deeply([ state_diff(1 .. 40) ], [], 'counts unchanged by the redelivery');

# ---- the same topic into five shards: each row in its uid's shard ----------

my @five = map { "127.0.0.1:$ENV{TEST_MYSQL_PORT}/cc_f$_" } 0 .. 4;
my @fargs = map { ('--mysql', $_) } @five;
my $w5 = spawn_worker('cc-ingest', '--init-shards', @fargs);
is(wait_worker($w5, 20), 0, 'five more shards created');
$w5 = spawn_worker('cc-ingest', '--brokers', $ENV{TEST_KAFKA_BROKERS}, '--assign', '--group', 'five',
                   '--batch', 500, '--batch-ms', 50, '--exit-idle', 3, @fargs);
is(wait_worker($w5, 40), 0, 'cc-ingest into five shards');
my $map = spawn_worker('cc-ingest', '--shard-of', @fargs, 1 .. 40);
wait_worker($map, 10);
my %want = map { my ($u, $n) = split ' '; ($u => ($n =~ m{/(\w+)$})[0]) } split /\n/, worker_stdout($map);
my ($rows5, $misplaced, %dbs) = (0, 0);
for my $db (map { "cc_f$_" } 0 .. 4) {
    for my $r (@{ mysql_query('SELECT uid, COUNT(*) FROM draws GROUP BY uid', $db) }) {
        $rows5 += $r->[1];
        $misplaced++ if $want{ $r->[0] } ne $db;
        $dbs{$db}++;
    }
}
is($rows5, 400, 'the 400 draws, once each, across five shards');
is($misplaced, 0, 'every row in the shard its uid maps to');
ok(keys %dbs >= 4, 'spread over the shards (' . join(' ', map { "$_:$dbs{$_}" } sort keys %dbs) . ')');

# ---- the reconciler: nothing missing, logs trimmed -------------------------

is(log_events(0) + log_events(1), $events, 'the Redis draw logs hold the 400 draws and the combines');
my ($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile --once exits 0');
like($err, qr/pass done: $events draws checked, 0 written/, 'it finds nothing missing');
is(redis_cmd(0, 'XLEN', log_key()) + redis_cmd(1, 'XLEN', log_key()), 0, 'and trims the logs');
is_deeply([ state_diff(1 .. 40) ], [], 'MySQL unchanged');

# ---- the reconciler skips what it cannot read, and says so -------------------

my $db9 = shard_of_uids(9001)->{9001};
my $s9 = 0;                            # any shard: rows go by uid
my $ms = int(time * 1000);
redis_cmd($s9, 'XADD', log_key(), '*', 'd', join "\n", "9001:1:2:$ms:good", "x:1:2:$ms:r",
          "9001:2:2:$ms:bad id", "9001:3:2:$ms", "9001:0:2:$ms:zero", "9001:4:99:$ms:card", "9001:5:2:$ms:next");
redis_cmd($s9, 'XADD', log_key(), '*', 'y', 'z', 'u', 9001);
redis_cmd($s9, 'XADD', log_key(), '*', 'q', 1);
($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile exits 0 over unreadable log entries');
like($err, qr/pass done: 2 draws checked, 2 written, 7 unreadable/, 'it counts the two good draws and the 7 bad');
like($err, qr/skipping draw 2 of log entry \d+-\d+: bad draw line/, 'a bad uid is named');
like($err, qr/skipping draw 3 of log entry \d+-\d+: bad request_id/, 'a bad request id');
like($err, qr/skipping draw 4 of log entry \d+-\d+: bad draw line/, 'a line cut short');
like($err, qr/skipping draw 5 of log entry \d+-\d+: bad seq/, 'seq 0');
like($err, qr/skipping draw 6 of log entry \d+-\d+: bad card/, 'a card out of range');
like($err, qr/skipping log entry \d+-\d+: unknown type/, 'an unknown entry type');
like($err, qr/skipping log entry \d+-\d+: no draw and no combine in it/, 'an entry with neither');
is_deeply(mysql_query("SELECT seq, card, request_id FROM draws WHERE uid = 9001 ORDER BY seq", $db9),
          [ [1, 2, 'good'], [5, 2, 'next'] ], 'MySQL: the good draws around the bad, nothing else');
is(redis_cmd($s9, 'XLEN', log_key()), 0, 'the log is trimmed past the bad entries');

# an entry holds at most a batch of 64 draws; more are not read
redis_cmd($s9, 'XADD', log_key(), '*', 'd', join "\n", map { "9002:$_:1:$ms:m$_" } 1 .. 65);
($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile exits 0 over an oversized entry');
like($err, qr/log entry \d+-\d+ holds over 64 draws; the rest are skipped/, 'it says so');
like($err, qr/pass done: 64 draws checked, 64 written, 1 unreadable/, 'the first 64 are written, the rest counted');
is_deeply(mysql_query('SELECT COUNT(*), MIN(seq), MAX(seq) FROM draws WHERE uid = 9002', shard_of_uids(9002)->{9002}),
          [ [64, 1, 64] ], 'MySQL: draws 1..64 of the entry');

# ---- the producer is flushed when a worker exits -----------------------------

$ingest = start_ingest();
kafka_down();
grant_users(41, 50, 3);
is(flip_users(41, 50, 3, 'x'), 30, '30 flips while the broker is down');
kafka_up();
stop_nginx();                          # graceful: the worker flushes at exit
ok(wait_until(sub { total_rows() == 430 }, 20), 'the 30 queued draws reach MySQL: flushed at exit')
    or diag 'rows: ' . total_rows();
is_deeply([ state_diff(1 .. 50) ], [], 'and MySQL equals Redis, with no reconciler pass');

# the broker still down at exit: the wait is bounded and the loss is said
campaign_nginx();
grant_users(51, 55, 2);
kafka_down();
is(flip_users(51, 55, 2, 'y'), 10, '10 flips while the broker is down');
my $t0 = time;
stop_nginx();
ok(time - $t0 < 10, 'nginx still exits (the flush waits cc_kafka_flush_timeout, 3 s)');
like(nginx_error_log(), qr/cc kafka: 10 draws not acknowledged at exit; cc-reconcile will replay them/,
     'the worker says how many draws it could not flush');
kafka_up();
my ($rc2, $err2) = run_reconcile();
like($err2, qr/pass done: \d+ draws checked, 10 written/, 'cc-reconcile writes those 10');
is_deeply([ state_diff(1 .. 55) ], [], 'MySQL equals Redis');
stop_worker($ingest);

# ---- bad command lines ------------------------------------------------------

my $w = spawn_worker('cc-ingest', '--brokers', 'x:1', '--mysql', 'nohost/db');
is(wait_worker($w, 5), 2, 'a bad shard name exits 2');
like(worker_stderr($w), qr/bad MySQL shard "nohost\/db", expected host:port\/database/, '... saying why');
$w = spawn_worker('cc-ingest', '--mysql', 'h:1/db');
is(wait_worker($w, 5), 2, 'no --brokers exits 2');
like(worker_stderr($w), qr/--brokers is needed/, '... saying why');
$w = spawn_worker('cc-ingest', '--batch', '0', '--mysql', 'h:1/db');
is(wait_worker($w, 5), 2, 'an out-of-range --batch exits 2');
like(worker_stderr($w), qr/--batch must be an integer in 1\.\.100000, not "0"/, '... saying why');
$w = spawn_worker('cc-reconcile', '--once');
is(wait_worker($w, 5), 2, 'cc-reconcile without shards exits 2 with its usage');
$w = spawn_worker('cc-reconcile', '--grace', '-1', '--redis', 'h:1', '--mysql', 'h:1/db', '--once');
is(wait_worker($w, 5), 2, 'cc-reconcile with a negative --grace exits 2');
like(worker_stderr($w), qr/--grace must be an integer in 0\.\.86400, not "-1"/, '... saying why');
$w = spawn_worker('cc-reconcile', '--once', '--grace', 0, '--redis', 'nohost', '--mysql', 'h:1/db');
is(wait_worker($w, 10), 2, 'cc-reconcile with a bad Redis address refuses to start');
like(worker_stderr($w), qr/bad --redis "nohost", expected host:port \(missing port\)/, '... saying why');
$w = spawn_worker('cc-mockbroker', '--partitions', '0');
is(wait_worker($w, 5), 2, 'cc-mockbroker --partitions 0 exits 2');
like(worker_stderr($w), qr/--partitions must be an integer in 1\.\.256, not "0"/, '... saying why');
$w = spawn_worker('cc-produce', '--draws', '10');
is(wait_worker($w, 5), 2, 'cc-produce without --brokers exits 2');
like(worker_stderr($w), qr/--brokers is needed/, '... saying why');
$w = spawn_worker('cc-ingest', '--help');
is(wait_worker($w, 5), 0, '--help exits 0');
like(worker_stdout($w), qr/usage: cc-ingest/, '... and prints the usage');

done_testing();
