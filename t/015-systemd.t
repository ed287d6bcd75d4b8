# The systemd units in workers/systemd are valid for systemd and point at
# binaries with the options they pass (checked with the built binaries).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);

my $top = abs_path('.');
my $sa = '/usr/bin/systemd-analyze';
plan skip_all => 'systemd-analyze is not installed' unless -x $sa;

my $dir = tempdir(CLEANUP => 1);
my @units = qw(cc-ingest.service cc-reconcile.service cc-reconcile.timer
               cc-draw.service cc-draw.timer cc-payout.service
               cc-books.service cc-books.timer);

for my $u (@units) {
    open my $in, '<', "$top/workers/systemd/$u" or die "$u: $!";
    my $text = do { local $/; <$in> };
    $text =~ s{/usr/local/bin/}{$top/build/workers/}g;
    open my $out, '>', "$dir/$u" or die $!;
    print $out $text;
}

my $msg = `$sa verify @{[ map { "$dir/$_" } @units ]} 2>&1`;
is($?, 0, 'systemd-analyze verify accepts the units') or diag $msg;
is($msg, '', 'without a warning');

# the options the units pass exist: each binary accepts them (usage errors exit 2)
my %env = map { my ($k, $v) = /^(\w+)=(.*)$/; defined $k ? ($k, $v =~ s/^"(.*)"$/$1/r) : () }
          split /\n/, do { open my $e, '<', "$top/workers/systemd/workers.env.example" or die; local $/; <$e> };
for my $u (grep { /\.service$/ } @units) {
    open my $in, '<', "$top/workers/systemd/$u" or die;
    my $text = do { local $/; <$in> };
    $text =~ s/\\\n\s*/ /g;
    my ($cmd) = $text =~ /^ExecStart=(.*)$/m;
    $cmd =~ s/\$\{(\w+)\}/$env{$1}/g;
    $cmd =~ s/\$(\w+)/$env{$1}/g;        # $NAME: split at blanks, as systemd does
    $cmd =~ s{/usr/local/bin/}{$top/build/workers/};
    like($cmd, qr{^\Q$top\E/build/workers/cc-}, "$u runs a project binary");
    # --help after the options: a bad option would exit 2 first
    my $out = `$cmd --help 2>&1`;
    is($? >> 8, 0, "$u: every option of its ExecStart is accepted") or diag $out;
}

# least privilege (issue 22): each service loads its role's MySQL password
# (and the Redis one) as a systemd credential, under the names the workers
# read; no password in the environment file
my %role = ('cc-ingest.service' => 'cc_ingest', 'cc-reconcile.service' => 'cc_reconcile',
            'cc-draw.service' => 'cc_draw', 'cc-payout.service' => 'cc_payout',
            'cc-books.service' => 'cc_books');
for my $u (sort keys %role) {
    open my $in, '<', "$top/workers/systemd/$u" or die;
    my $text = do { local $/; <$in> };
    like($text, qr{^LoadCredential=cc-mysql-password:/etc/cardcampaign/secrets/$role{$u}\.mysql$}m,
         "$u: its role's MySQL password by LoadCredential=");
    like($text, qr{^LoadCredential=cc-redis-password:/etc/cardcampaign/secrets/redis$}m,
         "$u: the Redis password by LoadCredential=") if $text =~ /--redis /;
    unlike($text, qr/PASSWORD/, "$u: no password variable");
    unlike($text, qr/--user\b/, "$u: its role's user is the worker's default");
}
# the replicated layout (README, "Losing a server"): the Redis workers ask
# the Sentinels for the shards named by master name; each MySQL shard its
# primary and replica
for my $u (grep { /\.service$/ } @units) {
    open my $in, '<', "$top/workers/systemd/$u" or die;
    my $text = do { local $/; <$in> };
    like($text, qr/^\s*\$CC_REDIS_SENTINELS --redis \$\{CC_REDIS_0\}/m, "$u: the Sentinels, split into words")
        if $text =~ /--redis /;
}
like($env{CC_REDIS_SENTINELS}, qr/^--sentinel [\d.]+:\d+ --sentinel [\d.]+:\d+ --sentinel [\d.]+:\d+$/,
     'workers.env.example: three Sentinels by IP address');
is("$env{CC_REDIS_0} $env{CC_REDIS_1}", 'cc0 cc1', '... the Redis shards by master name');
like($env{CC_MYSQL_0}, qr/^[\d.]+:\d+,[\d.]+:\d+\/cc_s0$/, '... each MySQL shard by its primary and replica');
ok(!grep({ /PASSWORD/ } keys %env), 'workers.env.example sets no password');
is($env{CC_REDIS_USER}, 'cc', 'workers.env.example names the Redis ACL user');

done_testing();
