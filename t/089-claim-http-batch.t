# A claim with `wallet http` in batch mode (issue 20): POST /cc/claim
# through nginx while cc-payout credits a backlog in batches that the
# wallet processes slowly.  The claim is paid on the claims' path as a
# single call (the per_credit API, answered at once), not in a batch of
# its own: answered 200 credited within cc_claim_wait though every batch
# takes longer at the wallet, once at the wallet and in the ledger, in no
# batch, counted by cc_payout_claims_total and
# cc_payout_wallet_claim_calls_total.  The races, each paid once: a claim
# for an award in the bulk batch in flight (left to that batch); a claim
# for an award in a batch left unknown (the single call applies it, the
# batch processed later replays its detail: the award id is one key
# across both APIs at the wallet).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use WalletTest;
use Time::HiRes qw(time);

payout_setup();

my @DBS = qw(cc_s0 cc_s1);

sub both { my ($sql) = @_; my $n = 0; $n += mysql_value($sql, $_) // 0 for @DBS; $n }

# "kind amount" of the award's transfers, in kind order
sub transfers {
    my ($id, $uid) = @_;
    return join ',', map { "$_->[0] $_->[1]" }
        @{ mysql_query("SELECT kind, amount_cents FROM ledger_transfers WHERE award_id = '$id' ORDER BY kind",
                       shard_db($uid)) };
}

sub want_body {
    my ($status, $c, $uid, $amount) = @_;
    return "{\"status\":\"$status\",\"amount_cents\":$amount,\"award_id\":\"$c:$uid\"}";
}

start_nginx(undef, workers => 2,
            http_config => on_shards(),
            config => 'cc_identity trusted_header X-CC-Uid; location = /cc/claim { cc_claim; } location = /cc/award { cc_award; }');

# ---- 1. a claim while the payout credits a backlog in slow batches ----------

my $sim = sim_start(process => 1500);
my $c = 'q1';
my %a1 = map { ($_ => 100 + $_ % 37) } 1001 .. 2500;
seed_awards($c, \%a1, redis => 1);

# the award the bulk order (award ids as strings) reaches last
my ($last) = sort { "$c:$b" cmp "$c:$a" } keys %a1;
my $f1 = http_campaign_file($c, $sim->{url}, mode => undef, batch_max => 100, credit => 'async_client_sync');
my $m1 = wallet_dir() . '/q1.prom';
my $w = spawn_payout([ '--batch', 200, '--interval', 3600, '--progress', 1, '--metrics-file', $m1 ], $f1);
ok(wait_until(sub { both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = '$c'") > 0 }, 30),
   'the bulk pass has batches at the wallet') or diag worker_stderr($w);

my $t0 = time;
my ($st, $body) = http_request('POST', '/cc/claim', { 'X-CC-Uid' => $last }, '', 10);
my $took = time - $t0;
is("$st $body", '200 ' . want_body('credited', $c, $last, $a1{$last}),
   'the claim: 200 credited, with the award');
ok($took < 1.0, sprintf('answered in %.3f s: within cc_claim_wait 1 s, each batch taking 1.5 s at the wallet', $took));
my $pending = award_states($c)->{'pending/0'} // 0;
ok($pending > 1000, "the bulk pass was busy ($pending awards pending)");
is(mysql_value("SELECT status FROM awards WHERE award_id = '$c:$last'", shard_db($last)), 'credited',
   'the award is credited in MySQL');
is(transfers("$c:$last", $last), "pending $a1{$last},post $a1{$last}",
   'one pending and one post transfer of its amount');
is(both("SELECT COUNT(*) FROM $DETAILS x WHERE award_id = '$c:$last'"), 0,
   'in no batch: a single call');
is(statement_keys($sim->{statement})->{"$c:$last"}, 1, 'once in the wallet\'s statement');

ok(wait_until(sub { (award_states($c)->{'credited/1'} // 0) == 1500 }, 120),
   'then the bulk pass pays the backlog') or diag explain award_states($c);
is(stop_worker($w, 'TERM', 30), 0, 'cc-payout: SIGTERM, exit 0');
like(worker_stderr($w), qr/stopping: 1500 credited \(1 on claims\)/, 'the claimed award paid on the claims\' path');
is(prom_metric($m1, 'cc_payout_claims_total'), 1, 'cc_payout_claims_total 1');
is(prom_metric($m1, 'cc_payout_wallet_claim_calls_total'), 1, 'cc_payout_wallet_claim_calls_total 1');
ok(prom_metric($m1, 'cc_payout_wallet_batches_total') >= 15, 'the rest in batches: '
   . prom_metric($m1, 'cc_payout_wallet_batches_total'));
is(both("SELECT COUNT(*) FROM $DETAILS d JOIN wallet_batches b ON b.batch_no = d.batch_no "
        . "WHERE b.campaign = '$c'"), 1499, 'every other award in a batch');
is_deeply([ check_paid_http($c, \%a1, $sim->{statement}) ], [],
          'every award once at the wallet and in the ledger; the books balanced');
sim_stop($sim);

# ---- 2. a claim for an award in the bulk batch in flight ------------------------

my $slow = sim_start(process => 3000);
my $c2 = 'q2';
my %a2 = map { ($_ => 200 + $_ % 11) } 5001 .. 5100;
seed_awards($c2, \%a2, redis => 1);

# the award the bulk order reaches first: in the first batch
my ($first) = sort { "$c2:$a" cmp "$c2:$b" } keys %a2;
my $m2 = wallet_dir() . '/q2.prom';
$w = spawn_payout([ '--batch', 100, '--interval', 3600, '--metrics-file', $m2 ],
                  http_campaign_file($c2, $slow->{url}, mode => undef, batch_max => 100, credit => 'async_client_sync'));
ok(wait_until(sub { both("SELECT COUNT(*) FROM $DETAILS x WHERE award_id = '$c2:$first'") == 1 }, 30, 0.01),
   'its award written in a batch') or diag worker_stderr($w);
($st, $body) = http_request('POST', '/cc/claim', { 'X-CC-Uid' => $first }, '', 10);
is("$st $body", '202 ' . want_body('pending', $c2, $first, $a2{$first}),
   'the claim: 202 pending after cc_claim_wait (the batch in flight pays it, 3 s at the wallet)');
ok(wait_until(sub { (award_states($c2)->{'credited/1'} // 0) == 100 }, 60), 'the batches pay all')
    or diag explain award_states($c2);
is(stop_worker($w, 'TERM', 30), 0, 'cc-payout: exit 0');
like(worker_stderr($w), qr/stopping: 100 credited \(0 on claims\)/, 'all paid by the bulk pass');
is(prom_metric($m2, 'cc_payout_wallet_claim_calls_total'), 0, 'no single call');
is(statement_keys($slow->{statement})->{"$c2:$first"}, 1, 'the claimed award once at the wallet');
is(transfers("$c2:$first", $first), "pending $a2{$first}", '... and once in the ledger: its pending transfer, posted by its '
   . 'batch\'s round post (check_paid_http: the rounds\' sum is the sum paid)');
is_deeply([ check_paid_http($c2, \%a2, $slow->{statement}) ], [], 'every award once, the books balanced');
($st, $body) = http_request('GET', '/cc/award', { 'X-CC-Uid' => $first });
is("$st $body", '200 ' . want_body('credited', $c2, $first, $a2{$first}), 'GET /cc/award: credited');
sim_stop($slow);

# ---- 3. a claim for an award in a batch left unknown ----------------------------

my $never = sim_start(process => 600000);
my $c3 = 'q3';
my %a3 = map { ($_ => 300 + $_ % 7) } 6001 .. 6020;
seed_awards($c3, \%a3, redis => 1);
my ($u3) = sort { $a <=> $b } keys %a3;
my $f3 = http_campaign_file($c3, $never->{url}, mode => undef, timeout => 100, credit => 'async_client_sync');
my ($rc, $out, $err) = payout_run([ '--once' ], $f3);
is($rc, 1, 'a wallet that processes after 10 minutes, a 1 s deadline: exit 1 (unpaid)');
is_deeply(award_states($c3), { 'pending/0' => 20 }, 'every award pending, in flight');
is(both("SELECT COUNT(*) FROM $DETAILS x WHERE award_id = '$c3:$u3'"), 1, 'the award in a batch at the wallet');

my $m3 = wallet_dir() . '/q3.prom';
$w = spawn_payout([ '--interval', 3600, '--metrics-file', $m3 ], $f3);
($st, $body) = http_request('POST', '/cc/claim', { 'X-CC-Uid' => $u3 }, '', 10);
is("$st $body", '200 ' . want_body('credited', $c3, $u3, $a3{$u3}),
   'the claim: 200 credited (a single call, the batch still unprocessed)');
is(stop_worker($w, 'TERM', 30), 0, 'cc-payout: exit 0');
is(prom_metric($m3, 'cc_payout_wallet_claim_calls_total'), 1, 'one single call');
is(transfers("$c3:$u3", $u3), "pending $a3{$u3},post $a3{$u3}", 'the same pending transfer, posted');
is(statement_keys($never->{statement})->{"$c3:$u3"}, 1, 'once at the wallet');
sim_stop($never);

# the wallet restarted, processing the batch it accepted: the claimed
# award's detail is a key it applied, replayed
my $quick = sim_start(statement => $never->{statement}, process => 0);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file($c3, $quick->{url}, mode => undef));
is($rc, 0, 'the next pass: exit 0') or diag $err;
like($err, qr/done: 19 credited \(0 on claims\)/, 'the 19 others credited by the batch queried again');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = '$c3'"),
   both("SELECT COUNT(DISTINCT batch_no) FROM $DETAILS x WHERE award_id LIKE '$c3:%'"),
   'no new batch');
is_deeply([ check_paid_http($c3, \%a3, $quick->{statement}) ], [],
          'every award once at the wallet (the claimed one too) and in the ledger');
sim_stop($quick);
like(worker_stderr($quick->{w}), qr/stopping: 19 applied \(0 written twice\), 1 replayed, .* 20 details applied/,
     'the wallet: 19 applied, the claimed award\'s detail replayed');

done_testing();
