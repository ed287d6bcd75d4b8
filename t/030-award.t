# GET /cc/award: the user's award of the split, read from the field w of
# the user hash ("p|c:amount_cents:award_id", written by cc-draw and
# cc-payout; here by redis_before), and nothing written.  repeat_each(2):
# the read is sent twice and answers the same.
#
# "--- http_config on_shard0" and "--- config all_locations" (filters of
# t/lib/CcTest.pm) add the shard and a location per handler, the award's
# and the claim's among them; "--- config with_token" (t/lib/CcToken.pm)
# puts them behind cc_identity token.

use lib 't/lib';
use CcTest;
use CcToken;

$ENV{TEST_NGINX_CC_SECRET} = token_secret_file();
$ENV{TEST_NGINX_TOKEN_7} = sign_token(7, time + 3600);
$ENV{TEST_NGINX_ID_64} = 'c' x 61 . ':' . '7a';
$ENV{TEST_NGINX_ID_65} = 'c' x 62 . ':' . '7a';

repeat_each(2);
plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: before the draw (no field w): none
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 3
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- response_headers
Content-Type: application/json
--- response_body: {"status":"none"}
--- redis_after
HGETALL cc:{7}:u => c,3
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 2: a user Redis has never seen: none, and nothing is created
--- http_config on_shard0
--- config all_locations
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 18446744073709551615
--- response_body: {"status":"none"}
--- redis_after
EXISTS cc:{18446744073709551615}:u => 0
--- no_error_log
[error]



=== TEST 3: a pending award
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:1234:spring-2027:7
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- response_body: {"status":"pending","amount_cents":1234,"award_id":"spring-2027:7"}
--- redis_after
HGETALL cc:{7}:u => w,p:1234:spring-2027:7
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 4: a credited award
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w c:1:spring_2027:7
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- response_body: {"status":"credited","amount_cents":1,"award_id":"spring_2027:7"}
--- redis_after
HGETALL cc:{7}:u => w,c:1:spring_2027:7
--- no_error_log
[error]



=== TEST 5: the largest amount (10^15 cents) and the longest award id (64)
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:1000000000000000:$TEST_NGINX_ID_64
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- response_body: {"status":"pending","amount_cents":1000000000000000,"award_id":"$TEST_NGINX_ID_64"}
--- no_error_log
[error]



=== TEST 6: readable after the campaign's end (the draw is after it)
--- http_config on_shard0
    cc_campaign_start 1000000000;
    cc_campaign_end 1000000001;
--- config all_locations
--- redis_before
HSET cc:{7}:u w c:500:x:7
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- response_body: {"status":"credited","amount_cents":500,"award_id":"x:7"}
--- no_error_log
[error]



=== TEST 7: a token reads its own user's award, whatever X-CC-Uid says
--- http_config on_shard0
--- config with_token
--- redis_before
HSET cc:{7}:u w p:700:x:7
HSET cc:{8}:u w p:800:x:8
--- request
GET /cc/award
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
X-CC-Uid: 8
--- response_body: {"status":"pending","amount_cents":700,"award_id":"x:7"}
--- no_error_log
[error]



=== TEST 8: token mode without a token: 401
--- http_config on_shard0
--- config with_token
--- redis_before
HSET cc:{7}:u w p:700:x:7
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 9: a bad uid: 400
--- http_config on_shard0
--- config all_locations
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 07
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- no_error_log
[error]



=== TEST 10: not GET: 405 with Allow
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:700:x:7
--- request
POST /cc/award
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_headers
Allow: GET
--- response_body: {"error":"method_not_allowed"}
--- redis_after
HGETALL cc:{7}:u => w,p:700:x:7
--- no_error_log
[error]



=== TEST 11: a malformed award (amount above 10^15): 503, logged
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:1000000000000001:x:7
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- error_log
malformed award "p:1000000000000001:x:7" of user 7 in redis



=== TEST 12: a malformed award (award id of 65): 503, logged
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w c:5:$TEST_NGINX_ID_65
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- error_log
malformed award "c:5:$TEST_NGINX_ID_65" of user 7



=== TEST 13: a user hash of another type fails its request: 503
--- http_config on_shard0
--- config all_locations
--- redis_before
SET cc:{7}:u not-a-hash
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- redis_after
GET cc:{7}:u => not-a-hash
--- error_log
WRONGTYPE



=== TEST 14: the shard cannot be reached: 503
--- http_config
    cc_redis_shards 127.0.0.1:$TEST_NGINX_SERVER_PORT2;
--- config all_locations
--- request
GET /cc/award
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
