# POST /cc/claim waits for the credit on nginx timers: a payer (this test,
# doing what cc-payout does: LPOP cc:claims, then w = "c:...") that pays
# within cc_claim_wait gets the claim a 200, none gets it a 202 after
# cc_claim_wait; 200 concurrent claims of one award queue it once; a
# client hanging up mid-wait leaves no timer and no re-read behind; Redis
# down is 503, Redis lost mid-wait 202.  And every outcome of GET /cc/award
# and POST /cc/claim is counted once in /cc/metrics, claims in the
# cc_claim_wait_seconds histogram too.  nginx runs the defaults:
# cc_claim_wait 1s, cc_claim_poll 5ms, cc_claim_poll_max 100ms.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use Time::HiRes qw(time sleep);
use CcKeys;
use CcMetrics;
use CcToken;
use ClaimTest;    # uid, award_of, state, queue, pending_body, send_claim, read_answer, log_problems

start_nginx(undef, workers => 2, http_config => on_shard0(),
            config => token_locations(token_secret_file(), qw(award claim flip))
                    . ' location = /cc/metrics { cc_metrics; }');
my @pids = nginx_pids();

# Redis's script calls since the last reset (a claim is one, each re-read one)
sub reset_calls { redis_cmd(0, 'CONFIG', 'RESETSTAT') }
sub calls {
    my $info = redis_cmd(0, 'INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return $n;
}

# Redis back: one worker answered 200; the other may still be in its
# reconnect backoff (at most 1 s, ngx_http_cc_redis_conn.c) and answer 503
# until it runs out, so wait that out too before the next assertion.
sub back_on_every_worker {
    my ($uid) = @_;
    my $ok = wait_until(sub { my ($st) = http_request('GET', '/cc/award', uid($uid)); defined $st && $st == 200 }, 5);
    sleep 1.1;
    return $ok;
}

# ---- a payer pays within cc_claim_wait: 200 -----------------------------

award_of(11, 'p:2500:spring:11');
my ($s, $t0) = send_claim(11);
ok(wait_until(sub { @{ queue() } == 1 }, 2), 'the claim is queued for the payer');
is(redis_cmd(0, 'LPOP', claims_key()), 11, 'the payer pops the uid');
sleep 0.05;
my $paid = time;
award_of(11, 'c:2500:spring:11');
my ($st, $body, $took) = read_answer($s, $t0);
is("$st $body", '200 ' . pending_body(2500, 'spring:11', 'credited'), 'paid in time: 200 credited');
ok($took >= $paid - $t0, sprintf('answered after the payment (%.3fs)', $took));
ok($took < 1, sprintf('... not at the deadline (%.3fs)', $took));
is_deeply(state(11), { w => 'c:2500:spring:11', q => 1 }, 'redis: credited, claimed once');
is_deeply(queue(), [], 'redis: nothing queued again');

# ---- nobody pays: 202 after cc_claim_wait, w re-read with backoff --------

award_of(12, 'p:99:spring:12');
reset_calls();
($st, $body, $took) = read_answer(send_claim(12));
my $n = calls();
is("$st $body", '202 ' . pending_body(99, 'spring:12'), 'nobody paid: 202 pending');
# nginx counts from the request's start by its cached clock, a few ms
# behind, so the wall clock may see a little less than 1s
ok($took >= 0.99 && $took < 2.5, sprintf('after cc_claim_wait 1s (%.3fs)', $took));
# the claim, then re-reads after 5, 10, 20, 40, 80 ms and every 100 ms
# (cc_claim_poll_max) to 1 s: 14 calls, give or take the clocks
ok($n >= 10 && $n <= 18, "w re-read with backoff, 5ms doubling to 100ms ($n calls)");
is_deeply(state(12), { w => 'p:99:spring:12', q => 1 }, 'redis: still pending, claimed once');
is_deeply(queue(), [12], 'redis: queued once');
redis_cmd(0, 'DEL', claims_key());

# ---- 200 concurrent claims of one award ---------------------------------

award_of(13, 'p:4200:spring:13');
my @res = concurrent_requests(200, 'POST', '/cc/claim', uid(13), '', 15);
is(scalar(grep { defined $_->[0] && $_->[0] == 202 && $_->[1] eq pending_body(4200, 'spring:13') } @res), 200,
   '200 concurrent claims, nobody pays: 200 times 202 pending');
is_deeply(queue(), [13], 'redis: the award is queued exactly once');
is_deeply(state(13), { w => 'p:4200:spring:13', q => 1 }, 'redis: q set once, w untouched');
redis_cmd(0, 'DEL', claims_key());

# the same with a payer: it pays once it sees the uid queued, all see it
award_of(14, 'p:4300:spring:14');
my $payer = fork // die "fork: $!";
if ($payer == 0) {
    wait_until(sub { @{ queue() } > 0 }, 5);
    sleep 0.1;
    my $popped = redis_cmd(0, 'LPOP', claims_key());
    award_of(14, 'c:4300:spring:14') if defined $popped && $popped eq '14';
    CORE::exit(0);
}
@res = concurrent_requests(200, 'POST', '/cc/claim', uid(14), '', 15);
waitpid $payer, 0;
is(scalar(grep { defined $_->[0] && $_->[0] == 200
                 && $_->[1] eq pending_body(4300, 'spring:14', 'credited') } @res), 200,
   '200 concurrent claims, paid meanwhile: 200 times 200 credited');
is_deeply(state(14), { w => 'c:4300:spring:14', q => 1 }, 'redis: the payer popped the one entry and paid');
is_deeply(queue(), [], 'redis: nothing queued after it');

# ---- clients hang up mid-wait --------------------------------------------

award_of(15, 'p:1:spring:15');
my @socks = map { (send_claim(15))[0] } 1 .. 20;
sleep 0.3;                               # they are re-reading w now
close $_ for @socks;
sleep 0.2;
reset_calls();
sleep 0.5;
is(calls(), 0, 'no re-read after the clients hung up (their timers are gone)');
is_deeply(queue(), [15], 'redis: the award queued once');

# ... while their re-read is in Redis
@socks = map { (send_claim(15))[0] } 1 .. 20;
sleep 0.2;
redis_pause(0);
sleep 0.05;
close $_ for @socks;
sleep 0.1;
redis_resume(0);
ok(back_on_every_worker(15), 'serving again after the hang-ups');
sleep 0.3;
reset_calls();
sleep 0.5;
is(calls(), 0, 'and nothing re-reads for them');
is_deeply([nginx_pids()], \@pids, 'no worker died');
is_deeply([log_problems()], [], 'no alert, crash or signal in the log');

# ---- Redis down: 503; Redis lost mid-wait: 202 -----------------------------

redis_stop(0);
($st, $body) = http_request('POST', '/cc/claim', uid(16));
is("$st $body", '503 {"error":"storage_unavailable"}', 'Redis down: the claim is 503');
($st, $body) = http_request('GET', '/cc/award', uid(16));
is("$st $body", '503 {"error":"storage_unavailable"}', 'Redis down: the award is 503');
redis_start(0);
ok(back_on_every_worker(16), 'back once Redis is');

award_of(17, 'p:77:spring:17');
($s, $t0) = send_claim(17);
ok(wait_until(sub { @{ queue() } == 1 }, 2), 'the claim is queued');
redis_stop(0);
($st, $body, $took) = read_answer($s, $t0);
is("$st $body", '202 ' . pending_body(77, 'spring:17'),
   'Redis lost while the claim waits: 202, the claim is queued and will be paid');
ok($took < 1, sprintf('... at once, not at the deadline (%.3fs)', $took));
redis_start(0);
ok(back_on_every_worker(17), 'back once Redis is');

# ---- every outcome counted once (outcome(): t/lib/CcMetrics.pm) ---------

redis_cmd(0, 'FLUSHALL');
my $m0 = metrics();
for my $n (qw(cc_awards_total{result="none"} cc_claims_total{result="no_award"}
              cc_claim_wait_seconds_bucket{le="+Inf"})) {
    ok(exists $m0->{$n}, "printed: $n");
}

award_of(21, 'p:10:s:21');
award_of(22, 'c:20:s:22');
my ($a0, $a1, $q0, $q1);
outcome(name => 'award none', uid => 20, method => 'GET', path => '/cc/award', headers => uid(20),
        answer => qr/^200 \{"status":"none"\}$/, counter => 'cc_awards_total{result="none"}');
($a0, $a1) = outcome(name => 'award pending', uid => 21, method => 'GET', path => '/t/award', headers => bearer(21),
        answer => qr/^200 \{"status":"pending","amount_cents":10,"award_id":"s:21"\}$/,
        counter => 'cc_awards_total{result="pending"}');
is_deeply($a1, $a0, 'award pending: nothing changed');
outcome(name => 'award credited', uid => 22, method => 'GET', path => '/cc/award', headers => uid(22),
        answer => qr/^200 \{"status":"credited","amount_cents":20,"award_id":"s:22"\}$/,
        counter => 'cc_awards_total{result="credited"}');
outcome(name => 'award bad uid', uid => 21, method => 'GET', path => '/cc/award', headers => uid('x'),
        answer => qr/^400 \{"error":"bad_uid"\}$/, counter => 'cc_awards_total{result="bad_request"}');
outcome(name => 'award unauthorized', uid => 21, method => 'GET', path => '/t/award', headers => uid(21),
        answer => qr/^401 \{"error":"unauthorized"\}$/, counter => 'cc_awards_total{result="bad_request"}');
outcome(name => 'award method', uid => 21, method => 'DELETE', path => '/cc/award', headers => uid(21),
        answer => qr/^405 \{"error":"method_not_allowed"\}$/,
        counter => 'cc_awards_total{result="method_not_allowed"}', allow => qr/^GET$/);

outcome(name => 'claim no award', uid => 20, method => 'POST', path => '/cc/claim', headers => uid(20),
        answer => qr/^404 \{"error":"no_award"\}$/, counter => 'cc_claims_total{result="no_award"}');
($a0, $a1, $q0, $q1) = outcome(name => 'claim credited', uid => 22, method => 'POST', path => '/t/claim',
        headers => bearer(22), answer => qr/^200 \{"status":"credited","amount_cents":20,"award_id":"s:22"\}$/,
        counter => 'cc_claims_total{result="credited"}');
is_deeply([$a1, $q1], [$a0, $q0], 'claim credited: nothing changed');
($a0, $a1, $q0, $q1) = outcome(name => 'claim pending', uid => 21, method => 'POST', path => '/cc/claim',
        headers => uid(21), answer => qr/^202 \{"status":"pending","amount_cents":10,"award_id":"s:21"\}$/,
        counter => 'cc_claims_total{result="pending"}');
is_deeply([$a1, $q1], [{ %$a0, q => 1 }, [21]], 'claim pending: claimed and queued');
outcome(name => 'claim bad uid', uid => 21, method => 'POST', path => '/cc/claim', headers => uid(''),
        answer => qr/^400 \{"error":"bad_uid"\}$/, counter => 'cc_claims_total{result="bad_request"}');
outcome(name => 'claim unauthorized', uid => 21, method => 'POST', path => '/t/claim',
        headers => { Authorization => 'Bearer 21.1.x' },
        answer => qr/^401 \{"error":"unauthorized"\}$/, counter => 'cc_claims_total{result="bad_request"}');
outcome(name => 'claim method', uid => 21, method => 'GET', path => '/cc/claim', headers => uid(21),
        answer => qr/^405 \{"error":"method_not_allowed"\}$/,
        counter => 'cc_claims_total{result="method_not_allowed"}', allow => qr/^POST$/);

redis_cmd(0, 'SET', user_key(23), 'not a hash');
outcome(name => 'award failed in redis', uid => 24, method => 'GET', path => '/cc/award', headers => uid(23),
        answer => qr/^503 \{"error":"storage_unavailable"\}$/, counter => 'cc_awards_total{result="unavailable"}');
outcome(name => 'claim failed in redis', uid => 24, method => 'POST', path => '/cc/claim', headers => uid(23),
        answer => qr/^503 \{"error":"storage_unavailable"\}$/, counter => 'cc_claims_total{result="unavailable"}');

# every malformed field w: 503, logged, counted, nothing queued
my @malformed = ('', 'p', 'p:', 'p:5', 'p:5:', 'x:5:a', 'P:5:a', 'p5:a', 'p:05:a', 'p:-5:a', 'p:+5:a',
                 'p: 5:a', 'p:5:a b', 'p:5:a/b', "p:5:\xc3\xa9", 'p:5:a"b', 'p:0:a', 'p:99999999999999999:a',
                 'p:1000000000000001:a', 'p:5:' . 'a' x 65, 'p::a', 'c:5:a:', );
pop @malformed;          # 'c:5:a:' is well formed (':' is an award id's character)
for my $w (@malformed) {
    award_of(25, $w);
    outcome(name => "award w=\"$w\"", uid => 25, method => 'GET', path => '/cc/award', headers => uid(25),
            answer => qr/^503 \{"error":"storage_unavailable"\}$/, counter => 'cc_awards_total{result="unavailable"}');
    ($a0, $a1, $q0, $q1) = outcome(name => "claim w=\"$w\"", uid => 25, method => 'POST', path => '/cc/claim',
            headers => uid(25), answer => qr/^503 \{"error":"storage_unavailable"\}$/,
            counter => 'cc_claims_total{result="unavailable"}');
    is_deeply([$a1, $q1], [$a0, $q0], "claim w=\"$w\": nothing queued");
}
my $logged = () = nginx_error_log() =~ /malformed award ".*" of user 25 in redis/g;
is($logged, 2 * @malformed, 'each malformed award is logged');
award_of(25, 'c:5:a:');
outcome(name => 'award with ":" ending its id', uid => 25, method => 'GET', path => '/cc/award', headers => uid(25),
        answer => qr/^200 \{"status":"credited","amount_cents":5,"award_id":"a:"\}$/,
        counter => 'cc_awards_total{result="credited"}');

is_deeply([nginx_pids()], \@pids, 'no worker died');
is_deeply([log_problems()], [], 'no alert, crash or signal in the log');
stop_nginx();

done_testing();
