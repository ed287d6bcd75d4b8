# cc_redis_auth: the module AUTHs as a Redis ACL user on every new
# connection, before any script, on nginx's loop.  Against a Redis whose
# default user is off: flips work with AUTH; without it, or with a wrong
# password, they fail (503), the failure is logged once and backed off
# like a failed connect, and the service recovers by itself once the
# password is right.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use File::Temp qw(tempdir);
use IO::Socket::INET;

sub flip  { http_request('POST', "/cc/flip?request_id=$_[1]", { 'X-CC-Uid' => $_[0] }) }
sub grant { http_request('POST', "/cc/grant?grant_id=$_[1]&n=$_[2]", { 'X-CC-Uid' => $_[0] }) }
sub spew  { my ($f, $text, $mode) = @_; open my $h, '>', $f or die "$f: $!"; print $h $text; close $h; chmod $mode, $f }
sub count { my $re = shift; scalar(() = nginx_error_log() =~ /$re/g) }

my $dir = tempdir('cc-auth-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $dir;
my $rport = free_port();
spew("$dir/redis.conf", <<"CONF", 0600);
port $rport
bind 127.0.0.1
save ""
appendonly no
dir $dir
user default off
user cc on >s3cret-redis ~cc:* &* +\@all -\@dangerous
user admin on >admin-pw ~* &* +\@all
CONF
my $redis = spawn_worker('/usr/bin/redis-server', "$dir/redis.conf");
wait_until(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$rport") }, 5) or die 'redis did not start';
sub admin { my $out = `redis-cli --no-auth-warning -p $rport --user admin --pass admin-pw @_ 2>&1`; chomp $out; $out }

spew("$dir/redis.pw", "s3cret-redis\n", 0600);
spew("$dir/redis.bad", "not-the-password", 0600);
my $shards = "    cc_redis_shards 127.0.0.1:$rport;\n    cc_redis_timeout 300ms;\n";

# ---- with AUTH --------------------------------------------------------------

start_nginx(undef, workers => 1, http_config => $shards . "    cc_redis_auth cc $dir/redis.pw;\n",
            config => all_locations());
my ($st, $body) = grant(1, 'g1', 2);
is("$st $body", '200 {"chances":2}', 'with cc_redis_auth: granted');
($st, $body) = flip(1, 'f1');
like("$st $body", qr/^200 \{"draw_id":"1:1","card":\d,"chances_left":1\}$/, '... and flipped');
is(admin('HGET', user_key(1), 'c'), 1, 'redis: the flip is stored, by the ACL user');
is(count(qr/\[error\]/), 0, 'no error logged');
stop_nginx();

# ---- without AUTH: the default user is off -----------------------------------

start_nginx(undef, workers => 1, http_config => $shards, config => all_locations());
($st, $body) = flip(1, 'f2');
is($st, 503, 'without cc_redis_auth: 503');
stop_nginx();

# ---- a wrong password: a failed connect, logged once, backed off ------------

start_nginx(undef, workers => 1, http_config => $shards . "    cc_redis_auth cc $dir/redis.bad;\n",
            config => all_locations("    location = /cc/metrics { cc_metrics; }\n"));
($st, $body) = flip(1, 'f3');
is("$st $body", '503 {"error":"storage_unavailable"}', 'a wrong password: 503 storage_unavailable');
($st, $body) = flip(1, 'f4');
is($st, 503, '... again');
ok(wait_until(sub { count(qr/\[error\].*redis shard 127\.0\.0\.1:$rport: AUTH as "cc" failed: WRONGPASS/) }, 3),
   'the refused AUTH is logged, with Redis\'s reason');
for (1 .. 5) { flip(1, "f5$_"); select undef, undef, undef, 0.05 }
is(count(qr/AUTH as "cc" failed/), 1, '... once, not at every retry');
my (undef, $m) = http_request('GET', '/cc/metrics');
like($m, qr/^cc_redis_connect_failures_total [1-9]\d*$/m, '... and counted as a connect failure');
unlike(nginx_error_log(), qr/\[(alert|crit|emerg)\]|signal \d+/, 'no crash');

# the password is set in Redis: it recovers by itself
like(admin('ACL', 'SETUSER', 'cc', "'>not-the-password'"), qr/OK/, 'redis: the password changed');
ok(wait_until(sub { my ($s) = flip(1, 'f6' . int(rand 1e9)); $s == 200 }, 5),
   'the module connects again after its backoff, no reload');
ok(count(qr/\[notice\].*redis shard 127\.0\.0\.1:$rport: connected again/) >= 1, 'the recovery is logged');
stop_nginx();
stop_worker($redis);

done_testing();
