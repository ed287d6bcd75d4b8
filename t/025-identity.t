# $cc_uid: the caller's uid as the location's cc_identity verifies it, for
# the limits of the tier that verifies (limit_req_zone $cc_uid): empty when
# the token is missing, forged or expired, or when no identity is in scope.

use lib 't/lib';
use CcTest;
use CcToken;

$ENV{TEST_NGINX_CC_SECRET} = token_secret_file();

my $later = time + 3600;
$ENV{TEST_NGINX_TOKEN_7} = sign_token(7, $later);
$ENV{TEST_NGINX_TOKEN_FORGED} = sign_token(8, $later) =~ s/^8\./7./r;

plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: $cc_uid is a valid token's uid
--- http_config on_shard0
--- config
    location = /t/uid { cc_identity token $TEST_NGINX_CC_SECRET; return 200 "uid=$cc_uid"; }
--- request
GET /t/uid
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_7
--- response_body: uid=7
--- no_error_log
[error]



=== TEST 2: ... with the scheme in any case, as the handlers read it
--- http_config on_shard0
--- config
    location = /t/uid { cc_identity token $TEST_NGINX_CC_SECRET; return 200 "uid=$cc_uid"; }
--- request
GET /t/uid
--- more_headers
Authorization: bEARER $TEST_NGINX_TOKEN_7
--- response_body: uid=7



=== TEST 3: a forged token naming user 7 is nobody
--- http_config on_shard0
--- config
    location = /t/uid { cc_identity token $TEST_NGINX_CC_SECRET; return 200 "uid=$cc_uid"; }
--- request
GET /t/uid
--- more_headers
Authorization: Bearer $TEST_NGINX_TOKEN_FORGED
X-CC-Uid: 7
--- response_body: uid=



=== TEST 4: no token is nobody, whatever header comes
--- http_config on_shard0
--- config
    location = /t/uid { cc_identity token $TEST_NGINX_CC_SECRET; return 200 "uid=$cc_uid"; }
--- request
GET /t/uid
--- more_headers
X-CC-Uid: 7
--- response_body: uid=



=== TEST 5: a trusted header is its uid, once valid
--- http_config on_shard0
--- config
    location = /t/uid { cc_identity trusted_header X-CC-Uid; return 200 "uid=$cc_uid"; }
--- request
GET /t/uid
--- more_headers
X-CC-Uid: 9
--- response_body: uid=9



=== TEST 6: no identity in scope: nobody, the header is not trusted
--- http_config on_shard0
--- config
    location = /t/uid { return 200 "uid=$cc_uid"; }
--- request
GET /t/uid
--- more_headers
X-CC-Uid: 9
--- response_body: uid=

