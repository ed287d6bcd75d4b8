# Directives: every bad configuration is refused by `nginx -t` with a
# message that names the problem.
#
# A block that tests another directive than cc_redis_shards takes a good
# shard from "--- http_config on_shard0" (a filter of t/lib/CcTest.pm), so
# that its own line is the only thing wrong.

use lib 't/lib';
use CcTest;
use CcToken;

$ENV{TEST_NGINX_CC_SECRET} = token_secret_file();

# cc_redis_auth's password files: a good one, one others may read, an empty one
use File::Temp qw(tempdir);
my $pwdir = tempdir('cc-pw-XXXXXX', TMPDIR => 1, CLEANUP => 1);
for ([ 'good', "pw\n", 0600 ], [ 'open', "pw\n", 0644 ], [ 'empty', '', 0600 ]) {
    my ($name, $text, $mode) = @$_;
    open my $h, '>', "$pwdir/$name" or die "$pwdir/$name: $!";
    print $h $text;
    close $h;
    chmod $mode, "$pwdir/$name";
    $ENV{'TEST_NGINX_REDIS_PW_' . uc $name} = "$pwdir/$name";
}
$ENV{TEST_NGINX_REDIS_PW_NONE} = "$pwdir/none";
# not a regular file (a FIFO nobody writes hung nginx -t in open()), over
# the limit (a newline at byte 4096 cut the rest off: taken, truncated),
# a NUL byte (taken)
use POSIX qw(mkfifo);
mkfifo("$pwdir/fifo", 0600) or die "mkfifo: $!";
mkdir "$pwdir/dir", 0700;
for ([ 'long', ('p' x 4095) . "\nmore\n", 0600 ], [ 'nul', "p\0w\n", 0600 ]) {
    my ($name, $text, $mode) = @$_;
    open my $h, '>', "$pwdir/$name" or die "$pwdir/$name: $!";
    print $h $text;
    close $h;
    chmod $mode, "$pwdir/$name";
}
$ENV{"TEST_NGINX_REDIS_PW_\U$_"} = "$pwdir/$_" for qw(fifo dir long nul);

plan tests => planned_tests();
run_tests();

__DATA__

=== TEST 1: a shard without a port
--- http_config
    cc_redis_shards 127.0.0.1;
--- config
    location = /cc/flip { cc_flip; }
--- must_die
--- error_log
invalid redis shard "127.0.0.1", expected "host:port"



=== TEST 2: a shard with port 0
--- http_config
    cc_redis_shards 127.0.0.1:0;
--- must_die
--- error_log
invalid redis shard "127.0.0.1:0"



=== TEST 3: a shard with port 65536
--- http_config
    cc_redis_shards 127.0.0.1:65536;
--- must_die
--- error_log
invalid redis shard "127.0.0.1:65536"



=== TEST 4: a shard without a host
--- http_config
    cc_redis_shards :6379;
--- must_die
--- error_log
invalid redis shard ":6379"



=== TEST 5: the same shard twice (it would take two arcs of the ring)
--- http_config
    cc_redis_shards 127.0.0.1:6379 127.0.0.1:6380 127.0.0.1:6379;
--- must_die
--- error_log
duplicate redis shard "127.0.0.1:6379"



=== TEST 6: cc_redis_shards twice
--- http_config
    cc_redis_shards 127.0.0.1:6379;
    cc_redis_shards 127.0.0.1:6380;
--- must_die
--- error_log
"cc_redis_shards" directive is duplicate



=== TEST 7: cc_flip with no shards configured
--- config
    location = /cc/flip { cc_flip; }
--- must_die
--- error_log
"cc_redis_shards" is required where a handler other than "cc_metrics" is used



