# The ledger (workers/money/cc_ledger.c) against a real mariadbd, through the
# test-only driver build/test/cc-ledger-cli (one command, one transaction,
# the shape the workers use): every rc, the state after each (rows and
# account sums, not only the rc), append-only transfers, and concurrent
# payers crediting the same awards once.

use strict;
use warnings;
use lib 't/lib';
use CcTest;

# $CcTest::TestToolDir (CC_TEST_TOOL_DIR): another build of it (make
# test-asan), or a wrapper that runs it under valgrind (make test-valgrind)
my $CLI = "$CcTest::TestToolDir/cc-ledger-cli";
mysql_start();
my $shard = "127.0.0.1:$ENV{TEST_MYSQL_PORT}/cc_l0";

sub init_shards {
    my ($rc, undef, $err) = run_worker([ 'cc-ingest', '--init-shards', '--mysql', $shard ], timeout => 30);
    return ($rc, $err);
}

sub cli { (run_worker([ $CLI, '--mysql', $shard, @_ ], timeout => 30, ok => 1))[1] }

sub sq { mysql_query($_[0], 'cc_l0') }
sub v { mysql_value($_[0], 'cc_l0') }

sub accounts { +{ map { ($_->[0] => "$_->[1]/$_->[2]") } @{ sq('SELECT account, debits, credits FROM ledger_accounts') } } }

