# POST /cc/gift and POST /cc/ask, GET /cc/gifts (issue 19): every answer,
# with the Redis state behind it: both users' cards, the outbox, the
# receiver's applied gift ids, the log's y=go / y=gi entries.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;

start_nginx(undef, http_config => on_shards('cc_card_stock 4 10;', 'cc_gift_limit 3;', 'cc_ask_limit 2;'),
            config => gift_locations());

place_users(1 .. 30);
my @s0 = grep { shard_of($_) == 0 } 1 .. 30;
my @s1 = grep { shard_of($_) == 1 } 1 .. 30;
ok(@s0 >= 6 && @s1 >= 6, 'users on both shards');
my ($a, $b, $c) = ($s0[0], $s1[0], $s0[1]);    # b on the other shard, c on a's

# --- a gift across shards: delivered ----------------------------------------

seed_cards($a, 2, 2);
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=r1", $a),
   qq(200 {"gift_id":"$a:r1","to":"$b","kind":2,"status":"delivered"}), 'a gift across shards is delivered');
is(cards($a, 2), 1, 'the giver holds one less');
is(cards($b, 2), 1, 'the receiver holds one more');
is_deeply(outbox_drained(0), {}, 'the outbox is empty once delivered (gift_done after the answer)');
is_deeply(redis_cmd(1, 'SMEMBERS', gift_key($b, 'gi')), ["$a:r1"], "the receiver's applied gift ids");
is_deeply(log_gifts(0), ["go $a:r1 $a $b 2"], "the giver's shard logs y=go");
is_deeply(log_gifts(1), ["gi $a:r1 $b $a 2"], "the receiver's shard logs y=gi");
like(redis_cmd(0, 'HGET', user_key($a), '@r1'), qr/^$b:2:s:\d{13}:\d+$/, "the giver's answer is stored");
is(redis_cmd(0, 'ZSCORE', 'cc:outbox', "$a:r1"), undef, '... and the gift out of the outbox: delivered');

# a retry replays, nothing moves
is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=r1", $a),
   qq(200 {"gift_id":"$a:r1","to":"$b","kind":2,"status":"delivered"}), 'a retry replays');
is(gift_req('POST', "/cc/gift?to=$c&kind=0&request_id=r1", $a),
   qq(200 {"gift_id":"$a:r1","to":"$b","kind":2,"status":"delivered"}),
   'a retry with other arguments replays the first gift');
is(cards($a, 2) . ' ' . cards($b, 2), '1 1', 'retries moved nothing');
is(scalar @{ log_gifts(0) } + @{ log_gifts(1) }, 2, 'retries logged nothing');

# --- a gift on one shard ------------------------------------------------------

is(gift_req('POST', "/cc/gift?to=$c&kind=2&request_id=r2", $a),
   qq(200 {"gift_id":"$a:r2","to":"$c","kind":2,"status":"delivered"}), 'a gift on one shard');
is(cards($a, 2) . ' ' . cards($c, 2), '0 1', 'the last card moved');

# --- refusals -----------------------------------------------------------------

is(gift_req('POST', "/cc/gift?to=$b&kind=2&request_id=r3", $a), '409 {"error":"no_card"}', 'no card left: 409');
is(gift_req('POST', "/cc/gift?to=$b&kind=3&request_id=r4", $a), '409 {"error":"no_card"}', 'never held: 409');
ok(!redis_cmd(0, 'HEXISTS', user_key($a), '@r3'), 'a refusal stores no answer');
is(gift_req('POST', "/cc/gift?to=$a&kind=2&request_id=r5", $a), '400 {"error":"gift_to_self"}', 'a gift to oneself');
is(gift_req('POST', "/cc/gift?to=$b&kind=5&request_id=r5", $a), '400 {"error":"bad_kind"}', 'a kind that does not exist');
is(gift_req('POST', "/cc/gift?to=$b&kind=02&request_id=r5", $a), '400 {"error":"bad_kind"}', 'a kind not in its one form');
is(gift_req('POST', "/cc/gift?to=$b&kind=-1&request_id=r5", $a), '400 {"error":"bad_kind"}', 'a negative kind');
is(gift_req('POST', "/cc/gift?to=$b&request_id=r5", $a), '400 {"error":"bad_kind"}', 'no kind');
is(gift_req('POST', "/cc/gift?to=$b&kind=4&request_id=r5", $a), '400 {"error":"kind_not_givable"}',
   'the rare (stocked) kind without cc_gift_rare');
