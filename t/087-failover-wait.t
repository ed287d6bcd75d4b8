# Issue 18: a shard without a primary.  A planned failover (SENTINEL
# FAILOVER) under load, served by A with cc_redis_wait 1 and B without:
# Sentinel promotes a replica while the old primary still takes writes,
# until it publishes +switch-master at the failover's end; what each
# loses is printed (not asserted: with two replicas the other one still
# acknowledges the old primary's writes, so WAIT 1 does not refuse them;
# see README "Failover").  Then, on B, a shard whose primary and
# replica are both gone: its requests wait at most cc_redis_failover_wait
# N T, then answer 503 with Retry-After: 1, the others at once, while the
# other shard answers 200; the shard's primary back, the module follows.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcTest::Sentinel;
use CcKeys;
use CcMetrics;
use FailoverLoad;
use Time::HiRes qw(time sleep);
use POSIX ();

my $g = sentinel_group(name => 'cc0', shard => 0, replicas => 2, also => { cc1 => 1 });
my $old = $g->primary;
my $sentinels = $g->sentinels;
my $locations = all_locations("location = /cc/metrics { cc_metrics; }");
my $http = <<"EOF";
    cc_redis_sentinels $sentinels;
    cc_redis_shards cc0 cc1;
    cc_redis_timeout 300ms;
    cc_redis_failover_wait 3 1s;
EOF
start_nginx(undef, workers => 1, config => $locations,
            http_config => "$http    cc_redis_wait 1 500ms;\n");
my $port_b = $ENV{TEST_NGINX_SERVER_PORT1};
my $nginx_b = start_nginx(undef, workers => 1, config => $locations, port => $port_b,
                          http_config => $http);

sub flip { http_request('POST', "/cc/flip?request_id=$_[1]", { 'X-CC-Uid' => $_[0] }) }
sub flip_b { http_request('POST', "http://127.0.0.1:$port_b/cc/flip?request_id=$_[1]",
                          { 'X-CC-Uid' => $_[0] }) }
sub metrics_b {
    my ($st, $body) = http_request('GET', "http://127.0.0.1:$port_b/cc/metrics");
    return { map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $body };
}

my (@u0, @u1);
wait_until(sub { my ($s) = http_request('POST', '/cc/grant?grant_id=g0&n=1', { 'X-CC-Uid' => 1 }); $s == 200 }, 10);
for my $uid (1 .. 30, 101 .. 120) {
    my ($st) = http_request('POST', '/cc/grant?grant_id=g1&n=100000', { 'X-CC-Uid' => $uid });
    die "grant $uid: $st" unless $st == 200;
    push @{ redis_cmd(0, 'EXISTS', user_key($uid)) ? \@u0 : \@u1 }, $uid;
}

# --- a planned failover under load ---------------------------------------

my $load = load_start(clients => 2, uids => [ grep { $_ < 100 } @u0 ], tag => 'p');
my $loadb = load_start(clients => 2, uids => [ grep { $_ > 100 } @u0 ], tag => 'q',
                       base => "http://127.0.0.1:$port_b");
sleep 1;
my $t0 = time;
is(redis_text($g->cmd(($g->sentinel_ports)[0], 'SENTINEL', 'FAILOVER', 'cc0')), 'OK',
   'SENTINEL FAILOVER cc0');
my $new = $g->wait_promotion($old, 15);
ok($new, "promoted $new");
my $t_prom = time;
sleep 2;
my @a = load_stop($load);
my @ab = load_stop($loadb);
my $t_end = time;
my $gap = longest_gap(\@a, $t0, $t_end);
my @missing = missing_draws(\@a, sub { $g->cmd($new, @_) });
my @missing_b = missing_draws(\@ab, sub { $g->cmd($new, @_) });
diag(sprintf 'SENTINEL FAILOVER: longest gap without a 200 (A): %.2fs; A (cc_redis_wait 1): '
     . '%d flips 200, %d 503, %d missing; B (none): %d flips 200, %d missing from the new primary',
     $gap, scalar(grep { $_->{status} == 200 } @a), scalar(grep { $_->{status} == 503 } @a),
     scalar @missing, scalar(grep { $_->{status} == 200 } @ab), scalar @missing_b);
if ($ENV{CC_DEBUG_FAILOVER} && @missing) {
    diag(sprintf 'A missing: first %.3f last %.3f after SENTINEL FAILOVER; promoted seen at %.3f',
         $missing[0]{t} - $t0, $missing[-1]{t} - $t0, $t_prom - $t0);
    diag(sprintf 'A 200s in that span: %d', scalar grep { $_->{status} == 200 && $_->{t} >= $missing[0]{t} && $_->{t} <= $missing[-1]{t} } @a);
}
my $gap_b = longest_gap(\@ab, $t0, $t_end);
ok($gap_b < 4, sprintf('B followed the planned failover (gap %.2fs)', $gap_b));
ok(grep({ $_->{status} == 200 && $_->{t} > $t_end - 1 } @ab) > 10, '... and flips on');
like(nginx_error_log($nginx_b), qr/primary moved from 127\.0\.0\.1:$old to 127\.0\.0\.1:$new/, 'the move is logged');

# --- the same with the writes paused first: nothing acknowledged is lost -

# CLIENT PAUSE WRITE on the primary before SENTINEL FAILOVER (README,
# "Failover"): the old primary acknowledges nothing more, the module's
# writes there time out (503) and their retries go to the new primary.
ok($g->wait_replica($old, 30), 'the old primary is a replica again');
ok($g->wait_agree(20), 'the sentinels agree again');
my $cur = $g->primary;
$load = load_start(clients => 2, uids => [ grep { $_ < 100 } @u0 ], tag => 'r');
$loadb = load_start(clients => 2, uids => [ grep { $_ > 100 } @u0 ], tag => 's',
                    base => "http://127.0.0.1:$port_b");
