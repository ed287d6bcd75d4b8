# The gift outbox in one sorted set (issue 19): a gift in transit is the
# member "giver:request_id:to:kind" of cc:outbox by the ms of its giver's
# half, and nothing else (gift_out.lua: one ZADD; gift_done.lua: one
# ZREM); cc-redrive and the cards check read it back.  And the upgrade: a
# campaign upgraded with gifts in flight holds old ones, a bare gift id
# member with its "to:kind:ms" in the hash cc:outbox:g.  Each old gift is
# counted by the cards check, redriven once (or delivered once by a
# retry through nginx) and removed from both keys.
#
# First by hand, as the scripts leave the keys (t/116's way), with MySQL:
# the cards check, cc-redrive.  Then through nginx: a gift sent while its
# receiver's shard is down, redriven once; a delivered gift's gift_done;
# an old gift's retry.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;
use CcCampaign qw(shard_args run_reconcile fake_draws);
use PayoutTest qw(payout_setup shard_map redis_index);

payout_setup();

my $map = shard_map(1 .. 80);
sub rs { redis_index($map->{ $_[0] }[0]) }
my ($A) = grep { rs($_) == 0 } 1 .. 80;
my ($B) = grep { rs($_) == 1 } 1 .. 80;
my $ms = int(time * 1000) - 60_000;
my %seq;
my @redis = map { ('--redis', $_) } split ' ', $ENV{TEST_NGINX_REDIS_SHARDS};

# flip.lua: s and the kind's count in the hash, the draw in the log
sub draw { my ($uid, @cards) = @_; fake_draws(rs($uid), $uid, \%seq, $ms, @cards) }

# gift_out.lua's giver's half: the card taken, the log's y=go, and the
# outbox in this version's shape or, old => 1, in the old one
sub give {
    my ($giver, $to, $k, $rid, %o) = @_;
    my $g = rs($giver);
    redis_cmd($g, 'HINCRBY', user_key($giver), "k$k", -1);
    if ($o{old}) {
        redis_cmd($g, 'ZADD', outbox_key(), $ms, "$giver:$rid");
        redis_cmd($g, 'HSET', outbox_gifts_key(), "$giver:$rid", "$to:$k:$ms");
    } else {
        redis_cmd($g, 'ZADD', outbox_key(), $ms, "$giver:$rid:$to:$k");
    }
    redis_cmd($g, 'XADD', log_key(), '*', 'y', 'go', 'g', "$giver:$rid", 'u', $giver, 'p', $to, 'k', $k, 't', $ms);
}

sub check { run_reconcile('--cards') }

sub redrive {
    my ($rc, undef, $err) = run_worker([ 'cc-redrive', @redis, '--once', '--grace', 0 ], timeout => 30);
    return ($rc, $err);
}

# ---- by hand: one gift of each shape in transit ---------------------------------

draw($A, 0, 0, 1, 1);
draw($B, 2);
give($A, $B, 0, 'o1', old => 1);
give($A, $B, 1, 'n1');
is_deeply(outbox(0), { "$A:o1" => "$B:0:$ms", "$A:n1" => "$B:1:$ms" }, 'both gifts in the outbox, each in its shape');

my ($rc, $err) = check();
is($rc, 0, 'the cards check: clean') or diag $err;
like($err, qr/cards: kind 0: held 1 \+ in transit 1 = drawn 2 - combined 0 = 2; MySQL given 1 - received 0 = 1 in transit: ok/,
     'kind 0: the old gift (bare member, its value in the hash) counted in transit');
like($err, qr/cards: kind 1: held 1 \+ in transit 1 = drawn 2 - combined 0 = 2; MySQL given 1 - received 0 = 1 in transit: ok/,
     "kind 1: this version's member counted in transit");
like($err, qr/cards: 2 users, 2 gifts in transit; 0 differences/, 'the summary: 2 in transit');

