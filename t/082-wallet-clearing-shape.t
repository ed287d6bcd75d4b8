# The clearing account (issue 20): with wallet http the pool pays
# clearing:<campaign>, no per-user wallet row.  Books begun in the
# per-user shape (pool -> wallet:<uid>, before the clearing account) are
# refused, not mixed: cc-payout exits 2 at start saying why, in both
# modes, and writes nothing.  cc-reconcile --money checks the new shape:
# Σ posted to clearing = Σ credited awards (a clearing account credited
# with money no award explains is ledger_unbalanced), a campaign holding
# transfers of both shapes is a break naming both counts, and the
# document carries the three sums.  And --statement --repair through the
# batch mode: the same batch queried, each award posted once.

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

# ---- books in the per-user shape: refused ------------------------------------------

my %a1 = map { ($_ => 100) } 1 .. 20;
seed_awards('o1', \%a1);
my $map = shard_map(keys %a1);
# what the version before the clearing account left: two awards in
# flight, each a pending transfer pool -> wallet:<uid>, crediting
for my $u (3, 4) {
    my $db = $map->{$u}[1];
    mysql_query("INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, award_id, created_at) "
                . "VALUES ('o1:$u', 'pool:o1', 'wallet:$u', 100, 'o1', 'pending', 'o1:$u', 1)", $db);
    mysql_query("INSERT INTO ledger_pending (account, debits) VALUES ('pool:o1', 100) "
                . "ON DUPLICATE KEY UPDATE debits = debits + 100", $db);
    mysql_query("INSERT INTO ledger_pending (account, credits) VALUES ('wallet:$u', 100)", $db);
    mysql_query("UPDATE awards SET status = 'crediting' WHERE award_id = 'o1:$u'", $db);
}
my $sim = sim_start(process => 0);
my $before = ledger_snapshot();
for my $mode ('batch', 'per_credit') {
    my ($rc, undef, $err) = payout_run([ '--once' ], http_campaign_file('o1', $sim->{url}, mode => $mode));
    is($rc, 2, "$mode: a campaign whose books are in the per-user shape: exit 2");
    like($err, qr/cc-payout: mysql shard \S+: campaign o1's books are in the per-user shape \(pending transfers to wallet:<uid>, written before the clearing account\); this version books wallet http into clearing:o1 and does not mix the two in one campaign: finish it with the version that began it/,
         '... saying why and what to do');
}
is_deeply(ledger_snapshot(), $before, 'nothing written: no transfer, no account');
is(both("SELECT COUNT(*) FROM ledger_pending WHERE account = 'clearing:o1'"), 0, 'no clearing account');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'o1'"), 0, 'no batch');
is(scalar @{ statement_lines($sim->{statement}) }, 0, 'nothing sent to the wallet');
is_deeply(award_states('o1'), { 'pending/0' => 18, 'crediting/0' => 2 }, 'the awards as they were');

# ---- batches whose details are rows of wallet_batch_details: refused ----------------
#
# what the version before the details were the pending transfers left: a
# batch in flight, its detail a row of wallet_batch_details (and its
# pending transfer without a batch_no)
my %a0 = map { ($_ => 100) } 21 .. 30;
seed_awards('o2', \%a0);
my $map0 = shard_map(keys %a0);
my $db0 = $map0->{21}[1];
mysql_query("INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, award_id, created_at) "
            . "VALUES ('o2:21', 'pool:o2', 'clearing:o2', 100, 'o2', 'pending', 'o2:21', 1); "
            . "INSERT INTO ledger_pending (account, debits) VALUES ('pool:o2', 100); "
            . "INSERT INTO ledger_pending (account, credits) VALUES ('clearing:o2', 100); "
            . "INSERT INTO wallet_batches VALUES ('o2:b1.1.1', 'o2', 1, 100, 1); "
            . "INSERT INTO wallet_batch_details VALUES ('o2:21', 1, 'o2:b1.1.1', 21, 100)", $db0);
$before = ledger_snapshot();
for my $mode ('batch', 'per_credit') {
    my ($rc, undef, $err) = payout_run([ '--once' ], http_campaign_file('o2', $sim->{url}, mode => $mode));
    is($rc, 2, "$mode: a campaign whose batches' details are rows of wallet_batch_details: exit 2");
    like($err, qr/campaign o2's batches are in the shape before their details were its pending transfers \(rows in wallet_batch_details\); this version does not mix the two in one campaign: finish it with the version that began it/,
         '... saying why and what to do');
}
is_deeply(ledger_snapshot(), $before, 'nothing written');
is(scalar(grep { $_->[0] =~ /^o2:/ } @{ statement_lines($sim->{statement}) }), 0, 'nothing sent to the wallet');

# ---- --statement --repair through the batch mode ------------------------------------

