# librdkafka's own settings (SASL, TLS, client.id ...) pass through from
# the configuration to every Kafka client (issue 22): the module's
# cc_kafka_property NAME VALUE, and the workers' --kafka-property
# NAME=VALUE and --kafka-config FILE.  Each is shown effective against the
# mock broker, which speaks plaintext only: security.protocol=ssl makes
# the client fail to reach it (and message.timeout.ms, passed the same
# way, makes the failure quick); plaintext, the same as no setting, works.
# (librdkafka 2.0's mock cluster has no SASL, so a SASL PLAIN round trip
# with a right and a wrong password cannot be tested here.)  Bad names and
# values are refused at start: t/003 (nginx -t) and t/017 (workers).

use strict;
use warnings;
use lib 't/lib';
use File::Temp ();
use CcTest;
use CcCampaign;

my $DIR = File::Temp::tempdir('cc-kafka-props-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub metric {
    my ($name) = @_;
    my (undef, $body) = http_request('GET', '/cc/metrics');
    return $body =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# ---- the module ---------------------------------------------------------------

# TLS against a plaintext broker: nothing is delivered, each flip fails
campaign_up(http_config => "    cc_kafka_property security.protocol ssl;\n"
                         . "    cc_kafka_property message.timeout.ms 1500;\n");
grant_users(1, 2, 5);
is(flip_users(1, 2, 3, 'tls'), 6, 'six flips answered 200 (the Kafka leg never fails a request)');
ok(wait_until(sub { (metric('cc_kafka_failed_total') // 0) == 6 }, 15),
   'cc_kafka_property security.protocol ssl: all six failed, TLS against a plaintext broker');
is(metric('cc_kafka_delivered_total'), 0, '... none delivered');

# plaintext, and client.id: delivered
is(stop_nginx(), '', 'that nginx stopped cleanly');
campaign_nginx(http_config => "    cc_kafka_property security.protocol plaintext;\n"
                            . "    cc_kafka_property client.id cc-test-node;\n");
is(flip_users(1, 2, 2, 'plain'), 4, 'four more flips answered 200');
ok(wait_until(sub { (metric('cc_kafka_delivered_total') // 0) == 4 }, 15),
   'cc_kafka_property security.protocol plaintext: the four delivered');
is(metric('cc_kafka_failed_total'), 0, '... none failed');
unlike(nginx_error_log(), qr/\[emerg\]|\[alert\]/, 'no emerg or alert in the error log');

# ---- cc-produce ------------------------------------------------------------------

my $brokers = $ENV{TEST_KAFKA_BROKERS};

sub produce {
    my (@opt) = @_;
    my $w = spawn_worker('/bin/sh', '-c',
        "printf 'k\\tv\\n' | $CcTest::WorkerDir/cc-produce --brokers $brokers --topic cc.props @opt");
    my $rc = wait_worker($w, 30);
    return ($rc, worker_stderr($w));
}

my ($rc, $err) = produce('--kafka-property', 'security.protocol=ssl', '--kafka-property', 'message.timeout.ms=1500');
is($rc, 1, 'cc-produce --kafka-property security.protocol=ssl: not delivered, exit 1');
like($err, qr/1 sent, 1 not delivered/, '... saying so');

my $conf = "$DIR/kafka.conf";
open my $f, '>', $conf or die "$conf: $!";
print $f "# the broker's listener\nsecurity.protocol = plaintext\nclient.id=cc-produce-test\n";
close $f;
chmod 0600, $conf;
($rc, $err) = produce('--kafka-config', $conf);
is($rc, 0, 'cc-produce --kafka-config (0600, plaintext): delivered, exit 0') or diag $err;
like($err, qr/1 messages delivered to cc\.props/, '... saying so');

# ---- cc-ingest --------------------------------------------------------------------

# a combine on the topic: cc-ingest over TLS reads nothing, over plaintext
# writes it
my $p = spawn_worker('/bin/sh', '-c',
    qq(printf '4242\\t{"type":"combine","uid":"4242","request_id":"props","ts":1700000000000}\\n' )
  . "| $CcTest::WorkerDir/cc-produce --brokers $brokers");
is(wait_worker($p, 30), 0, 'a combine of uid 4242 produced');

sub eligible_4242 {
    mysql_value('SELECT COUNT(*) FROM cc_s0.eligibility WHERE uid = 4242')
        + mysql_value('SELECT COUNT(*) FROM cc_s1.eligibility WHERE uid = 4242');
}

my $w = start_ingest('--group', 'props-tls', '--kafka-property', 'security.protocol=ssl');
ok(wait_until(sub { worker_stderr($w) =~ /ssl:\/\/\S+: SSL handshake failed/ }, 20),
   'cc-ingest --kafka-property security.protocol=ssl: its TLS handshake with the broker fails, logged')
    or diag worker_stderr($w);
is(eligible_4242(), 0, '... and it wrote nothing');
stop_worker($w);

$w = start_ingest('--group', 'props-plain', '--exit-idle', 3, '--kafka-config', $conf);
is(wait_worker($w, 60), 0, 'cc-ingest --kafka-config (plaintext): exit 0') or diag worker_stderr($w);
is(eligible_4242(), 1, '... and the combine is in MySQL');

done_testing();
