# The wildcard card (万能福, issue 19): cc_wildcard_kind, what
# /cc/eligibility says of it, and a combine that takes one wildcard for
# each missing kind.  repeat_each(2): every request is sent twice on the
# same seeded state, so each combine block also proves that a retry
# replays the first answer, what it consumed included, and that the
# redis_after state is that of one combine.  The draw of the wildcard by
# its weight, the stocked wildcard and the way to MySQL: t/111.

use lib 't/lib';
use CcTest;

repeat_each(2);
plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: the wildcard must be a kind of cc_cards
--- http_config on_shard0
    cc_cards 1 1 1;
    cc_wildcard_kind 3;
--- config all_locations
--- must_die
--- error_log
"cc_wildcard_kind" 3 is not a kind of "cc_cards", which has kinds 0..2



=== TEST 2: the wildcard against the default cards (kinds 0..4)
--- http_config on_shard0
    cc_wildcard_kind 5;
--- config all_locations
--- must_die
--- error_log
"cc_wildcard_kind" 5 is not a kind of "cc_cards", which has kinds 0..4



=== TEST 3: a wildcard kind that is not a number
--- http_config on_shard0
    cc_wildcard_kind -1;
--- config all_locations
--- must_die
--- error_log
"cc_wildcard_kind" directive invalid number



=== TEST 4: one wildcard kind only
--- http_config on_shard0
    cc_wildcard_kind 4;
    cc_wildcard_kind 3;
--- config all_locations
--- must_die
--- error_log
"cc_wildcard_kind" directive is duplicate



=== TEST 5: the wildcard is an http-level directive
--- http_config on_shard0
--- config all_locations
    cc_wildcard_kind 4;
--- must_die
--- error_log
"cc_wildcard_kind" directive is not allowed here



=== TEST 6: no wildcard: the eligibility body keeps its shape
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k3 1
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,1,1,1,0],"kinds":5,"combined":false,"eligible":false}
--- no_error_log
[error]



=== TEST 7: eligibility, the set held, no wildcard: complete, none needed
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 2 k2 1 k3 1
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,2,1,1,0],"kinds":5,"combined":false,"eligible":false,"wildcard_kind":4,"wildcards":0,"missing":[],"wildcards_needed":0,"completable":true}
--- no_error_log
[error]



=== TEST 8: eligibility, one kind missing, no wildcard: not completable
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 2 k3 1
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,2,0,1,0],"kinds":5,"combined":false,"eligible":false,"wildcard_kind":4,"wildcards":0,"missing":[2],"wildcards_needed":1,"completable":false}
--- no_error_log
[error]



=== TEST 9: eligibility, one kind missing, one wildcard: completable with it
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 2 k3 1 k4 1
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,2,0,1,1],"kinds":5,"combined":false,"eligible":false,"wildcard_kind":4,"wildcards":1,"missing":[2],"wildcards_needed":1,"completable":true}
--- no_error_log
[error]



=== TEST 10: eligibility, two kinds missing, one wildcard: not completable
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k1 2 k3 1 k4 1
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[0,2,0,1,1],"kinds":5,"combined":false,"eligible":false,"wildcard_kind":4,"wildcards":1,"missing":[0,2],"wildcards_needed":2,"completable":false}
--- no_error_log
[error]



=== TEST 11: eligibility, two kinds missing, two wildcards: completable
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k1 2 k3 1 k4 2
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[0,2,0,1,2],"kinds":5,"combined":false,"eligible":false,"wildcard_kind":4,"wildcards":2,"missing":[0,2],"wildcards_needed":2,"completable":true}
--- no_error_log
[error]



=== TEST 12: eligibility of an unknown user: every kind missing, no key made
--- http_config on_shard0
    cc_cards 1 1 1;
    cc_wildcard_kind 0;
--- config all_locations
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 99
--- response_body: {"cards":[0,0,0],"kinds":3,"combined":false,"eligible":false,"wildcard_kind":0,"wildcards":0,"missing":[1,2],"wildcards_needed":2,"completable":false}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 13: combine, two kinds missing, three wildcards: two used, the rest kept
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u c 0 s 9 k0 2 k1 0 k2 1 k4 3
--- request
POST /cc/combine?request_id=w1
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,0,0,0,1],"kinds":5,"combined":true,"eligible":true,"wildcard_kind":4,"wildcards":1,"missing":[1,2,3],"wildcards_needed":3,"completable":false,"consumed":[0,2,4,4],"wildcards_used":2,"replaced":[1,3]}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 x c s => 1,0,0,0,1,10,0,9
HGET cc:{7}:u e =~ ^w1:\d{13}$
XRANGE cc:draws - + =~ ^\d+-\d+,y,c,u,7,r,w1,t,\d{13},k,4,w,2,m,10$
--- no_error_log
[error]