sleep 1;
$t0 = time;
is(redis_text($g->cmd($cur, 'CLIENT', 'PAUSE', 20000, 'WRITE')), 'OK', 'CLIENT PAUSE 20000 WRITE');
$g->cmd(($g->sentinel_ports)[0], 'SENTINEL', 'FAILOVER', 'cc0');
my $next = $g->wait_promotion($cur, 15);
ok($next, "promoted $next");
sleep 2;
@a = load_stop($load);
@ab = load_stop($loadb);
$t_end = time;
$g->cmd($cur, 'CLIENT', 'UNPAUSE');
@missing = missing_draws(\@a, sub { $g->cmd($next, @_) });
@missing_b = missing_draws(\@ab, sub { $g->cmd($next, @_) });
diag(sprintf 'paused, then SENTINEL FAILOVER: gap A %.2fs, B %.2fs; A: %d flips 200, %d missing; '
     . 'B: %d flips 200, %d missing', longest_gap(\@a, $t0, $t_end), longest_gap(\@ab, $t0, $t_end),
     scalar(grep { $_->{status} == 200 } @a), scalar @missing,
     scalar(grep { $_->{status} == 200 } @ab), scalar @missing_b);
is(scalar @missing_b, 0, 'writes paused first: no acknowledged flip lost, even without cc_redis_wait');
is(scalar @missing, 0, '... nor with it');
ok(longest_gap(\@ab, $t0, $t_end) < 4, 'B followed');

# --- cc1 without a primary: the wait, bounded ----------------------------

$g->kill($_) for $g->also_replicas('cc1');
$g->kill(redis_port(1));
my $x = $u1[0];
ok(wait_until(sub { my ($s) = flip_b($u0[0], 'probe' . int(time * 1000)); $s == 200 }, 5), 'cc0 answers');

$t0 = time;
my @res = concurrent_requests(6, 'POST', "http://127.0.0.1:$port_b/cc/flip?request_id=nop%d", { 'X-CC-Uid' => $x }, undef, 5);
my $took = time - $t0;
is(scalar(grep { defined $_->[0] && $_->[0] == 503 } @res), 6, 'cc1 without a primary: 6 flips, all 503');
ok($took >= 0.9 && $took < 2.5, sprintf('... the waiting ones after cc_redis_failover_wait\'s 1s (%.2fs)', $took));
is(scalar(grep { ($_->[2]{'retry-after'} // '') eq '1' } @res), 6, '... each with Retry-After: 1');
my $m = metrics_b();
ok($m->{cc_redis_primary_refused_total} >= 6, "cc_redis_primary_refused_total $m->{cc_redis_primary_refused_total}");
is($m->{cc_redis_primary_waiting}, 0, 'nobody waits once they are answered');

# while cc1 waits, cc0 answers at once
my $bg = fork // die;
if (!$bg) { concurrent_requests(3, 'POST', "http://127.0.0.1:$port_b/cc/flip?request_id=bg%d", { 'X-CC-Uid' => $x }); POSIX::_exit(0) }
sleep 0.3;
$m = metrics_b();
is($m->{cc_redis_primary_waiting}, 3, 'cc_redis_primary_waiting counts the 3 waiting');
$t0 = time;
my ($st) = flip_b($u0[1], 'meanwhile');
is($st, 200, 'a cc0 flip meanwhile: 200');
ok(time - $t0 < 0.3, '... at once');
waitpid($bg, 0);

# the primary back (empty): the module follows it without a reload
$g->start(redis_port(1));
ok(wait_until(sub { my ($s) = http_request('POST', "http://127.0.0.1:$port_b/cc/grant?grant_id=g2&n=5", { 'X-CC-Uid' => $x });
                    $s == 200 }, 10), 'cc1 back: a grant answers 200');
($st) = flip_b($x, 'back');
is($st, 200, '... and a flip');

# --- a primary demoted behind the sentinels' back: -READONLY -------------

my $p1 = redis_port(1);
is(redis_text(redis_cmd(1, 'REPLICAOF', '127.0.0.1', free_port())), 'OK', 'cc1\'s primary made a replica');
my $body;
($st, $body) = flip_b($x, 'ro1');
is("$st $body", '503 {"error":"storage_unavailable"}', 'a flip there: 503');
ok(wait_until(sub { nginx_error_log($nginx_b) =~ /127\.0\.0\.1:$p1 answered "READONLY/ }, 3),
   'the -READONLY answer is logged, the connection dropped');
ok(wait_until(sub { nginx_error_log($nginx_b) =~ /127\.0\.0\.1:$p1 is not the primary \(ROLE slave\)/ }, 3),
   '... the sentinels asked again, ROLE checked before any script');
redis_cmd(1, 'REPLICAOF', 'NO', 'ONE');
ok(wait_until(sub { my ($s) = flip_b($x, 'ro2'); $s == 200 }, 5), 'a primary again: 200');

# --- sentinels lost: the workers' +switch-master subscriptions re-made --

$g->kill_sentinel($_) for 0, 1;
sleep 2.5;
($st) = flip_b($x, 'nosentinel');
is($st, 200, 'two sentinels killed: flips still answer 200');
($st) = flip($u0[0], 'nosentinel');
is($st, 200, '... on A too (the workers re-subscribe to the one left; nginx health at END)');

done_testing();
