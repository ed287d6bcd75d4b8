# POST /cc/flip: every response of the contract, and the Redis state
# behind it.  repeat_each(2): each request is sent twice, so every block
# also proves that a retry with the same request id answers the same body
# and changes nothing (the redis_after state is checked after the retry).
#
# Every block runs on one shard with a location per handler: its
# "--- http_config on_shard0" and "--- config all_locations" (filters of
# t/lib/CcTest.pm) hold only the directives that block varies.

use lib 't/lib';
use CcTest;

repeat_each(2);
plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: a flip spends a chance, draws a card, and a retry replays it
cc_cards 1 1000000 makes card 1 all but certain, so the body is exact.
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 3
--- request
POST /cc/flip?request_id=abc
--- more_headers
X-CC-Uid: 7
--- response_headers
Content-Type: application/json
--- response_body: {"draw_id":"7:1","card":1,"chances_left":2}
--- redis_after
HGET cc:{7}:u c => 2
HGET cc:{7}:u s => 1
HGET cc:{7}:u k1 => 1
HGET cc:{7}:u k0 => (nil)
HGET cc:{7}:u :abc =~ ^1:1:2:\d+$
HLEN cc:{7}:u => 5
XLEN cc:draws => 1
XRANGE cc:draws - + =~ ^\d+-\d+,d,7:1:1:\d{13}:abc$
--- no_error_log
[error]



=== TEST 2: answers are kept for cc_request_ttl: older ones go on the next flip
The user hash holds each answer with its period (time / cc_request_ttl).
The first flip of a newer period drops the answers of periods before the
previous one, and only those.
--- http_config on_shard0
    cc_cards 1 1000000;
    cc_request_ttl 1h;
--- config all_locations
--- init
sleep 3 if time % 3600 > 3597;           # not across a period's edge
our $G = int(time / 3600);
redis_cmd(0, 'HSET', 'cc:{9}:u', c => 1, s => 2, k1 => 2, g => $G - 1,
          ':old' => '1:1:9:' . ($G - 2), ':prev' => '2:1:8:' . ($G - 1));
--- request
POST /cc/flip?request_id=r-9_x
--- more_headers
X-CC-Uid: 9
--- response_body: {"draw_id":"9:3","card":1,"chances_left":0}
--- check_tests: 4
--- check
our $G;
is(redis_cmd(0, 'HGET', 'cc:{9}:u', ':r-9_x'), "3:1:0:$G", 'the answer, with its period');
is(redis_cmd(0, 'HGET', 'cc:{9}:u', 'g'), $G, 'the user\'s period moved on');
is(redis_cmd(0, 'HEXISTS', 'cc:{9}:u', ':old'), 0, 'the answer of two periods ago is gone');
is(redis_cmd(0, 'HGET', 'cc:{9}:u', ':prev'), '2:1:8:' . ($G - 1), 'the previous period\'s is kept');
--- no_error_log
[error]



=== TEST 3: an answer of the previous period is still replayed
--- http_config on_shard0
    cc_request_ttl 1h;
--- config all_locations
--- init
sleep 3 if time % 3600 > 3597;
our $G = int(time / 3600);
redis_cmd(0, 'HSET', 'cc:{9}:u', c => 8, s => 2, k1 => 2, g => $G - 1,
          ':prev' => '2:1:8:' . ($G - 1));
--- request
POST /cc/flip?request_id=prev
--- more_headers
X-CC-Uid: 9
--- response_body: {"draw_id":"9:2","card":1,"chances_left":8}
--- check_tests: 2
--- check
our $G;
is(redis_cmd(0, 'HGET', 'cc:{9}:u', 'c'), 8, 'a replay spends nothing');
is(redis_cmd(0, 'HGET', 'cc:{9}:u', 'g'), $G - 1, 'and prunes nothing');
--- redis_after
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 4: a user's period never goes back (a node's clock behind)
--- http_config on_shard0
    cc_cards 1 1000000;
    cc_request_ttl 1h;
--- config all_locations
--- init
our $G = int(time / 3600) + 5;
redis_cmd(0, 'HSET', 'cc:{9}:u', c => 2, s => 1, k1 => 1, g => $G,
          ':new' => "1:1:2:$G");
--- request
POST /cc/flip?request_id=late
--- more_headers
X-CC-Uid: 9
--- response_body: {"draw_id":"9:2","card":1,"chances_left":1}
--- check_tests: 3
--- check
our $G;
is(redis_cmd(0, 'HGET', 'cc:{9}:u', ':late'), "2:1:1:$G", 'the answer takes the user\'s period');
is(redis_cmd(0, 'HGET', 'cc:{9}:u', 'g'), $G, 'which stays');
is(redis_cmd(0, 'HGET', 'cc:{9}:u', ':new'), "1:1:2:$G", 'nothing pruned');
--- no_error_log
[error]



