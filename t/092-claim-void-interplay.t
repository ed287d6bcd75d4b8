# Issue 20: a claim's single call (the claims' lane, per_credit's books:
# pending transfer id = the award id) and a batch history with voids
# (a failed detail's attempt voided, the award re-sent as <award id>#2),
# on the same award, both ways round.  Each award paid once at the wallet
# and posted once in the ledger; ledger_pending's sums those of the live
# pending transfers of the awards not posted; the three-way reconcile
# clean at the end:
#
#   A. a claim after a void.  Three chosen details fail in their first
#      batch (--fail-detail KEY=1); their second attempts' batch is not
#      taken by a busy wallet (--accept-max 1: left unknown).  A claim
#      for one of them: its single call finds the award id's pending
#      transfer (voided) as in flight and credits; its post posts the
#      award's live attempt (#2), whose reservation it takes off the
#      pending sums.  The wallet restarted then takes that batch (its
#      detail of the claimed award read back and sent again, a key it
#      applied) and holds it unprocessed: a claim for a second one
#      credits the same way.  Processed at last: the two claimed
#      awards' details replayed, the third posted, nothing posted twice,
#      nothing left reserved, no third attempt.
#
#   B. a claim's single call left unknown, then the bulk pass: its
#      pending transfer is the call's (no batch_no), and an append-only
#      transfer is not given a batch later, so the bulk pass calls it
#      again as a single call under the same key, never batches it:
#      (1) the wallet down during the claim (the call never arrived),
#      the award 'crediting', the bulk pass's call too; the wallet back
#      (a detail of its key chosen to fail: no batch holds it), the call
#      applied, post:<award id>, no void; (2) the wallet applying the
#      calls but dropping every answer (--drop-pct 100): the other
#      awards paid in a batch, the claimed one left crediting; an
#      honest wallet then: the call replayed, posted once, once at the
#      wallet.
#
#   C. a claim while the bulk lane drives the second attempt's batch: left
#      to that batch (its award in the batch's range), no single call.
#
#   D. another payer credits an award while its batch is at the wallet:
#      the round refused by the payout's guarded UPDATE, then the rest.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use WalletTest;

payout_setup();

# an award's transfers on cc_s0: "id kind amount", in id order
sub xfers {
    my ($id) = @_;
    return [ map { join ' ', @$_ } @{ mysql_query("SELECT transfer_id, kind, amount_cents FROM ledger_transfers "
                                                 . "WHERE award_id = '$id' ORDER BY transfer_id", 'cc_s0') } ];
}

# what the pending and void rows of an award should be after its
# attempts 1..$n, the first $n - 1 voided, and its post: 'call' (a
# single call's post:<id>), 'round' (a batch's round post: no row of the
# award's own; then the award is credited and a round post of cc_s0
# holds at least its amount), 0 (not posted)
sub want_xfers {
    my ($id, $amt, $n, $posted) = @_;
    my @p = map { $_ == 1 ? $id : "$id#$_" } 1 .. $n;
    if ($posted eq 'round') {
        my $rounds = mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE kind = 'post' AND transfer_id LIKE 'bpost:%' "
                                 . "AND award_id IS NULL AND amount_cents >= $amt AND campaign = '" . (split /:/, $id)[0] . "'", 'cc_s0');
        my $st = mysql_value("SELECT status FROM awards WHERE award_id = '$id'", 'cc_s0') // 'none';
        return [ "no round post of $amt or more for $id, award $st" ] unless $rounds && $st eq 'credited';
    }
    return [ sort((map { "$_ pending $amt" } @p), (map { "void:$_ void $amt" } @p[0 .. $n - 2]),
                  $posted eq 'call' ? ("post:$id post $amt") : ()) ];
}

# award id => "attempt:batch_no,..." of its batch details
sub attempts {
    my ($c) = @_;
    my %d;
    push @{ $d{ $_->[0] } }, "$_->[1]:$_->[2]"
        for @{ mysql_query("SELECT award_id, attempt, batch_no FROM $DETAILS x "
                           . "WHERE award_id LIKE '$c:%' ORDER BY award_id, attempt", 'cc_s0') };
    return { map { ($_ => join ',', @{ $d{$_} }) } keys %d };
}

