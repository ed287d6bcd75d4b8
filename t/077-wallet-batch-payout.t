# cc-payout with `wallet http` in batch mode (wallet_mode batch, the
# default; issue 20): the awards go to cc-wallet-sim in signed batches of
# at most wallet_batch_max details, written to MySQL (wallet_batches; the
# details are the pending transfers, batch_no) before they are sent,
# read back by querying; the books pay one clearing account.  A clean
# payout; failed details re-sent in later batches under the same detail
# key; a refused batch, unsigned answers, another amount, a detail no
# batch held, details listed twice; a batch not finished by the deadline
# (unknown: the same batch queried by the next pass).  Each checked in
# the awards, the ledger, the batches and the wallet's statement.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use WalletTest;

payout_setup();

my @DBS = qw(cc_s0 cc_s1);

sub both { my ($sql) = @_; my $n = 0; $n += mysql_value($sql, $_) // 0 for @DBS; $n }

# award id => [ attempt, batch ] of a campaign's batch details, both shards
sub details {
    my ($c) = @_;
    my %d;
    for my $db (@DBS) {
        push @{ $d{ $_->[0] } }, [ $_->[1], $_->[2] ]
            for @{ mysql_query("SELECT d.award_id, d.attempt, d.batch_no FROM $DETAILS d "
                               . "JOIN wallet_batches b ON b.batch_no = d.batch_no WHERE b.campaign = '$c' "
                               . 'ORDER BY d.award_id, d.attempt', $db) };
    }
    return \%d;
}

sub slurp { my ($p) = @_; open my $f, '<', $p or return ''; local $/; <$f> }

# ---- a clean payout in batches --------------------------------------------------

my $sim = sim_start(process => 5);
my %a1 = map { ($_ => 100 + $_ % 13) } 1 .. 300;
seed_awards('k1', \%a1);
my $alert1 = wallet_dir() . '/alert-k1.json';
my $k1 = http_campaign_file('k1', $sim->{url}, mode => undef, batch_max => 50, extra => "alert cat > $alert1\n");
unlike(slurp($k1), qr/wallet_mode/, 'the campaign file names no wallet_mode: batch, the default');
my ($rc, $out, $err) = payout_run([ '--once', '--batch', 70 ], $k1);
is($rc, 0, 'batch mode, 300 awards: exit 0') or diag $err;
like($err, qr/done: 300 credited \(0 on claims\), 0 already credited, 0 mismatch, 0 no funds, 300 notified/, 'all 300');
is_deeply(award_states('k1'), { 'credited/1' => 300 }, 'every award credited and notified');
is_deeply([ check_paid_http('k1', \%a1, $sim->{statement}) ], [],
          'each: pending + post of its amount to the clearing account, no wallet row; the statement: each key once');
is_deeply(ledger_pending_sums(qr/^(pool|clearing):k1$/), {}, 'nothing pending');
my $d1 = details('k1');
is(scalar(keys %$d1), 300, 'a batch detail for every award');
is(scalar(grep { @$_ != 1 || $_->[0][0] != 1 } values %$d1), 0, 'each in one batch, attempt 1');
my $nb = both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k1'");
ok($nb >= 6 && $nb <= 12, "$nb batches (70 a shard's pass, at most 50 a batch)");
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k1' AND details > 50"), 0, 'none over wallet_batch_max');
is(both("SELECT SUM(total_cents) FROM wallet_batches WHERE campaign = 'k1'"), eval { my $s = 0; $s += $_ for values %a1; $s },
   'the batches\' totals: the awards\' sum');
is(scalar(grep { $_->[0] eq 'B' && $_->[1] =~ /^k1:b/ } @{ journal_lines($sim->{journal}) }), $nb,
   'the wallet accepted each batch once');
is(both("SELECT COUNT(*) FROM ledger_accounts WHERE account LIKE 'wallet:%'"), 0, 'no per-user wallet account at all');
ok(!-e $alert1, 'no alert');
($rc, $out, $err) = payout_run([ '--once' ], $k1);
is($rc, 0, 'run again: exit 0');
like($err, qr/done: 0 credited/, 'nothing to do');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k1'"), $nb, 'no new batch');

# ---- failed details: re-sent in later batches, the same detail key ------------------

sim_stop($sim);
my $flaky = sim_start(fail => 30, seed => 11, process => 0);
my %a2 = map { ($_ => 50 + $_ % 7) } 1001 .. 1100;
seed_awards('k2', \%a2);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k2', $flaky->{url}, mode => 'batch'));
is($rc, 0, 'a wallet that fails 30% of details: exit 0') or diag $err;
is_deeply(award_states('k2'), { 'credited/1' => 100 }, 'every award credited');
is_deeply([ check_paid_http('k2', \%a2, $flaky->{statement}) ], [], 'each once at the wallet, in the ledger');
my $d2 = details('k2');
my @again = grep { @{ $d2->{$_} } > 1 } keys %$d2;
ok(@again > 10, scalar(@again) . ' awards needed more than one batch');
is(scalar(grep { my $l = $d2->{$_}; join(',', map { $_->[0] } @$l) ne join(',', 1 .. @$l) } keys %$d2), 0,
   'attempts 1, 2, ... of the same award id: the same detail key, never a new one');
is(scalar(grep { my %b = map { ($_->[1] => 1) } @{ $d2->{$_} }; keys(%b) != @{ $d2->{$_} } } @again), 0,
   'each attempt in a batch of its own');
sim_stop($flaky);

my $never = sim_start(fail => 100, process => 0);
my %a3 = map { ($_ => 70) } 2001 .. 2010;
seed_awards('k3', \%a3);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k3', $never->{url}, mode => 'batch'));
is($rc, 1, 'a wallet that fails every detail: exit 1 (unpaid)');
like($err, qr/details failed at the wallet 10 times; they stay in flight and go in a batch again on the next pass/,
     'said: after 10 rounds they stay in flight');
is_deeply(award_states('k3'), { 'pending/0' => 10 }, 'all unpaid: pending (batch mode writes an award once, credited)');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'k3' AND kind = 'pending'"), 100,
   'a pending transfer an attempt: 10 each');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'k3' AND kind = 'void'"), 90,
   'all but the last voided (the last round\'s FAIL is voided by the next pass)');
