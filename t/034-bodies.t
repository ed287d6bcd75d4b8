# No endpoint takes a body (issue 22): a request that sends one, by
# Content-Length above 0 or chunked, is refused before anything is done,
# 413 {"error":"body_not_allowed"}, on every handler, and the whole Redis
# dataset is unchanged after it.  A chunked body over client_max_body_size
# was discarded and the request acted on; a Content-Length over it is
# refused by nginx itself before the module runs (413, nginx's own page).
# The endpoints' 413s are counted under their bad_request result.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use IO::Socket::INET;
use CcKeys;
use CcMetrics;

start_nginx(undef, workers => 1, http_config => on_shard0(),
            config => 'client_max_body_size 1k;'
                    . all_locations('location = /cc/metrics { cc_metrics; }'));

# user 7 could act on every endpoint: chances, a full set, a pending award
redis_cmd(0, 'HSET', user_key(7), 'c', 5, 'k0', 1, 'k1', 1, 'k2', 1, 'k3', 1, 'k4', 1,
          'w', 'p:100:spring:7');

my $refused = '{"error":"body_not_allowed"}';
my %counter = (flip => 'cc_flips_total{result="bad_request"}',
               grant => 'cc_grants_total{result="bad_request"}',
               combine => 'cc_combines_total{result="bad_request"}',
               eligibility => 'cc_eligibility_checks_total{result="bad_request"}',
               award => 'cc_awards_total{result="bad_request"}',
               claim => 'cc_claims_total{result="bad_request"}');
my @requests = (['flip', 'POST', '/cc/flip?request_id=b1'],
                ['grant', 'POST', '/cc/grant?grant_id=b1&n=5'],
                ['combine', 'POST', '/cc/combine?request_id=b1'],
                ['eligibility', 'GET', '/cc/eligibility'],
                ['award', 'GET', '/cc/award'],
                ['claim', 'POST', '/cc/claim'],
                ['metrics', 'GET', '/cc/metrics']);

# one request with a body sent by hand: "cl" (Content-Length) or "chunked"
sub with_body {
    my ($method, $path, $how, $body) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}") or die "connect: $!";
    my $head = "$method $path HTTP/1.1\r\nHost: x\r\nX-CC-Uid: 7\r\nConnection: close\r\n";
    if ($how eq 'cl') {
        print $s $head . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    }
    else {
        print $s $head . "Transfer-Encoding: chunked\r\n\r\n";
        # in chunks of 500 bytes, as a client streaming it would
        for (my $i = 0; $i < length $body; $i += 500) {
            my $c = substr($body, $i, 500);
            printf $s "%x\r\n%s\r\n", length $c, $c;
        }
        print $s "0\r\n\r\n";
    }
    my $raw = do { local $/; <$s> } // '';
    my ($st, $b, $h) = CcTest::_parse_response($raw);
    return ($st // 'none', $b // '', $h);
}

my $before = redis_snapshot();

for my $r (@requests) {
    my ($name, $method, $path) = @$r;
    for my $case (['cl', 'a 5-byte body', 'hello'],
                  ['chunked', 'a chunked 5-byte body', 'hello'],
                  ['chunked', 'a chunked body over client_max_body_size', 'x' x 3000],
                  ['chunked', 'an empty chunked body', '']) {
        my ($how, $what, $body) = @$case;
        my $m0 = metrics();
        my ($st, $b, $h) = with_body($method, $path, $how, $body);
        is("$st $b", "413 $refused", "$name, $what: 413 body_not_allowed");
        like($h->{'content-type'} // '', qr{^application/json}, "$name, $what: JSON");
        is(redis_snapshot(), $before, "$name, $what: redis unchanged");
        next if $name eq 'metrics';
        my $m1 = metrics();
        is($m1->{$counter{$name}} - $m0->{$counter{$name}}, 1, "$name, $what: counted as $counter{$name}");
    }

    # over client_max_body_size by Content-Length: nginx answers first
    my ($st, $b) = with_body($method, $path, 'cl', 'x' x 3000);
    is($st, 413, "$name, a Content-Length over client_max_body_size: 413 from nginx");
    like($b, qr/413 Request Entity Too Large/, "$name, ... nginx's own page");
    is(redis_snapshot(), $before, "$name, ... redis unchanged");
}

# a body of nothing is no body: "Content-Length: 0" is served
my ($st, $b) = with_body('POST', '/cc/flip?request_id=ok', 'cl', '');
like("$st $b", qr/^200 \{"draw_id":"7:1","card":\d+,"chances_left":4\}$/, 'Content-Length: 0 is served');
($st, $b) = with_body('GET', '/cc/eligibility', 'cl', '');
like("$st $b", qr/^200 \{"cards":/, 'Content-Length: 0 is served on a GET too');

is_deeply([grep { /\[(alert|crit|emerg)\]|exited on signal/ } split /\n/, nginx_error_log()], [],
          'no alert, crash or signal in the log');
stop_nginx();

done_testing();
