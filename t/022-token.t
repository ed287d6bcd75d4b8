# cc_identity token: the uid comes from a signed token (uid.exp.kid.sig, HMAC-
# SHA256 with the secret file's key); nobody can act as another user.
#
# "--- http_config on_shard0" and "--- config all_locations" (filters of
# t/lib/CcTest.pm) add the one shard and a location per handler: a block
# holds only the directives it varies.  "--- config with_token" (a filter
# of t/lib/CcToken.pm) is that server with the good secret, which all
# blocks but two use.

use lib 't/lib';
use CcTest;
use CcToken;

$ENV{TEST_NGINX_CC_SECRET} = token_secret_file();
$ENV{TEST_NGINX_CC_SHORT} = token_secret_file(secret => 'too short');
$ENV{TEST_NGINX_CC_OPEN} = token_secret_file();
chmod 0644, $ENV{TEST_NGINX_CC_OPEN};

my $later = time + 3600;
my $good = sign_token(7, $later);
(my $sig = $good) =~ s/^7\.\d+\.0\.//;

$ENV{TEST_NGINX_TOKEN_7} = $good;
$ENV{TEST_NGINX_TOKEN_EXPIRED} = sign_token(7, time - 1);
$ENV{TEST_NGINX_TOKEN_FORGED} = "8.$later.0.$sig";
$ENV{TEST_NGINX_TOKEN_LATER} = "7." . ($later + 1) . ".0.$sig";

# a rotation: the old key "0" (the secret above) and a new one, "k2"
my $SECRET2 = 'the-next-campaign-secret-of-32-bytes-or-more';
$ENV{TEST_NGINX_CC_SECRET2} = token_secret_file(secret => $SECRET2);
$ENV{TEST_NGINX_TOKEN_K2} = sign_token(8, $later, $SECRET2, 'k2');
$ENV{TEST_NGINX_TOKEN_K2_AS_0} = sign_token(8, $later, $SECRET2, '0');
$ENV{TEST_NGINX_TOKEN_K3} = sign_token(8, $later, $SECRET2, 'k3');
$ENV{TEST_NGINX_TOKEN_2DAYS} = sign_token(7, time + 2 * 86400);
$ENV{TEST_NGINX_TOKEN_23H} = sign_token(7, time + 23 * 3600);
$ENV{TEST_NGINX_TOKEN_OTHER_KEY} = sign_token(7, $later, 'another-secret-that-is-32-bytes-long!');
$ENV{TEST_NGINX_TOKEN_TRUNCATED} = substr($good, 0, length($good) - 1);

plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: a valid token flips as its user
--- http_config on_shard0
    cc_cards 1 1000000;
--- config with_token
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=t1
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
--- response_body: {"draw_id":"7:1","card":1,"chances_left":1}
--- redis_after
HGET cc:{7}:u c => 1
--- no_error_log
[error]



=== TEST 2: user A's token with user B's header acts as A, never B
--- http_config on_shard0
    cc_cards 1 1000000;
--- config with_token
--- redis_before
HSET cc:{7}:u c 2
HSET cc:{8}:u c 2
--- request
POST /cc/flip?request_id=t2
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
X-CC-Uid: 8
--- response_body: {"draw_id":"7:1","card":1,"chances_left":1}
--- redis_after
HGET cc:{7}:u c => 1
HGET cc:{8}:u c => 2
--- no_error_log
[error]



=== TEST 3: no token
--- http_config on_shard0
--- config with_token
--- request
POST /cc/flip?request_id=t3
--- more_headers
X-CC-Uid: 7
--- error_code: 401
--- response_headers
WWW-Authenticate: Bearer
--- response_body: {"error":"unauthorized"}
--- redis_after
DBSIZE => 0
--- no_error_log
[error]



=== TEST 4: an expired token
--- http_config on_shard0
--- config with_token
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=t4
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_EXPIRED
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- redis_after
HGET cc:{7}:u c => 2
--- no_error_log
[error]



=== TEST 5: a forged token: A's signature on B's uid
--- http_config on_shard0
--- config with_token
--- redis_before
HSET cc:{8}:u c 2
--- request
POST /cc/flip?request_id=t5
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_FORGED
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- redis_after
HGET cc:{8}:u c => 2
--- no_error_log
[error]



=== TEST 6: a forged token: the expiry pushed back
--- http_config on_shard0
--- config with_token
--- request
POST /cc/flip?request_id=t6
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_LATER
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 7: a token signed with another secret
--- http_config on_shard0
--- config with_token
--- request
POST /cc/flip?request_id=t7
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_OTHER_KEY
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 8: a truncated token
--- http_config on_shard0
--- config with_token
--- request
POST /cc/flip?request_id=t8
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_TRUNCATED
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 9: another scheme
--- http_config on_shard0
--- config with_token
--- request
POST /cc/flip?request_id=t9
--- more_headers
Authorization: Basic $TEST_NGINX_TOKEN_7
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 10: garbage in the header
--- http_config on_shard0
--- config with_token
--- request
POST /cc/flip?request_id=t10
--- more_headers
Authorization: Bearer 7.9999999999.中文中文中文中文中文中文中文中文中文中文中文中文中文中文
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 11: eligibility and combine need the token too
--- http_config on_shard0
--- config with_token
--- request
GET /cc/eligibility
--- more_headers
X-CC-Uid: 7
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- no_error_log
[error]



