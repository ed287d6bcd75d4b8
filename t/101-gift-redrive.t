# A gift whose receiver's shard is down or slow (issue 19): the giver's
# half is applied and the answer says "sent", the outbox keeps the gift,
# and cc-redrive delivers it once the shard is back: once, whatever is
# retried, redriven again, or killed (an nginx worker between the two
# halves, the redrive itself mid-run).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;

kafka_start(partitions => 1);

my $nginx = start_nginx(undef, workers => 1,
    http_config => on_shards('cc_redis_timeout 300ms;',
                             'cc_kafka_brokers $TEST_KAFKA_BROKERS;'),
    config => gift_locations());

my @redis = map { ('--redis', "127.0.0.1:" . redis_port($_)) } 0, 1;

sub redrive {
    my (@args) = @_;
    my ($rc, $out, $err) = run_worker([ 'cc-redrive', @redis, '--once', '--grace', '0', @args ], timeout => 30);
    return ($rc, $err);
}

sub metric {
    my ($name) = @_;
    my (undef, $m) = http_request('GET', '/cc/metrics');
    return $m =~ /^\Q$name\E (\d+)$/m ? $1 : "no $name";
}

place_users(1 .. 80);
my @s0 = grep { shard_of($_) == 0 } 1 .. 80;
my @s1 = grep { shard_of($_) == 1 } 1 .. 80;
my ($a, $b) = ($s0[0], $s1[0]);

# the worker's ring is the module's
my (undef, $out) = run_worker([ 'cc-redrive', @redis, '--shard-of', @s0[0 .. 2], @s1[0 .. 2] ], ok => 1);
my $p0 = redis_port(0);
my $p1 = redis_port(1);
is($out, join('', map { "$_ 127.0.0.1:$p0\n" } @s0[0 .. 2]) . join('', map { "$_ 127.0.0.1:$p1\n" } @s1[0 .. 2]),
   '--shard-of routes as the module');

# --- a delivered gift: both halves to Kafka -----------------------------------

seed_cards($a, 1, 5);
my $produced = metric('cc_kafka_produced_total');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=k1", $a),
   qq(200 {"gift_id":"$a:k1","to":"$b","kind":1,"status":"delivered"}), 'delivered');
is(metric('cc_kafka_produced_total'), $produced + 2, 'both halves handed to Kafka');
ok(wait_until(sub { metric('cc_kafka_delivered_total') >= $produced + 2 }, 10), 'and acknowledged');
my (undef, $dump) = run_worker([ "$CcTest::TestToolDir/cc-kafka-dump", '--brokers', $ENV{TEST_KAFKA_BROKERS}, '--count', 2 ],
                               timeout => 30, ok => 1);
like($dump, qr/\A$a\t\{"type":"gift_out","gift_id":"$a:k1","uid":"$a","to":"$b","card":1,"ts":\d{13}\}\n$b\t\{"type":"gift_in","gift_id":"$a:k1","uid":"$b","from":"$a","card":1,"ts":\d{13}\}\n\z/,
     "Kafka: the giver's half keyed by the giver, the receiver's by the receiver, cc_event.h's JSON");

# --- the receiver's shard down: sent, then redriven ---------------------------

redis_stop(1);
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d1", $a),
   qq(200 {"gift_id":"$a:d1","to":"$b","kind":1,"status":"sent"}), "the receiver's shard down: sent");
is(cards($a, 1), 3, 'the card left the giver');
like(outbox(0)->{"$a:d1"}, qr/^$b:1:\d{13}$/, 'the outbox holds the gift');
like(redis_cmd(0, 'HGET', user_key($a), '@d1'), qr/^$b:1:s:/, "the giver's answer says sent");
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d1", $a),
   qq(200 {"gift_id":"$a:d1","to":"$b","kind":1,"status":"sent"}), 'a retry while it is down replays sent');
is(cards($a, 1), 3, 'the retry took nothing');
my $sent = gift_req('GET', '/cc/gifts', $a);
like($sent, qr/"gift_id":"$a:d1","to":"$b","kind":1,"ts":\d+,"status":"sent"/, 'GET /cc/gifts says sent');
is(join(' ', $sent =~ /"gift_id":"$a:(\w+)","to":"$b","kind":1,"ts":\d+,"status":"(\w+)"/g), 'd1 sent k1 delivered',
   '... each gift its own status, newest first');

my ($rc, $err) = redrive();
is($rc, 1, 'a redrive while the shard is down fails its pass');
like($err, qr/pass done: 0 gifts redriven, 0 found delivered, 0 unreadable; 1 left in the outboxes/,
     'and says what is left');
ok(outbox(0)->{"$a:d1"}, 'the gift waits in the outbox');

