# Waiting claims are bounded and share their re-reads (issue 22): a
# worker keeps at most cc_claim_waiters claims waiting and answers the
# rest 202 at once; the claims of one uid wait on ONE re-read of w, and
# the re-reads back off (cc_claim_poll doubling up to cc_claim_poll_max).
# Redis's own count of the award script's reads (MONITOR: the keys of its
# EVALSHAs, one a re-read, batched or not) is what is asserted: 200
# concurrent claims of one uid make no more re-reads than one claim alone.
# One worker, so one group: with N workers it is N at most.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use IO::Socket::INET;
use IO::Select;
use Digest::SHA qw(sha1_hex);
use POSIX ();
use Time::HiRes qw(time sleep);
use CcKeys;
use CcMetrics;
use ClaimTest;    # uid, award_of, state, queue, pending_body, send_claim, read_answer, log_problems

# log_level info: the worker takes 200 claims in a few ms, not tens
sub start { start_nginx(undef, workers => 1, log_level => 'info', http_config => on_shard0(@_),
                        config => all_locations('location = /cc/metrics { cc_metrics; }')) }

# n claims of a uid sent at once: n connections opened first, then the n
# requests written in one loop, so that they start within a few ms (a
# claim that starts later keeps its uid's re-reads going until its own
# deadline, cc_claim_wait after its start).  Returns [status, body] each.
sub claims_at_once {
    my ($n, $uid) = @_;
    my @socks = map {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}") or die "connect: $!"
    } 1 .. $n;
    my $req = "POST /cc/claim HTTP/1.1\r\nHost: x\r\nX-CC-Uid: $uid\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    syswrite($_, $req) for @socks;
    return map { [ (read_response($_))[0, 1] ] } @socks;
}
start();                                 # cc_claim_waiters 1024, the default
my @pids = nginx_pids();

# The award script's sha as the module sends it (no prelude: its text is
# the file), and a MONITOR connection that counts its EVALSHAs.
my $award_sha = do {
    open my $fh, '<', 'ngx_module/lua/award.lua' or die "award.lua: $!";
    local $/;
    sha1_hex(<$fh>);
};
sub monitor_start {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => redis_port(0)) or die "monitor: $!";
    print $s "MONITOR\r\n";
    return $s;
}
# the re-reads seen since monitor_start, up to a marker sent now
sub monitor_reads {
    my ($s) = @_;
    my $mark = 'cc-mark-' . int(rand(1e9));
    redis_cmd(0, 'ECHO', $mark);
    my ($buf, $sel, $deadline) = ('', IO::Select->new($s), time + 10);
    while ($buf !~ /\Q$mark\E/ && time < $deadline) {
        $sel->can_read(1) or next;
        sysread($s, $buf, 1 << 20, length $buf) or last;
    }
    close $s;
    # a batch is one EVALSHA whose numkeys is its count of reads
    my $n = 0;
    $n += $1 while $buf =~ /"evalsha" "\Q$award_sha\E" "(\d+)"/ig;
    return $n;
}

# ---- one claim alone: its re-reads, backing off -------------------------

award_of(31, 'p:500:spring:31');
my $m0 = metrics();
my $mon = monitor_start();
my ($st, $body) = http_request('POST', '/cc/claim', uid(31));
my $one = monitor_reads($mon);
my $m1 = metrics();
is("$st $body", '202 ' . pending_body(500, 'spring:31'), 'one claim, nobody pays: 202 pending');
# 5, 10, 20, 40, 80 ms, then every 100 ms up to 1 s: 13 re-reads or so
ok($one >= 8 && $one <= 16, "one claim re-reads w with backoff, not every 5ms ($one re-reads)");
is($m1->{cc_claim_polls_total} - $m0->{cc_claim_polls_total}, $one,
   'cc_claim_polls_total counts the re-reads Redis saw');
is_deeply(state(31), { w => 'p:500:spring:31', q => 1 }, 'redis: still pending, claimed once');
is_deeply(queue(), [31], 'redis: queued once');
redis_cmd(0, 'DEL', claims_key());

# ---- 200 concurrent claims of one uid: one re-read for all ---------------

award_of(32, 'p:600:spring:32');
$m0 = metrics();
$mon = monitor_start();
my $t0 = time;
my @res = claims_at_once(200, 32);
my $took = time - $t0;
my $reads = monitor_reads($mon);
$m1 = metrics();
is(scalar(grep { defined $_->[0] && $_->[0] == 202 && $_->[1] eq pending_body(600, 'spring:32') } @res), 200,
   '200 concurrent claims, nobody pays: 200 times 202 pending');