=== TEST 12: eligibility with the token
--- http_config on_shard0
--- config with_token
--- redis_before
HSET cc:{7}:u k3 4
--- request
GET /cc/eligibility
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
--- response_body: {"cards":[0,0,0,4,0],"kinds":5,"combined":false,"eligible":false}
--- no_error_log
[error]



=== TEST 13: a missing secret file stops nginx -t
--- http_config on_shard0
--- config all_locations
    cc_identity token /nonexistent/cc-secret;
--- must_die
--- error_log
/nonexistent/cc-secret



=== TEST 14: a secret shorter than 32 bytes stops nginx -t
--- http_config on_shard0
--- config all_locations
    cc_identity token $TEST_NGINX_CC_SHORT;
--- must_die
--- error_log
at least 32 are needed



=== TEST 14a: a secret file its group or others may read stops nginx -t
--- http_config on_shard0
--- config all_locations
    cc_identity token $TEST_NGINX_CC_OPEN;
--- must_die
--- error_log
is open to its group or others (mode 0644): make it 0600 or 0400



=== TEST 15: a token living longer than cc_token_max_ttl (1d by default) is refused
--- http_config on_shard0
    cc_cards 1 1000000;
--- config with_token
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=t15
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_2DAYS
--- error_code: 401
--- response_body: {"error":"unauthorized"}
--- redis_after
HGET cc:{7}:u c => 2



=== TEST 16: ... and one within it is taken
--- http_config on_shard0
    cc_cards 1 1000000;
--- config with_token
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=t16
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_23H
--- response_body: {"draw_id":"7:1","card":1,"chances_left":1}
--- no_error_log
[error]



=== TEST 17: cc_token_max_ttl raised takes the two-day token
--- http_config on_shard0
    cc_cards 1 1000000;
--- config with_token
    cc_token_max_ttl 3d;
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=t17
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_2DAYS
--- response_body: {"draw_id":"7:1","card":1,"chances_left":1}



=== TEST 18: cc_token_max_ttl lowered refuses the 23-hour token
--- http_config on_shard0
    cc_cards 1 1000000;
--- config with_token
    cc_token_max_ttl 1h;
--- request
POST /cc/flip?request_id=t18
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_23H
--- error_code: 401
--- response_body: {"error":"unauthorized"}



=== TEST 19: during a rotation the new key's tokens are taken ...
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
    cc_identity token $TEST_NGINX_CC_SECRET;
    cc_token_key k2 $TEST_NGINX_CC_SECRET2;
--- redis_before
HSET cc:{8}:u c 2
--- request
POST /cc/flip?request_id=t19
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_K2
--- response_body: {"draw_id":"8:1","card":1,"chances_left":1}
--- no_error_log
[error]



=== TEST 20: ... and the old key's still are
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
    cc_identity token $TEST_NGINX_CC_SECRET;
    cc_token_key k2 $TEST_NGINX_CC_SECRET2;
--- redis_before
HSET cc:{7}:u c 2
--- request
POST /cc/flip?request_id=t20
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
--- response_body: {"draw_id":"7:1","card":1,"chances_left":1}



=== TEST 21: a new key's token labelled with the old key's id is forged
--- http_config on_shard0
--- config all_locations
    cc_identity token $TEST_NGINX_CC_SECRET;
    cc_token_key k2 $TEST_NGINX_CC_SECRET2;
--- request
POST /cc/flip?request_id=t21
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_K2_AS_0
--- error_code: 401
--- response_body: {"error":"unauthorized"}



=== TEST 22: a key id the server does not hold is refused
--- http_config on_shard0
--- config all_locations
    cc_identity token $TEST_NGINX_CC_SECRET;
    cc_token_key k2 $TEST_NGINX_CC_SECRET2;
--- request
POST /cc/flip?request_id=t22
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_K3
--- error_code: 401
--- response_body: {"error":"unauthorized"}



=== TEST 23: after the rotation only the new key: the old key's tokens are refused
--- http_config on_shard0
--- config all_locations
    cc_identity token;
    cc_token_key k2 $TEST_NGINX_CC_SECRET2;
--- request
POST /cc/flip?request_id=t23
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
--- error_code: 401
--- response_body: {"error":"unauthorized"}



=== TEST 24: ... and the new key's taken
--- http_config on_shard0
    cc_cards 1 1000000;
--- config all_locations
    cc_identity token;
    cc_token_key k2 $TEST_NGINX_CC_SECRET2;
--- redis_before
HSET cc:{8}:u c 2
--- request
POST /cc/flip?request_id=t24
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_K2
--- response_body: {"draw_id":"8:1","card":1,"chances_left":1}
