# A gift's gift_done off the request's path (issue 19): the answer leaves
# once gift_in answered, and the gift leaves its giver's outbox later, in
# a detached batch of the giver's shard (ngx_http_cc_redis_batch.c: up to
# 256 gifts, 10 ms after the oldest).  Tested: the outbox drains soon
# after many gifts, each answered "delivered"; a giver's shard that hangs
# after gift_in answered does not hold the answer, the gift stays in the
# outbox, counted dropped, and cc-redrive takes it out; a retry meanwhile
# replays "delivered" and moves no card; a shard that lost its scripts
# gets the batch again as EVAL; a shard down drops it at once.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;
use CcMetrics;
use Time::HiRes ();

start_nginx(undef, workers => 1,
    http_config => on_shards('cc_redis_timeout 300ms;', 'cc_gift_limit 1000;'),
    config => gift_locations());

my @redis = map { ('--redis', "127.0.0.1:" . redis_port($_)) } 0, 1;

place_users(1 .. 40);
my @s0 = grep { shard_of($_) == 0 } 1 .. 40;
my @s1 = grep { shard_of($_) == 1 } 1 .. 40;
my ($a, $b, $c) = ($s0[0], $s1[0], $s0[1]);    # a gives to b; c on a's shard

sub done_metric { metrics()->{"cc_gift_done_total{result=\"$_[0]\"}"} }

# every card of kind $k on both shards' users, and the gifts in the outboxes
sub cards_total {
    my ($k) = @_;
    my $n = 0;
    $n += cards($_, $k) for @s0, @s1;
    return $n;
}

# --- many gifts: each answered delivered, the outbox drained soon after --------