=== TEST 7a: cc_grant behind cc_identity token (the server's)
--- http_config on_shard0
--- config
    cc_identity token $TEST_NGINX_CC_SECRET;
    location = /cc/grant { cc_grant; }
--- must_die
--- error_log
"cc_grant" is refused behind "cc_identity token": a user would grant themselves chances



=== TEST 7a2: cc_grant behind cc_identity token (its own location's)
--- http_config on_shard0
--- config
    location = /cc/grant { cc_identity token $TEST_NGINX_CC_SECRET; cc_grant; }
--- must_die
--- error_log
"cc_grant" is refused behind "cc_identity token"



=== TEST 7a3: a token server may serve a grant with its own trusted header
--- http_config on_shard0
--- config
    cc_identity token $TEST_NGINX_CC_SECRET;
    location = /cc/flip { cc_flip; }
    location = /cc/grant { cc_identity trusted_header X-Grant-Uid; cc_grant; }
--- request
POST /cc/grant?grant_id=g7a3&n=2
--- more_headers
X-Grant-Uid: 7
--- error_code: 200
--- response_body: {"chances":2}



=== TEST 7b: cc_claim with no shards configured
--- config
    location = /cc/claim { cc_claim; }
--- must_die
--- error_log
"cc_redis_shards" is required where a handler other than "cc_metrics" is used



=== TEST 7c-flip: cc_flip with no cc_identity in scope (no identity is trusted by default)
--- http_config on_shard0
--- config
    location = /cc/flip { cc_flip; }
--- must_die
--- error_log
"cc_flip" requires "cc_identity" in its location, server or http block



=== TEST 7c-combine: cc_combine with no cc_identity in scope (no identity is trusted by default)
--- http_config on_shard0
--- config
    location = /cc/combine { cc_combine; }
--- must_die
--- error_log
"cc_combine" requires "cc_identity" in its location, server or http block



=== TEST 7c-eligibility: cc_eligibility with no cc_identity in scope (no identity is trusted by default)
--- http_config on_shard0
--- config
    location = /cc/eligibility { cc_eligibility; }
--- must_die
--- error_log
"cc_eligibility" requires "cc_identity" in its location, server or http block



=== TEST 7c-award: cc_award with no cc_identity in scope (no identity is trusted by default)
--- http_config on_shard0
--- config
    location = /cc/award { cc_award; }
--- must_die
--- error_log
"cc_award" requires "cc_identity" in its location, server or http block



=== TEST 7c-claim: cc_claim with no cc_identity in scope (no identity is trusted by default)
--- http_config on_shard0
--- config
    location = /cc/claim { cc_claim; }
--- must_die
--- error_log
"cc_claim" requires "cc_identity" in its location, server or http block



=== TEST 7d: cc_grant with no cc_identity in scope
--- http_config on_shard0
--- config
    location = /cc/grant { cc_grant; }
--- must_die
--- error_log
"cc_grant" requires "cc_identity trusted_header" in its location, server or http block



=== TEST 7e: an identity at the http level is in scope of every location
--- http_config on_shard0
    cc_identity trusted_header X-CC-Uid;
--- config
    location = /cc/grant { cc_grant; }
--- request
POST /cc/grant?grant_id=g7e&n=2
--- more_headers
X-CC-Uid: 7
--- response_body: {"chances":2}
--- no_error_log
[error]



=== TEST 13a: "cc_identity token" with no key
--- http_config on_shard0
--- config
    cc_identity token;
    location = /cc/flip { cc_flip; }
--- must_die
--- error_log
"cc_identity token" has no key in scope: give it a FILE, or "cc_token_key KID FILE"



=== TEST 13b: a key id with a dot
--- http_config on_shard0
--- config
    cc_identity token;
    cc_token_key a.b $TEST_NGINX_CC_SECRET;
--- must_die
--- error_log
invalid token key id "a.b", expected 1 to 16 of A-Z, a-z, 0-9, "-" and "_"



=== TEST 13c: a key id of 17 characters
--- http_config on_shard0
--- config
    cc_identity token;
    cc_token_key 0123456789abcdefg $TEST_NGINX_CC_SECRET;
--- must_die
--- error_log
invalid token key id "0123456789abcdefg"



=== TEST 13d: the same key id twice
--- http_config on_shard0
--- config
    cc_identity token;
    cc_token_key k1 $TEST_NGINX_CC_SECRET;
    cc_token_key k1 $TEST_NGINX_CC_SECRET;
--- must_die
--- error_log
duplicate token key id "k1"



=== TEST 13e: key id "0" beside "cc_identity token FILE"
--- http_config on_shard0
--- config
    cc_identity token $TEST_NGINX_CC_SECRET;
    cc_token_key 0 $TEST_NGINX_CC_SECRET;
--- must_die
--- error_log
duplicate token key id "0" ("cc_identity token FILE" is key "0")



=== TEST 13f: a key file that is missing
--- http_config on_shard0
--- config
    cc_identity token;
    cc_token_key k1 /nonexistent/cc-key;
--- must_die
--- error_log
cannot open secret file "/nonexistent/cc-key"



=== TEST 13g: cc_token_key with one argument
--- http_config on_shard0
--- config
    cc_token_key k1;
--- must_die
--- error_log
invalid number of arguments in "cc_token_key" directive



=== TEST 13h: cc_token_max_ttl of 0
--- http_config on_shard0
--- config
    cc_token_max_ttl 0;
--- must_die
--- error_log
"cc_token_max_ttl" directive must be between 1m and 365d



=== TEST 13i: cc_token_max_ttl of 30s
--- http_config on_shard0
--- config
    cc_token_max_ttl 30s;
--- must_die
--- error_log
"cc_token_max_ttl" directive must be between 1m and 365d



=== TEST 13j: cc_token_max_ttl over a year
--- http_config on_shard0
--- config
    cc_token_max_ttl 366d;
--- must_die
--- error_log
"cc_token_max_ttl" directive must be between 1m and 365d



=== TEST 13k: cc_token_max_ttl not a time
--- http_config on_shard0
--- config
    cc_token_max_ttl soon;
--- must_die
--- error_log
"cc_token_max_ttl" directive invalid value



=== TEST 13l: cc_token_max_ttl twice
--- http_config on_shard0
--- config
    cc_token_max_ttl 1h;
    cc_token_max_ttl 2h;
--- must_die
--- error_log
"cc_token_max_ttl" directive is duplicate



=== TEST 13m: cc_identity trusted_header with no name
--- http_config on_shard0
--- config
    cc_identity trusted_header;
--- must_die
--- error_log
"cc_identity trusted_header" needs the header's name



=== TEST 8: one card kind is no campaign
--- http_config on_shard0
    cc_cards 100;
--- must_die
--- error_log
"cc_cards" takes 2 to 16 weights, not 1



=== TEST 9: seventeen kinds are too many
--- http_config on_shard0
    cc_cards 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1;
--- must_die
--- error_log
"cc_cards" takes 2 to 16 weights, not 17



=== TEST 10: a zero weight
--- http_config on_shard0
    cc_cards 10 0 10;
--- must_die
--- error_log
invalid card weight "0", expected 1..1000000



=== TEST 11: a weight that is not a number
--- http_config on_shard0
    cc_cards 10 ten;
--- must_die
--- error_log
invalid card weight "ten"



=== TEST 12: a weight above the bound
--- http_config on_shard0
    cc_cards 10 1000001;
--- must_die
--- error_log
invalid card weight "1000001"



=== TEST 13: an unknown identity mode
--- http_config on_shard0
--- config
    cc_identity cookie X-CC-Uid;
--- must_die
--- error_log
invalid identity mode "cookie", expected "trusted_header" or "token"



=== TEST 14: a header name with a space or colon
--- http_config on_shard0
--- config
    cc_identity trusted_header "X-CC:Uid";
--- must_die
--- error_log
invalid header name "X-CC:Uid"



=== TEST 15: two handlers in one location
--- http_config on_shard0
--- config
    location = /cc { cc_flip; cc_grant; }
--- must_die
--- error_log
"cc_grant" directive is duplicate



=== TEST 16: a bad timeout
--- http_config on_shard0
    cc_redis_timeout soon;
--- must_die
--- error_log
"cc_redis_timeout" directive invalid value



=== TEST 17: cc_flip outside a location
--- http_config on_shard0
--- config
    cc_flip;
--- must_die
--- error_log
"cc_flip" directive is not allowed here



=== TEST 18: the module loaded and unused needs no shards
--- config
    location = /t { return 200 "fine"; }
--- request
GET /t
--- response_body: fine
--- no_error_log
[error]



=== TEST 19: a shard that does not answer does not stop nginx from starting
--- http_config
    cc_redis_shards 127.0.0.1:1 [::1]:2;
--- config
    location = /t { return 200 "up"; }
--- request
GET /t
--- response_body: up



=== TEST 20: stock of a kind the campaign does not have
--- http_config on_shard0
    cc_cards 1 1 1;
    cc_card_stock 3 10;
--- must_die
--- error_log
"cc_card_stock" of kind 3, but "cc_cards" has kinds 0..2



=== TEST 21: stock of a kind twice
--- http_config on_shard0
    cc_card_stock 4 10;
    cc_card_stock 4 20;
--- must_die
--- error_log
duplicate stock of card kind 4



=== TEST 22: a stock that is not a number
--- http_config on_shard0
    cc_card_stock 4 many;
--- must_die
--- error_log
invalid card stock "many", expected 0..1000000000



=== TEST 23: a kind out of range
--- http_config on_shard0
    cc_card_stock 16 1;
--- must_die
--- error_log
invalid card kind "16", expected 0..15



=== TEST 24: a time that is neither unix seconds nor ISO UTC
--- http_config on_shard0
    cc_campaign_start 2026-01-01;
--- must_die
--- error_log
invalid time "2026-01-01", expected unix seconds or YYYY-MM-DDTHH:MM:SSZ



=== TEST 25: an end before the start
--- http_config on_shard0
    cc_campaign_start 2026-02-01T00:00:00Z;
    cc_campaign_end 2026-01-01T00:00:00Z;
--- must_die
--- error_log
"cc_campaign_start" must be before "cc_campaign_end"



=== TEST 26: a combine cutoff after the end
--- http_config on_shard0
    cc_campaign_start 1767225600;
    cc_campaign_end 1768435200;
    cc_combine_cutoff 1768435201;
--- must_die
--- error_log
"cc_combine_cutoff" must be after "cc_campaign_start" and not after "cc_campaign_end"



=== TEST 27: a cutoff equal to the end is fine
--- http_config on_shard0
    cc_campaign_start 1767225600;
    cc_campaign_end 1768435200;
    cc_combine_cutoff 1768435200;
    cc_card_stock 4 0;
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body: ok
--- no_error_log
[error]



=== TEST 28: cc_kafka_property with a name librdkafka does not know
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property no.such.property 1;
--- must_die
--- error_log
invalid cc_kafka_property "no.such.property": No such configuration property: "no.such.property"



=== TEST 29: cc_kafka_property with a value librdkafka refuses
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property security.protocol carrier_pigeon;
--- must_die
--- error_log
invalid cc_kafka_property "security.protocol": Invalid value "carrier_pigeon" for configuration property "security.protocol"



=== TEST 30: cc_kafka_property with one value too few
--- http_config on_shard0
    cc_kafka_property security.protocol;
--- must_die
--- error_log
invalid number of arguments in "cc_kafka_property" directive



=== TEST 30a: an SSL file librdkafka loads only at client start: nginx -t
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property security.protocol ssl;
    cc_kafka_property ssl.ca.location /nonexistent/ca.pem;
--- must_die
--- error_log
cc kafka: the producer cannot start: ssl.ca.location failed



=== TEST 30b: properties librdkafka refuses only together: nginx -t
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property enable.idempotence true;
    cc_kafka_property acks 1;
--- must_die
--- error_log
cc kafka: the producer cannot start: `acks` must be set to `all` when `enable.idempotence` is true



=== TEST 31: cc_kafka_property, good ones, repeated, are taken
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property security.protocol plaintext;
    cc_kafka_property client.id cc-test-node;
    cc_kafka_property sasl.mechanisms PLAIN;
--- config
    location = /t { return 200 "ok"; }
--- request
GET /t
--- response_body: ok
--- no_error_log
[emerg]



=== TEST 32: cc_redis_auth with a password file others may read
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_OPEN;
--- must_die
--- error_log eval
qr/redis password file ".*open" gives group or others access \(mode 0644\): chmod it 0600/



=== TEST 33: cc_redis_auth with no such file
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_NONE;
--- must_die
--- error_log eval
qr/open\(\) ".*none" failed \(2: No such file or directory\)/



=== TEST 34: cc_redis_auth with an empty password file
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_EMPTY;
--- must_die
--- error_log eval
qr/redis password file ".*empty" is empty/



=== TEST 34a: cc_redis_auth with a FIFO
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_FIFO;
--- must_die
--- error_log eval
qr/redis password file ".*fifo" is not a regular file/



=== TEST 34b: cc_redis_auth with a directory
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_DIR;
--- must_die
--- error_log eval
qr/redis password file ".*dir" is not a regular file/



=== TEST 34c: cc_redis_auth with a file over 4095 bytes
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_LONG;
--- must_die
--- error_log eval
qr/redis password file ".*long" is longer than 4095 bytes/



=== TEST 34d: cc_redis_auth with a NUL byte in the password
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_NUL;
--- must_die
--- error_log eval
qr/redis password file ".*nul" holds a NUL byte/



=== TEST 34e: cc_identity token with a FIFO
--- http_config on_shard0
--- config
    cc_identity token $TEST_NGINX_REDIS_PW_FIFO;
    location = /cc/flip { cc_flip; }
--- must_die
--- error_log eval
qr/secret file ".*fifo": not a regular file/



=== TEST 35: cc_redis_auth twice
--- http_config on_shard0
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_GOOD;
    cc_redis_auth cc $TEST_NGINX_REDIS_PW_GOOD;
--- must_die
--- error_log
"cc_redis_auth" directive is duplicate



=== TEST 36: cc_redis_auth with one argument
--- http_config on_shard0
    cc_redis_auth cc;
--- must_die
--- error_log
invalid number of arguments in "cc_redis_auth" directive



=== TEST 37: master names without cc_redis_sentinels
--- http_config
    cc_redis_shards cc0 cc1;
--- config
    location = /cc/flip { cc_identity trusted_header X-CC-Uid; cc_flip; }
--- must_die
--- error_log
invalid redis shard "cc0", expected "host:port" (missing port), or a master name with "cc_redis_sentinels"



=== TEST 38: a sentinel without a port
--- http_config
    cc_redis_sentinels 127.0.0.1;
    cc_redis_shards cc0;
--- must_die
--- error_log
invalid sentinel "127.0.0.1", expected "host:port"



=== TEST 39: cc_redis_sentinels twice
--- http_config
    cc_redis_sentinels 127.0.0.1:26379;
    cc_redis_sentinels 127.0.0.1:26380;
    cc_redis_shards cc0;
--- must_die
--- error_log
"cc_redis_sentinels" directive is duplicate



=== TEST 40: cc_redis_wait with a zero timeout
--- http_config on_shard0
    cc_redis_wait 1 0;
--- must_die
--- error_log
"cc_redis_wait" needs a timeout above 0



=== TEST 41: cc_redis_wait with a bad count
--- http_config on_shard0
    cc_redis_wait one 500ms;
--- must_die
--- error_log
"cc_redis_wait" directive takes a count and a time



=== TEST 42: cc_redis_failover_wait with a bad time
--- http_config on_shard0
    cc_redis_failover_wait 100 soon;
--- must_die
--- error_log
"cc_redis_failover_wait" directive takes a count and a time



=== TEST 43: cc_kafka_property may not replace the brokers cc_kafka_brokers sets
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property bootstrap.servers 10.0.0.1:9092;
--- must_die
--- error_log
cc_kafka_property "bootstrap.servers" is not the operator's to set: cc_kafka_brokers sets it



=== TEST 44: nor by librdkafka's other name for them
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property metadata.broker.list 10.0.0.1:9092;
--- must_die
--- error_log
cc_kafka_property "metadata.broker.list" is not the operator's to set: cc_kafka_brokers sets it



=== TEST 45: cc_kafka_property may not take librdkafka's log lines off nginx's thread
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property log.queue false;
--- must_die
--- error_log
cc_kafka_property "log.queue" is not the operator's to set: the module serves librdkafka's log lines on nginx's thread



=== TEST 46: nor report only the failed deliveries
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property delivery.report.only.error true;
--- must_die
--- error_log
cc_kafka_property "delivery.report.only.error" is not the operator's to set: the module counts every delivery



=== TEST 47: nor make the producer transactional
--- http_config on_shard0
    cc_kafka_brokers 127.0.0.1:9;
    cc_kafka_property transactional.id cc-nginx;
--- must_die
--- error_log
cc_kafka_property "transactional.id" is not the operator's to set: the module produces outside transactions



=== TEST 48: cc_claim_wake is on or off
--- http_config on_shard0
    cc_claim_wake sometimes;
--- must_die
--- error_log
invalid value "sometimes" in "cc_claim_wake" directive, it must be "on" or "off"



=== TEST 49: cc_claim_wake in a location
--- http_config on_shard0
--- config
    location = /cc/claim { cc_identity trusted_header X-CC-Uid; cc_claim; cc_claim_wake off; }
--- must_die
--- error_log
"cc_claim_wake" directive is not allowed here
