# Every worker refuses a bad option the same way: a clear error on stderr
# and exit 2, before it opens anything; --help prints the usage on stdout
# and exits 0.  The reasons for a bad address are cc_addr's.

use strict;
use warnings;
use lib 't/lib';
use File::Temp ();
use IO::Socket::INET;
use CcTest;

# --kafka-config files: one others may read, one with a bad property
my $kdir = File::Temp::tempdir('cc-opts-XXXXXX', TMPDIR => 1, CLEANUP => 1);
sub kafka_file {
    my ($name, $mode, $text) = @_;
    open my $f, '>', "$kdir/$name" or die "$kdir/$name: $!";
    print $f $text;
    close $f;
    chmod $mode, "$kdir/$name";
    return "$kdir/$name";
}
my $k_open = kafka_file('open.conf', 0644, "sasl.password=secret\n");
my $k_bad = kafka_file('bad.conf', 0600, "# SASL\n\nsasl.mechanisms = PLAIN\nsecurity.protocol=pigeon\n");
my $k_noeq = kafka_file('noeq.conf', 0600, "sasl.username\n");
my $k_commit = kafka_file('commit.conf', 0600, "client.id=x\n enable.auto.commit = true\n");

# the secrets' files (issue 22): a good one, and one others may read
use File::Temp qw(tempdir);
my $sdir = tempdir('cc-opt-XXXXXX', TMPDIR => 1, CLEANUP => 1);
for ([ 'ok', 0600 ], [ 'open', 0644 ], [ 'group', 0660 ]) {
    open my $h, '>', "$sdir/$_->[0]" or die $!;
    print $h "pw\n";
    close $h;
    chmod $_->[1], "$sdir/$_->[0]";
}
open my $empty, '>', "$sdir/empty" or die $!;
close $empty;
chmod 0600, "$sdir/empty";
my @M = ('--mysql', '127.0.0.1:1/cc_x');
my @R = ('--redis', '127.0.0.1:1');
delete @ENV{qw(CC_REDIS_USER CC_REDIS_PASSWORD CREDENTIALS_DIRECTORY)};

