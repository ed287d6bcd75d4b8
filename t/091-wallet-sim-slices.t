# cc-wallet-sim processes a batch in slices (64 details a hold of its
# lock), as a real platform does not stall a single credit behind a big
# batch: credits sent while three 14,000-detail batches are processed are
# applied between their slices (their statement lines fall among a
# batch's, which a batch processed whole under the lock never allows),
# and everything is applied once.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use WalletTest;
use JSON::PP;
use Time::HiRes qw(time);
use POSIX ();

my $n = 14000;
my @nos = qw(S1 S2 S3);
my $sim = sim_start(process => 300, batch_max => $n);
for my $b (0 .. $#nos) {
    my @d = map { [ "s$b:$_", $_, 100 + $_ % 9 ] } 1 .. $n;
    my ($st, $body) = sim_batch($sim, $nos[$b], \@d);
    is($st, 201, "batch $nos[$b] of $n details accepted") or diag $body;
}

# credits from four clients, each one after the other, until the last
# batch is FINISHED; each client's counts in a file (POSIX::_exit: the
# harness's END blocks are the parent's)
my $stop = wallet_dir() . '/091.stop';
my @kids;
for my $c (1 .. 4) {
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        my ($i, $bad) = (0, 0);
        my $until = time + 60;
        while (!-e $stop && time < $until) {
            $i++;
            my ($cs) = sim_post($sim, "c:$c:$i", 900000 + 100000 * $c + $i, 50, 'CNY');
            $bad++ unless defined $cs && $cs == 201;
        }
        open my $f, '>', wallet_dir() . "/091.$c" or POSIX::_exit(1);
        print $f "$i $bad\n";
        close $f;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
my $finished = wait_until(sub {
    my ($qs, $qb) = sim_query($sim, 'S3', path => '/batches/S3');
    $qs == 200 && $qb =~ /"status":"FINISHED"/;
}, 60, 0.02);
{ open my $f, '>', $stop or die "$stop: $!"; close $f }
waitpid($_, 0) for @kids;
my ($sent, $bad) = (0, 0);
for my $c (1 .. 4) {
    open my $f, '<', wallet_dir() . "/091.$c" or die "client $c: no counts";
    my ($i, $b) = split ' ', scalar <$f>;
    $sent += $i;
    $bad += $b;
}
ok($finished, "the batches FINISHED ($sent credits sent meanwhile)");
is($bad, 0, 'every credit applied (201)');

# the credits among a batch's own lines, from its first to its last
my @lines = map { $_->[0] } @{ statement_lines($sim->{statement}) };
my $inside = 0;
for my $b (0 .. $#nos) {
    my @at = grep { $lines[$_] =~ /^s$b:/ } 0 .. $#lines;
    $inside += grep { $lines[$_] =~ /^c:/ } $at[0] .. $at[-1];
}
ok($inside > 0, "$inside credits applied inside a batch, between its first and last details: not held behind it");
my %seen;
$seen{$_}++ for @lines;
is(scalar(grep { /^s\d:/ } keys %seen), 3 * $n, 'the batches\' details in the statement');
is(scalar(grep { /^c:/ } keys %seen), $sent, "the $sent credits too");
is(scalar(grep { $_ > 1 } values %seen), 0, 'each once');

for my $no (@nos) {
    my ($st, $body) = sim_query($sim, $no);
    my $doc = eval { decode_json($body) } // {};
    is("$st $doc->{status} $doc->{success_num} $doc->{fail_num}", "200 FINISHED $n 0", "${no}'s details: all SUCCESS");
}
sim_stop($sim);
like(worker_stderr($sim->{w}), qr/stopping: \d+ applied .* 3 batches, @{[ 3 * $n ]} details applied, 0 failed/,
     'the wallet: three batches, every detail applied');

done_testing();
