# cc_flip_latency_seconds: a Prometheus histogram of the flips' time from
# the request's start to its answer, in the metrics' shared zone (so every
# worker's flips are in it): the counts grow by the flips made, the
# buckets are cumulative, a slow flip lands above the fast buckets.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use Time::HiRes qw(sleep);

my @le = qw(0.001 0.002 0.005 0.01 0.025 0.05 0.1 0.25 0.5 1 2.5 +Inf);

sub histogram {
    my ($st, $body) = http_request('GET', '/cc/metrics');
    my %h = (body => $body);
    $h{bucket}{$1} = $2 while $body =~ /^cc_flip_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/mg;
    ($h{sum}) = $body =~ /^cc_flip_latency_seconds_sum (\d+\.\d{3})$/m;
    ($h{count}) = $body =~ /^cc_flip_latency_seconds_count (\d+)$/m;
    return \%h;
}

sub cumulative {
    my ($h, $name) = @_;
    is_deeply([ map { exists $h->{bucket}{$_} ? 1 : 0 } @le ], [ (1) x @le ], "$name: every bucket is printed");
    ok(!grep({ $h->{bucket}{$le[$_]} < $h->{bucket}{$le[$_ - 1]} } 1 .. $#le), "$name: the buckets are cumulative");
    is($h->{bucket}{'+Inf'}, $h->{count}, "$name: +Inf is the count");
}

start_nginx(undef, workers => 2,
            http_config => on_shard0('cc_redis_timeout 5s;'),
            config => 'cc_identity trusted_header X-CC-Uid; location = /cc/flip { cc_flip; } location = /cc/grant { cc_grant; } '
                    . 'location = /cc/metrics { cc_metrics; }');

my $h0 = histogram();
like($h0->{body}, qr/^# HELP cc_flip_latency_seconds .+\n# TYPE cc_flip_latency_seconds histogram$/m,
     'the histogram has its HELP and TYPE');
is($h0->{count}, 0, 'no flip yet: count 0');
is($h0->{sum}, '0.000', 'and sum 0');
cumulative($h0, 'at start');

# 40 flips over both workers: 30 drawn, 10 refused; grants are not flips
http_request('POST', "/cc/grant?grant_id=g&n=30", { 'X-CC-Uid' => $_ }) for 1 .. 3;
my @res = map { concurrent_requests(10, 'POST', "/cc/flip?request_id=r%d", { 'X-CC-Uid' => $_ }) } 1 .. 4;
is(scalar(grep { $_->[0] == 200 } @res), 30, '30 flips drawn');
is(scalar(grep { $_->[0] == 409 } @res), 10, '10 refused (user 4 has no chances)');
is(redis_cmd(0, 'HGET', user_key(1), 's') + redis_cmd(0, 'HGET', user_key(2), 's')
   + redis_cmd(0, 'HGET', user_key(3), 's'), 30, 'redis: 30 draws');

my $h1 = histogram();
is($h1->{count}, 40, 'the count grew by the 40 flips, whatever their answer');
cumulative($h1, 'after 40 flips');
ok($h1->{sum} >= 0 && $h1->{sum} < 40 * 5, "the sum is their time ($h1->{sum}s)");

# a flip held by a frozen Redis (0.8s from just before the request, so
# 0.3s at least whatever the load) lands above 0.25s
redis_pause(0);
my $pid = fork // die "fork: $!";
if ($pid == 0) { sleep 0.8; redis_resume(0); CORE::exit(0) }
my ($st, $body) = http_request('POST', '/cc/flip?request_id=slow', { 'X-CC-Uid' => 1 });
waitpid $pid, 0;
redis_resume(0);
like("$st $body", qr/^200 \{"draw_id":"1:11"/, 'the slow flip is answered');
my $h2 = histogram();
is($h2->{count}, 41, 'count 41');
is($h2->{bucket}{'0.25'}, $h1->{bucket}{'0.25'}, 'the slow flip is in no bucket up to 0.25s');
is($h2->{bucket}{'+Inf'}, $h1->{bucket}{'+Inf'} + 1, 'but in +Inf');
ok($h2->{sum} - $h1->{sum} >= 0.3, sprintf('the sum grew by its time (%.3fs)', $h2->{sum} - $h1->{sum}));
cumulative($h2, 'after the slow flip');

# the metrics answer GET and HEAD only; a POST reads and changes nothing
my ($pst, $pbody) = http_request('POST', '/cc/metrics');
is($pst, 405, 'POST /cc/metrics: 405');
unlike($pbody // '', qr/cc_flip_latency_seconds/, '... with no metrics in its body');
my ($hst, $hbody) = http_request('HEAD', '/cc/metrics');
is($hst, 200, 'HEAD /cc/metrics: 200');
is($hbody // '', '', '... with no body');
is(histogram()->{count}, 41, 'the metrics did not change');

unlike(nginx_error_log(), qr/\[(error|alert|crit)\]/, 'no error in the log');
stop_nginx();

done_testing();
