# GET /cc/eligibility and POST /cc/combine: the cards a user holds, and one
# of every kind given once for eligibility (合成).  repeat_each(2): every
# combine is sent twice, so the redis_after state proves a second combine
# consumes nothing.
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

=== TEST 1: eligibility of a user with some cards
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 3 s 4 k0 2 k2 1 k4 1
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_headers
Content-Type: application/json
--- response_body: {"cards":[2,0,1,0,1],"kinds":5,"combined":false,"eligible":false}
--- no_error_log
[error]



=== TEST 2: eligibility of an unknown user: nothing, and no key made
--- http_config on_shard0
    cc_cards 1 1 1;
--- config all_locations
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 99
--- response_body: {"cards":[0,0,0],"kinds":3,"combined":false,"eligible":false}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 3: combine a full set: one of each consumed, eligible
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 0 s 9 k0 2 k1 1 k2 3 k3 1 k4 2
--- request
POST /cc/combine?request_id=set1
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,0,2,0,1],"kinds":5,"combined":true,"eligible":true}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 => 1,0,2,0,1
HGET cc:{7}:u e =~ ^set1:\d{13}$
XLEN cc:draws => 1
--- no_error_log
[error]



=== TEST 4: the combine is in the draw log, for MySQL
--- http_config on_shard0
    cc_cards 5 5;
--- config all_locations
--- redis_before
HSET cc:{8}:u k0 1 k1 1
--- request
POST /cc/combine?request_id=c-8
--- more_headers
X-CC-Uid: 8
--- response_body: {"cards":[0,0],"kinds":2,"combined":true,"eligible":true}
--- redis_after
XRANGE cc:draws - + =~ ^\d+-\d+,y,c,u,8,r,c-8,t,\d{13}$
--- no_error_log
[error]



=== TEST 5: a missing kind: 409, nothing consumed
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 2 k1 1 k2 3 k3 1
--- request
POST /cc/combine?request_id=set1
--- more_headers
X-CC-Uid: 7
--- error_code: 409
--- response_body: {"error":"missing_cards"}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 e => 2,1,3,1,(nil),(nil)
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 6: a second combine, with another request id, consumes nothing
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k3 1 k4 1 e first:1764240000000
--- request
POST /cc/combine?request_id=second
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,1,1,1,1],"kinds":5,"combined":true,"eligible":true}
--- redis_after
HMGET cc:{7}:u k0 k4 e => 1,1,first:1764240000000
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 7: eligibility after a combine
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 0 k1 3 e x:1764240000000
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[0,3,0,0,0],"kinds":5,"combined":true,"eligible":true}
--- no_error_log
[error]



=== TEST 8: eligibility without a uid
--- http_config on_shard0
--- config all_locations
--- request
GET /cc/eligibility
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 9: eligibility is a GET
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_headers
Allow: GET
--- response_body: {"error":"method_not_allowed"}
--- no_error_log
[error]



=== TEST 10: combine without a request id
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k3 1 k4 1
--- request
POST /cc/combine
--- more_headers
X-CC-Uid: 7
--- error_code: 400
--- response_body: {"error":"bad_request_id"}
--- redis_after
HGET cc:{7}:u e => (nil)
--- no_error_log
[error]



=== TEST 11: combine without a uid
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/combine?request_id=a
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 12: combine is a POST
--- http_config on_shard0
--- config all_locations
--- request
GET /cc/combine?request_id=a
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_body: {"error":"method_not_allowed"}
--- no_error_log
[error]



=== TEST 13: a user's key of the wrong type: 503, logged
--- http_config on_shard0
--- config all_locations
--- redis_before
SET cc:{7}:u garbage
--- request
POST /cc/combine?request_id=a
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- error_log
WRONGTYPE



=== TEST 14: after the campaign: a flip is 403 campaign_closed, nothing spent
--- http_config on_shard0
    cc_campaign_start 2020-01-01T00:00:00Z;
    cc_campaign_end 2021-01-01T00:00:00Z;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 3
--- request
POST /cc/flip?request_id=late
--- more_headers
X-CC-Uid: 7
--- error_code: 403
--- response_body: {"error":"campaign_closed"}
--- redis_after
HGET cc:{7}:u c => 3
HLEN cc:{7}:u => 1
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 15: after the campaign: a grant is 403 campaign_closed
--- http_config on_shard0
    cc_campaign_end 2021-01-01T00:00:00Z;
--- config all_locations
--- request
POST /cc/grant?grant_id=g&n=5
--- more_headers
X-CC-Uid: 7
--- error_code: 403
--- response_body: {"error":"campaign_closed"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 16: before the campaign: a combine is 403 campaign_closed
--- http_config on_shard0
    cc_campaign_start 2099-01-01T00:00:00Z;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k3 1 k4 1
--- request
POST /cc/combine?request_id=early
--- more_headers
X-CC-Uid: 7
--- error_code: 403
--- response_body: {"error":"campaign_closed"}
--- redis_after
HMGET cc:{7}:u k0 e => 1,(nil)
--- no_error_log
[error]



=== TEST 17: after the campaign: eligibility stays readable
--- http_config on_shard0
    cc_campaign_start 2020-01-01T00:00:00Z;
    cc_campaign_end 2021-01-01T00:00:00Z;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k3 1 k4 0 e x:1600000000000
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,1,1,1,0],"kinds":5,"combined":true,"eligible":true}
--- no_error_log
[error]
