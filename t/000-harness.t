# Self-test of the CcTest harness.  Uses only stock nginx features
# (every nginx block has --- no_module), so it runs without the cc module.

use lib 't/lib';
use CcTest;

repeat_each(2);

# Blocks first, then a few plain Test::More style checks of the helpers.
plan tests => planned_tests() + 16;

run_tests();

# --- plain style helpers ---------------------------------------------------

# RESP client: error replies, integers, arrays, nil
like(redis_cmd(0, 'NOSUCHCMD'), qr/^\(error\) ERR unknown command/, 'redis error reply');
is(redis_cmd(1, 'RPUSH', 'l', 'a', 'b c'), 2, 'redis integer reply');
is_deeply(redis_cmd(1, 'LRANGE', 'l', 0, -1), ['a', 'b c'], 'redis array reply');
is(redis_cmd(1, 'GET', 'nope'), undef, 'redis nil reply');

# fault injection: kill / restart / pause / resume
redis_stop(1);
ok(!eval { redis_cmd(1, 'PING'); 1 }, 'stopped shard refuses connections');
redis_start(1);
is(redis_cmd(1, 'PING'), 'PONG', 'restarted shard answers on the same port');
redis_pause(0);
{
    local $CcTest::RedisTimeout = 0.3;
    ok(!eval { redis_cmd(0, 'PING'); 1 } && $@ =~ /timeout/, 'paused shard times out');
}
redis_resume(0);
is(redis_cmd(0, 'PING'), 'PONG', 'resumed shard answers');

# an nginx outside of blocks, two workers
my $inst = start_nginx(undef, no_module => 1, workers => 2,
    config => 'location /c/ { return 200 "$uri"; } location /e { return 500; }');
my @pids = nginx_pids();
is(scalar @pids, 3, 'nginx_pids: master + 2 workers');

my ($st, $body, $h) = http_request('GET', '/c/x', { 'X-Foo' => 'bar' });
is("$st $body", '200 /c/x', 'http_request');
is($h->{'content-length'}, 4, 'http_request headers are lowercased');

my @res = concurrent_requests(200, 'GET', '/c/%d');
is(scalar(grep { $_->[0] == 200 } @res), 200, 'concurrent_requests: 200 x 200 OK');
is(scalar(grep { $res[$_ - 1][1] eq "/c/$_" } 1 .. 200), 200, 'concurrent_requests: bodies in index order');

http_request('GET', '/e');
like(nginx_error_log(), qr/\[notice\].*start worker process/, 'nginx_error_log');
is(stop_nginx($inst), '', 'stop_nginx: clean shutdown');
ok(!kill(0, $pids[0]), 'master is gone');

__DATA__

=== TEST 1: plain 200 with exact body
--- no_module
--- config
    location = /t { return 200 "ok\n"; }
--- request
GET /t
--- response_body
ok
--- no_error_log
[error]
[alert]



=== TEST 2: error code, body regex, content type
--- no_module
--- config
    location = /conflict {
        default_type application/json;
        return 409 '{"error":"x"}';
    }
--- request
POST /conflict?request_id=abc
--- error_code: 409
--- response_body_like: ^\{"error":"x"\}$
--- response_headers
Content-Type: application/json
!X-Missing
--- response_headers_like
Content-Length: ^\d+$



=== TEST 3: custom header, request headers and body reach nginx
--- no_module
--- config
    location = /echo {
        add_header X-Test hello always;
        return 200 "$request_method $http_x_cc_uid $content_length $arg_a\n";
    }
--- request
PUT /echo?a=1
0123456789
--- more_headers
X-CC-Uid: 7
--- response_body
PUT 7 10 1
--- response_headers
X-Test: hello



=== TEST 4: check and init code
--- no_module
--- config
    location = /c { return 201 "created"; }
--- init
$seen = 'init ran';
--- request
POST /c
--- error_code: 201
--- check_tests: 3
--- check
is($status, 201, 'check sees $status');
is($CcTest::body, 'created', 'check sees $CcTest::body');
is($seen, 'init ran', 'init and check share package main');



=== TEST 5: config rejected by nginx -t
--- no_module
--- must_die
--- config
    location / { foo_bar on; }
--- error_log
unknown directive "foo_bar"



=== TEST 6: redis_before / redis_after on both shards without nginx
--- skip_nginx
--- redis_before
SET k1 "hello world"
HSET h f 3
RPUSH l a b
--- redis_before_shard1
SET k2 v2
--- redis_after
GET k1 => hello world
HGET h f => 3
HINCRBY h f -1 => 2
LRANGE l 0 -1 => a,b
GET missing => (nil)
EXISTS k2 => 0
GET k1 =~ ^hello
--- redis_after_shard1
GET k2 => v2
EXISTS k1 => 0



=== TEST 7: error_log lines must appear
--- no_module
--- config
    location /missing/ { root html; }
--- request
GET /missing/file.txt
--- error_code: 404
--- error_log
open()
No such file or directory
--- no_error_log
[alert]



=== TEST 8: abort: close right after sending
--- no_module
--- config
    location = /a { return 200 "a"; }
--- request
GET /a
--- abort
--- no_error_log
[error]



=== TEST 9: chunked response is decoded
--- no_module
--- config
    location = /chunked {
        default_type text/html;
        sub_filter 'hello' 'bye';
        return 200 "hello, world\n";
    }
--- request
GET /chunked
--- response_headers
Transfer-Encoding: chunked
--- response_body
bye, world



=== TEST 10: raw_config with two servers, $TEST_NGINX_* substitution
--- no_module
--- workers: 2
--- raw_config
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT;
        location / { return 200 "one\n"; }
    }
    server {
        listen 127.0.0.1:$TEST_NGINX_SERVER_PORT1;
        location / { return 200 "two\n"; }
    }
--- request
GET /
--- response_body
one
--- check_tests: 2
--- check
my ($st, $b) = http_request('GET', "http://127.0.0.1:$TEST_NGINX_SERVER_PORT1/");
is($b, "two\n", 'second server');
is(scalar(() = nginx_pids()), 3, 'two workers');