is(both("SELECT credits FROM ledger_pending WHERE account = 'clearing:k3'"), 700,
   'the money of one attempt each stays reserved: 10 x 70 pending');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'k3' AND kind = 'post'"), 0, 'nothing posted');
is(both("SELECT MAX(attempt) FROM $DETAILS x WHERE award_id LIKE 'k3:%'") >= 10, 1, '10 attempts each');
sim_stop($never);
my $good = sim_start(statement => $never->{statement}, process => 0);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k3', $good->{url}, mode => 'batch'));
is($rc, 0, 'the wallet well again, the next pass: exit 0') or diag $err;
is_deeply([ check_paid_http('k3', \%a3, $good->{statement}) ], [], 'each once, posted');
is(scalar(grep { @$_ == 11 } values %{ details('k3') }), 10, 'in an 11th attempt, under the same key');

# ---- a refused batch: alerted, in flight; the same batch later ---------------------------

# 20 awards over two shards: each shard's batch over the wallet's 2
my $strict = sim_start(batch_max => 2, statement => $good->{statement}, process => 0);
my %a4 = map { ($_ => 80) } 3001 .. 3020;
seed_awards('k4', \%a4);
my $alert4 = wallet_dir() . '/alert-k4.json';
($rc, $out, $err) = payout_run([ '--once' ],
                               http_campaign_file('k4', $strict->{url}, mode => 'batch', extra => "alert (cat; echo) >> $alert4\n"));
is($rc, 1, 'batches over the wallet\'s limit, refused: exit 1');
like($err, qr/batch k4:b\S+ of \d+ details REFUSED by the wallet: HTTP 400: \{"error":"too_many_details"\}; they stay in flight, alert/,
     'named, with the wallet\'s reason');