ok($took >= 0.95, sprintf('... after waiting cc_claim_wait (%.3fs)', $took));
# The uid's re-reads go on until the last claim's deadline: the claims
# that started later than the first (a loaded machine, the ASan pass)
# add a re-read each cc_claim_poll_max (100 ms) of that spread, which is
# at most the time past cc_claim_wait the 200 answers took
my $late = POSIX::ceil(($took - 1.0) / 0.1);
$late = 0 if $late < 0;
ok($reads <= $one + $late, sprintf("200 claims of one uid: $reads re-reads, no more than one claim's $one "
                                   . "(+ %d for the starts spread over %.3f s)", $late, $took - 1.0));
is($m1->{cc_claim_polls_total} - $m0->{cc_claim_polls_total}, $reads, 'cc_claim_polls_total agrees');
is($m1->{cc_claim_waiters_full_total} - $m0->{cc_claim_waiters_full_total}, 0, 'all 200 waited');
is($m1->{'cc_claims_total{result="pending"}'} - $m0->{'cc_claims_total{result="pending"}'}, 200,
   'all 200 counted as pending');
is($m1->{cc_claim_waiting}, 0, 'cc_claim_waiting: none left waiting');
is_deeply(state(32), { w => 'p:600:spring:32', q => 1 }, 'redis: q set once, w untouched');
is_deeply(queue(), [32], 'redis: queued exactly once');
redis_cmd(0, 'DEL', claims_key());

# ---- waiting, counted; paid: all of one uid see it on the same read ------

