# Nothing lost, nothing twice, when a process dies at the worst moment:
# cc-ingest killed mid-batch, the broker down during flips, an nginx worker
# killed under load, MySQL restarted mid-run.  After recovery (and a pass
# of cc-reconcile) MySQL equals Redis exactly.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use Time::HiRes qw(sleep);

campaign_up(workers => 2);
my @users = (1 .. 30);
grant_users(1, 30, 1000);

sub total_rows {
    mysql_value('SELECT COUNT(*) FROM cc_s0.draws') + mysql_value('SELECT COUNT(*) FROM cc_s1.draws');
}

sub redis_draws {
    my $n = 0;
    for my $uid (@users) {
        for my $i (0, 1) { $n += redis_cmd($i, 'HGET', user_key($uid), 's') // 0 }
    }
    return $n;
}

sub settle {
    my ($what) = @_;
    my $want = redis_draws();
    my $ok = wait_until(sub { total_rows() == $want }, 20);
    ok($ok, "$what: all $want draws in MySQL") or diag 'MySQL has ' . total_rows();
    is_deeply([ state_diff(@users) ], [], "$what: MySQL equals Redis");
}

# ---- cc-ingest killed with kill -9 in the middle of a batch ------------------

my $ingest = start_ingest();
flip_users(1, 30, 20, 'k1');
settle('before the faults');

# MySQL frozen: cc-ingest holds a batch it read but cannot commit
mysql_pause();
flip_users(1, 30, 10, 'k2');
sleep 1;
kill_worker($ingest);
mysql_resume();
is(total_rows(), 600, 'the batch in hand when cc-ingest died was not committed');

$ingest = start_ingest();
settle('cc-ingest killed mid-batch and restarted');

# ---- the broker down during flips, then up -----------------------------------

kafka_down();
my $ok = flip_users(1, 30, 10, 'b1');
is($ok, 300, 'flips keep answering 200 while Kafka is down');
sleep 1;
kafka_up();
settle('broker down during flips, then up');

# ---- an nginx worker killed with kill -9 under load --------------------------

my ($master, @workers) = nginx_pids();
my $pid = fork // die;
if ($pid == 0) {
    for my $round (1 .. 4) {
        concurrent_requests(150, 'POST', "/cc/flip?request_id=w${round}_%d", { 'X-CC-Uid' => 1 + $round });
    }
    exit 0;
}
sleep 0.15;
kill 'KILL', $workers[0];
waitpid $pid, 0;
ok(wait_until(sub { my @p = nginx_pids(); @p == 3 && !grep { $_ == $workers[0] } @p }, 5),
   'the master replaced the killed worker');

# the killed worker's unsent draws are only in the Redis logs now
my ($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile pass after the kill');
like($err, qr/pass done: \d+ draws checked/, 'cc-reconcile reports its pass');
settle('nginx worker killed under load');

# ---- MySQL restarted mid-run ---------------------------------------------------

$pid = fork // die;
if ($pid == 0) { for my $r (1 .. 5) { flip_users(1, 30, 4, "m$r"); sleep 0.2 } exit 0 }
sleep 0.4;
mysql_restart();
waitpid $pid, 0;
settle('MySQL restarted mid-run');
like(worker_stderr($ingest), qr/mysql: .*retrying in \d+ ms/, 'cc-ingest logged the outage and retried');

# ---- the broker down for good: the reconciler alone delivers -----------------

kafka_down();
$ok = flip_users(1, 30, 5, 'r1');
is($ok, 150, '150 more flips with the broker down');
my $combined = grep { (http_request('POST', "/cc/combine?request_id=r$_", { 'X-CC-Uid' => $_ }))[0] == 200 } @users;
($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile pass with Kafka still down');
like($err, qr/pass done: \d+ draws checked, ${\( 150 + $combined )} written/,
     "it writes exactly the 150 draws and $combined combines Kafka did not deliver");
settle('broker down, reconciler');
kafka_up();

# once Kafka delivers them too, nothing is counted twice
my ($st, $metrics) = http_request('GET', '/cc/metrics');
sleep 2;
is_deeply([ state_diff(@users) ], [], 'late Kafka deliveries insert nothing twice');

is(stop_worker($ingest, 'TERM', 10), 0, 'cc-ingest stops cleanly');
my @bad = grep { /\[(alert|crit|emerg)\]/ && !/worker process $workers[0] exited on signal 9/ }
          split /\n/, nginx_error_log();
is_deeply(\@bad, [], 'no alert, crit or emerg in the nginx log but the kill');
stop_nginx();

done_testing();