($rc, $err) = redrive();
is($rc, 0, 'cc-redrive --once: exit 0') or diag $err;
like($err, qr/pass done: 2 gifts redriven, 0 found delivered, 0 unreadable; 0 left in the outboxes/, 'both redriven');
is_deeply([ map { redis_cmd(rs($B), 'HGET', user_key($B), "k$_") } 0 .. 2 ], [ 1, 1, 1 ], 'the receiver holds each card once');
is_deeply([ sort @{ redis_cmd(rs($B), 'SMEMBERS', gift_key($B, 'gi')) } ], [ sort "$A:n1", "$A:o1" ],
          'both gift ids applied (the gift id, not the member)');
is_deeply([ sort @{ log_gifts(rs($B)) } ], [ sort "gi $A:n1 $B $A 1", "gi $A:o1 $B $A 0" ], "the receiver's log: one y=gi each");
is(redis_cmd(0, 'ZCARD', outbox_key()), 0, 'the outbox is empty');
is(redis_cmd(0, 'EXISTS', outbox_gifts_key()), 0, "the old gift's field removed with its member");

($rc, $err) = redrive();
like($err, qr/pass done: 0 gifts redriven, 0 found delivered, 0 unreadable; 0 left/, 'a second pass: nothing');
is(redis_cmd(rs($B), 'HGET', user_key($B), 'k0'), 1, 'nothing delivered twice');

($rc, $err) = check();
is($rc, 0, 'the cards check after the redrive: clean') or diag $err;
like($err, qr/cards: 2 users, 0 gifts in transit; 0 differences/, 'nothing in transit');

# ---- entries that do not read: skipped, left, counted ------------------------------

redis_cmd(0, 'ZADD', outbox_key(), $ms, "$A:self:$A:0", $ms, "$A:o9", $ms, "$A:n9:$B:16");
($rc, $err) = redrive();
is($rc, 0, 'a pass over unreadable entries: exit 0 (they are logged, not retried)') or diag $err;
like($err, qr/outbox entry "$A:self:$A:0" skipped: gift to its giver/, 'a member to its giver named');
like($err, qr/outbox entry "$A:o9" skipped: no value in cc:outbox:g/, 'an old member without its value named');
like($err, qr/outbox entry "$A:n9:$B:16" skipped: bad kind/, 'a kind past the kinds named');
like($err, qr/pass done: 0 gifts redriven, 0 found delivered, 3 unreadable; 3 left/, 'three unreadable, left');
($rc, $err) = check();
is($rc, 1, 'the cards check: exit 1');
is(scalar(() = $err =~ /outbox gift \S+: "$ms" is not giver:request_id:to:kind by its ms/g), 2,
   "this version's two bad members named (the old one is the hash's to name)");
redis_cmd(0, 'DEL', outbox_key());

# ---- through nginx ----------------------------------------------------------------

my $nginx = start_nginx(undef, workers => 1,
    http_config => on_shards('cc_redis_timeout 300ms;'),
    config => gift_locations());
place_users(101 .. 180);
my @s0 = grep { shard_of($_) == 0 } 101 .. 180;
my @s1 = grep { shard_of($_) == 1 } 101 .. 180;
my ($a, $b) = ($s0[0], $s1[0]);
seed_cards($a, 1, 5);
seed_cards($a, 2, 1);

# a gift sent while its receiver's shard is down: its member, then redriven
redis_stop(1);
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=s1", $a),
   qq(200 {"gift_id":"$a:s1","to":"$b","kind":1,"status":"sent"}), "the receiver's shard down: sent");
my $m = outbox_members(0);
is_deeply([ keys %$m ], [ "$a:s1:$b:1" ], 'the outbox member: giver:request_id:to:kind');
like($m->{"$a:s1:$b:1"}, qr/^\d{13}$/, '... by the ms of the giver\'s half');
is(redis_cmd(0, 'EXISTS', outbox_gifts_key()), 0, 'and no hash');
like(gift_req('GET', '/cc/gifts', $a), qr/"gift_id":"$a:s1","to":"$b","kind":1,"ts":\d{13},"status":"sent"/,
     'GET /cc/gifts: sent');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=s1", $a),
   qq(200 {"gift_id":"$a:s1","to":"$b","kind":1,"status":"sent"}), 'a retry while it is down replays sent');
