package CcTest::Kafka;

# CcTest::Kafka - the project's Kafka mock broker (build/workers/
# cc-mockbroker, librdkafka's mock cluster) as a worker: start it and set
# $TEST_KAFKA_BROKERS, take every broker down and up again (SIGUSR1 /
# SIGUSR2, confirmed on its stderr), stop it.

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use CcTest::Util qw(wait_until);
use CcTest::Workers qw(spawn_worker worker_alive worker_stdout worker_stderr kill_worker stop_worker);

our @EXPORT = qw(kafka_start kafka_down kafka_up kafka_stop kafka_worker);

our $KafkaStartTimeout = 5;    # seconds for cc-mockbroker's bootstrap line

my $KAFKA;                     # the cc-mockbroker worker handle (kafka_start)

# kafka_start(partitions => 4, topics => ['cc.draws'], brokers => 1):
# spawn the mock, wait for its "bootstrap=..." line, set
# $ENV{TEST_KAFKA_BROKERS} and return the list.  While it runs, a no-op
# returning the current list (options are then ignored).
sub kafka_start {
    my (%o) = @_;
    my @bad = grep { !/^(?:partitions|topics|brokers)$/ } keys %o;
    croak "kafka_start: unknown option(s) @bad" if @bad;
    return $KAFKA->{bootstrap} if $KAFKA && worker_alive($KAFKA);

    my $topics = $o{topics} // ['cc.draws'];
    $topics = [$topics] unless ref $topics;
    my $h = spawn_worker('cc-mockbroker', '--brokers', $o{brokers} // 1,
                         '--partitions', $o{partitions} // 4,
                         map { ('--topic', $_) } @$topics);
    my $bootstrap;
    wait_until(sub {
        return 1 unless worker_alive($h);
        ($bootstrap) = worker_stdout($h) =~ /^bootstrap=(\S+)\n/;
        return defined $bootstrap;
    }, $KafkaStartTimeout);
    unless (defined $bootstrap) {
        my $why = worker_alive($h) ? "printed no bootstrap line in ${KafkaStartTimeout}s"
                                   : "exited with code $h->{exit_code}";
        kill_worker($h);
        die "kafka_start: cc-mockbroker $why\n--- stdout:\n" . worker_stdout($h)
          . "--- stderr:\n" . worker_stderr($h);
    }
    $h->{bootstrap} = $bootstrap;
    $KAFKA = $h;
    $ENV{TEST_KAFKA_BROKERS} = $bootstrap;
    return $bootstrap;
}

# Signal the mock and wait until it reports "brokers down|up" once more.
sub _kafka_signal {
    my ($sig, $state, $what) = @_;
    croak "$what: the mock broker is not running (kafka_start)"
        unless $KAFKA && worker_alive($KAFKA);
    my $count = sub { scalar(() = worker_stderr($KAFKA) =~ /^cc-mockbroker: brokers $state$/mg) };
    my $before = $count->();
    kill $sig, $KAFKA->{pid};
    wait_until(sub { $count->() > $before }, 5)
        or die "$what: cc-mockbroker did not report \"brokers $state\" within 5s\n";
    return 1;
}

# Every broker down (connections are accepted and closed at once) / up
# again; the topics' data is kept.  They return once the mock confirmed.
sub kafka_down { _kafka_signal('USR1', 'down', 'kafka_down') }
sub kafka_up   { _kafka_signal('USR2', 'up',   'kafka_up') }

# SIGTERM; returns its exit code.  A later kafka_start() starts a fresh,
# empty cluster on new ports.  $ENV{TEST_KAFKA_BROKERS} keeps the old list.
sub kafka_stop {
    return undef unless $KAFKA;
    my $h = $KAFKA;
    undef $KAFKA;
    return stop_worker($h, 'TERM', 5);
}

sub kafka_worker { $KAFKA }

1;
