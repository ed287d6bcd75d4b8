# The giver's answers in the user hash (cc:{uid}:u "@request_id" and gd,
# gift_out.lua): a campaign upgraded from the layout that kept them in
# cc:{uid}:ga replays the old answers and counts the old day's gifts, the
# user's first gift moving ga into u in the same step; flip.lua's dropping
# of old answers leaves the gift answers alone.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;

start_nginx(undef, http_config => on_shards('cc_gift_limit 3;'), config => gift_locations());

place_users(1 .. 30);
my @s0 = grep { shard_of($_) == 0 } 1 .. 30;
my @s1 = grep { shard_of($_) == 1 } 1 .. 30;
ok(@s0 >= 4 && @s1 >= 2, 'users on both shards');
my ($a, $b, $c) = ($s0[0], $s1[0], $s0[1]);
my $ms = int(time() * 1000);
my $day = int(time() / 86400);

# --- a giver of the old layout: two answers and today's count in ga ----------
# old1 still in the outbox (sent), old2 delivered and rewritten to d by an
# older gift_done.lua

seed_cards($a, 2, 3);
redis_cmd(0, 'HSET', gift_key($a, 'ga'), ':old1', "$b:2:s:$ms", ':old2', "$b:2:d:$ms", 'd', "$day:2");
redis_cmd(0, 'ZADD', outbox_key(), $ms, "$a:old1");
redis_cmd(0, 'HSET', outbox_gifts_key(), "$a:old1", "$b:2:$ms");

is(gift_req('POST', "/cc/gift?to=$c&kind=0&request_id=old2", $a),
   qq(200 {"gift_id":"$a:old2","to":"$b","kind":2,"status":"delivered"}),
   "an old answer (d) is replayed, whatever the retry's arguments");
is(cards($a, 2) . ' ' . cards($b, 2), '3 0', '... and nothing moved');
is(redis_cmd(0, 'EXISTS', gift_key($a, 'ga')), 0, 'the old answers key is gone');
is(redis_cmd(0, 'HGET', user_key($a), '@old1'), "$b:2:s:$ms", 'its answers are in the user hash');
is(redis_cmd(0, 'HGET', user_key($a), '@old2'), "$b:2:d:$ms", '... both, as written');
is(redis_cmd(0, 'HGET', user_key($a), 'gd'), "$day:2", "... and today's count");
is(redis_cmd(0, 'HEXISTS', user_key($a), 'd'), 0, 'no field d in the user hash');
is(scalar @{ log_gifts(0) } + @{ log_gifts(1) }, 0, 'nothing logged');

is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=old1", $a),
   qq(200 {"gift_id":"$a:old1","to":"$b","kind":2,"status":"delivered"}),
   "the old answer still in the outbox: its receiver's half driven again, delivered");
is(cards($a, 2) . ' ' . cards($b, 2), '3 1', '... the card reaches the receiver, none taken from the giver');
is_deeply(outbox_drained(0), {}, '... and the gift leaves the outbox');

# the old count goes on: the third gift of the day given, the fourth refused
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=new1", $a),
   qq(200 {"gift_id":"$a:new1","to":"$b","kind":2,"status":"delivered"}), 'a new gift, the third of the day');
is(cards($a, 2) . ' ' . cards($b, 2), '2 2', 'one card moved');
like(redis_cmd(0, 'HGET', user_key($a), '@new1'), qr/^$b:2:s:\d{13}:\d+$/, 'its answer is in the user hash');
is(redis_cmd(0, 'HGET', user_key($a), 'gd'), "$day:3", 'the count is 3');
is(redis_cmd(0, 'EXISTS', gift_key($a, 'ga')), 0, 'no old answers key written');
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=new2", $a), '429 {"error":"gift_limit"}',
   'the fourth: 429, the old gifts counted');
is(cards($a, 2), 2, 'the refused gift took no card');
is_deeply(log_gifts(0), ["go $a:new1 $a $b 2"], 'one y=go, the new gift');
is_deeply(log_gifts(1), ["gi $a:old1 $b $a 2", "gi $a:new1 $b $a 2"], 'one y=gi each: old1, new1');

# --- an old answers key left beside a user hash that has gd ------------------
# (only a worker of an older version writing during an upgrade could do it:
# README "Upgrading"): the user hash decides, ga is not read again

redis_cmd(0, 'HSET', gift_key($a, 'ga'), ':late', "$b:2:s:$ms");
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=other", $a), '429 {"error":"gift_limit"}',
   'the user hash count decides');
is(redis_cmd(0, 'HGET', gift_key($a, 'ga'), ':late'), "$b:2:s:$ms", 'ga is left as it was');

# --- a giver with no old answers: nothing moved, ga never created ------------

seed_cards($c, 1, 2);
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=f1", $c),
   qq(200 {"gift_id":"$c:f1","to":"$b","kind":1,"status":"delivered"}), 'a first gift');
