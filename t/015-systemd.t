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
my %env = map { /^(\w+)=(.*)$/ ? ($1, $2) : () }
          split /\n/, do { open my $e, '<', "$top/workers/systemd/workers.env.example" or die; local $/; <$e> };
for my $u (grep { /\.service$/ } @units) {
    open my $in, '<', "$top/workers/systemd/$u" or die;
    my $text = do { local $/; <$in> };
    $text =~ s/\\\n\s*/ /g;
    my ($cmd) = $text =~ /^ExecStart=(.*)$/m;
    $cmd =~ s/\$\{(\w+)\}/$env{$1}/g;
    $cmd =~ s{/usr/local/bin/}{$top/build/workers/};
    like($cmd, qr{^\Q$top\E/build/workers/cc-}, "$u runs a project binary");
    # --help after the options: a bad option would exit 2 first
    my $out = `$cmd --help 2>&1`;
    is($? >> 8, 0, "$u: every option of its ExecStart is accepted") or diag $out;
}

done_testing();
