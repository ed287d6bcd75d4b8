# Issue 18: cc_redis_wait N TIMEOUT.  A flip is answered 200 only once N
# replicas hold it; with the replica stopped it answers 503 within the
# timeout (applied and kept on the primary: the retry replays it).  Then
# SIGSTOP of the primary for 5 s under load, served by two nginx: A with
# cc_redis_wait 1, B without.  The sentinels promote the replica, the old
# primary comes back as a replica, and A has no acknowledged flip missing
# from the new primary (B's loss, if any, is printed: what asynchronous
# replication can lose).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcTest::Sentinel;
use CcKeys;
use CcMetrics;
use FailoverLoad;
use Time::HiRes qw(time sleep);

my $g = sentinel_group(name => 'cc0', shard => 0, replicas => 2, also => { cc1 => 1 });
my $old = $g->primary;
my $sentinels = $g->sentinels;
my $http = sub { my ($wait) = @_; <<"EOF" };
    cc_redis_sentinels $sentinels;
    cc_redis_shards cc0 cc1;
    cc_redis_timeout 300ms;
    $wait
    cc_redis_failover_wait 1000 3s;
EOF
my $locations = all_locations("location = /cc/metrics { cc_metrics; }");
my $nginx_a = start_nginx(undef, workers => 1, config => $locations,
                    http_config => $http->('cc_redis_wait 1 500ms;'));
my $port_b = $ENV{TEST_NGINX_SERVER_PORT1};
my $nginx_b = start_nginx(undef, workers => 1, config => $locations, port => $port_b,
                    http_config => $http->(''));
# C: cc_redis_wait too, its own connections (a retry that lands elsewhere)
my $port_c = $ENV{TEST_NGINX_SERVER_PORT2};
my $nginx_c = start_nginx(undef, workers => 1, config => $locations, port => $port_c,
                          http_config => $http->('cc_redis_wait 1 500ms;'));

sub flip { http_request('POST', "/cc/flip?request_id=$_[1]", { 'X-CC-Uid' => $_[0] }) }

my (@u0, @u1);
for my $uid (1 .. 30, 101 .. 130) {
    my ($st) = http_request('POST', '/cc/grant?grant_id=g1&n=100000', { 'X-CC-Uid' => $uid });
    die "grant $uid: $st" unless $st == 200;
    push @{ redis_cmd(0, 'EXISTS', user_key($uid)) ? \@u0 : \@u1 }, $uid;
}
my $x = $u0[0];

# --- WAIT with the replicas up, then stopped ------------------------------

my ($st, $body) = flip($x, 'a1');
is($st, 200, 'replicas up: 200');
ok(grep({ redis_text($g->cmd($_, 'HGET', user_key($x), ':a1')) =~ /^1:\d:/ } $g->replicas) >= 1,
   'a replica holds the flip at once after the answer');

$g->stop($_) for $g->replicas;
my $t0 = time;
my ($st2, $body2, $h2) = flip($x, 'a2');
my $took = time - $t0;
is("$st2 $body2", '503 {"error":"storage_unavailable"}', 'replicas stopped: 503');
is($h2->{'retry-after'}, 1, '... with Retry-After: 1');
ok($took >= 0.45 && $took < 1.0, sprintf('... after the 500ms WAIT timeout (%.3fs)', $took));
my $kept = redis_text(redis_cmd(0, 'HGET', user_key($x), ':a2'));
like($kept, qr/^2:\d:/, 'the flip is applied and its answer kept on the primary');
($st) = http_request('GET', '/cc/eligibility', { 'X-CC-Uid' => $x });
is($st, 200, 'a read (eligibility) does not WAIT: 200 with the replicas stopped');
my $m = metrics();
ok($m->{cc_redis_wait_short_total} >= 1, 'cc_redis_wait_short_total counts it');
($st) = http_request('POST', "http://127.0.0.1:$port_c/cc/flip?request_id=a2", { 'X-CC-Uid' => $x });
is($st, 503, 'the retry through another nginx (another connection): 503 too, '
             . 'its WAIT covers the first answer (EVALSHA sets the offset WAIT waits for)');

$g->resume($_) for $g->replicas;
ok(wait_until(sub { my ($s) = flip($x, 'a2'); $s == 200 }, 5), 'SIGCONT: the retry answers 200');
($st, $body) = flip($x, 'a2');
my ($seq, $card) = $kept =~ /^(\d+):(\d+):/;
like($body, qr/^\{"draw_id":"$x:$seq","card":$card,/, '... replaying the kept draw');

# --- SIGSTOP of the primary for 5 s under load ----------------------------

my @la = (load_start(clients => 2, uids => [ grep { $_ < 100 } @u0 ], tag => 'a'),
          load_start(clients => 1, uids => [ grep { $_ < 100 } @u1 ], tag => 'c'));
my $lb = load_start(clients => 2, uids => [ grep { $_ > 100 } @u0 ], tag => 'b',
                    base => "http://127.0.0.1:$port_b");
sleep 1.5;
my $t_stop = time;
$g->stop($old);
sleep 5;
$g->resume($old);
my $t_cont = time;
my $new = $g->wait_promotion($old, 10);
ok($new, "promoted $new while the primary was stopped");
sleep 3;
my @aa = load_stop($la[0]);
my @ac = load_stop($la[1]);
my @ab = load_stop($lb);
my $t_end = time;

ok($g->wait_replica($old, 30), 'the old primary comes back as a replica of the new one');

my $gap = longest_gap(\@aa, $t_stop, $t_end);
my @miss_a = missing_draws(\@aa, sub { $g->cmd($new, @_) });
my @miss_b = missing_draws(\@ab, sub { $g->cmd($new, @_) });
diag(sprintf 'SIGSTOP 5s: longest gap without a 200 on cc0 (A): %.2fs; A: %d flips 200, '
     . '%d 503, %d missing; B (no WAIT): %d flips 200, %d missing; cc1: %d answers, %d not 200',
     $gap, scalar(grep { $_->{status} == 200 } @aa), scalar(grep { $_->{status} == 503 } @aa),
     scalar @miss_a, scalar(grep { $_->{status} == 200 } @ab), scalar @miss_b,
     scalar @ac, scalar(grep { $_->{status} != 200 } @ac));
is(scalar @miss_a, 0, 'cc_redis_wait 1: no acknowledged flip is missing from the new primary')
    or diag(explain [ @miss_a[0 .. ($#miss_a > 4 ? 4 : $#miss_a)] ]);
ok($gap < 8, sprintf('cc0 answered 200 again within the stop and its failover (gap %.2fs)', $gap));
is(scalar(grep { $_->{status} != 200 } @ac), 0, 'cc1\'s users saw only 200s');
ok(grep({ $_->{status} == 200 && $_->{t} > $t_cont + 1 } @aa) > 10, 'A flips on after the SIGCONT');
$m = metrics();
ok($m->{cc_redis_failovers_total} >= 1, 'A followed the failover');

done_testing();
