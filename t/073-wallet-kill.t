# cc-payout with wallet http killed with kill -9 while credits are in
# flight (a slow wallet: every call takes 50 ms, 64 at once), at seeded
# points, then restarted: nothing is credited twice at the wallet, every
# key the wallet applied has its pending transfer in the ledger (the
# pending phase commits before any call), and the restart pays the rest
# with the same keys.  CC_TEST_SEED repeats the kill points;
# CC_TEST_WALLET_KILL_ROUNDS sets the number of kills (default 5; the ASan
# pass, make test-asan, runs 2: it looks for memory errors on the kill and
# restart paths, which each round reaches, and a round takes about 12 s
# there).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use WalletTest;
use Time::HiRes qw(sleep);

payout_setup();
my $seed = $ENV{CC_TEST_SEED} // (time ^ $$) % 1000000;
srand($seed);
my $rounds = $ENV{CC_TEST_WALLET_KILL_ROUNDS} // 5;
die "CC_TEST_WALLET_KILL_ROUNDS: a positive number of rounds, not \"$rounds\"\n"
    unless $rounds =~ /^[1-9][0-9]*$/;
diag("CC_TEST_SEED=$seed CC_TEST_WALLET_KILL_ROUNDS=$rounds");

my $sim = sim_start(delay => 50, seed => $seed);
for my $round (1 .. $rounds) {
    my ($c, %a, $file, $at, @applied, $st, $want);
    # a kill that found no award crediting (it fell in the moment between
    # one batch's posts and the next batch's pending, or after the last)
    # is not one: that campaign is finished and checked, and the round
    # drawn again
    for my $try (1 .. 4) {
        $c = "kill$round" . ($try > 1 ? "-$try" : '');
        my $base = $round * 10000 + ($try - 1) * 1000;
        %a = map { ($_ => 1 + $_ % 89) } $base + 1 .. $base + 800;
        seed_awards($c, \%a, redis => 0);
        $file = http_campaign_file($c, $sim->{url});
        my $w = spawn_payout([ '--batch', 300 ], $file);
        # a kill point: after some credits reached the wallet, before all,
        # while some award is crediting (a batch's calls in flight).  The
        # wallet is stopped (SIGSTOP) once enough were applied, so the
        # state the kill finds holds still while it is read: a loaded
        # machine cannot let the payout finish between the look and the
        # kill.  Calls in flight wait on the stopped wallet.
        $want = 20 + int(rand(600));
        wait_until(sub { (grep { /^\Q$c\E:/ } map { $_->[0] } @{ statement_lines($sim->{statement}) }) >= $want }, 60);
        kill 'STOP', $sim->{w}{pid};
        $st = award_states($c);
        kill_worker($w);
        $at = statement_keys($sim->{statement});
        @applied = grep { /^\Q$c\E:/ } keys %$at;
        kill 'CONT', $sim->{w}{pid};
        last if (($st->{'crediting/0'} // 0) > 0 && @applied < 800) || $try == 4;
        note("round $round try $try: no award crediting at the kill, or all applied; drawn again");
        my ($rc, undef, $err) = payout_run([ '--once', '--batch', 300 ], $file);
        is($rc, 0, "round $round try $try: restarted: exit 0 (seed $seed)") or diag $err;
        is_deeply([ check_paid_http($c, \%a, $sim->{statement}) ], [],
                  "round $round try $try: each credited exactly once (seed $seed)");
    }
    note("round $round: killed after $want+ applied: " . scalar(@applied) . ' at the wallet; '
         . join(', ', map { "$_ $st->{$_}" } sort keys %$st));
    ok(@applied > 0 && @applied < 800, "round $round: killed mid-payout, " . scalar(@applied) . " applied (seed $seed)");
    my @no_pending;
    for my $k (@applied) {
        my ($uid) = $k =~ /:(\d+)$/;
        push @no_pending, $k unless mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id = '$k' AND kind = 'pending'",
                                                shard_db($uid));
    }
    is_deeply(\@no_pending, [], "round $round: every key the wallet applied is pending (or posted) in the ledger");
    ok(($st->{'crediting/0'} // 0) > 0, "round $round: some awards crediting when killed");
    my ($rc, undef, $err) = payout_run([ '--once', '--batch', 300 ], $file);
    is($rc, 0, "round $round: restarted: exit 0 (seed $seed)") or diag $err;
    is_deeply([ check_paid_http($c, \%a, $sim->{statement}) ], [],
              "round $round: each credited exactly once at the wallet and in the ledger (seed $seed)");
}
sim_stop($sim);
like(worker_stderr($sim->{w}), qr/0 conflicts/, 'the wallet never saw a key with another credit');

done_testing();