is(gift_req('POST', "/cc/gift?to=x&kind=1&request_id=r5", $a), '400 {"error":"bad_to"}', 'a bad receiver');
is(gift_req('POST', "/cc/gift?kind=1&request_id=r5", $a), '400 {"error":"bad_to"}', 'no receiver');
is(gift_req('POST', "/cc/gift?to=$b&to=$c&kind=1&request_id=r5", $a), '400 {"error":"bad_to"}', 'two receivers');
is(gift_req('POST', "/cc/gift?to=$b&kind=1", $a), '400 {"error":"bad_request_id"}', 'no request id');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=a:b", $a), '400 {"error":"bad_request_id"}', 'a bad request id');
is(gift_req('GET', "/cc/gift?to=$b&kind=1&request_id=r5", $a), '405 {"error":"method_not_allowed"}', 'GET');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=r5", 'x'), '400 {"error":"bad_uid"}', 'a bad caller');

# the daily limit: 3 gifts a day (r1, r2 given; r3's 409 is none)
seed_cards($a, 1, 5);
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=r6", $a),
   qq(200 {"gift_id":"$a:r6","to":"$b","kind":1,"status":"delivered"}), 'the third gift of the day');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=r7", $a), '429 {"error":"gift_limit"}', 'the fourth: 429');
is(cards($a, 1), 4, 'the refused gift took no card');
like(redis_cmd(0, 'HGET', user_key($a), 'gd'), qr/^\d+:3$/, 'the daily count is 3');
is(gift_req('POST', "/cc/gift?to=$b&kind=1&request_id=r6", $a),
   qq(200 {"gift_id":"$a:r6","to":"$b","kind":1,"status":"delivered"}), 'a retry past the limit still replays');

# --- asks ---------------------------------------------------------------------

my ($d, $e) = ($s1[1], $s0[2]);    # d asks e (another shard) for kind 3
seed_cards($e, 3, 2);
is(gift_req('POST', "/cc/ask?from=$e&kind=3&request_id=q1", $d), qq(200 {"ask_id":"$d:q1"}), 'an ask');
is(gift_req('POST', "/cc/ask?from=$e&kind=3&request_id=q1", $d), qq(200 {"ask_id":"$d:q1"}), 'a retried ask replays');
like(redis_cmd(1, 'HGET', gift_key($d, 'ao'), "$d:q1"), qr/^$e:3:\d{13}$/, "the asker's shard holds the ask");
like(redis_cmd(0, 'HGET', gift_key($e, 'ak'), "$d:q1"), qr/^$d:3:\d{13}:o$/, "the asked user's shard holds it, open");
is_deeply(redis_cmd(0, 'LRANGE', gift_key($e, 'al'), 0, -1), ["$d:q1"], 'once in the list');
is(gift_req('POST', "/cc/ask?from=$e&kind=1&request_id=q2", $d), qq(200 {"ask_id":"$d:q2"}), 'a second ask');
is(gift_req('POST', "/cc/ask?from=$e&kind=1&request_id=q3", $d), '429 {"error":"ask_limit"}', 'a third open ask: 429');
is(gift_req('POST', "/cc/ask?from=$d&kind=1&request_id=q3", $d), '400 {"error":"ask_from_self"}', 'asking oneself');
is(gift_req('POST', "/cc/ask?from=z&kind=1&request_id=q3", $d), '400 {"error":"bad_from"}', 'a bad from');
is(gift_req('POST', "/cc/ask?from=$e&kind=9&request_id=q3", $d), '400 {"error":"bad_kind"}', 'a bad kind');
is(gift_req('POST', "/cc/ask?from=$e&kind=4&request_id=q3", $d), '400 {"error":"kind_not_givable"}', 'the rare kind');
is(gift_req('POST', "/cc/ask?from=$e&kind=1", $d), '400 {"error":"bad_request_id"}', 'no request id');

