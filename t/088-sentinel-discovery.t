# Issue 18: "ask each Sentinel in turn".  A Sentinel that cannot answer
# costs the module nothing but the time it takes to say so: a refused
# connect (the first entry of cc_redis_sentinels a dead port) moves on to
# the next Sentinel at once, not after cc_redis_timeout; a Sentinel that
# accepts and never answers (SIGSTOP) costs one cc_redis_timeout, then the
# next is asked.  The workers the same (--sentinel): a dead first
# Sentinel costs nothing, a stopped one their Redis timeout (5 s), then
# the next answers.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcTest::Sentinel;
use CcKeys;
use CcMetrics;
use CcCampaign;
use PayoutTest;
use Time::HiRes qw(time sleep);

payout_setup();
my $g = sentinel_group(name => 'cc0', shard => 0);
my $dead = free_port();
my $sentinels = "127.0.0.1:$dead " . $g->sentinels;
my $locations = all_locations("location = /cc/metrics { cc_metrics; }");

# cc_redis_timeout 1s: a refused connect treated as a silent Sentinel
# would cost a second before the first answer; the worker is one process
# asking on its first request
my $t_start = time;
start_nginx(undef, workers => 1, config => $locations, http_config => <<"EOF");
    cc_redis_sentinels $sentinels;
    cc_redis_shards cc0;
    cc_redis_timeout 1s;
    cc_redis_failover_wait 1000 5s;
EOF

my $t0 = time;
my ($st, $body) = http_request('POST', '/cc/grant?grant_id=g1&n=100', { 'X-CC-Uid' => 7 });
my $took = time - $t0;
is($st, 200, 'the first sentinel a dead port: a grant answers 200') or diag $body;
ok($took < 0.5, sprintf('... at once, not after cc_redis_timeout 1s (%.3fs; nginx up %.3fs '
                        . 'after its start)', $took, $t0 - $t_start));
is(redis_cmd(0, 'EXISTS', user_key(7)), 1, '... written on the primary a sentinel named');
like(nginx_error_log(), qr/redis shard cc0: sentinel 0: connection failed/,
     'the dead sentinel is logged by its place in the list');
unlike(nginx_error_log(), qr/sentinel 0 did not answer in time/,
       '... as refused, not waited out as a silent one');
my $m = metrics();
ok($m->{cc_redis_sentinel_failures_total} >= 1,
   "cc_redis_sentinel_failures_total counts it ($m->{cc_redis_sentinel_failures_total})");

# --- a silent sentinel: one timeout, then the next -------------------------

# the module asks again the sentinel that answered last (list entry 1, the
# group's first): stopped, and the module's connection to the primary
# killed, the reconnect must ask entry 1, wait 1s, then ask entry 2
$g->stop_sentinel(0);
redis_cmd(0, 'CLIENT', 'KILL', 'TYPE', 'normal');
$t0 = time;
($st, $body) = http_request('POST', '/cc/flip?request_id=f1', { 'X-CC-Uid' => 7 });
$took = time - $t0;
is($st, 200, 'the sentinel last asked stopped: a flip answers 200') or diag $body;
ok($took >= 0.8 && $took < 2.0,
   sprintf('... after one cc_redis_timeout, then the next sentinel (%.3fs)', $took));
like(nginx_error_log(), qr/redis shard cc0: sentinel 1 did not answer in time/,
     'the silent sentinel is logged');
($st) = http_request('POST', '/cc/flip?request_id=f2', { 'X-CC-Uid' => 7 });
is($st, 200, 'and the next flip at once');

# --- the workers: a dead first sentinel costs nothing; a stopped one a timeout

$g->resume_sentinel(0);
my @mysql = map { ('--mysql', $_) } mysql_shards();
$t0 = time;
my ($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0,
                                     '--sentinel', "127.0.0.1:$dead",
                                     map({ ('--sentinel', "127.0.0.1:$_") } $g->sentinel_ports),
                                     '--redis', 'cc0', @mysql ], timeout => 30);
$took = time - $t0;
is($rc, 0, 'cc-reconcile --once, its first sentinel a dead port: exit 0') or diag $err;
ok($took < 3, sprintf('... the next sentinel at once, not after its 5 s timeout (%.2fs)', $took));
my @sent = map { ('--sentinel', "127.0.0.1:$_") } ($g->sentinel_ports)[0, 1, 2];
$g->stop_sentinel(0);
$t0 = time;
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, @sent,
                                  '--redis', 'cc0', @mysql ], timeout => 30);
$took = time - $t0;
is($rc, 0, 'cc-reconcile --once, its first sentinel stopped: exit 0') or diag $err;
# its Redis timeout is 5 s: one for the stopped sentinel, then the next
# answers and goes to the front (no second timeout on a later connect)
ok($took >= 4.5 && $took < 9, sprintf('... after one 5 s timeout, then the next sentinel (%.2fs)', $took));
$g->resume_sentinel(0);

done_testing();
