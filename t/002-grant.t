# POST /cc/grant: chances added once per grant id.  repeat_each(2): every
# grant is sent twice, so the redis_after state proves that the repeated
# grant id added nothing.
#
# "--- http_config on_shard0" and "--- config all_locations" (filters of
# t/lib/CcTest.pm) add the one shard and a location per handler: a block
# holds only the directives it varies.

use lib 't/lib';
use CcTest;

repeat_each(2);
plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: a grant adds chances once
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/grant?grant_id=signup&n=5
--- more_headers
X-CC-Uid: 7
--- response_headers
Content-Type: application/json
--- response_body: {"chances":7}
--- redis_after
HGET cc:{7}:u c => 7
SISMEMBER cc:{7}:g signup => 1
--- no_error_log
[error]



=== TEST 2: a new user gets a hash and a grant set
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?n=100000&grant_id=task-42_b
--- more_headers
X-CC-Uid: 42
--- response_body: {"chances":100000}
--- redis_after
HGET cc:{42}:u c => 100000
SMEMBERS cc:{42}:g => task-42_b
--- no_error_log
[error]



=== TEST 3: another grant id adds again
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 3
SADD cc:{7}:g signup
--- request
POST /cc/grant?grant_id=share&n=1
--- more_headers
X-CC-Uid: 7
--- response_body: {"chances":4}
--- redis_after
HGET cc:{7}:u c => 4
SCARD cc:{7}:g => 2
--- no_error_log
[error]



=== TEST 4: a grant id already applied adds nothing and answers the chances
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 1
SADD cc:{7}:g signup
--- request
POST /cc/grant?grant_id=signup&n=5
--- more_headers
X-CC-Uid: 7
--- response_body: {"chances":1}
--- redis_after
HGET cc:{7}:u c => 1
--- no_error_log
[error]



=== TEST 5: grant ids are per user
--- http_config on_shard0
--- config all_locations
--- redis_before
SADD cc:{7}:g signup
--- request
POST /cc/grant?grant_id=signup&n=2
--- more_headers
X-CC-Uid: 8
--- response_body: {"chances":2}
--- redis_after
HGET cc:{8}:u c => 2
HGET cc:{7}:u c => (nil)
--- no_error_log
[error]



=== TEST 6: n = 0
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?grant_id=g&n=0
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_n"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 7: n above the bound
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?grant_id=g&n=100001
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_n"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 8: n negative
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?grant_id=g&n=-3
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_n"}
--- no_error_log
[error]



=== TEST 9: n missing
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?grant_id=g
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_n"}
--- no_error_log
[error]



=== TEST 10: grant id missing
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?n=3
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_grant_id"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 11: grant id with a bad character
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?grant_id=a.b&n=3
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_grant_id"}
--- no_error_log
[error]



=== TEST 12: grant without a uid
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/grant?grant_id=g&n=3
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 13: GET is not allowed
--- http_config on_shard0
--- config all_locations
--- request
GET /cc/grant?grant_id=g&n=3
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_headers
Allow: POST
--- response_body: {"error":"method_not_allowed"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 14: the internal location refuses outside addresses (nginx's deny)
--- http_config on_shard0
--- config
    location = /cc/grant { allow 10.0.0.0/8; deny all; cc_identity trusted_header X-CC-Uid; cc_grant; }
--- request
POST /cc/grant?grant_id=g&n=3
--- more_headers
X-CC-Uid: 7
--- error_code: 403
--- response_body_like: 403 Forbidden
--- redis_after
DBSIZE => 0



=== TEST 15: ... and lets the allowed ones in
--- http_config on_shard0
--- config
    location = /cc/grant { allow 127.0.0.1; deny all; cc_identity trusted_header X-CC-Uid; cc_grant; }
--- request
POST /cc/grant?grant_id=g&n=3
--- more_headers
X-CC-Uid: 7
--- response_body: {"chances":3}
--- redis_after
HGET cc:{7}:u c => 3
--- no_error_log
[error]



=== TEST 16: chances granted can then be flipped
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
--- init
my ($st, $body) = CcTest::http_request('POST', '/cc/grant?grant_id=g1&n=1', { 'X-CC-Uid' => 11 });
die "grant: $st $body" unless $st == 200 && $body eq '{"chances":1}';
--- request
POST /cc/flip?request_id=f1
--- more_headers
X-CC-Uid: 11
--- response_body: {"draw_id":"11:1","card":1,"chances_left":0}
--- redis_after
HGET cc:{11}:u c => 0
--- no_error_log
[error]
