# scripts/campaign.sh --wallet http (issue 20): the whole campaign at a
# small size paid into cc-wallet-sim in batch mode with its faults on
# (20% of details failed, 5% of connections dropped after accepting, 2%
# of details listed twice), the books the three-way reconcile.  Checked
# from the files it leaves: its report PASSes with the three-way check
# and says the three sums; the reconcile's document has them equal; the
# wallet's statement holds every award exactly once and sums to the
# pool; the wallet did fail details; every process it started is gone.
# And a bad --wallet refused.

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure qw(stop_here);    # a failure's diagnostics kept for the end of the run
use CcTest::Util qw(free_block);      # ports reserved across the files prove runs at once
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;

# scripts/campaign.sh builds and runs the plain build (build/), whatever
# the ASan pass's CC_MODULE_SO and CC_WORKER_DIR say: there this file would
# run the plain pass's campaign again, so it is left out (the sanitized
# module and workers meet the same paths in the files that spawn them)
plan skip_all => 'scripts/campaign.sh runs the plain build: left out of the ASan pass'
    if ($ENV{CC_MODULE_SO} // '') =~ m{build/asan};

my $dir = tempdir(CLEANUP => 1);
my $run = "$dir/run";

sub slurp { open my $h, '<', $_[0] or return ''; local $/; my $t = <$h>; $t // '' }

# a base with the ports the script uses free and reserved (base + 0 .. 20, 30)
sub free_base { free_block(0 .. 20, 30) }

sub campaign {
    my (@args) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec 'scripts/campaign.sh', @args or die "exec: $!";
    }
    waitpid($pid, 0);
    return ($? >> 8, slurp("$dir/out"));
}

my $base = free_base();
my @small = ('--users', 3000, '--chances', 12, '--stock', 300, '--pool-cents', 300000,
             '--cap-cents', 20000, '--claim-pct', 100, '--run', $run, '--port-base', $base,
             '--limit-s', 90);

my ($rc, $out) = campaign(@small, '--wallet', 'bank');
is($rc, 2, 'a bad --wallet: exit 2');
like($out, qr/WALLET is ledger or http/, '... saying why');
ok(!-e $run, '... before anything was started');

($rc, $out) = campaign(@small, '--wallet', 'http');
is($rc, 0, 'the campaign paid into the simulated wallet: exit 0') or stop_here($out);
like($out, qr/wallet: cc-wallet-sim on @{[$base + 30]}, batch mode, fails 20% of details/, 'the wallet started with its faults');
like($out, qr/books: cc-reconcile --money --statement/, 'the books are the three-way reconcile');
like($out, qr/RESULT: PASS \(17 checks, 0 failed\)/, 'the report: 17 checks (the gifts\' two among them), all PASS');
like($out, qr/^  PASS  three-way: posted to clearing = credited awards = the wallet's statement: posted to the clearing account 300,000 cents, credited awards 300,000 cents, the wallet's statement 300,000 cents \(clearing books\)$/m,
     'the three-way check, its three sums the pool');
like(slurp("$run/report.html"), qr/Three-way \([^)]*\): posted to the clearing account 300,000 cents/, 'on the page too');

my $rec = decode_json(slurp("$run/reconcile.json"));
ok($rec->{ok}, 'the reconcile: ok');
is_deeply($rec->{three_way}, { books => 'clearing', posted_to_clearing => 300000, credited_awards => 300000,
                               statement => 300000 }, 'its document: the three sums equal');
is(scalar(grep { !$_->{ok} } @{ $rec->{checks} }), 0, 'every check, the statement\'s classes among them, ok');

my $facts = decode_json(slurp("$run/facts.json"));
my %keys;
my $sum = 0;
for (split /\n/, slurp("$run/statement.csv")) {
    my ($k, undef, $a) = split /,/;
    $keys{$k}++;
    $sum += $a;
}
is(scalar(keys %keys), $facts->{awards}{count}, "the statement: a key for each of the $facts->{awards}{count} awards");
is(scalar(grep { $_ != 1 } values %keys), 0, 'each exactly once');
is($sum, 300000, 'summing to the pool');
my $sim = slurp("$run/logs/cc-wallet-sim.log");
like($sim, qr/stopping: .*; [1-9]\d* batches, \d+ details applied, [1-9]\d* failed, \d+ listed twice/,
     'the wallet failed details (20%), each paid in a later batch');
# a few dozen batches: 5% dropped and 2% listed twice may come to none
note($sim =~ /(\d+ dropped).*?(\d+ listed twice)/ ? "the wallet: $1, $2" : 'no stopping line');
unlike(slurp("$run/campaign.conf"), qr/^wallet\s+ledger/m, 'the campaign file: wallet http');
like(slurp("$run/campaign.conf"), qr/^wallet_mode\s+batch$/m, '... in batch mode');

my @left = grep { kill 0, $_ } map { (split)[1] } split /\n/, slurp("$run/pids");
is_deeply(\@left, [], 'every process it started is gone, the wallet too');

done_testing();
