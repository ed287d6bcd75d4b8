# A waiting claim is woken by cc-payout's message, not by its next re-read
# (issue 20, the claim p99): cc-payout PUBLISHes a claimed uid on
# cc:credited right after its notice (award_set.lua), and each nginx
# worker, subscribed on each shard, makes the uid's waiting group re-read
# at once.  With cc_claim_poll 500ms no re-read can explain an answer
# before 500 ms:
#
#   A. the payment and its message: 200 credited well before 500 ms, no
#      re-read (cc_claim_polls_total), cc_claim_wakeups_total + 1;
#   B. the subscriber killed (CLIENT KILL TYPE pubsub) in the transaction
#      that pays, so the message reaches nobody: the claim is answered by
#      its re-read at 500 ms (the fallback), the subscriber comes back
#      (cc_claim_wake_reconnects_total) and the next claim is woken again;
#   C. a message for a uid that waits nowhere, and garbage: counted
#      (unmatched, malformed), nothing else happens;
#   F. the message while the group's re-read is in Redis: the shard
#      stopped with the read in its socket and the payment (HSET, PUBLISH)
#      in another one already open, so that Redis runs both in one turn of
#      its loop, the read first, and writes its answers newest first (the
#      message, then the read's "pending"): the claim is answered at once
#      (the group reads again), not a doubled interval (500 ms) later;
#   D. cc_claim_wake off: no subscriber, the claim answered by re-reads;
#   H. cc_redis_auth: the subscriber AUTHs as the data connection does; an
#      ACL user without the channel is logged once, the claims answered
#      by their re-reads;
#   E. cc-payout publishes for claims only: a bulk pass publishes nothing,
#      a claim publishes its uid once, on its shard;
#   G. with cc_redis_sentinels the subscriber follows the shard's primary:
#      after kill -9 of the primary and the promotion, it subscribes on the
#      new one and a claim there is woken again.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcTest::Sentinel;
use CcKeys;
use CcMetrics;
use ClaimTest;    # uid, award_of, state, queue, pending_body, send_claim, read_answer, log_problems
use CcCampaign;
use PayoutTest;
use Time::HiRes qw(time sleep);
use File::Temp qw(tempdir);
use IO::Socket::INET;

my $TMP = tempdir('cc-wake-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub start {
    start_nginx(undef, workers => 1,
                http_config => on_shard0('cc_claim_poll 500ms;', 'cc_claim_poll_max 500ms;',
                                         'cc_claim_wait 3s;', @_),
                config => 'cc_identity trusted_header X-CC-Uid; location = /cc/claim { cc_claim; } '
                        . 'location = /cc/metrics { cc_metrics; }');
}

sub subscribers { redis_cmd(0, 'PUBSUB', 'NUMSUB', 'cc:credited')->[1] }

# commands on one connection, in order (redis-cli reading stdin): its
# output lines
sub redis_pipe {
    my ($shard, @cmds) = @_;
    my $port = redis_port($shard);
    open my $h, '-|', "printf '%s\\n' " . join(' ', map { "'$_'" } @cmds) . " | redis-cli -p $port"
        or die "redis-cli: $!";
    my @out = <$h>;
    close $h;
    chomp @out;
    return @out;
}

