# A Kafka producer that cannot start in a worker is not fatal.  Some
# settings librdkafka checks only when the client is made, in each worker:
# an SSL file it loads then (the worker runs as another user than the
# master that ran nginx -t, and may not read it).  A worker whose
# init_process failed exited 2 and the master never replaced it: after a
# reload, no workers at all.  Now the worker logs one alert, counts
# cc_kafka_start_failures_total, publishes nothing, and serves every draw,
# which the Redis draw log carries to cc-reconcile (README, "No draw lost,
# none twice").  What the master can check, nginx -t refuses: t/003.

use strict;
use warnings;
use lib 't/lib';
use File::Temp ();
use CcTest;
use CcKeys;
use CcTest::NginxConf qw(app_locations);

plan skip_all => 'needs root: the workers must run as another user than the master'
    if $> != 0;

my $DIR = File::Temp::tempdir('cc-kafka-start-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0700, $DIR;

# a CA the master (root) reads and the workers (nobody) cannot
my $ca = "$DIR/ca.pem";
system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $DIR/ca.key -out $ca "
     . "-subj /CN=cc-test-ca -days 1 2>/dev/null") == 0 or die "openssl req failed";
chmod 0600, $ca;

my $brokers = kafka_start();

sub metric {
    my ($name) = @_;
    my (undef, $body) = http_request('GET', '/cc/metrics');
    return $body =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

start_nginx(undef, workers => 2,
    http_config => on_shards("cc_kafka_brokers $brokers;",
                             'cc_kafka_property security.protocol ssl;',
                             "cc_kafka_property ssl.ca.location $ca;"),
    config => app_locations());

ok(wait_until(sub { (metric('cc_kafka_start_failures_total') // 0) == 2 }, 10),
   'cc_kafka_start_failures_total 2: neither worker could read the CA')
    or diag nginx_error_log();
is(metric('cc_kafka_producers_down'), 2, 'cc_kafka_producers_down 2: two workers run without a producer');
my (undef, @workers) = nginx_pids();
is(scalar @workers, 2, '... and both workers still run');

for my $uid (1 .. 4) {
    my ($st, $body) = http_request('POST', "/cc/grant?grant_id=seed&n=3", { 'X-CC-Uid' => $uid });
    is($st, 200, "uid $uid granted 3 chances") or diag $body;
}

my $ok = 0;
for my $uid (1 .. 4) {
    for my $i (1 .. 3) {
        my ($st, $body) = http_request('POST', "/cc/flip?request_id=ks_${uid}_$i", { 'X-CC-Uid' => $uid });
        $ok++ if $st == 200 && $body =~ /"card"/;
    }
}
is($ok, 12, 'twelve flips answered 200 with a card');

my $logged = redis_cmd(0, 'XLEN', log_key()) + redis_cmd(1, 'XLEN', log_key());
ok($logged >= 1, "the draws are in the Redis draw log ($logged entries)");
my $draws = 0;
for my $s (0, 1) {
    for my $e (@{ redis_cmd($s, 'XRANGE', log_key(), '-', '+') }) {
        my %f = @{ $e->[1] };
        $draws += scalar grep { /^\d+:/ } split /\n/, ($f{d} // '');
    }
}
is($draws, 12, '... all twelve of them');
is(metric('cc_kafka_produced_total'), 0, 'nothing handed to a producer that did not start');
is(metric('cc_kafka_failed_total'), 0, '... so nothing counted as failed either');

my @alerts = nginx_error_log() =~ /\[alert\].*cc kafka: the producer did not start: (.*)/g;
is(scalar @alerts, 2, 'one alert per worker') or diag nginx_error_log();
like($alerts[0] // '', qr/ssl\.ca\.location failed.*; this worker publishes no draws \(cc-reconcile carries them from the Redis draw log\)/,
     '... with librdkafka\'s words and what it means');
unlike(nginx_error_log(), qr/\[emerg\]|exited with fatal code/, 'no emerg, no worker exited fatally');

# a reload keeps serving: its new workers fail the same way, not fatally
my ($master) = nginx_pids();
kill 'HUP', $master;
ok(wait_until(sub { (metric('cc_kafka_start_failures_total') // 0) == 4 }, 10),
   'after a reload: the two new workers counted too');
ok(wait_until(sub { (metric('cc_kafka_producers_down') // 0) == 2 }, 10),
   '... and the gauge is 2 again once the old workers took theirs back');
my ($st, $body) = http_request('POST', '/cc/flip?request_id=after_reload', { 'X-CC-Uid' => 4 });
is($st, 409, 'the new workers serve (uid 4 has no chance left: 409)') or diag $body;

is(stop_nginx(), '', 'nginx stopped cleanly');

# a CA the workers can read: a producer, nothing counted (the gauge too)
chmod 0755, $DIR;
chmod 0644, $ca;
start_nginx(undef, workers => 2,
    http_config => on_shards("cc_kafka_brokers $brokers;",
                             'cc_kafka_property security.protocol ssl;',
                             "cc_kafka_property ssl.ca.location $ca;"),
    config => app_locations());
my ($st2, $body2) = http_request('POST', '/cc/flip?request_id=readable', { 'X-CC-Uid' => 3 });
is($st2, 409, 'a readable CA: nginx serves') or diag $body2;
is(metric('cc_kafka_start_failures_total'), 0, '... no start failure');
is(metric('cc_kafka_producers_down'), 0, '... no worker without a producer');
unlike(nginx_error_log(), qr/\[alert\]/, '... no alert');
is(stop_nginx(), '', 'nginx stopped cleanly');

done_testing();