# 40 awards in a batch the wallet accepted but did not process (a 1 s
# deadline against 10 minutes): in flight, short at the wallet; then the
# wallet, restarted, processes it: long at the wallet (长款); --repair
# re-drives them through the batch path, which queries the same batch
my ($rc3, $out3, $err3, $doc3);
my %a3 = map { ($_ => 20 + $_ % 5) } 901 .. 940;
seed_awards('r3', \%a3);
my $map3 = shard_map(keys %a3);
my $pool3 = make_drawn('r3', \%a3, $map3);
my $slow = sim_start(process => 600000);
my $f3 = http_campaign_file('r3', $slow->{url}, pool => $pool3, mode => 'batch', timeout => 100);
($rc3) = payout_run([ '--once' ], $f3);
is($rc3, 1, 'a batch the wallet holds past the deadline: exit 1');
my $nb3 = both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'r3'");
($rc3, $out3, $err3, $doc3) = reconcile_money($f3, '--statement', $slow->{statement});
is($rc3, 1, 'in flight, nothing in the statement yet: exit 1');
is_deeply([ sort { $a cmp $b } map { $_->{class} } @{ $doc3->{breaks} } ], [ ('short_at_wallet') x 40 ], 'each short at the wallet (短款)');
sim_stop($slow);
my $back = sim_start(statement => $slow->{statement}, process => 0);
wait_until(sub { @{ statement_lines($back->{statement}) } >= 40 }, 20);
$f3 = http_campaign_file('r3', $back->{url}, pool => $pool3, mode => 'batch');
($rc3, $out3, $err3, $doc3) = reconcile_money($f3, '--statement', $back->{statement});
is_deeply([ sort { $a cmp $b } map { $_->{class} } @{ $doc3->{breaks} } ], [ ('long_at_wallet') x 40 ],
          'the wallet processed the batch: each long at the wallet (长款)');
