# Batching: the requests of one turn leave as one EVALSHA, and while a
# batch is in flight on a shard's connection the next requests wait for its
# reply and then leave together (a full batch of 64 leaves at once).  The
# EVALSHA count in Redis's commandstats shows how they left.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use File::Temp qw(tempfile);
use Time::HiRes qw(sleep);

sub evalsha_calls {
    my ($line) = redis_cmd(0, 'INFO', 'commandstats') =~ /^cmdstat_evalsha:calls=(\d+)/m;
    return $line // 0;
}

# $n flips of user $uid at once (request ids $tag1..$tag$n), in a child;
# its answers go to a file
sub flips_in_child {
    my ($uid, $n, $tag) = @_;
    my ($fh, $file) = tempfile(UNLINK => 1);
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my @res = concurrent_requests($n, 'POST', "/cc/flip?request_id=$tag%d", { 'X-CC-Uid' => $uid });
        open my $out, '>', $file or die;
        print $out join("\n", map { ($_->[0] // 'none') . " " . ($_->[1] // '') } @res), "\n";
        close $out;
        CORE::exit(0);
    }
    return ($pid, $file);
}

sub answers { my $f = shift; open my $in, '<', $f or die; map { chomp; $_ } <$in> }

start_nginx(undef, workers => 1,
            http_config => on_shard0('cc_redis_timeout 10s;', 'cc_cards 1 1000000;'),
            config => all_locations());

redis_cmd(0, 'HSET', user_key(1), 'c', 1);
redis_cmd(0, 'HSET', user_key(2), 'c', 130);
redis_cmd(0, 'HSET', user_key(3), 'c', 1);

# one request alone leaves at once, as one EVALSHA
redis_cmd(0, 'CONFIG', 'RESETSTAT');
my ($st, $body) = http_request('POST', '/cc/flip?request_id=a', { 'X-CC-Uid' => 3 });
is("$st $body", '200 {"draw_id":"3:1","card":1,"chances_left":0}', 'a lone flip is answered');
is(evalsha_calls(), 1, 'in one EVALSHA');

# Redis frozen with one batch in flight: the next 130 requests wait, except
# the two full batches of 64, which leave at once; the last 2 leave when
# the first reply comes back
redis_cmd(0, 'CONFIG', 'RESETSTAT');
redis_pause(0);
my ($p1, $f1) = flips_in_child(1, 1, 'first');
sleep 0.3;
my ($p2, $f2) = flips_in_child(2, 130, 'w');
sleep 1;
redis_resume(0);
waitpid $_, 0 for $p1, $p2;

my @first = answers($f1);
is_deeply(\@first, [ '200 {"draw_id":"1:1","card":1,"chances_left":0}' ], 'the first flip is answered');
my @wave = answers($f2);
my %seq = map { m/^200 \{"draw_id":"2:(\d+)","card":1,"chances_left":(\d+)\}$/ && $1 + $2 == 130 ? ($1 => 1) : () }
          @wave;
is_deeply([ sort { $a <=> $b } keys %seq ], [ 1 .. 130 ], 'the 130 waiting flips are the draws 2:1 .. 2:130');
is(evalsha_calls(), 4, 'sent as 4 EVALSHAs: the first alone, 2 full batches of 64, then the last 2');
is(redis_cmd(0, 'HGET', user_key(2), 's'), 130, 'redis: user 2 drew 130 times');
is(redis_cmd(0, 'HGET', user_key(2), 'c'), 0, 'redis: and has no chance left');
my @entries = @{ redis_cmd(0, 'XRANGE', log_key(), '-', '+') };
is_deeply([ map { scalar(() = $_->[1][1] =~ /\n/g) + 1 } @entries ], [ 1, 1, 64, 64, 2 ],
          'redis: one log entry a batch: the lone flip, the first, 64, 64, 2');

unlike(nginx_error_log(), qr/\[(error|alert|crit)\]/, 'no error in the log');
stop_nginx();

done_testing();