is(redis_cmd(0, 'EXISTS', gift_key($c, 'ga')), 0, 'no old answers key');
is(redis_cmd(0, 'HGET', user_key($c), 'gd'), "$day:1", 'the count is 1');
is(cards($c, 1) . ' ' . cards($b, 1), '1 1', 'one card moved');

# --- flip.lua drops old flip answers, never the gift answers ------------------
# the user's period 5 periods ago (cc_request_ttl 1d): the next flip drops
# the flip answers older than the previous period

my $G = int(time() / 86400);
redis_cmd(0, 'HSET', user_key($c), 'c', 1, 'g', $G - 5, ':fold', '1:0:0:' . ($G - 5));
my ($st, $body) = http_request('POST', '/cc/flip?request_id=fnew', { 'X-CC-Uid' => $c });
is($st, 200, 'a flip in a newer period');
like($body, qr/^\{"draw_id":"$c:\d+","card":\d,"chances_left":0\}$/, '... its body');
is(redis_cmd(0, 'HEXISTS', user_key($c), ':fold'), 0, 'the old flip answer is dropped');
like(redis_cmd(0, 'HGET', user_key($c), '@f1'), qr/^$b:1:s:\d{13}:\d+$/, 'the gift answer is kept');
is(redis_cmd(0, 'HGET', user_key($c), 'gd'), "$day:1", 'and the count');
my $held = cards($c, 1) . ' ' . cards($b, 1);    # the flip drew a card
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=f1", $c),
   qq(200 {"gift_id":"$c:f1","to":"$b","kind":1,"status":"delivered"}), 'the gift is still replayed');
is(cards($c, 1) . ' ' . cards($b, 1), $held, '... moving nothing');

# --- GET /cc/gifts: a giver of the old layout lists its old sent list ------
# until its first gift moves its answers in; then the answers, newest first
# (ms, then the gift's number in its day), with their status from the outbox

my $e = $s0[3];
seed_cards($e, 0, 2);
redis_cmd(0, 'HSET', gift_key($e, 'ga'), ':o1', "$b:0:d:" . ($ms - 2), ':o2', "$b:0:s:" . ($ms - 1), 'd', "$day:2");
redis_cmd(0, 'RPUSH', gift_key($e, 'gs'), "o2:$b:0:" . ($ms - 1), "o1:$b:0:" . ($ms - 2));
redis_cmd(0, 'ZADD', outbox_key(), $ms - 1, "$e:o2");
redis_cmd(0, 'HSET', outbox_gifts_key(), "$e:o2", "$b:0:" . ($ms - 1));
my $want = qq({"gift_id":"$e:o2","to":"$b","kind":0,"ts":) . ($ms - 1) . qq(,"status":"sent"},)
         . qq({"gift_id":"$e:o1","to":"$b","kind":0,"ts":) . ($ms - 2) . qq(,"status":"delivered"});
is(gift_req('GET', '/cc/gifts', $e), qq(200 {"received":[],"sent":[$want],"asks":[]}),
   'the old sent list, before the first gift');
is(gift_req('POST', "/cc/gift?to=$b&kind=0&request_id=n1", $e),
   qq(200 {"gift_id":"$e:n1","to":"$b","kind":0,"status":"delivered"}), 'the first gift since');
is(redis_cmd(0, 'EXISTS', gift_key($e, 'ga')), 0, 'the old answers moved');
ok(wait_until(sub { !defined redis_cmd(0, 'ZSCORE', outbox_key(), "$e:n1:$b:0") }, 2), 'n1 left the outbox (its member: giver:request_id:to:kind)');
my $list = gift_req('GET', '/cc/gifts', $e);
like($list, qr/^200 \{"received":\[\],"sent":\[\{"gift_id":"$e:n1","to":"$b","kind":0,"ts":\d{13},"status":"delivered"\},\{"gift_id":"$e:o2",/,
     'the new gift first');
is_deeply([ $list =~ /"gift_id":"$e:(\w+)"/g ], [ 'n1', 'o2', 'o1' ], '... then the moved answers, newest first');
like($list, qr/"gift_id":"$e:o2","to":"$b","kind":0,"ts":\d+,"status":"sent"/, '... o2 still sent');
is(redis_cmd(0, 'HGET', user_key($e), 'gd'), "$day:3", 'the count goes on from the old one');

# --- an old answers key of the wrong type: that gift fails, nothing moves ----

my $d = $s0[2];
seed_cards($d, 1, 1);
redis_cmd(0, 'SET', gift_key($d, 'ga'), 'not a hash');
my $r = gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=w1", $d);
like($r, qr/^5\d\d /, 'a wrong-type old answers key: a 5xx') or diag $r;
is(cards($d, 1), 1, '... no card taken');
is(redis_cmd(0, 'HEXISTS', user_key($d), '@w1'), 0, '... no answer stored');

done_testing();