# what is wrong with the books, as lines: empty when debits equal credits
# over all accounts and every account equals the sum of its transfers
sub books {
    my @bad;
    my ($d, $c) = @{ sq('SELECT COALESCE(SUM(debits),0), COALESCE(SUM(credits),0) FROM ledger_accounts')->[0] };
    push @bad, "sum of debits $d != sum of credits $c" if $d != $c;
    my %want;
    for my $t (@{ sq('SELECT debit, credit, amount_cents FROM ledger_transfers') }) {
        $want{ $t->[0] }[0] += $t->[2];
        $want{ $t->[1] }[1] += $t->[2];
    }
    for my $a (@{ sq('SELECT account, debits, credits FROM ledger_accounts') }) {
        my ($wd, $wc) = map { $_ // 0 } @{ delete $want{ $a->[0] } // [] }[0, 1];
        push @bad, "$a->[0]: $a->[1]/$a->[2], transfers say $wd/$wc" if $wd != $a->[1] || $wc != $a->[2];
    }
    push @bad, "no account row for $_" for sort keys %want;
    return @bad;
}

# ---- schema: applied with shard.sql, twice ---------------------------------

my ($rc, $err) = init_shards();
is($rc, 0, 'cc-ingest --init-shards applies shard.sql and money.sql') or diag $err;
($rc, $err) = init_shards();
is($rc, 0, 'and again: every statement is idempotent (the triggers too)') or diag $err;
is_deeply([ sort map { $_->[0] } @{ sq("SELECT table_name FROM information_schema.tables WHERE table_schema = 'cc_l0'") } ],
          [ sort qw(award_notices awards dead_letters draw_plans draws eligibility gift_counts gift_moves
                    ledger_accounts ledger_pending ledger_transfers user_cards wallet_batch_details
                    wallet_batches) ],
          'the shard holds the draw tables and the money tables');
is_deeply(sq("SELECT trigger_name, event_manipulation FROM information_schema.triggers WHERE trigger_schema = 'cc_l0' ORDER BY 1"),
          [ [ 'ledger_transfers_no_delete', 'DELETE' ], [ 'ledger_transfers_no_update', 'UPDATE' ],
            [ 'wallet_batch_details_no_delete', 'DELETE' ], [ 'wallet_batch_details_no_update', 'UPDATE' ] ],
          'the append-only triggers (the ledger\'s, the batch details\'), once each');

# ---- fund -------------------------------------------------------------------

is(cli('fund', 'c1', 0, 10000), "fund done\ncommitted\n", 'fund: done');
is_deeply(accounts(), { 'sponsor:c1' => '10000/0', 'pool:c1' => '0/10000' }, 'sponsor debited, pool credited');
is_deeply(sq("SELECT transfer_id, debit, credit, amount_cents, kind, award_id FROM ledger_transfers"),
          [ [ 'fund:c1:0', 'sponsor:c1', 'pool:c1', 10000, 'fund', undef ] ], 'one fund transfer');
is(cli('fund', 'c1', 0, 10000), "fund exists\ncommitted\n", 'the same fund again: exists');
like(cli('fund', 'c1', 0, 9999), qr/^fund mismatch\nrolled back: fund:c1:0 exists as .* 10000 cents \(fund\), not 9999\n\z/,
     'the same fund id with another amount: mismatch, said in full');
is_deeply(accounts(), { 'sponsor:c1' => '10000/0', 'pool:c1' => '0/10000' }, 'accounts unchanged by both');
is(v('SELECT COUNT(*) FROM ledger_transfers'), 1, 'still one transfer');
like(cli('fund', 'c1', 0, 0), qr/^fund error\nrolled back: fund: bad campaign or amount 0\n\z/, 'fund of 0: error');
like(cli('fund', "c'1", 0, 5), qr/^fund error\n/, 'fund of a campaign name that is not an id: error');

# ---- credits ----------------------------------------------------------------

is(cli('credit', 'c1', 'c1:1:1:100', 'c1:2:2:200', 'c1:3:3:300'),
   "c1:1 done\nc1:2 done\nc1:3 done\nadded 3\n", 'three credits: done each');
is_deeply(accounts(), { 'sponsor:c1' => '10000/0', 'pool:c1' => '600/10000',
                        'wallet:1' => '0/100', 'wallet:2' => '0/200', 'wallet:3' => '0/300' },
          'the pool debited 600, each wallet credited its amount');
is_deeply(sq("SELECT transfer_id, debit, credit, amount_cents, campaign, kind, award_id FROM ledger_transfers WHERE kind = 'credit' ORDER BY 1"),
          [ map { [ "c1:$_", 'pool:c1', "wallet:$_", 100 * $_, 'c1', 'credit', "c1:$_" ] } 1 .. 3 ],
          'one transfer per award, its id the award id');
is_deeply([ books() ], [], 'the books balance');

is(cli('credit', 'c1', 'c1:3:3:300', 'c1:1:1:100', 'c1:2:2:200'),
   "c1:3 exists\nc1:1 exists\nc1:2 exists\nadded 0\n", 'the batch again (another order): exists each, nothing added');
is(v('SELECT COUNT(*) FROM ledger_transfers'), 4, 'no new row');
is(accounts()->{'pool:c1'}, '600/10000', 'no money moved');

is(cli('credit', 'c1', 'c1:2:2:250', 'c1:4:4:400', 'c1:3:9:300'),
   "c1:2 mismatch\nc1:4 done\nc1:3 mismatch\nadded 1\n",
   'an id with another amount, and one for another wallet: mismatch; the new one in the batch: done');
is_deeply(sq("SELECT transfer_id, credit, amount_cents FROM ledger_transfers WHERE transfer_id IN ('c1:2','c1:3','c1:4') ORDER BY 1"),
          [ [ 'c1:2', 'wallet:2', 200 ], [ 'c1:3', 'wallet:3', 300 ], [ 'c1:4', 'wallet:4', 400 ] ],
          'no second row for a mismatch; the first rows unchanged');
is_deeply([ @{ accounts() }{ 'pool:c1', 'wallet:2', 'wallet:4', 'wallet:9' } ], [ '1000/10000', '0/200', '0/400', undef ],
          'only the new credit moved money (no wallet:9)');

is(cli('credit', 'c1', 'c1:5:5:70', 'c1:5:5:70'), "c1:5 done\nc1:5 exists\nadded 1\n",
   'an id twice in one batch: written once');
is(accounts()->{'wallet:5'}, '0/70', 'and credited once');
is_deeply([ books() ], [], 'the books balance');

# ---- the guard --------------------------------------------------------------

my $before = accounts();
my $rows = v('SELECT COUNT(*) FROM ledger_transfers');
like(cli('credit', 'c1', 'c1:6:6:4000', 'c1:7:7:5000', 'c1:1:1:100'),
     qr/^c1:6 no_funds\nc1:7 no_funds\nc1:1 exists\nrolled back: credit: pool:c1 holds less than the 9000 cents of 2 new credits/,
     'credits beyond the pool (8930 left): no_funds, rolled back');
is(v('SELECT COUNT(*) FROM ledger_transfers'), $rows, 'no transfer written');
is_deeply(accounts(), $before, 'no account changed (no wallet:6, wallet:7)');

is(cli('credit', 'c1', 'c1:6:6:4000', 'c1:7:7:4930'), "c1:6 done\nc1:7 done\nadded 2\n", 'exactly what is left: done');
is(accounts()->{'pool:c1'}, '10000/10000', 'the pool is empty');
like(cli('credit', 'c1', 'c1:8:8:1'), qr/^c1:8 no_funds\nrolled back/, 'one cent more: no_funds');
like(cli('credit', 'c2', 'c2:1:1:1'), qr/^c2:1 no_funds\nrolled back: .*pool:c2 .*not funded/, 'a campaign never funded: no_funds');
is(v("SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id IN ('c1:8','c2:1')"), 0, 'neither written');

# ---- errors -----------------------------------------------------------------

like(cli('credit', 'c1', 'c1:9:9:0', 'c1:10:10:5'), qr/^c1:9 error\nc1:10 error\nrolled back: credit: bad award "c1:9" \(uid 9, 0 cents\)\n\z/,
     'an award of 0 cents: error, nothing written');
like(cli('credit', 'c1', "c1:x'y:3:5"), qr/^c1:x'y error\nrolled back: credit: bad award/, 'an award id that is not an id: error');
like(cli('credit', 'c1 or 1', 'c1:3:3:5'), qr/^c1:3 error\nrolled back: credit: bad campaign/, 'a bad campaign: error');
mysql_query('CREATE DATABASE IF NOT EXISTS cc_empty');
# cc-ledger-cli runs as cc_draw: let it in, to find no tables
mysql_query('GRANT SELECT, INSERT ON cc_empty.* TO cc_draw');
my $w = spawn_worker($CLI, '--mysql', "127.0.0.1:$ENV{TEST_MYSQL_PORT}/cc_empty", 'credit', 'c1', 'c1:1:1:1');
is(wait_worker($w, 30), 0, 'a shard without the money tables');
like(worker_stdout($w), qr/^c1:1 error\nrolled back: credit: insert transfers: Table .*ledger_transfers' doesn't exist/,
     'error, with MySQL\'s reason');
is(v('SELECT COUNT(*) FROM ledger_transfers'), $rows + 2, 'nothing else written by the errors');

# ---- append-only ------------------------------------------------------------

for my $sql ("UPDATE ledger_transfers SET amount_cents = 1 WHERE transfer_id = 'c1:1'",
             "DELETE FROM ledger_transfers WHERE transfer_id = 'c1:1'",
             "DELETE FROM ledger_transfers") {
    eval { sq($sql) };
    like($@, qr/ledger_transfers is append-only/, "refused: $sql");
}
is_deeply(sq("SELECT amount_cents FROM ledger_transfers WHERE transfer_id = 'c1:1'"), [ [100] ], 'the transfer is unchanged');
is(v('SELECT COUNT(*) FROM ledger_transfers'), $rows + 2, 'and none deleted');
is_deeply([ books() ], [], 'the books balance');

# ---- four payers, the same 60 awards at once ----------------------------------

cli('fund', 'c3', 0, 60 * 61 / 2);
my @awards = map { "c3:$_:$_:$_" } 1 .. 60;
my @payers = map { my @a = @awards; @a = reverse @a if $_ % 2; spawn_worker($CLI, '--mysql', $shard, 'credit', 'c3', @a) } 1 .. 4;
my ($added, $failed) = (0, 0);
for my $p (@payers) {
    is(wait_worker($p, 60), 0, 'a payer ran');
    my $out = worker_stdout($p);
    if ($out =~ /^added (\d+)$/m) { $added += $1 } else { $failed++ }
    $failed++ if $out =~ /^c3:\S+ (?:mismatch|no_funds)$/m;
}
# a deadlock between the two orders may roll a payer back: then it added
# nothing and a retry is what the workers do
is($added, 60, "60 credits added by the four payers together ($failed rolled back)");
is(v("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'c3'"), 61, 'one transfer per award (and the fund)');
is(accounts()->{'pool:c3'}, '1830/1830', 'the pool paid out once');
is(v("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'c3' AND kind = 'credit' AND amount_cents = SUBSTRING_INDEX(transfer_id, ':', -1) AND credit = CONCAT('wallet:', amount_cents)"),
   60, 'each to its wallet with its amount');
is_deeply([ books() ], [], 'the books balance');

done_testing();
