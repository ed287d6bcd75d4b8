# Every worker refuses a bad option the same way: a clear error on stderr
# and exit 2, before it opens anything; --help prints the usage on stdout
# and exits 0.  The reasons for a bad address are cc_addr's.

use strict;
use warnings;
use lib 't/lib';
use CcTest;

sub run_worker {
    my $w = spawn_worker(@_);
    my $rc = wait_worker($w, 10);
    return ($rc, worker_stdout($w), worker_stderr($w));
}

my @cases = (
    [ [ 'cc-mockbroker', '--brokers', '0' ], qr/--brokers must be an integer in 1\.\.9, not "0"/ ],
    [ [ 'cc-mockbroker', '--partitions', ' 4' ], qr/--partitions must be an integer in 1\.\.256, not " 4"/ ],
    [ [ 'cc-mockbroker', '--partitions', '+4' ], qr/--partitions must be an integer in 1\.\.256, not "\+4"/ ],
    [ [ 'cc-mockbroker', '--nope' ], qr/usage: cc-mockbroker/ ],
    [ [ 'cc-mockbroker', 'extra' ], qr/usage: cc-mockbroker/ ],
    [ [ 'cc-produce', '--nope' ], qr/usage: cc-produce/ ],
    [ [ 'cc-produce', '--brokers', 'h:1', 'extra' ], qr/usage: cc-produce/ ],
    [ [ 'cc-produce', '--brokers', 'h:1', '--users', '0' ], qr/--users must be an integer in 1\.\.100000000, not "0"/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', '[::1:3306/db' ],
      qr/bad MySQL shard "\[::1:3306\/db", expected host:port\/database \(unclosed bracket\)/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', '::1:3306/db' ],
      qr/\(IPv6 address not in brackets\)/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:3306' ], qr/\(no \/database\)/ ],
    [ [ 'cc-ingest', '--init-shards', '--mysql', 'h:3306/a-b' ], qr/\(bad database name\)/ ],
    [ [ 'cc-reconcile', '--once', '--batch', '0', '--redis', 'h:1', '--mysql', 'h:1/db' ],
      qr/--batch must be an integer in 1\.\.5000, not "0"/ ],
);

for my $c (@cases) {
    my ($args, $why) = @$c;
    my ($rc, $out, $err) = run_worker(@$args);
    is($rc, 2, "@$args: exit 2");
    like($err, $why, '... saying why');
    is($out, '', '... nothing on stdout');
}

for my $w (qw(cc-mockbroker cc-produce cc-ingest cc-reconcile)) {
    my ($rc, $out, $err) = run_worker($w, '--help');
    is($rc, 0, "$w --help: exit 0");
    like($out, qr/^usage: $w /, '... the usage on stdout');
}

done_testing();
