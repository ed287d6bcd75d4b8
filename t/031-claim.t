# POST /cc/claim: every answer of the contract and the Redis state behind
# it, one request at a time (t/032-claim-wait.t has the waits, the payer,
# concurrency, hang-ups and Redis going away).  repeat_each(2): every
# claim is sent twice, so every block also proves that a second claim
# queues nothing more (redis_after is checked after both).
#
# A pending award is queued once: the field q of the user hash is set and
# the uid pushed on the shard's cc:claims; then, with nobody paying here,
# the claim answers 202 after cc_claim_wait (short in these blocks).  The
# directives' bad values are refused by nginx -t at the end.

use lib 't/lib';
use CcTest;
use CcToken;

$ENV{TEST_NGINX_CC_SECRET} = token_secret_file();
$ENV{TEST_NGINX_TOKEN_7} = sign_token(7, time + 3600);

repeat_each(2);
plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: a pending award is queued once; nobody pays in time: 202
--- http_config on_shard0
    cc_claim_wait 100ms;
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:1234:spring-2027:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 202
--- response_headers
Content-Type: application/json
--- response_body: {"status":"pending","amount_cents":1234,"award_id":"spring-2027:7"}
--- redis_after
HGET cc:{7}:u q => 1
HGET cc:{7}:u w => p:1234:spring-2027:7
HLEN cc:{7}:u => 2
LRANGE cc:claims 0 -1 => 7
--- no_error_log
[error]



=== TEST 2: a credited award: 200 at once, nothing queued
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w c:1234:spring-2027:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- response_body: {"status":"credited","amount_cents":1234,"award_id":"spring-2027:7"}
--- redis_after
HGETALL cc:{7}:u => w,c:1234:spring-2027:7
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 3: a user without an award (not a winner, or before the draw): 404
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u c 2 e r1:1767225600000
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 404
--- response_body: {"error":"no_award"}
--- redis_after
HGETALL cc:{7}:u => c,2,e,r1:1767225600000
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 4: a user Redis has never seen: 404, and nothing is created
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 9
--- error_code: 404
--- response_body: {"error":"no_award"}
--- redis_after
EXISTS cc:{9}:u => 0
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 5: a claim queued before is not queued again
cc-payout popped the uid already; the claim waits, queues nothing.
--- http_config on_shard0
    cc_claim_wait 50ms;
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:5:x:7 q 1
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 202
--- response_body: {"status":"pending","amount_cents":5,"award_id":"x:7"}
--- redis_after
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 6: cc_claim_wait 0: a pending claim answers 202 at once
--- http_config on_shard0
    cc_claim_wait 0;
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:5:x:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 202
--- response_body: {"status":"pending","amount_cents":5,"award_id":"x:7"}
--- redis_after
LRANGE cc:claims 0 -1 => 7
--- no_error_log
[error]



=== TEST 7: a claim after the campaign's end is taken (it is no campaign write)
--- http_config on_shard0
    cc_campaign_start 1000000000;
    cc_campaign_end 1000000001;
    cc_claim_wait 50ms;
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:5:x:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 202
--- response_body: {"status":"pending","amount_cents":5,"award_id":"x:7"}
--- redis_after
LRANGE cc:claims 0 -1 => 7
--- no_error_log
[error]



=== TEST 8: A's token with B's X-CC-Uid claims A's award, never B's
--- http_config on_shard0
    cc_claim_wait 50ms;
--- config with_token
--- redis_before
HSET cc:{7}:u w p:700:x:7
HSET cc:{8}:u w p:800:x:8
--- request
POST /cc/claim
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
X-CC-Uid: 8
--- error_code: 202
--- response_body: {"status":"pending","amount_cents":700,"award_id":"x:7"}
--- redis_after
HGET cc:{7}:u q => 1
HGET cc:{8}:u q => (nil)
LRANGE cc:claims 0 -1 => 7
--- no_error_log
[error]



=== TEST 9: token mode without a token: 401, nothing queued
--- http_config on_shard0
--- config with_token
--- redis_before
HSET cc:{8}:u w p:800:x:8
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 8
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body: {"error":"unauthorized"}
--- redis_after
HGETALL cc:{8}:u => w,p:800:x:8
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 10: a bad uid: 400
--- http_config on_shard0
--- config all_locations
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7x
--- error_code: 400
--- response_body: {"error":"bad_uid"}
--- redis_after
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 11: not POST: 405 with Allow, nothing queued
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:5:x:7
--- request
GET /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 405
--- response_headers
Allow: POST
--- response_body: {"error":"method_not_allowed"}
--- redis_after
HGETALL cc:{7}:u => w,p:5:x:7
EXISTS cc:claims => 0
--- no_error_log
[error]