=== TEST 14: combine, the set held: no wildcard used though one is held
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 2 k3 1 k4 2
--- request
POST /cc/combine?request_id=full
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[0,0,1,0,2],"kinds":5,"combined":true,"eligible":true,"wildcard_kind":4,"wildcards":2,"missing":[0,1,3],"wildcards_needed":3,"completable":false,"consumed":[0,1,2,3],"wildcards_used":0,"replaced":[]}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 x => 0,0,1,0,2,(nil)
XRANGE cc:draws - + =~ ^\d+-\d+,y,c,u,7,r,full,t,\d{13},k,4,w,0,m,0$
--- no_error_log
[error]



=== TEST 15: combine, one kind missing, exactly one wildcard
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k4 1
--- request
POST /cc/combine?request_id=one
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[0,0,0,0,0],"kinds":5,"combined":true,"eligible":true,"wildcard_kind":4,"wildcards":0,"missing":[0,1,2,3],"wildcards_needed":4,"completable":false,"consumed":[0,1,2,4],"wildcards_used":1,"replaced":[3]}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 x => 0,0,0,0,0,8
XLEN cc:draws => 1
--- no_error_log
[error]



=== TEST 16: combine, two kinds missing, one wildcard: 409, nothing changed
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k4 1
--- request
POST /cc/combine?request_id=short
--- more_headers
X-CC-Uid: 7
--- error_code: 409
--- response_body: {"error":"missing_cards"}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 e x => 1,1,(nil),(nil),1,(nil),(nil)
HLEN cc:{7}:u => 3
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 17: combine, one kind missing, no wildcard: 409, nothing changed
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 1 k2 1 k4 0
--- request
POST /cc/combine?request_id=none
--- more_headers
X-CC-Uid: 7
--- error_code: 409
--- response_body: {"error":"missing_cards"}
--- redis_after
HMGET cc:{7}:u k0 k1 k2 k3 k4 e x => 1,1,1,(nil),0,(nil),(nil)
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 18: a second combine, another request id: the first's consumed cards
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k1 0 k2 0 k3 0 k4 1 e first:1764240000000 x 10
--- request
POST /cc/combine?request_id=second
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,0,0,0,1],"kinds":5,"combined":true,"eligible":true,"wildcard_kind":4,"wildcards":1,"missing":[1,2,3],"wildcards_needed":3,"completable":false,"consumed":[0,2,4,4],"wildcards_used":2,"replaced":[1,3]}
--- redis_after
HMGET cc:{7}:u k0 k4 e x => 1,1,first:1764240000000,10
XLEN cc:draws => 0
--- no_error_log
[error]



=== TEST 19: the wildcard is kind 0: the set is kinds 1 and 2
--- http_config on_shard0
    cc_cards 1 1 1;
    cc_wildcard_kind 0;
--- config all_locations
--- redis_before
HSET cc:{8}:u k0 1 k1 1
--- request
POST /cc/combine?request_id=k0
--- more_headers
X-CC-Uid: 8
--- response_body: {"cards":[0,0,0],"kinds":3,"combined":true,"eligible":true,"wildcard_kind":0,"wildcards":0,"missing":[1,2],"wildcards_needed":2,"completable":false,"consumed":[1,0],"wildcards_used":1,"replaced":[2]}
--- redis_after
HMGET cc:{8}:u k0 k1 k2 x => 0,0,0,4
XRANGE cc:draws - + =~ ^\d+-\d+,y,c,u,8,r,k0,t,\d{13},k,0,w,1,m,4$
--- no_error_log
[error]



=== TEST 20: eligibility after a wildcard combine: combined, no consumed list
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 k4 1 e first:1764240000000 x 10
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,0,0,0,1],"kinds":5,"combined":true,"eligible":true,"wildcard_kind":4,"wildcards":1,"missing":[1,2,3],"wildcards_needed":3,"completable":false}
--- no_error_log
[error]



=== TEST 21: a stored mask naming the wildcard itself: 503, logged
--- http_config on_shard0
    cc_wildcard_kind 4;
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 e first:1764240000000 x 16
--- request
POST /cc/combine?request_id=again
--- more_headers
X-CC-Uid: 7
--- error_code: 503
--- response_body: {"error":"storage_unavailable"}
--- redis_after
HMGET cc:{7}:u k0 x => 1,16
--- error_log
unexpected reply from redis



=== TEST 22: without a wildcard a second combine ignores a stray x
--- http_config on_shard0
--- config all_locations
--- redis_before
HSET cc:{7}:u k0 1 e first:1764240000000 x 10
--- request
POST /cc/combine?request_id=again
--- more_headers
X-CC-Uid: 7
--- response_body: {"cards":[1,0,0,0,0],"kinds":5,"combined":true,"eligible":true}
--- no_error_log
[error]
