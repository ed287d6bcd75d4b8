# Issue 20's "bounded batches (size and age)", the age.  cc-payout sends
# each pass's batches at once (cc_payout_step.c: a pass reads --batch
# awards and cc_wallet_batch_credit writes and submits their batches in
# the same call, claims likewise), so no detail waits to be sent.  The
# wait a batch can have is the wallet's: PROCESSING, or no answer.
# wallet_batch_age_ms bounds it: a batch without its result that long
# after it was written (wallet_batches.created_at) is queried no more in
# that pass and alerted (wallet_batch_overdue), its awards left in flight
# (their pending transfers live, never voided: the wallet may still
# apply them), queried again by the next pass under the same key.
#
#   - a bad value: cc-payout refuses the campaign file, saying why;
#   - a wallet that holds its batches: the pass ends at the age (1 s),
#     not at the deadline (wallet_timeout_ms x 10 = 30 s), alerted;
#   - counted from the writing: the next pass asks the old batch once
#     and alerts it again at once;
#   - the wallet well again: the same batch queried, posted, no alert.

use strict;
use warnings;
use Time::HiRes qw(time);
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use WalletTest;

payout_setup();

my @DBS = qw(cc_s0 cc_s1);
sub both { my ($sql) = @_; my $n = 0; $n += mysql_value($sql, $_) // 0 for @DBS; $n }
sub slurp { my ($p) = @_; open my $f, '<', $p or return ''; local $/; <$f> }

# ---- a bad value ---------------------------------------------------------------------

for my $bad ('999', '604800001', '0', '1s') {
    my $f = http_campaign_file('a0', 'http://127.0.0.1:1', mode => 'batch', batch_age => $bad);
    my ($rc, $out, $err) = payout_run([ '--once' ], $f);
    is($rc, 2, "wallet_batch_age_ms $bad: cc-payout exits 2");
    like($err, qr/line \d+: wallet_batch_age_ms: milliseconds in 1000\.\.604800000 expected/, '... saying why');
}
my $lf = campaign_conf(campaign => 'a0', wallet_batch_age_ms => 60000);
my ($rc, $out, $err) = payout_run([ '--once' ], $lf);
is($rc, 2, 'wallet_batch_age_ms with the ledger wallet: exit 2');
like($err, qr/wallet_batch_age_ms: only with wallet http/, '... only with wallet http');

# ---- a wallet that holds its batches: alerted at the age -------------------------------

my %a = map { ($_ => 25 + $_ % 5) } 1 .. 40;
seed_awards('a1', \%a);
my $hold = sim_start(process => 600000);
my $alert = wallet_dir() . '/alert-a1.json';
my $f = http_campaign_file('a1', $hold->{url}, mode => 'batch', timeout => 3000, batch_age => 1000,
                           extra => "alert cat > $alert\n");
my $prom = wallet_dir() . '/a1.prom';
my $t0 = time;
($rc, $out, $err) = payout_run([ '--once', '--metrics-file', $prom ], $f, 60);
my $took = time - $t0;
is($rc, 1, 'a wallet that holds its batches: exit 1 (unpaid)');
ok($took < 15, sprintf('the pass ended at the batches\' age (1 s), not at the 30 s deadline: %.1f s', $took));
like($err, qr/batch a1:b\S+ unknown \(no result \d+ ms after it was written \(wallet_batch_age_ms 1000\)\): its \d+ awards a1:\d+ \.\. a1:\d+ stay in flight/,
     'said: no result past its age, its awards in flight');
my $nb = both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'a1'");
my $doc = slurp($alert);
my @over = $doc =~ /"class":"wallet_batch_overdue"/g;
ok(@over >= 1, scalar(@over) . ' overdue batch(es) alerted');
like(slurp($prom), qr/^cc_payout_wallet_batches_overdue_total $nb$/m, "metrics: the $nb batches overdue");
like($doc, qr/"found":"batch a1:b\S+ of \d+ details: no result \d+ ms after it was written \(wallet_batch_age_ms 1000\)"/,
     '... each by its number and its age');
is_deeply(award_states('a1'), { 'pending/0' => 40 }, 'unpaid: pending');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'a1' AND kind = 'pending'"), 40, 'each with its pending transfer');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'a1' AND kind IN ('void', 'post')"), 0,
   'none voided (an overdue batch may still be applied), none posted');

# ---- the next pass: counted from the writing --------------------------------------------

unlink $alert;
select(undef, undef, undef, 1.1);
$t0 = time;
($rc, $out, $err) = payout_run([ '--once' ], $f, 60);
$took = time - $t0;
is($rc, 1, 'the next pass, the wallet still holding them: exit 1');
ok($took < 5, sprintf('each old batch asked once and alerted at once: %.1f s', $took));
like(slurp($alert), qr/"class":"wallet_batch_overdue"/, 'alerted again');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'a1'"), $nb, 'no new batch: the same ones queried');
sim_stop($hold);

# ---- the wallet well again ----------------------------------------------------------------

unlink $alert;
my $well = sim_start(statement => $hold->{statement}, process => 0);
my $f2 = http_campaign_file('a1', $well->{url}, mode => 'batch', timeout => 3000, batch_age => 1000,
                            extra => "alert cat > $alert\n");
($rc, $out, $err) = payout_run([ '--once' ], $f2, 60);
is($rc, 0, 'the wallet well again: exit 0') or diag $err;
like($err, qr/done: 40 credited/, 'all 40 credited');
is_deeply([ check_paid_http('a1', \%a, $well->{statement}) ], [], 'each once, posted, no void');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'a1'"), $nb, 'from the same batches');
ok(!-e $alert, 'no alert: answered within the pass');
sim_stop($well);

done_testing();