=== TEST 12: a malformed award (amount 0): 503, logged, nothing queued
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:0:x:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- redis_after
HGETALL cc:{7}:u => w,p:0:x:7
EXISTS cc:claims => 0
--- error_log
malformed award "p:0:x:7" of user 7 in redis



=== TEST 13: a malformed award (a "/" in the id): 503, nothing queued
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:5:x/7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- redis_after
HEXISTS cc:{7}:u q => 0
EXISTS cc:claims => 0
--- error_log
malformed award "p:5:x/7" of user 7



=== TEST 14: a user hash of another type: 503, nothing queued
--- http_config on_shard0
--- config all_locations
--- redis_before
SET cc:{7}:u not-a-hash
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- redis_after
GET cc:{7}:u => not-a-hash
EXISTS cc:claims => 0
--- error_log
WRONGTYPE



=== TEST 15: the shard cannot be reached: 503
--- http_config
    cc_redis_shards 127.0.0.1:$TEST_NGINX_SERVER_PORT2;
--- config all_locations
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}



=== TEST 16: cc_claim_poll 0 is refused
--- http_config on_shard0
    cc_claim_poll 0;
--- config all_locations
--- must_die
--- error_log
"cc_claim_poll" directive must be between 1ms and 10s



=== TEST 17: cc_claim_poll above 10s is refused
--- http_config on_shard0
    cc_claim_poll 11s;
--- config all_locations
--- must_die
--- error_log
"cc_claim_poll" directive must be between 1ms and 10s



=== TEST 18: cc_claim_wait above 60s is refused
--- http_config on_shard0
    cc_claim_wait 61s;
--- config all_locations
--- must_die
--- error_log
"cc_claim_wait" directive must be between 0 and 60s



=== TEST 19: cc_claim_wait that is no time is refused
--- http_config on_shard0
    cc_claim_wait soon;
--- config all_locations
--- must_die
--- error_log
"cc_claim_wait" directive invalid value



=== TEST 20: cc_claim_poll given twice is refused
--- http_config on_shard0
    cc_claim_poll 5ms;
    cc_claim_poll 20ms;
--- config all_locations
--- must_die
--- error_log
"cc_claim_poll" directive is duplicate



=== TEST 21: cc_claim_wait in a location is refused
--- http_config on_shard0
--- config all_locations
    location = /x { cc_claim_wait 1s; }
--- must_die
--- error_log
"cc_claim_wait" directive is not allowed here



=== TEST 22: cc_claim_poll_max below cc_claim_poll is refused
--- http_config on_shard0
    cc_claim_poll 50ms;
    cc_claim_poll_max 20ms;
--- config all_locations
--- must_die
--- error_log
"cc_claim_poll_max" must not be below "cc_claim_poll"



=== TEST 23: cc_claim_poll_max 0 or above 10s is refused
--- http_config on_shard0
    cc_claim_poll_max 11s;
--- config all_locations
--- must_die
--- error_log
"cc_claim_poll_max" directive must be between 1ms and 10s



=== TEST 24: cc_claim_waiters that is no number is refused
--- http_config on_shard0
    cc_claim_waiters many;
--- config all_locations
--- must_die
--- error_log
"cc_claim_waiters" directive invalid number



=== TEST 25: cc_claim_waiters above 1000000 is refused
--- http_config on_shard0
    cc_claim_waiters 1000001;
--- config all_locations
--- must_die
--- error_log
value must be between 0 and 1000000



=== TEST 26: cc_claim_waiters 0: a pending claim answers 202 at once
--- http_config on_shard0
    cc_claim_waiters 0;
    cc_claim_wait 5s;
--- config all_locations
--- redis_before
HSET cc:{7}:u w p:1234:spring-2027:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 202
--- response_body: {"status":"pending","amount_cents":1234,"award_id":"spring-2027:7"}
--- timeout: 2
--- no_error_log
[error]



=== TEST 27: a cc_claim_poll above 100ms is its own cap unless one is given
--- http_config on_shard0
    cc_claim_poll 300ms;
    cc_claim_wait 100ms;
--- config all_locations
--- redis_before
HSET cc:{7}:u w c:1:spring-2027:7
--- request
POST /cc/claim
--- more_headers
X-CC-Uid: 7
--- error_code: 200
--- response_body: {"status":"credited","amount_cents":1,"award_id":"spring-2027:7"}