# a claim of $uid paid by the test as cc-payout pays it: popped from the
# queue, then w = "c:..." and, unless $publish is 0, the message
sub claim_paid {
    my ($uid, $amount, %o) = @_;
    award_of($uid, "p:$amount:spring:$uid");
    my ($s, $t0) = send_claim($uid);
    ok(wait_until(sub { @{ queue() } == 1 }, 2), "$uid: the claim is queued");
    is(redis_cmd(0, 'LPOP', claims_key()), $uid, "$uid: the payer pops the uid");
    sleep 0.1;
    my $m0 = metrics();
    my $paid = time;
    if ($o{kill}) {
        my @out = redis_pipe(0, 'MULTI', 'CLIENT KILL TYPE pubsub', "HSET " . user_key($uid) . " w c:$amount:spring:$uid",
                             "PUBLISH cc:credited $uid", 'EXEC');
        is($out[-1], 0, "$uid: the subscriber killed in the payment's transaction: its message reached nobody");
    } else {
        award_of($uid, "c:$amount:spring:$uid");
        is(redis_cmd(0, 'PUBLISH', 'cc:credited', $uid), $o{receivers} // 1, "$uid: the message reached the worker")
            if $o{publish} // 1;
    }
    my ($st, $body, $took) = read_answer($s, $t0);
    is("$st $body", '200 ' . pending_body($amount, "spring:$uid", 'credited'), "$uid: 200 credited");
    is_deeply(state($uid), { w => "c:$amount:spring:$uid", q => 1 }, "$uid: redis: credited, claimed once");
    is_deeply(queue(), [], "$uid: redis: nothing queued again");
    return ($took, $paid - $t0, $m0, metrics());
}

sub delta { my ($m0, $m1, $n) = @_; ($m1->{$n} // 0) - ($m0->{$n} // 0) }

# ---- A. the message wakes the claim ------------------------------------

start();
ok(wait_until(sub { (metrics()->{cc_claim_wake_subscribed} // 0) == 1 }, 5), 'the worker subscribed at start');
is(subscribers(), 1, 'redis: one subscriber of cc:credited (one worker, one shard)');

my ($took, $paid, $m0, $m1) = claim_paid(41, 2500);
ok($took >= $paid, sprintf('A: answered after the payment (%.3fs, paid at %.3fs)', $took, $paid));
ok($took < 0.4, sprintf('A: well before the 500 ms re-read (%.3fs)', $took));
is(delta($m0, $m1, 'cc_claim_polls_total'), 0, 'A: no re-read (cc_claim_polls_total unchanged)');
is(delta($m0, $m1, 'cc_claim_wakeups_total'), 1, 'A: cc_claim_wakeups_total + 1');
is(delta($m0, $m1, 'cc_claim_wake_unmatched_total'), 0, 'A: nothing unmatched');

# ---- B. the subscriber killed: the re-read answers, then it is back -------

my $r0 = metrics()->{cc_claim_wake_reconnects_total};
($took, $paid, $m0, $m1) = claim_paid(42, 2600, kill => 1);
ok($took >= 0.45 && $took < 1.5, sprintf('B: answered by the re-read at 500 ms (%.3fs)', $took));
is(delta($m0, $m1, 'cc_claim_polls_total'), 1, 'B: by one re-read');
is(delta($m0, $m1, 'cc_claim_wakeups_total'), 0, 'B: no wake-up');
ok(wait_until(sub { metrics()->{cc_claim_wake_reconnects_total} == $r0 + 1 }, 3),
   'B: the subscriber subscribed again (cc_claim_wake_reconnects_total + 1)');
is(metrics()->{cc_claim_wake_subscribed}, 1, 'B: cc_claim_wake_subscribed back at 1');
is(subscribers(), 1, 'B: redis: one subscriber again');

($took, $paid, $m0, $m1) = claim_paid(43, 2700);
ok($took < 0.4, sprintf('B: the next claim is woken again (%.3fs)', $took));
is(delta($m0, $m1, 'cc_claim_polls_total'), 0, 'B: no re-read');
is(delta($m0, $m1, 'cc_claim_wakeups_total'), 1, 'B: cc_claim_wakeups_total + 1');

# ---- C. a uid waiting nowhere, and garbage ---------------------------------

award_of(44, 'p:10:spring:44');
$m0 = metrics();
my $snap = redis_snapshot(0);
is(redis_cmd(0, 'PUBLISH', 'cc:credited', 44), 1, 'C: a message for a uid with no waiting claim');
my @garbage = ('', 'abc', '0', '044', '-5', '1 2', '18446744073709551616', '9' x 25, "44\n", 'x' x 5000);
is(redis_cmd(0, 'PUBLISH', 'cc:credited', $_), 1, 'C: garbage sent: "' . substr($_, 0, 20) . '"') for @garbage;
ok(wait_until(sub { delta($m0, metrics(), 'cc_claim_wake_malformed_total') == @garbage }, 2),
   'C: every garbage message counted malformed') or diag explain metrics();
$m1 = metrics();
is(delta($m0, $m1, 'cc_claim_wake_unmatched_total'), 1, 'C: the uid waiting nowhere counted unmatched');
is(delta($m0, $m1, 'cc_claim_wakeups_total'), 0, 'C: nothing woken');
is(delta($m0, $m1, 'cc_claim_polls_total'), 0, 'C: nothing read');
is_deeply(redis_snapshot(0), $snap, 'C: redis unchanged');
is($m1->{cc_claim_wake_subscribed}, 1, 'C: still subscribed');

# ---- F. the message while a re-read is in flight ------------------------------

for my $uid (46 .. 50) {
    award_of($uid, "p:30:spring:$uid");
    my ($s, $t0) = send_claim($uid);
    ok(wait_until(sub { @{ queue() } == 1 }, 2), "F $uid: the claim is queued");
    redis_cmd(0, 'LPOP', claims_key());
    my $m0 = metrics();
    my $payer = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => redis_port(0), Proto => 'tcp')
        or die "connect: $@";
    sleep($t0 + 0.42 - time);
    redis_pause(0);
    sleep($t0 + 0.62 - time);            # the re-read at 500 ms waits in the socket
    my @cmd = ([ 'MULTI' ], [ 'HSET', user_key($uid), 'w', "c:30:spring:$uid" ],
               [ 'PUBLISH', 'cc:credited', $uid ], [ 'EXEC' ]);
    print $payer join '', map { my $c = $_; '*' . @$c . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @$c) } @cmd;
    sleep 0.05;
    my $resumed = time;
    redis_resume(0);
    my ($st, $body, $took) = read_answer($s, $t0);
    close $payer;
    is("$st $body", '200 ' . pending_body(30, "spring:$uid", 'credited'), "F $uid: 200 credited");
    ok($t0 + $took - $resumed < 0.25,
       sprintf("F $uid: answered %.3fs after Redis ran the read and the payment, not 500 ms later",
               $t0 + $took - $resumed));
    my $m1 = metrics();
    is(delta($m0, $m1, 'cc_claim_polls_total'), 1, "F $uid: one scheduled re-read (the one in flight)");
    is(delta($m0, $m1, 'cc_claim_wakeups_total'), 1, "F $uid: the message counted a wake-up");
}
is_deeply(queue(), [], 'F: nothing queued again');

is_deeply([log_problems()], [], 'no alert, crash or signal in the log');
stop_nginx();
is(subscribers(), 0, 'the worker gone: its subscriber gone with it');

# ---- D. cc_claim_wake off ----------------------------------------------------

start('cc_claim_wake off;');
ok(wait_until(sub { defined eval { metrics() } }, 5), 'D: nginx up');
sleep 0.2;
is(subscribers(), 0, 'D: cc_claim_wake off: no subscriber');
($took, $paid, $m0, $m1) = claim_paid(45, 2800, receivers => 0);
ok($took >= 0.45, sprintf('D: answered by the re-read at 500 ms (%.3fs)', $took));
is(delta($m0, $m1, 'cc_claim_polls_total'), 1, 'D: by one re-read');
is(delta($m0, $m1, 'cc_claim_wakeups_total'), 0, 'D: no wake-up');
is($m1->{cc_claim_wake_subscribed}, 0, 'D: cc_claim_wake_subscribed 0');
stop_nginx();

# ---- H. cc_redis_auth -----------------------------------------------------------

my $r1 = redis_port(1);
redis_cmd(1, 'ACL', 'SETUSER', 'wake', 'on', '>wake-pw', '~cc:*', '&*', '+@all', '-@dangerous');
redis_cmd(1, 'ACL', 'SETUSER', 'nochan', 'on', '>nochan-pw', '~cc:*', 'resetchannels', '+@all', '-@dangerous');
for my $u (qw(wake nochan)) {
    open my $h, '>', "$TMP/$u.pw" or die "$TMP/$u.pw: $!";
    print $h "$u-pw\n";
    close $h;
    chmod 0600, "$TMP/$u.pw";
}
sub start_auth {
    my ($user) = @_;
    start_nginx(undef, workers => 1,
                http_config => "    cc_redis_shards 127.0.0.1:$r1;\n    cc_redis_auth $user $TMP/$user.pw;\n"
                             . "    cc_claim_poll 500ms;\n    cc_claim_poll_max 500ms;\n    cc_claim_wait 3s;\n",
                config => 'cc_identity trusted_header X-CC-Uid; location = /cc/claim { cc_claim; } '
                        . 'location = /cc/metrics { cc_metrics; }');
}
sub h_claim {
    my ($uid) = @_;
    redis_cmd(1, 'HSET', user_key($uid), 'w', "p:80:h:$uid");
    my ($s, $t0) = send_claim($uid);
    ok(wait_until(sub { (redis_cmd(1, 'LPOP', claims_key()) // '') eq $uid }, 5), "H $uid: queued, popped");
    sleep 0.1;
    redis_cmd(1, 'HSET', user_key($uid), 'w', "c:80:h:$uid");
    redis_cmd(1, 'PUBLISH', 'cc:credited', $uid);
    my ($st, $body, $took) = read_answer($s, $t0);
    is("$st $body", '200 ' . pending_body(80, "h:$uid", 'credited'), "H $uid: 200 credited");
    return $took;
}

start_auth('wake');
ok(wait_until(sub { (metrics()->{cc_claim_wake_subscribed} // 0) == 1 }, 5), 'H: AUTH as "wake": subscribed');
my @pubsub = redis_cmd(1, 'CLIENT', 'LIST', 'TYPE', 'pubsub') =~ /\buser=(\S+)/g;
is_deeply(\@pubsub, [ 'wake' ], 'H: redis: the one subscriber is the ACL user');
my $took_h = h_claim(51);
ok($took_h < 0.4, sprintf('H: woken (%.3fs)', $took_h));
stop_nginx();

start_auth('nochan');
sleep 1.5;                               # a few refusals and retries
is(metrics()->{cc_claim_wake_subscribed}, 0, 'H: an ACL user without the channel: not subscribed');
my $warned = () = nginx_error_log() =~ /\[warn\].*redis shard 127\.0\.0\.1:$r1: not subscribed to cc:credited: NOPERM/g;
is($warned, 1, 'H: said once, with Redis\'s reason');
$took_h = h_claim(52);
ok($took_h >= 0.45, sprintf('H: the claim answered by its re-read (%.3fs)', $took_h));
is_deeply([log_problems()], [], 'H: no alert, crash or signal in the log');
stop_nginx();

# ---- E. cc-payout publishes for claims only --------------------------------

payout_setup();

# redis-cli subscribed on each shard, writing what it hears to a file
my @subs;
sub listen_all {
    @subs = ();
    my @shards = split ' ', $ENV{TEST_NGINX_REDIS_SHARDS};
    for my $i (0 .. $#shards) {
        my $file = "$TMP/sub$i-" . time;
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            open STDOUT, '>', $file or die "$file: $!";
            exec 'redis-cli', '-p', redis_port($i), 'SUBSCRIBE', 'cc:credited' or die "exec: $!";
        }
        push @subs, [ $pid, $file ];
    }
    wait_until(sub { !grep { redis_cmd($_, 'PUBSUB', 'NUMSUB', 'cc:credited')->[1] != 1 } 0 .. $#shards }, 5)
        or die 'the test subscribers did not subscribe';
}
# the uids each shard published, [ [uid, ...], [uid, ...] ]
sub heard {
    sleep 0.2;
    kill 'TERM', $_->[0] for @subs;
    waitpid $_->[0], 0 for @subs;
    my @heard;
    for my $s (@subs) {
        open my $h, '<', $s->[1] or die "$s->[1]: $!";
        my $text = do { local $/; <$h> };
        push @heard, [ $text =~ /^message\ncc:credited\n(\S+)$/mg ];
    }
    return \@heard;
}

my %a1 = map { ($_ => 100 + $_ % 7) } 50001 .. 50040;
seed_awards('wb', \%a1, redis => 1);
listen_all();
my ($rc, undef, $err) = payout_run([ '--once' ], campaign_file('wb'));
is($rc, 0, 'E: a bulk pass') or diag $err;
is_deeply(award_states('wb'), { 'credited/1' => 40 }, 'E: it credited and notified all 40');
is_deeply(heard(), [ [], [] ], 'E: the bulk pass published nothing');

my %a2 = map { ($_ => 100 + $_ % 7) } 50101 .. 50140;
seed_awards('wc', \%a2, redis => 1);
my $claimed = 50117;
my $home = redis_index(shard_map($claimed)->{$claimed}[0]);
redis_cmd($home, 'RPUSH', claims_key(), $claimed);
listen_all();
($rc, undef, $err) = payout_run([ '--once' ], campaign_file('wc'));
is($rc, 0, 'E: a pass with a claim') or diag $err;
is_deeply(award_states('wc'), { 'credited/1' => 40 }, 'E: it credited and notified all 40');
my @want = ([], []);
$want[$home] = [ $claimed ];
is_deeply(heard(), \@want, "E: the claim's uid published once, on its shard; the bulk's none");
is(redis_cmd($home, 'HGET', user_key($claimed), 'w'), "c:$a2{$claimed}:wc:$claimed", 'E: the claimed award is c:... in Redis');


# ---- G. Sentinel: the subscriber follows the primary --------------------------

my $g = sentinel_group(name => 'cc0', shard => 0);
my $old = $g->primary;
start_nginx(undef, workers => 1,
            http_config => "    cc_redis_sentinels " . $g->sentinels . ";\n    cc_redis_shards cc0;\n"
                         . "    cc_claim_poll 500ms;\n    cc_claim_poll_max 500ms;\n    cc_claim_wait 3s;\n",
            config => 'cc_identity trusted_header X-CC-Uid; location = /cc/claim { cc_claim; } '
                    . 'location = /cc/metrics { cc_metrics; }');

# a claim on the node $port paid with its message: seconds to its answer
sub claim_on {
    my ($port, $uid) = @_;
    $g->cmd($port, 'HSET', user_key($uid), 'w', "p:70:g:$uid");
    my ($s, $t0) = send_claim($uid);
    ok(wait_until(sub { ($g->cmd($port, 'LPOP', claims_key()) // '') eq $uid }, 5), "G $uid: queued, popped");
    sleep 0.1;
    $g->cmd($port, 'HSET', user_key($uid), 'w', "c:70:g:$uid");
    is($g->cmd($port, 'PUBLISH', 'cc:credited', $uid), 1, "G $uid: the worker hears it on $port");
    my ($st, $body, $took) = read_answer($s, $t0);
    is("$st $body", '200 ' . pending_body(70, "g:$uid", 'credited'), "G $uid: 200 credited");
    return $took;
}

ok(wait_until(sub { (metrics()->{cc_claim_wake_subscribed} // 0) == 1 }, 10), 'G: subscribed on the primary');
my $took_g = claim_on($old, 61);
ok($took_g < 0.4, sprintf('G: woken on the first primary (%.3fs)', $took_g));

$g->kill($old);
my $new = $g->wait_promotion($old, 30);
ok($new, 'G: a replica promoted') or BAIL_OUT('no promotion');
ok(wait_until(sub { ($g->cmd($new, 'PUBSUB', 'NUMSUB', 'cc:credited')->[1] // 0) == 1
                    && metrics()->{cc_claim_wake_subscribed} == 1 }, 20),
   'G: the subscriber followed the promotion to the new primary');
$took_g = claim_on($new, 62);
ok($took_g < 0.4, sprintf('G: woken on the new primary (%.3fs)', $took_g));
is_deeply([log_problems()], [], 'G: no alert, crash or signal in the log');
stop_nginx();

done_testing();