redis_start(1);
($rc, $err) = redrive();
is($rc, 0, 'the shard back: cc-redrive --once exits 0') or diag $err;
like($err, qr/pass done: 1 gifts redriven, 0 found delivered, 0 unreadable; 0 left/, 'redriven once');
is(cards($b, 1), 1, 'the receiver holds the card');
is(cards($a, 1), 4, 'the giver gave one');
is_deeply(redis_cmd(1, 'SMEMBERS', gift_key($b, 'gi')), [ "$a:s1" ], 'the gift id applied');
is(redis_cmd(0, 'ZCARD', outbox_key()), 0, 'the outbox is empty');
($rc, $err) = redrive();
like($err, qr/pass done: 0 gifts redriven, 0 found delivered/, 'a second pass: nothing');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=s1", $a),
   qq(200 {"gift_id":"$a:s1","to":"$b","kind":1,"status":"delivered"}), 'a retry replays delivered');
is(cards($b, 1), 1, '... and moves nothing');

# a delivered gift: gift_done takes its member out
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=d1", $a),
   qq(200 {"gift_id":"$a:d1","to":"$b","kind":1,"status":"delivered"}), 'delivered');
ok(wait_until(sub { redis_cmd(0, 'ZCARD', outbox_key()) == 0 }, 2), "its gift_done took the member out");
like((http_request('GET', '/cc/metrics'))[1], qr/^cc_gift_done_total\{result="done"\} [1-9]/m, 'metric: gift_done done');
is(cards($b, 1), 2, 'the receiver holds it');

# an old gift still in the outbox (bare member, its field): a retry through
# nginx finds it sent, delivers it, and its gift_done removes both
redis_cmd(0, 'HSET', user_key($a), 'k2', 0, '@o1', "$b:2:s:$ms:9");
redis_cmd(0, 'ZADD', outbox_key(), $ms, "$a:o1");
redis_cmd(0, 'HSET', outbox_gifts_key(), "$a:o1", "$b:2:$ms");
like(gift_req('GET', '/cc/gifts', $a), qr/"gift_id":"$a:o1","to":"$b","kind":2,"ts":$ms,"status":"sent"/,
     'GET /cc/gifts: the old gift is sent (its bare member)');
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=o1", $a),
   qq(200 {"gift_id":"$a:o1","to":"$b","kind":2,"status":"delivered"}), "the old gift's retry: delivered");
is(cards($b, 2), 1, 'the receiver holds its card');
is(cards($a, 2), 0, 'the giver gave nothing more');
ok(wait_until(sub { redis_cmd(0, 'ZCARD', outbox_key()) == 0 }, 2), 'its gift_done took the bare member out');
is(redis_cmd(0, 'EXISTS', outbox_gifts_key()), 0, '... and its field');
like(gift_req('GET', '/cc/gifts', $a), qr/"gift_id":"$a:o1","to":"$b","kind":2,"ts":$ms,"status":"delivered"/,
     'GET /cc/gifts: delivered');
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=o1", $a),
   qq(200 {"gift_id":"$a:o1","to":"$b","kind":2,"status":"delivered"}), 'a second retry replays delivered');
is(cards($b, 2), 1, '... and moves nothing');
is_deeply([ sort @{ redis_cmd(1, 'SMEMBERS', gift_key($b, 'gi')) } ], [ sort "$a:s1", "$a:d1", "$a:o1" ],
          'three gift ids applied, once each');
($rc, $err) = redrive();
like($err, qr/pass done: 0 gifts redriven, 0 found delivered, 0 unreadable; 0 left/, 'nothing left to redrive');

done_testing();