redis_start(1);           # empty: a restarted shard without persistence
($rc, $err) = redrive('--metrics-file', "$CcTest::Util::TOPDIR/redrive.prom");
is($rc, 0, 'the shard back: the redrive pass succeeds');
like($err, qr/pass done: 1 gifts redriven, 0 found delivered, 0 unreadable; 0 left/, 'one gift redriven');
is(cards($b, 1), 1, 'the receiver holds the card');
is_deeply(outbox(0), {}, 'the outbox is empty');
like(redis_cmd(0, 'HGET', user_key($a), '@d1'), qr/^$b:1:s:/, "the giver's answer is kept as written");
is_deeply(log_gifts(1), ["gi $a:d1 $b $a 1"], "the receiver's shard logs y=gi once");
my $prom = CcTest::_slurp("$CcTest::Util::TOPDIR/redrive.prom");
like($prom, qr/^cc_redrive_redriven_total 1$/m, 'metric: redriven');
like($prom, qr/^cc_redrive_outbox 0$/m, 'metric: outbox size');
like($prom, qr/^cc_redrive_oldest_age_seconds 0$/m, 'metric: oldest age');

($rc, $err) = redrive();
like($err, qr/pass done: 0 gifts redriven, 0 found delivered/, 'a second redrive finds nothing');
is(cards($b, 1), 1, 'nothing delivered twice');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d1", $a),
   qq(200 {"gift_id":"$a:d1","to":"$b","kind":1,"status":"delivered"}), 'a retry now replays delivered');
like(gift_req('GET', '/cc/gifts', $a), qr/"gift_id":"$a:d1","to":"$b","kind":1,"ts":\d+,"status":"delivered"/,
     'GET /cc/gifts says delivered: the gift is out of the outbox');
is(cards($b, 1), 1, 'the replay sent nothing');

# an answer an older gift_done.lua rewrote to d (the gift out of the outbox)
redis_cmd(0, 'HSET', user_key($a), '@d0', "$b:1:d:" . int(time() * 1000));
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d0", $a),
   qq(200 {"gift_id":"$a:d0","to":"$b","kind":1,"status":"delivered"}), 'an older answer d replays delivered');
is(cards($b, 1), 1, '... and sends nothing');

# --- a retry of a sent gift delivers it ---------------------------------------

redis_stop(1);
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d2", $a),
   qq(200 {"gift_id":"$a:d2","to":"$b","kind":1,"status":"sent"}), 'sent');
redis_start(1);
ok(wait_until(sub { gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d2", $a)
                    eq qq(200 {"gift_id":"$a:d2","to":"$b","kind":1,"status":"delivered"}) }, 10),
   'a retry once the shard is back delivers it');
is(cards($b, 1), 1, 'the receiver holds it');
is(cards($a, 1), 2, 'the giver gave one card for it');
is_deeply(outbox_drained(0), {}, 'the outbox is empty');
is(metric('cc_gifts_redelivered_total'), 1, 'metric: one retry redelivered');
($rc, $err) = redrive();
like($err, qr/pass done: 0 gifts redriven/, 'nothing left to redrive');

# --- a slow receiver's shard: sent after cc_redis_timeout ---------------------

redis_pause(1);
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=p1", $a),
   qq(200 {"gift_id":"$a:p1","to":"$b","kind":1,"status":"sent"}), "a paused receiver's shard: sent in time");
redis_resume(1);
ok(wait_until(sub { eval { redis_cmd(1, 'PING') } eq 'PONG' }, 5), 'shard 1 answers again');
# the paused shard ran the half once it woke: the redrive finds it applied
($rc, $err) = redrive();
like($err, qr/pass done: [01] gifts redriven, [01] found delivered/, 'the redrive completes it');
is(cards($b, 1), 2, 'delivered once');
is(scalar(grep { /^gi $a:p1 / } @{ log_gifts(1) }), 1, 'one y=gi entry');
is_deeply(outbox(0), {}, 'the outbox is empty');

# --- an ask whose asked user's shard is down; a giver's shard down -----------

my $e = $s0[1];
redis_stop(1);
is(gift_req('POST', "/cc/ask?from=$b&kind=1&request_id=a1", $e), '503 {"error":"storage_unavailable"}',
   "an ask while the asked user's shard is down: 503");
like(redis_cmd(0, 'HGET', gift_key($e, 'ao'), "$e:a1"), qr/^$b:1:\d{13}$/, "the asker's shard counts it");
is(gift_req('GET', '/cc/gifts', $b), '503 {"error":"storage_unavailable"}', 'GET /cc/gifts on a down shard: 503');
is(gift_req('POST', "/cc/gift?to=$a&kind=1&request_id=z1", $b), '503 {"error":"storage_unavailable"}',
   "a gift while the giver's shard is down: 503");
redis_start(1);
ok(wait_until(sub { gift_req('POST', "/cc/ask?from=$b&kind=1&request_id=a1", $e) eq qq(200 {"ask_id":"$e:a1"}) }, 10),
   'its retry once the shard is back: 200');
like(redis_cmd(1, 'HGET', gift_key($b, 'ak'), "$e:a1"), qr/^$e:1:\d{13}:o$/, 'the asked user holds it, open');
is(scalar keys %{ outbox(1) }, 0, "the refused gift left nothing in the giver's outbox");

