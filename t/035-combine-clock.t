# One clock for the window (issue 22): the combine script checks
# cc_combine_cutoff against Redis's own clock (TIME), so a node whose
# clock is behind cannot take a combine after the cutoff.
#
# The module's clock and Redis's are made to disagree without a test-only
# directive or a fake clock: the cutoff is set 2 s ahead, a combine passes
# the module's own check (its clock: before the cutoff) while Redis is
# stopped (SIGSTOP), and Redis is let go once the cutoff has passed by
# Redis's clock.  The script then runs after the cutoff, exactly as it
# would for a node whose clock lags by those seconds.  (faketime, the
# other way, is not installed here and would need a wrapper in the
# harness; this needs neither.)  cc_redis_timeout is long enough to wait.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);
use CcKeys;
use CcMetrics;

my $cutoff = int(time) + 3;
start_nginx(undef, workers => 1,
            http_config => on_shard0('cc_cards 1 1 1;', 'cc_redis_timeout 8s;',
                                     "cc_combine_cutoff $cutoff;"),
            config => all_locations('location = /cc/metrics { cc_metrics; }'));

# users 7 and 8 hold a full set
redis_cmd(0, 'HSET', user_key($_), 'k0', 1, 'k1', 1, 'k2', 1) for 7, 8;

# before the cutoff by both clocks: taken
my ($st, $body) = http_request('POST', '/cc/combine?request_id=a', { 'X-CC-Uid' => 8 });
is("$st $body", '200 {"cards":[0,0,0],"kinds":3,"combined":true,"eligible":true}', 'before the cutoff: combined');

my $before = redis_snapshot();
my $m0 = metrics();

# the combine passes the module's check, then waits in a stopped Redis
redis_pause(0);
my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}") or die "connect: $!";
print $s "POST /cc/combine?request_id=late HTTP/1.1\r\nHost: x\r\nX-CC-Uid: 7\r\nContent-Length: 0\r\n"
       . "Connection: close\r\n\r\n";
sleep 0.3;
ok(time < $cutoff, 'sent before the cutoff by the module\'s clock');
sleep 0.1 while time < $cutoff + 0.3;
redis_resume(0);
ok(redis_cmd(0, 'TIME')->[0] >= $cutoff, 'Redis runs it after the cutoff by its clock');

my $raw = do { local $/; <$s> } // '';
my ($st2, $b2) = CcTest::_parse_response($raw);
is(($st2 // 'none') . ' ' . ($b2 // ''), '403 {"error":"campaign_closed"}',
   'the script refuses it by Redis\'s clock: 403 campaign_closed');
is(redis_snapshot(), $before, 'redis unchanged: no card consumed, no e, nothing in the draw log');
is(redis_cmd(0, 'HGET', user_key(7), 'e'), undef, 'user 7 did not combine');
my $m1 = metrics();
is($m1->{cc_closed_total} - $m0->{cc_closed_total}, 1, 'counted under cc_closed_total');
is($m1->{'cc_combines_total{result="ok"}'} - $m0->{'cc_combines_total{result="ok"}'}, 0, '... not as a combine');

# after the cutoff by both clocks: the module's own check, as before
($st, $body) = http_request('POST', '/cc/combine?request_id=b', { 'X-CC-Uid' => 7 });
is("$st $body", '403 {"error":"campaign_closed"}', 'after the cutoff by both clocks: 403');
is(redis_snapshot(), $before, 'redis unchanged');

is_deeply([grep { /\[(alert|crit|emerg)\]|exited on signal/ } split /\n/, nginx_error_log()], [],
          'no alert, crash or signal in the log');
stop_nginx();

done_testing();