sub status_of { mysql_value("SELECT status FROM awards WHERE award_id = '$_[0]'", 'cc_s0') }

# cc_s0's pending sums of the campaign: "pool debits/clearing credits"
sub pending_of {
    my ($c) = @_;
    return join '/', map { mysql_value("SELECT $_->[0] FROM ledger_pending WHERE account = '$_->[1]:$c'", 'cc_s0') // 0 }
                         [ 'debits', 'pool' ], [ 'credits', 'clearing' ];
}

# awards of MySQL shard cc_s0 only (a lane's batch is a shard's), the
# other shard planned 0 as cc-draw plans a shard with nobody eligible
sub campaign_on_s0 {
    my ($c, $from, $n) = @_;
    my $m = shard_map($from .. $from + 99);
    my @u = (grep { $m->{$_}[1] eq 'cc_s0' } sort { $a <=> $b } keys %$m)[0 .. $n - 1];
    my %a = map { ($u[$_] => 100 + 7 * $_) } 0 .. $#u;
    seed_awards($c, \%a, redis => 0);
    my $pool = make_drawn($c, \%a, shard_map(@u));
    mysql_query("INSERT INTO draw_plans VALUES ('$c', 1, 0, 0, 0, $pool, 'equal', 1, 0, REPEAT('a', 64), 1)", 'cc_s1');
    return (\%a, \@u, $pool);
}

sub claim {
    my ($uid) = @_;
    redis_cmd(redis_index(shard_map($uid)->{$uid}[0]), 'RPUSH', claims_key(), $uid);
}

# ---- A. a claim after a void: attempt 2 unknown, then in flight at the wallet --------

my ($a1, $u1, $pool1) = campaign_on_s0('i1', 3001, 10);
my ($x, $y, $z) = @$u1[2, 5, 8];
my ($X, $Y, $Z) = map { "i1:$_" } $x, $y, $z;
my $busy = sim_start(process => 5, accept_max => 1, fail_detail => [ map { "$_=1" } $X, $Y, $Z ]);
my $f1 = http_campaign_file('i1', $busy->{url}, pool => $pool1, mode => 'batch', timeout => 100);
my $prom = wallet_dir() . '/i1.prom';

my ($rc, $out, $err) = payout_run([ '--once' ], $f1);
is($rc, 1, 'A: three details fail, their second attempts\' batch not taken (busy): exit 1 (unpaid)') or diag $err;
is_deeply(award_states('i1'), { 'credited/1' => 7, 'pending/0' => 3 }, 'seven credited, three in flight');
is_deeply(xfers($_), want_xfers($_, $a1->{ (split /:/)[1] }, 2, 0), "$_: attempt 1 voided, attempt 2 pending")
    for $X, $Y, $Z;
my $at1 = attempts('i1');
my ($b2) = $at1->{$X} =~ /,2:(.+)$/;
ok(defined $b2 && $at1->{$Y} =~ /,2:\Q$b2\E$/ && $at1->{$Z} =~ /,2:\Q$b2\E$/, 'their second attempts in one batch')
    or diag explain $at1;
is(scalar(grep { $_->[0] eq 'B' && $_->[1] eq $b2 } @{ journal_lines($busy->{journal}) }), 0, '... which the wallet never took');
is(pending_of('i1'), join('/', ($a1->{$x} + $a1->{$y} + $a1->{$z}) x 2), 'reserved: the three live attempts');

# the claim for X: the claims' first turn, before the bulk
claim($x);
($rc, $out, $err) = payout_run([ '--once', '--metrics-file', $prom ], $f1);
is($rc, 1, 'A: a claim for one of them: exit 1 (two still unpaid)') or diag $err;
like($err, qr/done: 1 credited \(1 on claims\)/, 'the claim credited on the claims\' path');
is(prom_metric($prom, 'cc_payout_wallet_claim_calls_total'), 1, 'as a single call');
is(status_of($X), 'credited', "$X credited");
is_deeply(xfers($X), want_xfers($X, $a1->{$x}, 2, 'call'),
          "$X: its voided attempt 1, its live attempt 2 and one post (the post of the live attempt)");
is(statement_keys($busy->{statement})->{$X}, 1, 'once at the wallet');
is_deeply(attempts('i1'), $at1, 'no new attempt, no new batch');
is(pending_of('i1'), join('/', ($a1->{$y} + $a1->{$z}) x 2),
   'the pending sums: the two others\' live attempts (the post took the claimed award\'s off)');
my ($rrc, $rout) = reconcile_money($f1);
is($rrc, 0, 'cc-reconcile --money clean in flight: one live pending an award, the sums those of the unposted')
    or diag $rout;
sim_stop($busy);

# the wallet restarted: it takes the batch of the second attempts (the
# claimed award's detail in it, read back from MySQL) and holds it
my $hold = sim_start(port => $busy->{port}, statement => $busy->{statement}, process => 600000);
($rc, $out, $err) = payout_run([ '--once' ], $f1);
is($rc, 1, 'A: the batch sent again and taken, held unprocessed: exit 1') or diag $err;
is(scalar(grep { $_->[0] eq 'B' && $_->[1] eq $b2 } @{ journal_lines($hold->{journal}) }), 1, 'the wallet holds it now');
is_deeply(attempts('i1'), $at1, 'the same batch, no new attempt');

claim($y);
($rc, $out, $err) = payout_run([ '--once', '--metrics-file', $prom ], $f1);
is($rc, 1, 'A: a claim for the second, its batch in flight at the wallet: exit 1 (one unpaid)') or diag $err;
like($err, qr/done: 1 credited \(1 on claims\)/, 'the claim credited on the claims\' path');
is(prom_metric($prom, 'cc_payout_wallet_claim_calls_total'), 1, 'as a single call');
is_deeply(xfers($Y), want_xfers($Y, $a1->{$y}, 2, 'call'), "$Y: voided attempt 1, live attempt 2, one post");
is(statement_keys($hold->{statement})->{$Y}, 1, 'once at the wallet');
is(pending_of('i1'), "$a1->{$z}/$a1->{$z}", 'the pending sums: the last award\'s live attempt');
($rrc, $rout) = reconcile_money($f1);
is($rrc, 0, 'cc-reconcile --money clean') or diag $rout;
sim_stop($hold);

# processed at last: the claimed awards' details replayed
my $quick = sim_start(port => $busy->{port}, statement => $busy->{statement}, process => 0);
($rc, $out, $err) = payout_run([ '--once' ], $f1);
is($rc, 0, 'A: the batch processed: exit 0') or diag $err;
like($err, qr/done: 1 credited \(0 on claims\)/, 'the third award posted by the bulk pass');
sim_stop($quick);
like(worker_stderr($quick->{w}), qr/stopping: 1 applied \(0 written twice\), 2 replayed,/,
     'the wallet: the third applied, the two claimed awards\' details replayed');
is_deeply([ map { $_->[3] } grep { $_->[0] eq 'R' && $_->[1] eq $b2 } @{ journal_lines($quick->{journal}) } ],
          [ 'S', 'S', 'S' ], '... each detail SUCCESS');
my %v1;
is_deeply([ check_paid_http('i1', $a1, $quick->{statement}, voids => \%v1) ], [],
          'every award once at the wallet and posted once; the pool paid, nothing pending');
is_deeply({ map { ($_ => $v1{$_}) } grep { $v1{$_} } keys %v1 }, { $X => 1, $Y => 1, $Z => 1 },
          'one void each for the three failed first attempts, no other');
is_deeply(attempts('i1'), $at1, 'no third attempt');
is_deeply(ledger_pending_sums(qr/^(pool|clearing):i1$/), {}, 'nothing left reserved');
my $doc;
($rrc, $rout, undef, $doc) = reconcile_money($f1, '--statement', $quick->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr($rout, 0, 3000);
my $sum1 = 0;
$sum1 += $_ for values %$a1;
is_deeply($doc->{three_way}, { books => 'clearing', posted_to_clearing => $sum1, credited_awards => $sum1, statement => $sum1 },
          'posted to clearing = credited awards = the statement');

# ---- B1. the claim's single call never arrives; the bulk pass calls it again ----

my ($a2, $u2, $pool2) = campaign_on_s0('r1', 4001, 6);
my $w2 = $u2->[1];
my $W2 = "r1:$w2";
my $port = free_port();
my $f2 = http_campaign_file('r1', "http://127.0.0.1:$port", pool => $pool2, mode => 'batch', timeout => 100);
my $prom2 = wallet_dir() . '/r1.prom';
claim($w2);
($rc, $out, $err) = payout_run([ '--once', '--metrics-file', $prom2 ], $f2);
is($rc, 1, 'B1: the wallet down: exit 1') or diag $err;
is(prom_metric($prom2, 'cc_payout_wallet_claim_calls_total'), 2,
   'the claim went as a single call, and the bulk pass called it again so (no batch: its pending is the call\'s)');
like($err, qr/1 awards in flight by single calls \(no batch\): called again as single calls, the same keys/,
     '... said by the bulk pass');
is(scalar(() = $err =~ /award \Q$W2\E: no answer after 10 calls/g), 2, '... both left without an answer');
is(status_of($W2), 'crediting', "$W2 crediting (per_credit's books)");
is(attempts('r1')->{$W2}, undef, 'in no batch');
is(scalar(keys %{ attempts('r1') }), 5, 'the five others in batches');
is_deeply(xfers($W2), [ "$W2 pending $a2->{$w2}" ], 'one pending transfer, the claim\'s');
my $sum2 = 0;
$sum2 += $_ for values %$a2;
is(pending_of('r1'), "$sum2/$sum2", 'each award reserved once (the claimed one not twice)');

my $back = sim_start(port => $port, process => 5, fail_detail => [ "$W2=1" ]);
($rc, $out, $err) = payout_run([ '--once' ], $f2);
is($rc, 0, 'B1: the wallet back (a detail of the claimed award\'s key chosen to fail): exit 0') or diag $err;
is_deeply(xfers($W2), want_xfers($W2, $a2->{$w2}, 1, 'call'),
          "$W2: the claim's pending transfer posted by a single call's post, no void");
is(scalar(grep { $_->[0] eq 'R' && $_->[3] eq 'F' } @{ journal_lines($back->{journal}) }), 0,
   'no detail failed: no batch held its key');
is(statement_keys($back->{statement})->{$W2}, 1, 'once at the wallet');
is_deeply([ check_paid_http('r1', $a2, $back->{statement}) ], [], 'every award once, the books balanced');
is_deeply(attempts('r1')->{$W2}, undef, 'still in no batch');
($rrc, $rout, undef, $doc) = reconcile_money($f2, '--statement', $back->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr($rout, 0, 3000);
is($doc->{three_way}{statement}, $sum2, "the statement $sum2");
sim_stop($back);

# ---- B2. the claim's single call applied, its answers lost; the bulk pass's too ------

my ($a3, $u3, $pool3) = campaign_on_s0('r2', 5001, 6);
my $w3 = $u3->[3];
my $W3 = "r2:$w3";
my $drop = sim_start(process => 5, drop => 100, fail_detail => [ "$W3=1" ]);
my $f3 = http_campaign_file('r2', $drop->{url}, pool => $pool3, mode => 'batch', timeout => 100);
claim($w3);
($rc, $out, $err) = payout_run([ '--once' ], $f3);
is($rc, 1, 'B2: every answer to a call dropped, the batches queried: exit 1 (one left in flight)') or diag $err;
is(scalar(() = $err =~ /award \Q$W3\E: no answer after 10 calls/g), 2,
   'the claim\'s single call and the bulk pass\'s left without an answer');
like($err, qr/done: 5 credited \(0 on claims\)/, 'the bulk pass paid the five others in batches');
is(status_of($W3), 'crediting', "$W3 still crediting");
is(statement_keys($drop->{statement})->{$W3}, 1, '... applied once at the wallet (its answers lost)');
sim_stop($drop);
my $honest = sim_start(port => $drop->{port}, statement => $drop->{statement}, process => 5);
($rc, $out, $err) = payout_run([ '--once' ], $f3);
is($rc, 0, 'an honest wallet: exit 0') or diag $err;
is_deeply(xfers($W3), want_xfers($W3, $a3->{$w3}, 1, 'call'), "$W3: one pending transfer (the claim's), posted by its call, no void");
is(statement_keys($honest->{statement})->{$W3}, 1, 'once at the wallet: the call replayed');
is_deeply([ check_paid_http('r2', $a3, $honest->{statement}) ], [], 'every award once, the books balanced');
my $sum3 = 0;
$sum3 += $_ for values %$a3;
($rrc, $rout, undef, $doc) = reconcile_money($f3, '--statement', $honest->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr($rout, 0, 3000);
is($doc->{three_way}{statement}, $sum3, "the statement $sum3");
sim_stop($honest);

# ---- C. a claim while the bulk lane drives the second attempt's batch --------------

# the claim is left to the batch in flight (its award in the batch's
# range): no single call, the batch's SUCCESS posts it
my ($a4, $u4, $pool4) = campaign_on_s0('i3', 6001, 4);
my $w4 = $u4->[2];
my $W4 = "i3:$w4";
my $busy4 = sim_start(process => 5, accept_max => 1, fail_detail => [ "$W4=1" ]);
my $f4 = http_campaign_file('i3', $busy4->{url}, pool => $pool4, mode => 'batch', timeout => 100);
($rc, $out, $err) = payout_run([ '--once' ], $f4);
is($rc, 1, 'C: its first detail failed, the second attempt\'s batch not taken: exit 1') or diag $err;
my ($b4) = (attempts('i3')->{$W4} // '') =~ /,2:(.+)$/;
ok(defined $b4, 'its second attempt in a batch');
sim_stop($busy4);

my $slow4 = sim_start(port => $busy4->{port}, statement => $busy4->{statement}, process => 3000);
my $prom4 = wallet_dir() . '/i3.prom';
my $w = spawn_payout([ '--interval', 3600, '--metrics-file', $prom4 ],
                     http_campaign_file('i3', $slow4->{url}, pool => $pool4, mode => 'batch', timeout => 2000));
ok(wait_until(sub { grep { $_->[0] eq 'B' && $_->[1] eq $b4 } @{ journal_lines($slow4->{journal}) } }, 30),
   'the bulk lane sent the second attempt\'s batch, 3 s at the wallet') or diag worker_stderr($w);
claim($w4);
my $r4 = redis_index(shard_map($w4)->{$w4}[0]);
ok(wait_until(sub { redis_cmd($r4, 'LLEN', claims_key()) == 0 }, 10), 'the claim popped');
is(status_of($W4), 'pending', '... while the batch was in flight at the wallet (the award still pending)');
ok(wait_until(sub { (status_of($W4) // '') eq 'credited' }, 30), 'then the award credited') or diag worker_stderr($w);
is(stop_worker($w, 'TERM', 30), 0, 'cc-payout: SIGTERM, exit 0');
is(prom_metric($prom4, 'cc_payout_wallet_claim_calls_total'), 0, 'no single call: the claim was left to the batch in flight');
like(worker_stderr($w), qr/stopping: 1 credited \(0 on claims\)/, 'the batch paid it');
is_deeply(xfers($W4), want_xfers($W4, $a4->{$w4}, 2, 'round'), "$W4: attempt 1 voided, attempt 2 posted by its batch's round");
is_deeply([ check_paid_http('i3', $a4, $slow4->{statement}) ], [], 'every award once, the books balanced');
($rrc, $rout) = reconcile_money($f4, '--statement', $slow4->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr($rout, 0, 3000);
sim_stop($slow4);

# ---- D. another payer credits an award while its batch is at the wallet ----------
#
# A round post takes its awards unlocked; the payout's UPDATE that sets
# them credited is the guard (cc_wallet.h): one it finds credited (here a
# single call's post:<award id> committed by hand, as a claim's would be,
# while the batch is held 1.5 s at the wallet) rolls the round back; the
# next pass posts the others, the credited one EXISTS.
my ($a5, $u5, $pool5) = campaign_on_s0('i4', 7001, 4);
my $w5 = $u5->[1];
my $W5 = "i4:$w5";
my $slow5 = sim_start(process => 1500);
my $prom5 = wallet_dir() . '/i4.prom';
my $f5 = http_campaign_file('i4', $slow5->{url}, pool => $pool5, mode => 'batch', timeout => 2000);
$w = spawn_payout([ '--interval', 3600, '--metrics-file', $prom5 ], $f5);
ok(wait_until(sub { grep { $_->[0] eq 'B' && $_->[1] =~ /^i4:b/ } @{ journal_lines($slow5->{journal}) } }, 30),
   'D: the bulk lane sent the batch, 1.5 s at the wallet') or diag worker_stderr($w);
my $amt5 = $a5->{$w5};
mysql_query("START TRANSACTION; "
            . "INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, award_id, created_at) "
            . "VALUES ('post:$W5', 'pool:i4', 'clearing:i4', $amt5, 'i4', 'post', '$W5', 1); "
            . "UPDATE ledger_pending SET debits = debits - $amt5 WHERE account = 'pool:i4'; "
            . "UPDATE ledger_pending SET credits = credits - $amt5 WHERE account = 'clearing:i4'; "
            . "UPDATE ledger_accounts SET debits = debits + $amt5 WHERE account = 'pool:i4'; "
            . "INSERT INTO ledger_accounts (account, debits, credits, guard) VALUES ('clearing:i4', 0, $amt5, 0) "
            . "ON DUPLICATE KEY UPDATE credits = credits + $amt5; "
            . "UPDATE awards SET status = 'credited', credited_at = 1 WHERE award_id = '$W5'; COMMIT", 'cc_s0');
ok(wait_until(sub { worker_stderr($w) =~ /1 of 4 awards credited now were credited by another payer meanwhile; rolled back/ }, 30),
   '... its round refused by the mark\'s guard: 1 of 4 credited meanwhile, rolled back') or diag worker_stderr($w);
ok(wait_until(sub { (award_states('i4')->{'credited/1'} // 0) == 4 }, 30),
   '... the batch queried again: the other three credited, all four notified (the hand\'s by the outbox)')
    or diag worker_stderr($w);
is(stop_worker($w, 'TERM', 30), 0, 'cc-payout: SIGTERM, exit 0');
like(worker_stderr($w), qr/stopping: 3 credited \(0 on claims\), 0 already credited/,
     '... 3 credited (the fourth, credited, not read again)');
is(prom_metric($prom5, 'cc_payout_raced_total'), 1, 'metrics: cc_payout_raced_total 1');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'i4' AND transfer_id LIKE 'bpost:%'", 'cc_s0'), 1,
   'one round post: the refused one left nothing');
is_deeply(xfers($W5), [ "$W5 pending $amt5", "post:$W5 post $amt5" ], "$W5: its pending and the call's post, no round's");
my $rest5 = 0;
$rest5 += $a5->{$_} for grep { $_ != $w5 } @$u5;
is(mysql_value("SELECT SUM(amount_cents) FROM ledger_transfers WHERE campaign = 'i4' AND transfer_id LIKE 'bpost:%'", 'cc_s0'),
   $rest5, "the round posts: the other three's $rest5");
is(statement_keys($slow5->{statement})->{$W5}, 1, 'once at the wallet');
is_deeply([ check_paid_http('i4', $a5, $slow5->{statement}) ], [], 'every award once, the books balanced');
($rrc, $rout) = reconcile_money($f5, '--statement', $slow5->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr($rout, 0, 3000);
sim_stop($slow5);

done_testing();