award_of(33, 'p:700:spring:33');
my @socks = map { (send_claim(33))[0] } 1 .. 10;
ok(wait_until(sub { (metrics()->{cc_claim_waiting} // -1) == 10 }, 2), 'cc_claim_waiting: 10 claims wait');
close $socks[$_] for 0 .. 4;             # half hang up, the group's reader among them perhaps
sleep 0.3;
is(metrics()->{cc_claim_waiting}, 5, '5 hung up: 5 wait');
award_of(33, 'c:700:spring:33');
for my $s (@socks[5 .. 9]) {
    my ($st, $b) = read_answer($s);
    is("$st $b", '200 ' . pending_body(700, 'spring:33', 'credited'), 'paid while waiting: 200 credited');
}
is(metrics()->{cc_claim_waiting}, 0, 'none left waiting');
$m0 = metrics();
sleep 0.3;
is(metrics()->{cc_claim_polls_total}, $m0->{cc_claim_polls_total}, 'and nothing re-reads after them');
redis_cmd(0, 'DEL', claims_key());

# ---- w gone, or malformed, while claims wait: 503 to every waiter --------

# the workers never delete w nor write it malformed: a broken store, so
# every claim waiting on it answers 503, and the log says which user
for my $case ([ 36, 'gone', sub { redis_cmd(0, 'HDEL', user_key(36), 'w') },
                qr/\[error\].*cc: the award of user 36 is gone while its claim waited/,
                { q => 1 } ],
              [ 37, 'malformed', sub { award_of(37, 'x:not-an-award') },
                qr/\[error\].*cc: malformed award "x:not-an-award" of user 37 in redis/,
                { w => 'x:not-an-award', q => 1 } ]) {
    my ($u, $what, $break, $line, $left) = @$case;
    award_of($u, "p:100:spring:$u");
    my $m0 = metrics();
    my @ws = map { (send_claim($u))[0] } 1 .. 3;
    ok(wait_until(sub { (metrics()->{cc_claim_waiting} // -1) == 3 }, 2), "w $what: 3 claims of uid $u wait");
    $break->();
    for my $w (@ws) {
        my ($st, $b, $took) = read_answer($w, time);
        is("$st $b", '503 {"error":"storage_unavailable"}', "w $what while waiting: 503");
        ok($took < 0.5, sprintf('... on the next re-read, not at the deadline (%.3fs)', $took));
    }
    my $m1 = metrics();
    is($m1->{'cc_claims_total{result="unavailable"}'} - $m0->{'cc_claims_total{result="unavailable"}'}, 3,
       '... the three counted unavailable');
    is($m1->{cc_claim_waiting}, 0, '... none left waiting');
    my @lines = grep { /$line/ } split /\n/, nginx_error_log();
    is(scalar @lines, 1, '... one log line for the group, naming the user') or diag join "\n", @lines;
    is_deeply(state($u), $left, "redis: the hash as the test left it, claimed once");
    is_deeply(queue(), [$u], 'redis: queued once');
    redis_cmd(0, 'DEL', claims_key());
}

is_deeply([nginx_pids()], \@pids, 'no worker died');
is_deeply([log_problems()], [], 'no alert, crash or signal in the log');
stop_nginx();

# ---- cc_claim_waiters 50: the 150 beyond answer at once -------------------

start('cc_claim_waiters 50;');
@pids = nginx_pids();
award_of(35, 'p:900:spring:35');
$m0 = metrics();
@res = concurrent_requests(200, 'POST', '/cc/claim', uid(35), '', 15);
$m1 = metrics();
is(scalar(grep { defined $_->[0] && $_->[0] == 202 && $_->[1] eq pending_body(900, 'spring:35') } @res), 200,
   '200 concurrent claims, 50 may wait: 200 times 202 pending');
is($m1->{cc_claim_waiters_full_total} - $m0->{cc_claim_waiters_full_total}, 150,
   'cc_claim_waiters_full_total: the other 150 were answered at once');
is($m1->{'cc_claims_total{result="pending"}'} - $m0->{'cc_claims_total{result="pending"}'}, 200,
   'all 200 counted as pending');
is($m1->{cc_claim_waiting}, 0, 'none left waiting');
is_deeply(state(35), { w => 'p:900:spring:35', q => 1 }, 'redis: q set once, w untouched');
is_deeply(queue(), [35], 'redis: queued exactly once');
redis_cmd(0, 'DEL', claims_key());

# ---- a worker told to quit answers its waiting claims 202 at once --------

award_of(34, 'p:800:spring:34');
my ($s34) = send_claim(34);
ok(wait_until(sub { (metrics()->{cc_claim_waiting} // -1) == 1 }, 2), 'a claim waits');
$t0 = time;
kill 'QUIT', $pids[0];
my ($st34, $b34) = read_answer($s34);
is("$st34 $b34", '202 ' . pending_body(800, 'spring:34'), 'quit: the waiting claim answers 202');
ok(time - $t0 < 0.5, sprintf('... soon, not at its deadline (%.3fs)', time - $t0));
ok(wait_until(sub { !kill 0, $pids[1] }, 5), 'the worker quit');
is_deeply([grep { /open socket|\[alert\]|\[crit\]/ } split /\n/, nginx_error_log()], [], 'no socket left open, no alert');
stop_nginx();

# ---- the shard in its backoff when the re-read is due: 202 -----------------

# Re-reads every 2 s, so the test knows when one is due.  Shard 0 is killed
# (the one connection drops: no failure yet), then requests of another uid
# on it keep failing its reconnects, so that its backoff runs (up to 1 s,
# renewed at once): the re-read finds the shard unusable, sends nothing
# and answers 202 with the award the claim read.
start('cc_claim_wait 5s;', 'cc_claim_poll 2s;', 'cc_claim_poll_max 2s;');
redis_cmd(0, 'DEL', claims_key());
award_of(38, 'p:380:spring:38');
http_request('GET', '/cc/award', uid(38));   # the worker's connection, made
my $mb = metrics();
my ($s, $t38) = send_claim(38);
ok(wait_until(sub { @{ queue() } == 1 }, 1), 'a claim of uid 38 is queued and waits');
is_deeply(queue(), [38], 'redis: queued once');
is_deeply(state(38), { w => 'p:380:spring:38', q => 1 }, 'redis: pending, claimed once');
redis_stop(0);
my $sel = IO::Select->new($s);
my $fails = 0;
until ($sel->can_read(0.005) || time - $t38 > 4) {
    my ($st) = http_request('GET', '/cc/award', uid(40));   # uid 40: shard 0 too
    $fails++ if defined $st && $st == 503;
}
my ($st38, $b38, $took38) = read_answer($s, $t38);
is("$st38 $b38", '202 ' . pending_body(380, 'spring:38'),
   'the shard in backoff when the re-read was due: 202 pending, the award read at the claim');
ok($took38 >= 1.9 && $took38 < 3, sprintf('... at the re-read (2 s), not the deadline (5 s): %.3fs', $took38));
ok($fails > 0, "... while shard 0 refused ($fails requests answered 503)");
is(metrics()->{cc_claim_polls_total} - $mb->{cc_claim_polls_total}, 0,
   '... and no re-read was sent (cc_claim_polls_total unchanged)');
is(metrics()->{cc_claim_waiting}, 0, '... none left waiting');
redis_start(0);
stop_nginx();

done_testing();
