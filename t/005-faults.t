# Redis down, slow, restarted, its script cache flushed; clients that hang
# up: the module answers 503 in time, never crashes, and recovers alone.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use Time::HiRes qw(time sleep);
use IO::Socket::INET;

sub flip  { http_request('POST', "/cc/flip?request_id=$_[1]", { 'X-CC-Uid' => $_[0] }) }
sub grant { http_request('POST', "/cc/grant?grant_id=$_[1]&n=$_[2]", { 'X-CC-Uid' => $_[0] }) }

sub log_has { my $re = shift; scalar(() = nginx_error_log() =~ /$re/g) }

# one shard, so the user's shard is known: 0
start_nginx(undef, workers => 1, http_config => on_shard0('cc_redis_timeout 300ms;'),
            config => all_locations());
my @pids = nginx_pids();

# --- Redis killed, then restarted ----------------------------------------

my ($st, $body) = grant(1, 'g1', 10);
is("$st $body", '200 {"chances":10}', 'granted before the outage');

redis_stop(0);
my $t0 = time;
($st, $body) = flip(1, 'down1');
is("$st $body", '503 {"error":"storage_unavailable"}', 'Redis killed: 503 storage_unavailable');
ok(time - $t0 < 0.3, 'answered at once, not after the timeout');
($st, $body) = flip(1, 'down2');
is("$st $body", '503 {"error":"storage_unavailable"}', 'still down: 503 again (backoff)');
ok(log_has(qr/\[error\].*redis shard 127\.0\.0\.1:\d+: (connection lost|connect failed)/) >= 1,
   'the outage is logged');

redis_start(0);
my $back = wait_until(sub { my ($s) = grant(1, 'g2', 3); $s == 200 }, 5);
ok($back, 'service resumes by itself once Redis is back');
($st, $body) = flip(1, 'up1');
like("$st $body", qr/^200 \{"draw_id":"1:1","card":\d,"chances_left":2\}$/,
     'flips again after the restart (the new Redis has only the new grant)');
is(redis_cmd(0, 'HGET', user_key(1), 'c'), 2, 'redis: the flip after the restart is stored');
ok(log_has(qr/\[notice\].*connected again/), 'the recovery is logged');

# --- Redis frozen: 503 within the configured timeout ---------------------

redis_pause(0);
$t0 = time;
($st, $body) = flip(1, 'slow1');
my $took = time - $t0;
is("$st $body", '503 {"error":"storage_unavailable"}', 'Redis frozen: 503');
ok($took >= 0.25 && $took < 0.8, sprintf('answered after the 300ms timeout (%.3fs)', $took));
ok(log_has(qr/\[error\].*no reply in time, dropping connection/), 'the timeout is logged');

# concurrent requests while frozen all fail in time too
$t0 = time;
my @res = concurrent_requests(30, 'POST', '/cc/flip?request_id=slowc%d', { 'X-CC-Uid' => 1 });
$took = time - $t0;
is(scalar(grep { $_->[0] == 503 } @res), 30, '30 concurrent requests while frozen: all 503');
ok($took < 1.5, sprintf('all answered within the timeout and backoff (%.3fs)', $took));

redis_resume(0);
$back = wait_until(sub { my ($s) = flip(1, 'after-freeze'); $s == 200 }, 5);
ok($back, 'service resumes by itself once Redis thaws');

# --- NOSCRIPT: Redis forgot the scripts -----------------------------------