my $K = 300;
seed_cards($a, 0, $K);
my $m0 = metrics();
my @res = concurrent_requests($K, 'POST', "/cc/gift?to=$b&kind=0&request_id=k%d", { 'X-CC-Uid' => $a });
my $answered = Time::HiRes::time();
is(scalar(grep { ($_->[0] // 0) == 200
                 && $_->[1] =~ /^\{"gift_id":"$a:k\d+","to":"$b","kind":0,"status":"delivered"\}$/ } @res),
   $K, "$K gifts, each answered delivered");
ok(wait_until(sub { !%{ outbox(0) } }, 2), 'the outbox drains after the answers');
my $took = Time::HiRes::time() - $answered;
ok($took < 1, sprintf('... within 10 ms and slack (%.3f s)', $took));
is(cards($a, 0) . ' ' . cards($b, 0), "0 $K", "$K cards moved");
is(redis_cmd(1, 'SCARD', gift_key($b, 'gi')), $K, "$K gift ids applied");
my $m1 = metrics();
is($m1->{'cc_gift_done_total{result="done"}'} - $m0->{'cc_gift_done_total{result="done"}'}, $K,
   "metric: $K gifts done");
is($m1->{'cc_gift_done_total{result="dropped"}'}, 0, 'metric: none dropped');
my $batches = $m1->{cc_gift_done_batches_total} - $m0->{cc_gift_done_batches_total};
ok($batches >= 2 && $batches < $K, "metric: $batches gift_done batches (256 gifts at most each)");

# --- the giver's shard hangs after gift_in answered ----------------------------

# b's shard stopped: both gifts' gift_out run on a's, their gift_in wait
seed_cards($a, 1, 2);
my $total = cards_total(1);
redis_pause(1);
my @socks = map { send_request('POST', "/cc/gift?to=$b&kind=1&request_id=$_", { 'X-CC-Uid' => $a }) } 'p1', 'p2';
ok(wait_until(sub { my $o = outbox(0); $o->{"$a:p1"} && $o->{"$a:p2"} }, 5),
   "the giver's halves applied, the receiver's waiting");

# a's shard pauses its writes (the gift_done batch will wait in it), b's
# wakes: gift_in answers
redis_cmd(0, 'CLIENT', 'PAUSE', 5000, 'WRITE');
my $resumed = Time::HiRes::time();
redis_resume(1);
for my $i (0, 1) {
    my $rid = "p" . ($i + 1);
    my ($st, $body) = read_response($socks[$i], 5);
    is(($st // 'undef') . ' ' . ($body // $CcTest::error),
       qq(200 {"gift_id":"$a:$rid","to":"$b","kind":1,"status":"delivered"}),
       "gift $rid: delivered while the giver's shard hangs");
}
$took = Time::HiRes::time() - $resumed;
ok($took < 0.25, sprintf('... at once, not after a gift_done (cc_redis_timeout 300 ms): %.3f s', $took));

# a request on a's shard times out: the shard is failed, its connection
# dropped with the gift_done batch in it, which Redis never runs
is(gift_req('POST', '/cc/flip?request_id=f1', $c), '503 {"error":"storage_unavailable"}',
   "a flip on the hung shard: 503 after cc_redis_timeout");
ok(wait_until(sub { done_metric('dropped') == 2 }, 5), 'metric: both gift_done dropped')
    or diag 'dropped: ' . done_metric('dropped');
redis_cmd(0, 'CLIENT', 'UNPAUSE');
is_deeply([ sort keys %{ outbox(0) } ], [ "$a:p1", "$a:p2" ], 'both gifts stay in the outbox');
is(cards($a, 1) . ' ' . cards($b, 1), '0 2', 'their cards moved, once');
is(cards_total(1), $total, 'cards add up');
ok(redis_cmd(1, 'SISMEMBER', gift_key($b, 'gi'), "$a:p1") && redis_cmd(1, 'SISMEMBER', gift_key($b, 'gi'), "$a:p2"),
   'both applied on the receiver');

# --- a retry while the gift is in the outbox -----------------------------------

my $redelivered = metrics()->{cc_gifts_redelivered_total};
# (retried while the shard's connection comes back: 503 until then)
ok(wait_until(sub { gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=p2", $a)
                    eq qq(200 {"gift_id":"$a:p2","to":"$b","kind":1,"status":"delivered"}) }, 5),
   'a retry of p2 replays delivered');
is(cards($a, 1) . ' ' . cards($b, 1), '0 2', '... and moves no card');
is(redis_cmd(1, 'SCARD', gift_key($b, 'gi')), $K + 2, '... applies nothing again');
is(metrics()->{cc_gifts_redelivered_total}, $redelivered, '... and is no redelivery');
ok(wait_until(sub { !outbox(0)->{"$a:p2"} }, 2), "its gift_done takes p2 out of the outbox");
is_deeply([ keys %{ outbox(0) } ], [ "$a:p1" ], 'p1 stays');

# --- cc-redrive finishes p1 ------------------------------------------------------

my ($rc, undef, $err) = run_worker([ 'cc-redrive', @redis, '--once', '--grace', '0' ], timeout => 30);
is($rc, 0, 'cc-redrive --once: exit 0') or diag $err;
like($err, qr/pass done: 0 gifts redriven, 1 found delivered, 0 unreadable; 0 left/,
     'it finds p1 delivered and takes it out');
is_deeply(outbox(0), {}, 'the outbox is empty');
is(cards($a, 1) . ' ' . cards($b, 1), '0 2', 'no card moved again');
is(cards_total(1), $total, 'cards add up');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=p1", $a),
   qq(200 {"gift_id":"$a:p1","to":"$b","kind":1,"status":"delivered"}), 'a retry of p1 replays delivered');
like(gift_req('GET', '/cc/gifts', $a), qr/"gift_id":"$a:p1","to":"$b","kind":1,"ts":\d{13},"status":"delivered"/,
     'GET /cc/gifts says delivered');

# --- the giver's shard lost its scripts: the batch is sent again as EVAL ------

redis_cmd(0, 'SCRIPT', 'FLUSH');
redis_cmd(1, 'SCRIPT', 'FLUSH');
seed_cards($a, 2, 1);
my $m2 = metrics();
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=n1", $a),
   qq(200 {"gift_id":"$a:n1","to":"$b","kind":2,"status":"delivered"}), 'after SCRIPT FLUSH: delivered');
ok(wait_until(sub { !%{ outbox(0) } }, 2), 'its gift_done, NOSCRIPT, sent again as EVAL: the outbox drains');
my $m3 = metrics();
is(join(' ', map { $m3->{"cc_gift_done_total{result=\"$_\"}"} - $m2->{"cc_gift_done_total{result=\"$_\"}"} } 'done', 'dropped'),
   '1 0', 'metric: done, not dropped');

# --- the giver's shard down once gift_in answered: dropped at once -----------

seed_cards($a, 3, 1);
redis_pause(1);
my $sock = send_request('POST', "/cc/gift?to=$b&kind=3&request_id=q1", { 'X-CC-Uid' => $a });
ok(wait_until(sub { outbox(0)->{"$a:q1"} }, 5), "the giver's half applied, the receiver's waiting");
redis_stop(0);
redis_resume(1);
my ($st, $body) = read_response($sock, 5);
is(($st // 'undef') . ' ' . ($body // $CcTest::error),
   qq(200 {"gift_id":"$a:q1","to":"$b","kind":3,"status":"delivered"}), "the giver's shard down: still delivered");
is(cards($b, 3), 1, 'the receiver holds the card');
ok(wait_until(sub { done_metric('dropped') == 3 }, 2), "metric: its gift_done dropped (the outbox, lost with the shard, is the redrive's)")
    or diag 'dropped: ' . done_metric('dropped');
redis_start(0);

unlike(nginx_error_log(), qr/\[(?:alert|crit|emerg)\]/, 'no alert in the error log');

done_testing();