=== TEST 5: no chances left: 409, nothing stored, nothing changed
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{8}:u c 0 s 4 k2 4
--- request
POST /cc/flip?request_id=late
--- more_headers
X-CC-Uid: 8
--- error_code: 409
--- response_body: {"error":"no_chances"}
--- redis_after
HGET cc:{8}:u c => 0
HGET cc:{8}:u s => 4
HGET cc:{8}:u k2 => 4
HLEN cc:{8}:u => 3
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 6: an unknown user has no chances and gets no key
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=first
--- more_headers
X-CC-Uid: 123456789
--- error_code: 409
--- response_body: {"error":"no_chances"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 7: no uid header
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=a
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 8: uid 0
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=a
--- more_headers
X-CC-Uid: 0
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 9: uid with a leading zero (two spellings of one user)
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=a
--- more_headers
X-CC-Uid: 07
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 10: uid above 2^64-1
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=a
--- more_headers
X-CC-Uid: 18446744073709551616
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 11: uid that is not a decimal
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=a
--- more_headers
X-CC-Uid: -5
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 12: the largest uid is a user like any other
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
--- redis_before
HSET cc:{18446744073709551615}:u c 1
--- request
POST /cc/flip?request_id=max
--- more_headers
X-CC-Uid: 18446744073709551615
--- response_body: {"draw_id":"18446744073709551615:1","card":1,"chances_left":0}
--- no_error_log
[error]



=== TEST 13: no request id
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_request_id"}
--- no_error_log
[error]



=== TEST 14: empty request id
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_request_id"}
--- no_error_log
[error]



=== TEST 15: request id of 65 characters
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 5
--- request
POST /cc/flip?request_id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_request_id"}
--- redis_after
HGET cc:{7}:u c => 5
--- no_error_log
[error]



=== TEST 16: request id of 64 characters is fine
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 5
--- request
POST /cc/flip?request_id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
--- more_headers
X-CC-Uid: 7
--- response_body: {"draw_id":"7:1","card":1,"chances_left":4}
--- no_error_log
[error]



=== TEST 17: request id with a character outside [A-Za-z0-9_-]
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=a:b
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_request_id"}
--- no_error_log
[error]



=== TEST 18: an escaped request id is not decoded into a valid one
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/flip?request_id=%61bc
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_request_id"}
--- no_error_log
[error]



=== TEST 19: GET is not allowed
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 5
--- request
GET /cc/flip?request_id=abc
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_headers
Allow: POST
--- response_body: {"error":"method_not_allowed"}
--- redis_after
HGET cc:{7}:u c => 5
--- no_error_log
[error]



=== TEST 20: PUT with a body is not allowed either
--- http_config on_shard0
--- config all_locations
--- request
PUT /cc/flip?request_id=abc
{"card":4}
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_body: {"error":"method_not_allowed"}
--- no_error_log
[error]



=== TEST 21: a POST body is refused, not read: the caller cannot choose the card
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=abc&card=0&r=0
{"card":0,"r":0}
--- more_headers
X-CC-Uid: 7
--- error_code: 413
--- response_body: {"error":"body_not_allowed"}
--- redis_after
HGET cc:{7}:u c => 2
HGET cc:{7}:u s => (nil)
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 21a: the arguments other than request_id are ignored: the caller cannot choose the card
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=abc&card=0&r=0
--- more_headers
X-CC-Uid: 7
--- response_body: {"draw_id":"7:1","card":1,"chances_left":1}
--- no_error_log
[error]



=== TEST 22: the uid header's name is configurable
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
    cc_identity trusted_header X-Gateway-User;
--- redis_before
HSET cc:{5}:u c 1
--- request
POST /cc/flip?request_id=abc
--- more_headers
X-Gateway-User: 5
X-CC-Uid: 6
--- response_body: {"draw_id":"5:1","card":1,"chances_left":0}
--- no_error_log
[error]



=== TEST 23: the default header is not trusted once another is named
--- http_config on_shard0
--- config all_locations
    cc_identity trusted_header X-Gateway-User;
--- request
POST /cc/flip?request_id=abc
--- more_headers
X-CC-Uid: 6
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 24: two flips with different ids are two draws
--- http_config on_shard0
    cc_cards 1000000 1;
--- config all_locations
--- redis_before
HSET cc:{3}:u c 5 s 1 k0 1 :one 1:0:5:0
--- request
POST /cc/flip?request_id=two
--- more_headers
X-CC-Uid: 3
--- response_body: {"draw_id":"3:2","card":0,"chances_left":4}
--- redis_after
HGET cc:{3}:u s => 2
HGET cc:{3}:u k0 => 2
HGET cc:{3}:u :one => 1:0:5:0
--- no_error_log
[error]



=== TEST 25: every kind capped and spent: 503, nothing spent, the reason logged
--- http_config on_shard0
    cc_cards 1 1;
    cc_card_stock 0 0;
    cc_card_stock 1 0;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 3
--- request
POST /cc/flip?request_id=none
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- redis_after
HGET cc:{7}:u c => 3
HLEN cc:{7}:u => 1
XLEN cc:draws => 0
EXISTS cc:stock:0 cc:stock:1 => 0
--- error_log
every card kind is out of stock