# (the frozen flip slow1 may have run once Redis thawed: the timeout drops
# the connection, not the command Redis already holds; hence new chances)
grant(1, 'g-ns', 5);
redis_cmd(0, 'SCRIPT', 'FLUSH');
($st, $body) = flip(1, 'noscript');
like("$st $body", qr/^200 \{"draw_id":"1:\d+"/, 'after SCRIPT FLUSH the flip still works');
my $before = redis_cmd(0, 'HGET', user_key(1), 'c');
redis_cmd(0, 'SCRIPT', 'FLUSH');
($st, $body) = grant(1, 'g3', 1);
is("$st $body", '200 {"chances":' . ($before + 1) . '}', 'and so does the grant');
is(redis_cmd(0, 'SISMEMBER', grants_key(1), 'g3'), 1, 'redis: the grant id is recorded');
ok(!log_has(qr/NOSCRIPT/), 'NOSCRIPT is handled, not logged as an error');

# --- a key of the wrong type fails its own request, not its batch ---------

redis_cmd(0, 'SET', user_key(66), 'not a hash');
redis_cmd(0, 'HSET', user_key(67), 'c', 100);
{
    # two clients write at once, so both flips usually share one EVALSHA
    my @s = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}") or die } 0 .. 1;
    my @uid = (66, 67);
    for my $i (0, 1) {
        print { $s[$i] } "POST /cc/flip?request_id=mix HTTP/1.1\r\nHost: x\r\nX-CC-Uid: $uid[$i]\r\n"
                       . "Content-Length: 0\r\nConnection: close\r\n\r\n";
    }
    my @res = map { local $/; my $fh = $_; scalar <$fh> } @s;
    like($res[0], qr/^HTTP\/1\.1 503 .*\{"error":"storage_unavailable"\}$/s, 'the user with a broken key: 503');
    like($res[1], qr/^HTTP\/1\.1 200 .*\{"draw_id":"67:1","card":\d,"chances_left":99\}$/s,
         'the other user in the same turn: 200');
    ok(log_has(qr/\[error\].*redis shard .*WRONGTYPE/), 'the broken key is logged');
    is(redis_cmd(0, 'HGET', user_key(67), 's'), 1, 'redis: the good flip is stored');
}

# --- clients that hang up --------------------------------------------------

redis_cmd(0, 'HSET', user_key(2), 'c', 100);

# the reply comes after the client left: the command is detached, then freed
redis_pause(0);
CcTest::_abort_request('POST', "/cc/flip?request_id=gone$_", { 'X-CC-Uid' => 2 }) for 1 .. 20;
sleep 0.1;
redis_resume(0);
sleep 0.3;

# the flips Redis ran are found by the client's retry with the same id
my %first;
for my $i (1 .. 20) {
    my ($s, $b) = flip(2, "gone$i");
    $first{$i} = $b if $s == 200;
}
my $s = redis_cmd(0, 'HGET', user_key(2), 's');
is(scalar keys %first, 20, 'every abandoned flip can be retried');
is($s, 20, 'redis: each abandoned request id was drawn once');
is(redis_cmd(0, 'HGET', user_key(2), 'c'), 80, 'redis: 20 chances spent, not more');
is(scalar(grep { (flip(2, "gone$_"))[1] eq $first{$_} } 1 .. 20), 20, 'a second retry answers the same');

# the client leaves and the command then times out
redis_pause(0);
CcTest::_abort_request('POST', "/cc/flip?request_id=late$_", { 'X-CC-Uid' => 2 }) for 1 .. 10;
sleep 0.5;
redis_resume(0);
$back = wait_until(sub { my ($s) = flip(2, 'later'); $s == 200 }, 5);
ok($back, 'serving again after abandoned requests timed out');

# Redis killed with commands in flight
redis_pause(0);
my $pid = fork // die;
if ($pid == 0) { concurrent_requests(20, 'POST', '/cc/flip?request_id=inflight%d', { 'X-CC-Uid' => 2 }); exit 0 }
sleep 0.1;
redis_stop(0);
waitpid $pid, 0;
redis_start(0);
$back = wait_until(sub { my ($s) = grant(3, 'x', 1); $s == 200 }, 5);
ok($back, 'serving again after Redis died with commands in flight');

is_deeply([ nginx_pids() ], \@pids, 'the same worker served the whole test: no crash');
ok(!log_has(qr/\[(alert|crit|emerg)\]|signal \d+/), 'no alert, crit or signal in the log');
stop_nginx();

done_testing();