($rc3, $out3, $err3, $doc3) = reconcile_money($f3, '--statement', $back->{statement}, '--repair');
like($err3, qr/repair: 40 of 40 statement break\(s\) mended with their own keys/, '--repair: all 40 mended') or diag $err3;
is_deeply([ check_paid_http('r3', \%a3, $back->{statement}) ], [], 'each posted, each key once at the wallet');
is(both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'r3'"), $nb3, 'through the same batch: queried, none new');
($rc3) = payout_run([ '--once' ], $f3);
($rc3, $out3, $err3, $doc3) = reconcile_money($f3, '--statement', $back->{statement});
is($rc3, 0, 'then three ways clean') or diag "$out3$err3";
sim_stop($back);

# ---- the clearing shape reconciled -------------------------------------------------

my %a2 = map { ($_ => 10 + $_ % 7) } 501 .. 700;
seed_awards('c2', \%a2);
$map = shard_map(keys %a2);
my $pool = make_drawn('c2', \%a2, $map);
my $f2 = http_campaign_file('c2', $sim->{url}, pool => $pool, mode => 'batch');
my ($rc, $out, $err) = payout_run([ '--once' ], $f2);
is($rc, 0, 'a campaign paid in batches: exit 0') or diag $err;
is(both("SELECT COUNT(*) FROM ledger_accounts WHERE account LIKE 'wallet:%'"), 0, 'no per-user wallet row');
is(both("SELECT credits FROM ledger_accounts WHERE account = 'clearing:c2'"), $pool, 'the clearing account holds the pool');
is(both("SELECT COUNT(*) FROM ledger_transfers t JOIN awards a ON a.award_id = t.award_id JOIN wallet_batches b "
        . "ON b.batch_no = t.batch_no WHERE t.campaign = 'c2' AND t.kind = 'pending' AND t.transfer_id = t.award_id "
        . "AND t.award_id = CONCAT('c2:', a.uid) AND t.amount_cents = a.amount_cents"), 200,
   'each user\'s money findable: its pending transfer keyed by its award id (c2:<uid>), of its amount, in a batch');
is(both("SELECT COUNT(*) FROM wallet_batch_details WHERE award_id LIKE 'c2:%'"), 0,
   '... the transfer is the batch\'s detail: no wallet_batch_details row');
my $doc;
($rc, $out, $err, $doc) = reconcile_money($f2, '--statement', $sim->{statement});
is($rc, 0, 'the three-way reconcile: clean') or diag "$out$err";
is_deeply($doc->{three_way}, { books => 'clearing', posted_to_clearing => $pool, credited_awards => $pool, statement => $pool },
          'its three sums equal');
($rc, $out, $err, $doc) = reconcile_money($f2);
is($rc, 0, 'without --statement: clean too');
is($doc->{three_way}{statement}, undef, '... the statement\'s sum null');

# money into the clearing account no award explains (a balanced
# correcting transfer: the double entry holds, the clearing check not)
my $u = 501;
my $db = $map->{$u}[1];
mysql_query("INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, award_id, created_at) "
            . "VALUES ('correct:c2:1', 'sponsor:c2', 'clearing:c2', 7, 'c2', 'correct', NULL, 1); "
            . "UPDATE ledger_accounts SET credits = credits + 7 WHERE account = 'clearing:c2'; "
            . "UPDATE ledger_accounts SET debits = debits + 7 WHERE account = 'sponsor:c2'", $db);
($rc, $out, $err, $doc) = reconcile_money($f2, '--statement', $sim->{statement});
is($rc, 1, 'the clearing account credited with 7 cents no award explains: exit 1');
my @cl = grep { $_->{class} eq 'ledger_unbalanced' && $_->{expected} =~ /^clearing:c2's posted credits/ } @{ $doc->{breaks} };
is(scalar @cl, 1, 'one ledger_unbalanced break on the clearing account');
like($cl[0]{expected} . ' / ' . $cl[0]{found}, qr/^clearing:c2's posted credits = the credited awards' (\d+) \/ (\d+)$/, 'its two sums');
my ($want, $got) = ($cl[0]{expected} =~ /(\d+)$/, $cl[0]{found});
is($got - $want, 7, '7 cents apart');
is_deeply([ map { $_->{class} } @{ $doc->{breaks} } ], [ 'ledger_unbalanced' ], 'and nothing else');

# the batches' round posts (bpost:..., no award id) sum to the credited
# awards, checked as a sum: one of 5 cents more that no award explains
# (the accounts moved with it: the double entry holds)
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'c2' AND kind = 'post' AND transfer_id NOT LIKE 'bpost:%'"), 0,
   'the batches posted by round posts only');
is(both("SELECT SUM(amount_cents) FROM ledger_transfers WHERE campaign = 'c2' AND kind = 'post'"), $pool,
   '... whose sum is the pool paid');
mysql_query("INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, award_id, created_at) "
            . "VALUES ('bpost:c2:x', 'pool:c2', 'clearing:c2', 5, 'c2', 'post', NULL, 1); "
            . "UPDATE ledger_accounts SET credits = credits + 5 WHERE account = 'clearing:c2'; "
            . "UPDATE ledger_accounts SET debits = debits + 5 WHERE account = 'pool:c2'", $db);
($rc, $out, $err, $doc) = reconcile_money($f2, '--statement', $sim->{statement});
is($rc, 1, 'a round post of 5 cents no award explains: exit 1');
my @rp = grep { $_->{class} eq 'ledger_unbalanced' && $_->{expected} =~ /^the post transfers to clearing:c2/ } @{ $doc->{breaks} };
is(scalar @rp, 1, 'one ledger_unbalanced break on the posts\' sum') or diag explain $doc->{breaks};
like(($rp[0]{expected} // '') . ' / ' . ($rp[0]{found} // ''),
     qr/^the post transfers to clearing:c2 \(calls' and rounds'\) = the credited awards' (\d+) \/ (\d+)$/, 'its two sums');
($want, $got) = (($rp[0]{expected} // '') =~ /(\d+)$/, $rp[0]{found} // 0);
is($got - $want, 5, '5 cents apart');
is_deeply([ sort map { $_->{expected} =~ /^(clearing:c2's posted credits|a guarded account|0$)/ ? $1 : () } @{ $doc->{breaks} } ],
          [ '0', 'a guarded account', "clearing:c2's posted credits" ],
          '... besides: the clearing account 12 cents over, the pool overdrawn by 5, holding -5')
    or diag explain [ map { "$_->{expected} / $_->{found}" } @{ $doc->{breaks} } ];
is(scalar @{ $doc->{breaks} }, 4, '... nothing else: no transfer_without_award for a round post (it names no award)')
    or diag explain [ map { "$_->{class}: $_->{expected} / $_->{found}" } @{ $doc->{breaks} } ];

# a transfer of the per-user shape in a clearing campaign
mysql_query("INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, award_id, created_at) "
            . "VALUES ('post:c2:x', 'pool:c2', 'wallet:$u', 5, 'c2', 'post', NULL, 1); "
            . "INSERT INTO ledger_accounts (account, debits, credits, guard) VALUES ('wallet:$u', 0, 5, 1); "
            . "UPDATE ledger_accounts SET debits = debits + 5 WHERE account = 'pool:c2'", $db);
($rc, $out, $err, $doc) = reconcile_money($f2, '--statement', $sim->{statement});
is($rc, 1, 'both shapes in one campaign: exit 1');
my @mx = grep { $_->{expected} =~ /^one shape of books/ } @{ $doc->{breaks} };
is(scalar @mx, 1, 'a break on the shapes');
like($mx[0]{found}, qr/^1 to users' wallet:<uid> accounts and \d+ to clearing:c2 \(both shapes\)$/, 'naming both counts');
is($mx[0]{class}, 'ledger_unbalanced', 'classed ledger_unbalanced');
is($doc->{three_way}{books}, 'per_user', 'the document says per-user books were seen');
sim_stop($sim);


done_testing();