my @cases = (
    [ [ 'cc-ingest', '--init-shards', @M, '--mysql-password-file', "$sdir/open" ],
      qr/^cc-ingest: --mysql-password-file: \Q$sdir\E\/open: group or others have access \(mode 0644\); a secret must be chmod 0600 or 0400$/m ],
    [ [ 'cc-ingest', '--init-shards', @M, '--mysql-password-file', "$sdir/none" ],
      qr/^cc-ingest: --mysql-password-file: \Q$sdir\E\/none: No such file or directory$/m ],
    [ [ 'cc-ingest', '--init-shards', @M, '--mysql-password-file', "$sdir/empty" ],
      qr/^cc-ingest: --mysql-password-file: \Q$sdir\E\/empty: empty$/m ],
    [ [ 'cc-ingest', '--init-shards', @M, '--mysql-password-file', $sdir ],
      qr/^cc-ingest: --mysql-password-file: \Q$sdir\E: not a regular file$/m ],
    [ [ 'cc-ingest', '--init-shards', @M, '--redis-user', 'cc' ], qr/unrecognized option '--redis-user'/ ],
    [ [ 'cc-reconcile', '--once', @R, @M, '--mysql-password-file', "$sdir/group" ],
      qr/^cc-reconcile: --mysql-password-file: .*group: group or others have access \(mode 0660\)/m ],
    [ [ 'cc-reconcile', '--once', @R, @M, '--redis-user', 'cc' ],
      qr/^cc-reconcile: --redis-user cc needs a password \(--redis-password-file, the credential cc-redis-password or \$CC_REDIS_PASSWORD\)$/m ],
    [ [ 'cc-reconcile', '--once', @R, @M, '--redis-password-file', "$sdir/open" ],
      qr/^cc-reconcile: --redis-password-file: .*open: group or others have access \(mode 0644\)/m ],
    [ [ 'cc-reconcile', '--money', '--campaign', '/x', @R, @M, '--redis-password-file', "$sdir/open" ],
      qr/^cc-reconcile: --redis-password-file: .*open: group or others have access/m ],
    [ [ 'cc-draw', '--campaign', '/x', @R, @M, '--mysql-password-file', "$sdir/open" ],
      qr/^cc-draw: --mysql-password-file: .*open: group or others have access/m ],
    [ [ 'cc-draw', '--campaign', '/x', @R, @M, '--redis-user', 'cc' ], qr/^cc-draw: --redis-user cc needs a password/m ],
    [ [ 'cc-draw', '--campaign', '/x', @R, @M, '--mysql-password-file' ], qr/option '--mysql-password-file' requires an argument/ ],
    [ [ 'cc-mockbroker', '--brokers', '0' ], qr/--brokers must be an integer in 1\.\.9, not "0"/ ],
    [ [ 'cc-mockbroker', '--partitions', ' 4' ], qr/--partitions must be an integer in 1\.\.256, not " 4"/ ],
    [ [ 'cc-mockbroker', '--partitions', '+4' ], qr/--partitions must be an integer in 1\.\.256, not "\+4"/ ],
    [ [ 'cc-mockbroker', '--port', '-1' ], qr/--port must be an integer in 0\.\.65535, not "-1"/ ],
    [ [ 'cc-mockbroker', '--port', '65536' ], qr/--port must be an integer in 0\.\.65535, not "65536"/ ],
    [ [ 'cc-mockbroker', '--port', 'x' ], qr/--port must be an integer in 0\.\.65535, not "x"/ ],
    [ [ 'cc-mockbroker', '--port', '' ], qr/--port must be an integer in 0\.\.65535, not ""/ ],
    [ [ 'cc-mockbroker', '--port', '65535', '--brokers', '2' ],
      qr/^cc-mockbroker: --port 65535 with 2 brokers would need ports up to 65536, above 65535$/m ],
    [ [ 'cc-mockbroker', '--nope' ], qr/usage: cc-mockbroker/ ],
    [ [ 'cc-mockbroker', 'extra' ], qr/usage: cc-mockbroker/ ],
    [ [ 'cc-produce', '--nope' ], qr/usage: cc-produce/ ],
    [ [ 'cc-produce', '--brokers', 'h:1', 'extra' ], qr/usage: cc-produce/ ],
    [ [ 'cc-produce', '--brokers', 'h:1', '--users', '0' ], qr/--users must be an integer in 1\.\.100000000, not "0"/ ],
    [ [ 'cc-produce', '--brokers', 'h:1', '--kafka-property', 'no.such=1' ],
      qr/^cc-produce: --kafka-property: Kafka property "no\.such": No such configuration property: "no\.such"$/m ],
    [ [ 'cc-produce', '--brokers', 'h:1', '--kafka-property', 'client.id' ],
      qr/^cc-produce: bad --kafka-property "client\.id", expected NAME=VALUE$/m ],
    [ [ 'cc-produce', '--brokers', 'h:1', '--kafka-config', $k_open ],
      qr/^cc-produce: --kafka-config \S+open\.conf: its group or others may read or change it \(mode 0644\): it may hold secrets, chmod 600 it$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'security.protocol=pigeon' ],
      qr/^cc-ingest: --kafka-property: Kafka property "security\.protocol": Invalid value "pigeon" for configuration property "security\.protocol"$/m ],
    # the consumer's own settings: a property may not replace them
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'enable.auto.commit=true' ],
      qr/^cc-ingest: --kafka-property: Kafka property "enable\.auto\.commit" is not the operator's to set: cc-ingest commits a batch's offsets itself, only after its MySQL commit$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'auto.commit.enable=true' ],
      qr/^cc-ingest: --kafka-property: Kafka property "auto\.commit\.enable" is not the operator's to set: cc-ingest commits/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'enable.auto.offset.store=false' ],
      qr/^cc-ingest: --kafka-property: Kafka property "enable\.auto\.offset\.store" is not the operator's to set: cc-ingest commits/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'group.id=other' ],
      qr/^cc-ingest: --kafka-property: Kafka property "group\.id" is not the operator's to set: --group sets it$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'bootstrap.servers=h:2' ],
      qr/^cc-ingest: --kafka-property: Kafka property "bootstrap\.servers" is not the operator's to set: --brokers sets it$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'metadata.broker.list=h:2' ],
      qr/^cc-ingest: --kafka-property: Kafka property "metadata\.broker\.list" is not the operator's to set: --brokers sets it$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', 'auto.offset.reset=latest' ],
      qr/^cc-ingest: --kafka-property: Kafka property "auto\.offset\.reset" is not the operator's to set: a new group reads the topic from its start/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-config', $k_commit ],
      qr/^cc-ingest: --kafka-config \S+commit\.conf: line 2: Kafka property "enable\.auto\.commit" is not the operator's to set/m ],
    [ [ 'cc-produce', '--brokers', 'h:1', '--kafka-property', 'bootstrap.servers=h:2' ],
      qr/^cc-produce: --kafka-property: Kafka property "bootstrap\.servers" is not the operator's to set: --brokers sets it$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-property', '=1' ],
      qr/^cc-ingest: bad --kafka-property "=1", expected NAME=VALUE$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-config', $k_open ],
      qr/^cc-ingest: --kafka-config \S+open\.conf: its group or others may read or change it \(mode 0644\)/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-config', $k_bad ],
      qr/^cc-ingest: --kafka-config \S+: line 4: Kafka property "security\.protocol": Invalid value "pigeon"/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-config', $k_noeq ],
      qr/^cc-ingest: --kafka-config \S+: line 1: expected NAME=VALUE$/m ],
    [ [ 'cc-ingest', '--brokers', 'h:1', '--mysql', 'h:1/db', '--kafka-config', '/nonexistent' ],
      qr/^cc-ingest: --kafka-config \/nonexistent: No such file or directory$/m ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', '[::1:3306/db' ],
      qr/bad MySQL shard "\[::1:3306\/db", expected host:port\/database \(unclosed bracket\)/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', '::1:3306/db' ],
      qr/\(IPv6 address not in brackets\)/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:3306' ], qr/\(no \/database\)/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:3306/a-b' ], qr/\(bad database name\)/ ],
    [ [ 'cc-reconcile', '--once', '--batch', '0', '--redis', 'h:1', '--mysql', 'h:1/db' ],
      qr/--batch must be an integer in 1\.\.5000, not "0"/ ],
    [ [ 'cc-reconcile', '--once', '--redis', 'h:1', '--redis', '[::1', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: bad --redis "\[::1", expected host:port \(unclosed bracket\)$/m ],
    [ [ 'cc-reconcile', '--money', '--campaign', '/nonexistent', '--redis', 'h', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: bad --redis "h", expected host:port \(missing port\)$/m ],
    [ [ 'cc-reconcile', '--money', '--nope' ], qr/unrecognized option '--nope'.*usage: cc-reconcile --money/s ],

    [ [ 'cc-draw', '--nope' ], qr/unrecognized option '--nope'\nusage: cc-draw --campaign FILE/ ],
    [ [ 'cc-draw', '--redis', 'h:1', '--mysql', 'h:1/db' ], qr/^cc-draw: --campaign is needed$/m ],
    [ [ 'cc-draw', '--campaign', 'f', '--redis', 'h:1', '--mysql', 'h:1/db', '--batch', '0' ],
      qr/^cc-draw: --batch must be an integer in 1\.\.20000, not "0"$/m ],
    [ [ 'cc-draw', '--campaign', 'f', '--redis', 'h:1', '--mysql', 'h:1/db', '--shard', 'x' ],
      qr/^cc-draw: --shard must be an integer in 0\.\.1023, not "x"$/m ],
    [ [ 'cc-draw', '--campaign', 'f', '--redis', 'h:1', '--mysql', 'h:1/db', 'extra' ],
      qr/^cc-draw: unexpected argument "extra"$/m ],
    [ [ 'cc-draw', '--campaign', '/nonexistent', '--redis', 'h:1', '--mysql', 'h:1/db' ],
      qr/^cc-draw: \/nonexistent: No such file or directory$/m ],

    [ [ 'cc-payout', '--nope' ], qr/unrecognized option '--nope'\nusage: cc-payout --campaign FILE/ ],
    [ [ 'cc-payout', '--redis', 'h:1', '--mysql', 'h:1/db' ],
      qr/^cc-payout: --campaign, --redis and --mysql are required \(see --help\)$/m ],
    [ [ 'cc-payout', '--campaign', 'f', '--redis', 'h:1', '--mysql', 'h:1/db', '--batch', '0' ],
      qr/^cc-payout: --batch must be an integer in 1\.\.50000, not "0"$/m ],
    [ [ 'cc-payout', '--campaign', 'f', '--redis', 'h:1', '--mysql', 'h:1/db', '--idle-ms', '-1' ],
      qr/^cc-payout: --idle-ms must be an integer in 1\.\.10000, not "-1"$/m ],
    [ [ 'cc-payout', '--campaign', '/nonexistent', '--redis', 'h:1', '--mysql', 'h:1/db' ],
      qr/^cc-payout: campaign file \/nonexistent: .*No such file or directory$/m ],

    # issue 18: a shard's candidates, Sentinels, the lost flips
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'a:1,b:2,c:3,d:4,e:5/db' ],
      qr/^cc-ingest: bad MySQL shard "a:1,b:2,c:3,d:4,e:5\/db", expected host:port\/database \(more than 4 host:port\)$/m ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:1,h/db' ],
      qr/^cc-ingest: bad MySQL shard "h:1,h\/db", expected host:port\/database \(missing port\)$/m ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:1,/db' ], qr/\(missing port\)$/m ],
    [ [ 'cc-reconcile', '--once', '--sentinel', 'h', '--redis', 'cc0', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: bad --sentinel "h", expected host:port \(missing port\)$/m ],
    [ [ 'cc-reconcile', '--once', (map { ('--sentinel', "h:$_") } 1 .. 9), '--redis', 'cc0', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: more than 8 --sentinel$/m ],
    [ [ 'cc-reconcile', '--once', '--redis', 'cc 0', '--sentinel', 'h:1', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: bad --redis "cc 0", expected a Sentinel master name \(\[A-Za-z0-9._-\], 1\.\.64\)$/m ],
    [ [ 'cc-reconcile', '--money', '--campaign', '/x', '--sentinel', '[::1', '--redis', 'cc0', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: bad --sentinel "\[::1", expected host:port \(unclosed bracket\)$/m ],
    [ [ 'cc-draw', '--campaign', 'f', '--sentinel', 'h:0', '--redis', 'cc0', '--mysql', 'h:1/db' ],
      qr/^cc-draw: bad --sentinel "h:0", expected host:port \(bad port\)$/m ],
    [ [ 'cc-payout', '--campaign', 'f', '--sentinel', 'h', '--redis', 'cc0', '--mysql', 'h:1/db' ],
      qr/^cc-payout: bad --sentinel "h", expected host:port \(missing port\)$/m ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:1/db', '--sentinel', 'h:1' ], qr/unrecognized option '--sentinel'/ ],
    [ [ 'cc-reconcile', '--once', '--restore', '--request-ttl', '0', '--redis', 'h:1', '--mysql', 'h:1/db' ],
      qr/^cc-reconcile: --request-ttl must be an integer in 1\.\.31536000, not "0"$/m ],

    [ [ 'cc-wallet-sim', '--nope' ], qr/unrecognized option '--nope'\nusage: cc-wallet-sim --listen HOST:PORT/ ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0' ],
      qr/^cc-wallet-sim: --listen, --secret-file and --statement are required \(see --help\)$/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y', '--seed', '-1' ],
      qr/^cc-wallet-sim: --seed must be an integer in 0\.\.9223372036854775807, not "-1"$/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y', '--fail-pct', '1.5' ],
      qr/^cc-wallet-sim: --fail-pct must be an integer in 0\.\.100, not "1\.5"$/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y', '--fail-detail', 'c:7' ],
      qr/^cc-wallet-sim: --fail-detail "c:7": KEY=N expected \(KEY 1\.\.80 bytes without a comma\), at most 64$/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y', '--fail-detail', 'a,b=1' ],
      qr/^cc-wallet-sim: --fail-detail "a,b=1": KEY=N expected/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y', '--fail-detail', 'c:7=0' ],
      qr/^cc-wallet-sim: --fail-detail's N must be an integer in 1\.\.1000, not "0"$/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y',
        map { ('--fail-detail', "k$_=1") } 1 .. 65 ],
      qr/^cc-wallet-sim: --fail-detail "k65=1": KEY=N expected .*, at most 64$/m ],
    [ [ 'cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', 'x', '--statement', 'y', '--accept-max', '0' ],
      qr/^cc-wallet-sim: --accept-max must be an integer in 1\.\.1000000000, not "0"$/m ],

    [ [ 'cc-token', '--nope' ], qr/unrecognized option '--nope'\ncc-token: see --help$/m ],
    [ [ 'cc-token' ], qr/^cc-token: --secret FILE is needed \(see --help\)$/m ],
    [ [ 'cc-token', '--secret', '/nonexistent', '--uid', '1' ],
      qr/^cc-token: --secret: cannot open secret file "\/nonexistent": No such file or directory$/m ],
    [ [ 'cc-token', '--secret', '/nonexistent', '--uid', '0' ],
      qr/^cc-token: --uid must be a positive 64-bit decimal with no leading zero, not "0"$/m ],

    [ [ 'cc-estimate', '--nope' ], qr/unrecognized option '--nope'\nusage: cc-estimate --users N/ ],
    [ [ 'cc-estimate', '--users', '0' ], qr/^cc-estimate: --users must be an integer in 1\.\.10000000000, not "0"$/m ],
    [ [ 'cc-estimate', '--days', 'x' ], qr/^cc-estimate: --days must be an integer in \d+\.\.\d+, not "x"$/m ],
    [ [ 'cc-estimate', '--capacity', '--peak-flips', '0' ],
      qr/^cc-estimate: --peak-flips must be an integer in 1\.\.1000000000, not "0"$/m ],
);

for my $c (@cases) {
    my ($args, $why) = @$c;
    my ($rc, $out, $err) = run_worker($args);
    is($rc, 2, "@$args: exit 2");
    like($err, $why, '... saying why');
    is($out, '', '... nothing on stdout');
}

# cc-mockbroker --port N: broker i on 127.0.0.1:N+i-1, printed as its
# bootstrap list, and a producer delivers there; a port in use is exit 1
{
    # two free ports in a row, below the ephemeral range: there, any
    # connection made meanwhile may take the second as its own port
    my ($low) = do { open my $h, '<', '/proc/sys/net/ipv4/ip_local_port_range'; split ' ', (<$h> // '32768') };
    my $p;
    for (1 .. 100) {
        $p = 10000 + int(rand(($low > 12000 ? $low : 32768) - 10002));
        my @s = map { IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_, Proto => 'tcp',
                                            Listen => 1, ReuseAddr => 1) } $p, $p + 1;
        last if @s == 2 && $s[0] && $s[1];
    }
    my $mb = spawn_worker('cc-mockbroker', '--port', $p, '--brokers', 2);
    ok(wait_until(sub { worker_stdout($mb) =~ /^bootstrap=/m }, 10), 'cc-mockbroker --port: running')
        or diag worker_stderr($mb);
    like(worker_stdout($mb), qr/^bootstrap=127\.0\.0\.1:$p,127\.0\.0\.1:${\ ($p + 1)}$/m,
         '... its brokers on N and N+1, as its bootstrap list says');
    my ($rc, $out, $err) = run_worker([ 'cc-produce', '--brokers', "127.0.0.1:$p", '--draws', 10 ],
                                      timeout => 30);
    is($rc, 0, '... a producer given 127.0.0.1:N delivers') or diag $err;
    ($rc, $out, $err) = run_worker([ 'cc-mockbroker', '--port', $p ]);
    is($rc, 1, '... a second one on the same port: exit 1');
    like($err, qr/^cc-mockbroker: --port: cannot listen on 127\.0\.0\.1:$p: Address already in use$/m, '... saying why');
    is(stop_worker($mb), 0, '... SIGTERM: exit 0');
}

# --help: the usage on stdout, with the options it names, nothing on
# stderr, exit 0 (from the parser through main's cleanup path)
for my $c ([ 'cc-mockbroker', qr/--partitions/ ],
           [ 'cc-produce', qr/--brokers/ ],
           [ 'cc-ingest', qr/--mysql/ ],
           [ 'cc-reconcile', qr/--grace SEC.*--money/s ],
           [ 'cc-reconcile', qr/--repair/, '--money' ],
           [ 'cc-draw', qr/--campaign FILE.*--shard K/s ],
           [ 'cc-payout', qr/--campaign FILE.*--once/s ],
           [ 'cc-wallet-sim', qr/--listen HOST:PORT.*--fail-pct P/s ],
           [ 'cc-token', qr/--secret FILE.*--uid/s ],
           [ 'cc-estimate', qr/--users N.*--retention-days/s ],
           [ 'cc-estimate', qr/--peak-flips/, '--capacity' ]) {
    my ($w, $body, @pre) = @$c;
    my ($rc, $out, $err) = run_worker([ $w, @pre, '--help' ]);
    is($rc, 0, "$w @pre --help: exit 0");
    like($out, qr/^usage: $w @pre/, '... the usage on stdout');
    like($out, $body, '... naming its options');
    is($err, '', '... nothing on stderr');
}

# workers.env's CC_REDIS_USER is for the workers that use Redis: cc-ingest,
# which has none, goes on to MySQL (here, none: exit 1) instead of asking
# for a Redis password (exit 2), which stopped cc-ingest.service
{
    local $ENV{CC_REDIS_USER} = 'cc';
    my ($rc, undef, $err) = run_worker([ 'cc-ingest', '--init-shards', @M ], timeout => 20);
    is($rc, 1, 'cc-ingest with $CC_REDIS_USER and no Redis password: not refused, on to MySQL');
    like($err, qr/shard 127\.0\.0\.1:1\/cc_x: connect:/, '... which is not there');
}
done_testing();