# --- kill -9 of the nginx worker between the two halves -----------------------

my @before = nginx_pids($nginx);
my $held = cards($b, 1);
redis_pause(1);
my $sock = send_request('POST', "/cc/gift?to=$b&kind=1&request_id=x1", { 'X-CC-Uid' => $a });
ok(wait_until(sub { outbox(0)->{"$a:x1"} }, 5), "the giver's half is applied, the receiver's is waiting");
kill 'KILL', $before[1];
redis_resume(1);
close $sock;
ok(wait_until(sub { my @p = nginx_pids($nginx); @p == 2 && $p[1] != $before[1] }, 10),
   'the master started a new worker');
ok(outbox(0)->{"$a:x1"}, 'the gift stays in the outbox');
($rc, $err) = redrive();
like($err, qr/pass done: [01] gifts redriven, [01] found delivered, 0 unreadable; 0 left/,
     'the redrive delivers it');
is(cards($a, 1) . ' ' . cards($b, 1), '0 ' . ($held + 1), 'one card moved, once');
is(scalar(grep { /^gi $a:x1 / } @{ log_gifts(1) }), 1, 'one y=gi entry');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=x1", $a),
   qq(200 {"gift_id":"$a:x1","to":"$b","kind":1,"status":"delivered"}), 'its retry replays delivered');

# --- kill -9 of the redrive mid-run -------------------------------------------

my @givers = @s0[1 .. 20];
seed_cards($_, 2, 1) for @givers;
redis_stop(1);
for my $g (@givers) {
    is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=m$g", $g),
       qq(200 {"gift_id":"$g:m$g","to":"$b","kind":2,"status":"sent"}), "gift $g sent") or last;
}
redis_start(1);
is(scalar keys %{ outbox(0) }, 20, '20 gifts in the outbox');

# the redrive stuck between the halves: the receiver's shard paused under
# its first gift_in, which Redis runs once it wakes (the client is gone)
redis_pause(1);
my $w = spawn_worker('cc-redrive', @redis, '--grace', '0', '--interval', '1', '--batch', '3');
select(undef, undef, undef, 0.5);
kill_worker($w);
redis_resume(1);
ok(wait_until(sub { redis_cmd(1, 'SCARD', gift_key($b, 'gi')) == 1 }, 5),
   'killed between the halves: one gift applied on the receiver');
is(scalar keys %{ outbox(0) }, 20, 'and all 20 still in the outbox');

# killed at random moments of its runs
for my $ms (3, 7, 12, 20, 30) {
    $w = spawn_worker('cc-redrive', @redis, '--grace', '0', '--interval', '1', '--batch', '2');
    select(undef, undef, undef, $ms / 1000);
    kill_worker($w);
}
my $left = scalar keys %{ outbox(0) };
note("$left gifts left after the kills");
($rc, $err) = redrive();
is($rc, 0, 'the next run succeeds');
like($err, qr/pass done: (\d+) gifts redriven, (\d+) found delivered/, 'it says what it did');
my ($redriven, $found) = $err =~ /pass done: (\d+) gifts redriven, (\d+) found delivered/;
is($redriven + $found, $left, 'it finished every gift left');
is_deeply(outbox(0), {}, 'the outbox is empty');
is(cards($b, 2), 20, 'the receiver holds exactly 20 cards of kind 2');
is(redis_cmd(1, 'SCARD', gift_key($b, 'gi')), 20, '20 gift ids applied');
is(scalar(grep { /^gi \d+:m\d+ $b \d+ 2$/ } @{ log_gifts(1) }), 20, 'one y=gi entry each');
is(scalar(grep { cards($_, 2) == 0 } @givers), 20, 'every giver gave its card');

# every half nginx applied is on Kafka once; the redrive's are the draw log's
(undef, $dump) = run_worker([ "$CcTest::TestToolDir/cc-kafka-dump", '--brokers', $ENV{TEST_KAFKA_BROKERS}, '--idle', 3000 ],
                            timeout => 60, ok => 1);
my @out = $dump =~ /"type":"gift_out","gift_id":"([^"]+)"/g;
my @in = $dump =~ /"type":"gift_in","gift_id":"([^"]+)"/g;
# x1's may have died in the killed worker's producer queue: the draw log
# has it, for cc-reconcile
my %out = map { $_ => 1 } @out;
is(scalar @out, scalar keys %out, 'Kafka: no gift_out twice');
is(join(' ', sort grep { $_ ne "$a:x1" } keys %out),
   join(' ', sort("$a:k1", "$a:d1", "$a:d2", "$a:p1", map { "$_:m$_" } @givers)),
   'Kafka: a gift_out for every gift given (x1 aside)');
is(scalar(grep { /^go / } @{ log_gifts(0) }), 25, "the giver's shard logged all 25, x1 included");
is(join(' ', sort @in), join(' ', sort "$a:k1", "$a:d2"), "Kafka: gift_in of the halves nginx applied (k1, and d2's retry)");

done_testing();
