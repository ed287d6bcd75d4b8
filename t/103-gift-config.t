# The gift directives (issue 19): every bad value refused by `nginx -t`
# with a message that names it, and the defaults and cc_gift_rare at work.

use lib 't/lib';
use CcTest;

plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: cc_gift_limit of 0
--- http_config on_shard0
    cc_gift_limit 0;
--- config
--- must_die
--- error_log
value must be between 1 and 10000



=== TEST 2: cc_gift_limit over 10000
--- http_config on_shard0
    cc_gift_limit 10001;
--- config
--- must_die
--- error_log
value must be between 1 and 10000



=== TEST 3: cc_gift_limit not a number
--- http_config on_shard0
    cc_gift_limit many;
--- config
--- must_die
--- error_log
"cc_gift_limit" directive invalid number



=== TEST 4: cc_gift_limit twice
--- http_config on_shard0
    cc_gift_limit 3;
    cc_gift_limit 4;
--- config
--- must_die
--- error_log
"cc_gift_limit" directive is duplicate



=== TEST 5: cc_gift_limit in a location
--- http_config on_shard0
--- config
    location = /x { cc_gift_limit 3; }
--- must_die
--- error_log
"cc_gift_limit" directive is not allowed here



=== TEST 6: cc_gift_rare neither on nor off
--- http_config on_shard0
    cc_gift_rare yes;
--- config
--- must_die
--- error_log
invalid value "yes" in "cc_gift_rare" directive, it must be "on" or "off"



=== TEST 7: cc_ask_limit of 0
--- http_config on_shard0
    cc_ask_limit 0;
--- config
--- must_die
--- error_log
value must be between 1 and 1000



=== TEST 8: cc_ask_limit over 1000
--- http_config on_shard0
    cc_ask_limit 1001;
--- config
--- must_die
--- error_log
value must be between 1 and 1000



=== TEST 9: cc_ask_ttl of 30s
--- http_config on_shard0
    cc_ask_ttl 30s;
--- config
--- must_die
--- error_log
"cc_ask_ttl" directive must be between 1m and 30d



=== TEST 10: cc_ask_ttl over 30 days
--- http_config on_shard0
    cc_ask_ttl 31d;
--- config
--- must_die
--- error_log
"cc_ask_ttl" directive must be between 1m and 30d



=== TEST 11: cc_ask_ttl not a time
--- http_config on_shard0
    cc_ask_ttl soon;
--- config
--- must_die
--- error_log
"cc_ask_ttl" directive invalid value



=== TEST 12: cc_gift with no shards configured
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- must_die
--- error_log
"cc_redis_shards" is required where a handler other than "cc_metrics" is used



=== TEST 13: cc_gift with no cc_identity in scope
--- http_config on_shard0
--- config
    location = /cc/gift { cc_gift; }
--- must_die
--- error_log
"cc_gift" requires "cc_identity" in its location, server or http block



=== TEST 14: cc_ask with no cc_identity in scope
--- http_config on_shard0
--- config
    location = /cc/ask { cc_ask; }
--- must_die
--- error_log
"cc_ask" requires "cc_identity" in its location, server or http block



=== TEST 15: cc_gifts with no cc_identity in scope
--- http_config on_shard0
--- config
    location = /cc/gifts { cc_gifts; }
--- must_die
--- error_log
"cc_gifts" requires "cc_identity" in its location, server or http block



=== TEST 16: cc_gift takes no argument
--- http_config on_shard0
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift on; }
--- must_die
--- error_log
invalid number of arguments in "cc_gift" directive



=== TEST 17: with cc_gift_rare on, the stocked kind may be given
--- http_config on_shard0
    cc_card_stock 4 10;
    cc_gift_rare on;
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- redis_before
HSET cc:{41}:u k4 1
--- request
POST /cc/gift?to=42&kind=4&request_id=rare1
--- more_headers
X-CC-Uid: 41
--- error_code: 200
--- response_body: {"gift_id":"41:rare1","to":"42","kind":4,"status":"delivered"}
--- redis_after
HGET cc:{42}:u k4 => 1
HGET cc:{41}:u k4 => 0



=== TEST 18: without it (the default), the stocked kind may not
--- http_config on_shard0
    cc_card_stock 4 10;
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- redis_before
HSET cc:{43}:u k4 1
--- request
POST /cc/gift?to=42&kind=4&request_id=rare2
--- more_headers
X-CC-Uid: 43
--- error_code: 400
--- response_body: {"error":"kind_not_givable"}



=== TEST 19: the default daily limit is 20 (the count in the old layout's ga: moved into u)
--- http_config on_shard0
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- redis_before
HSET cc:{44}:u k0 30
--- init
redis_cmd(0, 'HSET', 'cc:{44}:ga', 'd', int(time() / 86400) . ':20');
--- request
POST /cc/gift?to=42&kind=0&request_id=lim
--- more_headers
X-CC-Uid: 44
--- error_code: 429
--- response_body: {"error":"gift_limit"}
--- redis_after
HGET cc:{44}:u k0 => 30
HGET cc:{44}:u gd =~ ^\d+:20$
EXISTS cc:{44}:ga => 0



=== TEST 20: a new day (UTC) counts from 0 again (the old layout's count moved, ga deleted)
--- http_config on_shard0
    cc_gift_limit 1;
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- redis_before
HSET cc:{45}:u k0 3
--- init
redis_cmd(0, 'HSET', 'cc:{45}:ga', 'd', (int(time() / 86400) - 1) . ':1');
--- request
POST /cc/gift?to=42&kind=0&request_id=newday
--- more_headers
X-CC-Uid: 45
--- error_code: 200
--- response_body: {"gift_id":"45:newday","to":"42","kind":0,"status":"delivered"}
--- redis_after
HGET cc:{45}:u k0 => 2
HGET cc:{42}:u k0 => 1
HGET cc:{45}:u gd =~ ^\d+:1$
EXISTS cc:{45}:ga => 0



=== TEST 21: the wildcard (cc_wildcard_kind) may not be given either, by default
--- http_config on_shard0
    cc_wildcard_kind 3;
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- redis_before
HSET cc:{46}:u k3 2
--- request
POST /cc/gift?to=42&kind=3&request_id=wild1
--- more_headers
X-CC-Uid: 46
--- error_code: 400
--- response_body: {"error":"kind_not_givable"}
--- redis_after
HGET cc:{46}:u k3 => 2
EXISTS cc:outbox => 0



=== TEST 22: nor asked for
--- http_config on_shard0
    cc_wildcard_kind 3;
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/ask { cc_ask; }
--- request
POST /cc/ask?from=42&kind=3&request_id=wild2
--- more_headers
X-CC-Uid: 47
--- error_code: 400
--- response_body: {"error":"kind_not_givable"}
--- redis_after
EXISTS cc:{42}:ak => 0



=== TEST 23: with cc_gift_rare on, the wildcard may be given
--- http_config on_shard0
    cc_wildcard_kind 3;
    cc_gift_rare on;
--- config
    cc_identity trusted_header X-CC-Uid;
    location = /cc/gift { cc_gift; }
--- redis_before
HSET cc:{48}:u k3 2
--- request
POST /cc/gift?to=49&kind=3&request_id=wild3
--- more_headers
X-CC-Uid: 48
--- error_code: 200
--- response_body: {"gift_id":"48:wild3","to":"49","kind":3,"status":"delivered"}
--- redis_after
HGET cc:{48}:u k3 => 1
HGET cc:{49}:u k3 => 1