# answering: only the user asked, once
is(gift_req('POST', "/cc/gift?ask_id=$d:q1&request_id=w1", $c), '404 {"error":"ask_not_found"}', 'by another user: 404');
is(gift_req('POST', "/cc/gift?ask_id=$d:q1&request_id=w1", $d), '404 {"error":"ask_not_found"}', 'by the asker: 404');
is(gift_req('POST', "/cc/gift?ask_id=$d:nope&request_id=w1", $e), '404 {"error":"ask_not_found"}', 'an unknown ask: 404');
is(gift_req('POST', "/cc/gift?ask_id=x&request_id=w1", $e), '400 {"error":"bad_ask_id"}', 'a bad ask id');
is(gift_req('POST', "/cc/gift?ask_id=$d:q1&to=$d&request_id=w1", $e), '400 {"error":"bad_ask_id"}', 'ask_id and to');
is(cards($e, 3), 2, 'no card moved');
is(gift_req('POST', "/cc/gift?ask_id=$d:q1&request_id=w1", $e),
   qq(200 {"gift_id":"$e:w1","to":"$d","kind":3,"status":"delivered"}), 'the user asked answers');
is(cards($e, 3) . ' ' . cards($d, 3), '1 1', 'one card moved');
like(redis_cmd(0, 'HGET', gift_key($e, 'ak'), "$d:q1"), qr/^$d:3:\d{13}:a$/, 'the ask is answered');
is(gift_req('POST', "/cc/gift?ask_id=$d:q1&request_id=w1", $e),
   qq(200 {"gift_id":"$e:w1","to":"$d","kind":3,"status":"delivered"}), 'a retry of the answer replays');
is(gift_req('POST', "/cc/gift?ask_id=$d:q1&request_id=w2", $e), '409 {"error":"ask_answered"}', 'answered twice: 409');
is(cards($e, 3) . ' ' . cards($d, 3), '1 1', 'nothing moved twice');
is(gift_req('POST', "/cc/gift?ask_id=$d:q2&request_id=w3", $e), '409 {"error":"no_card"}', 'an ask for a card not held');
like(redis_cmd(0, 'HGET', gift_key($e, 'ak'), "$d:q2"), qr/:o$/, 'stays open');

# an expired ask
redis_cmd(0, 'HSET', gift_key($e, 'ak'), "$d:old", "$d:3:1000:o");
is(gift_req('POST', "/cc/gift?ask_id=$d:old&request_id=w4", $e), '410 {"error":"ask_expired"}', 'an expired ask: 410');

# --- GET /cc/gifts ------------------------------------------------------------

# a sent gift is "delivered" once its gift_done ran, after its answer
is_deeply([ outbox_drained(0), outbox_drained(1) ], [ {}, {} ], 'the outboxes are drained');

my $list = gift_req('GET', '/cc/gifts', $d);
like($list, qr/^200 \{"received":\[\{"gift_id":"$e:w1","from":"$e","kind":3,"ts":\d{13}\}\],"sent":\[\],"asks":\[\]\}$/,
     "the asker's list");
$list = gift_req('GET', '/cc/gifts', $e);
like($list, qr/^200 \{"received":\[\],"sent":\[\{"gift_id":"$e:w1","to":"$d","kind":3,"ts":\d{13},"status":"delivered"\}\],"asks":\[\{"ask_id":"$d:q2","from":"$d","kind":1,"expires":\d{13},"status":"open"\},\{"ask_id":"$d:q1","from":"$d","kind":3,"expires":\d{13},"status":"answered"\}\]\}$/,
     "the asked user's list, newest first");
$list = gift_req('GET', '/cc/gifts', $a);
like($list, qr/"sent":\[\{"gift_id":"$a:r6".*\{"gift_id":"$a:r2".*\{"gift_id":"$a:r1"/, "the giver's sent list, newest first");
is(gift_req('POST', '/cc/gifts', $a), '405 {"error":"method_not_allowed"}', 'POST /cc/gifts');

# --- metrics ------------------------------------------------------------------

my (undef, $m) = http_request('GET', '/cc/metrics');
like($m, qr/^cc_gifts_total\{result="delivered"\} 4$/m, "metrics: 4 delivered");
like($m, qr/^cc_gifts_total\{result="replayed"\} 4$/m, "metrics: 4 replayed");
like($m, qr/^cc_gifts_total\{result="no_card"\} 3$/m, 'metrics: 3 no_card');
like($m, qr/^cc_gifts_total\{result="gift_limit"\} 1$/m, 'metrics: 1 gift_limit');
like($m, qr/^cc_gifts_total\{result="ask_not_found"\} 3$/m, 'metrics: 3 ask_not_found');
like($m, qr/^cc_asks_total\{result="ok"\} 2$/m, 'metrics: 2 asks');
like($m, qr/^cc_asks_total\{result="ask_limit"\} 1$/m, 'metrics: 1 ask_limit');

done_testing();
