# cc-redrive's command line and its systemd unit (issue 19): --help, a
# clear error and exit 2 for each bad option, --shard-of, and
# workers/systemd/cc-redrive.service valid for systemd with options the
# binary takes (as t/015 checks the other units).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);

my $top = abs_path('.');

my ($rc, $out, $err) = run_worker([ 'cc-redrive', '--help' ]);
is($rc, 0, '--help exits 0');
like($out, qr/^usage: cc-redrive --redis ADDR/m, '... with the usage');

for my $bad ([ [], qr/^usage: cc-redrive/m, 'no --redis' ],
             [ [ '--redis', 'nohost' ], qr/bad --redis "nohost"/, 'a bad address' ],
             [ [ '--redis', '127.0.0.1:1', '--grace', '-1' ], qr/--grace/, 'a negative grace' ],
             [ [ '--redis', '127.0.0.1:1', '--batch', '0' ], qr/--batch/, 'a batch of 0' ],
             [ [ '--redis', '127.0.0.1:1', '--interval', 'x' ], qr/--interval/, 'an interval not a number' ],
             [ [ '--redis', '127.0.0.1:1', 'extra' ], qr/^usage: cc-redrive/m, 'an argument too many' ],
             [ [ '--redis', '127.0.0.1:1', '--shard-of' ], qr/^usage: cc-redrive/m, '--shard-of without a uid' ],
             [ [ '--redis', '127.0.0.1:1', '--shard-of', '07' ], qr/bad uid "07"/, '--shard-of a bad uid' ],
             [ [ '--redis', '127.0.0.1:1', '--bogus' ], qr/^usage: cc-redrive/m, 'an unknown option' ]) {
    my ($args, $want, $name) = @$bad;
    ($rc, $out, $err) = run_worker([ 'cc-redrive', @$args ]);
    is($rc, 2, "$name: exit 2");
    like($err, $want, "$name: says so");
}

# the ring: the same uid, the same shard, whatever the run
($rc, $out) = run_worker([ 'cc-redrive', '--redis', 'a:1', '--redis', 'b:2', '--redis', 'c:3', '--shard-of', 1 .. 300 ]);
is($rc, 0, '--shard-of exits 0');
my %on;
$on{ (split ' ')[1] }++ for split /\n/, $out;
is(join(' ', sort keys %on), 'a:1 b:2 c:3', 'every shard holds uids');
ok(!grep({ $_ < 50 } values %on), 'about a third each: ' . join(' ', map { "$_=$on{$_}" } sort keys %on));

# a pass against a shard with an empty outbox
my @redis = map { ('--redis', "127.0.0.1:" . redis_port($_)) } 0, 1;
($rc, $out, $err) = run_worker([ 'cc-redrive', @redis, '--once' ]);
is($rc, 0, 'a pass over empty outboxes exits 0');
like($err, qr/cc-redrive.*pass done: 0 gifts redriven, 0 found delivered, 0 unreadable; 0 left in the outboxes, the oldest 0s old; 0 shard\(s\) failed/,
     '... and says so');

# an unreadable entry is skipped, counted, and left
redis_cmd(0, 'ZADD', 'cc:outbox', 1, '7:bad');
redis_cmd(0, 'HSET', 'cc:outbox:g', '7:bad', '7:2:1');
($rc, $out, $err) = run_worker([ 'cc-redrive', @redis, '--once' ]);
like($err, qr/outbox entry "7:bad" skipped: gift to its giver/, 'an unreadable entry is logged');
like($err, qr/pass done: 0 gifts redriven, 0 found delivered, 1 unreadable; 1 left/, '... counted and left');
is(redis_cmd(0, 'HGET', 'cc:outbox:g', '7:bad'), '7:2:1', '... untouched');

# ---- the unit -----------------------------------------------------------------

SKIP: {
    my $sa = '/usr/bin/systemd-analyze';
    skip 'systemd-analyze is not installed', 3 unless -x $sa;
    my $dir = tempdir(CLEANUP => 1);
    open my $in, '<', "$top/workers/systemd/cc-redrive.service" or die $!;
    my $text = do { local $/; <$in> };
    (my $local = $text) =~ s{/usr/local/bin/}{$top/build/workers/}g;
    open my $o, '>', "$dir/cc-redrive.service" or die $!;
    print $o $local;
    close $o;
    my $msg = `$sa verify $dir/cc-redrive.service 2>&1`;
    is($?, 0, 'systemd-analyze verify accepts cc-redrive.service') or diag $msg;
    is($msg, '', '... without a warning');

    my %env = map { my ($k, $v) = /^(\w+)=(.*)$/; defined $k ? ($k, $v =~ s/^"(.*)"$/$1/r) : () }
              split /\n/, do { open my $e, '<', "$top/workers/systemd/workers.env.example" or die; local $/; <$e> };
    $text =~ s/\\\n\s*/ /g;
    my ($cmd) = $text =~ /^ExecStart=(.*)$/m;
    $cmd =~ s/\$\{(\w+)\}/$env{$1}/g;
    $cmd =~ s/\$(\w+)/$env{$1}/g;
    $cmd =~ s{/usr/local/bin/}{$top/build/workers/};
    my $h = `$cmd --help 2>&1`;
    is($? >> 8, 0, 'every option of its ExecStart is accepted') or diag $h;
}
like(do { open my $u, '<', "$top/workers/systemd/cc-redrive.service" or die; local $/; <$u> },
     qr{^LoadCredential=cc-redis-password:/etc/cardcampaign/secrets/redis$}m,
     'the unit loads the Redis password by LoadCredential=');

done_testing();