like(slurp($alert4), qr/\{"campaign":"k4","source":"cc-payout wallet http batch","ok":false,"breaks":\[\{"class":"wallet_rejected","found":"batch k4:b/,
     'the alert command got it');
is_deeply(award_states('k4'), { 'pending/0' => 20 }, 'all unpaid');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'k4' AND kind = 'pending'"), 20, 'each with its pending transfer');
my $nb4 = both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k4'");
sim_stop($strict);
my $wide = sim_start(statement => $good->{statement}, process => 0);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k4', $wide->{url}, mode => 'batch'));
is($rc, 0, 'a wallet that takes them: exit 0') or diag $err;
is_deeply([ check_paid_http('k4', \%a4, $wide->{statement}) ], [], 'each once, posted');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k4'"), $nb4,
   'the same batches sent again (the wallet never had them: a signed 404), no new one');
sim_stop($wide);

# ---- answers the wallet did not sign, another amount, a stray detail, twice ---------------

my $mitm = sim_start(forge => 100, process => 0);
my %a5 = map { ($_ => 90) } 4001 .. 4004;
seed_awards('k5', \%a5);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k5', $mitm->{url}, mode => 'batch', timeout => 100));
is($rc, 1, 'every answer forged: exit 1');
like($err, qr/batch k5:b\S+: an answer not signed by the wallet \((unsigned|a wrong signature)\), taken as none/, 'each said');
like($err, qr/cc_payout_wallet_unsigned_answers_total|answers not signed by the wallet, taken as none/, 'counted');
is_deeply(award_states('k5'), { 'pending/0' => 4 }, 'nothing believed: unpaid');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'k5' AND kind = 'post'"), 0, 'nothing posted');
is(scalar(grep { $_->[0] =~ /^k5:/ } @{ statement_lines($mitm->{statement}) }), 0, 'nothing at the wallet');
sim_stop($mitm);
my $fair = sim_start(statement => $mitm->{statement}, process => 0);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k5', $fair->{url}, mode => 'batch'));
is($rc, 0, 'then the wallet itself: exit 0') or diag $err;
is_deeply([ check_paid_http('k5', \%a5, $fair->{statement}) ], [], 'each once, posted');
sim_stop($fair);

my $liar = sim_start(echo => 100, process => 0);
my %a6 = map { ($_ => 60) } 6001 .. 6003;
seed_awards('k6', \%a6);
my $alert6 = wallet_dir() . '/alert-k6.json';
($rc, $out, $err) = payout_run([ '--once' ],
                               http_campaign_file('k6', $liar->{url}, mode => 'batch', extra => "alert (cat; echo) >> $alert6\n"));
is($rc, 1, 'details listed with 61 cents for 60: exit 1');
like($err, qr/award k6:6001: wallet MISMATCH: batch k6:b\S+: listed with uid 6001 and 61 cents, not 6001 and 60; stays in flight, alert/,
     'named, with both amounts');
is(() = slurp($alert6) =~ /"class":"wallet_amount_mismatch"/g, 3, 'each in an alert');
is_deeply(award_states('k6'), { 'pending/0' => 3 }, 'unpaid, none posted');
sim_stop($liar);

my $odd = sim_start(stray => 100, twice => 50, process => 0);
my %a7 = map { ($_ => 40) } 7001 .. 7040;
seed_awards('k7', \%a7);
my $alert7 = wallet_dir() . '/alert-k7.json';
($rc, $out, $err) = payout_run([ '--once' ],
                               http_campaign_file('k7', $odd->{url}, mode => 'batch', extra => "alert (cat; echo) >> $alert7\n"));
is($rc, 0, 'a detail no batch held in every answer, half the details listed twice: exit 0') or diag $err;
like($err, qr/wallet: 1 details listed that no batch of ours held; not taken, alert/, 'the stray detail said');
like(slurp($alert7), qr/"class":"wallet_unknown_detail"/, 'and alerted');
is_deeply([ check_paid_http('k7', \%a7, $odd->{statement}) ], [], 'ours each posted once, twice-listed or not');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE award_id LIKE 'stray:%' OR transfer_id LIKE '%stray%'"), 0,
   'nothing booked for the stray one');
sim_stop($odd);

# ---- not finished by the deadline: unknown, the same batch queried later ------------------

my $slow = sim_start(process => 600000);
my %a8 = map { ($_ => 30) } 8001 .. 8005;
seed_awards('k8', \%a8);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k8', $slow->{url}, mode => 'batch', timeout => 100));
is($rc, 1, 'a wallet that processes after 10 minutes, a 1 s deadline: exit 1');
like($err, qr/batch k8:b\S+ unknown \(not FINISHED by the deadline\): its \d+ awards k8:80\d\d \.\. k8:80\d\d stay in flight, the batch is queried again later/,
     'unknown, said once a batch');
is_deeply(award_states('k8'), { 'pending/0' => 5 }, 'unpaid');
my $nb8 = both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k8'");
sim_stop($slow);
my $quick = sim_start(statement => $slow->{statement}, process => 0);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('k8', $quick->{url}, mode => 'batch'));
is($rc, 0, 'the wallet restarted, processing at once: exit 0') or diag $err;
is_deeply([ check_paid_http('k8', \%a8, $quick->{statement}) ], [], 'each once, posted');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'k8'"), $nb8, 'the batch it had accepted, queried: no new one');
sim_stop($quick);

# ---- usage ------------------------------------------------------------------------

my $bad = http_campaign_file('k9', 'http://127.0.0.1:1', mode => 'bulk');
($rc, undef, $err) = payout_run([ '--once' ], $bad);
is($rc, 2, 'wallet_mode bulk: exit 2');
like($err, qr/wallet_mode: batch or per_credit expected/, 'and why');
($rc, undef, $err) = payout_run([ '--once' ], http_campaign_file('k9', 'http://127.0.0.1:1', batch_max => 1001));
is($rc, 2, 'wallet_batch_max 1001: exit 2');
like($err, qr/wallet_batch_max: details in 1\.\.1000 expected/, 'and why');
($rc, undef, $err) = payout_run([ '--once' ], campaign_file('k9', extra => "wallet_mode batch\n"));
is($rc, 2, 'wallet_mode with wallet ledger: exit 2');
like($err, qr/wallet_mode: only with wallet http/, 'and why');

done_testing();
