# Issue 20's "each detail that failed is voided and re-sent in a later
# batch under the same detail key", with the details the wallet fails
# chosen (cc-wallet-sim --fail-detail KEY=N: that detail fails in its
# next N batches):
#
#   a payout where three chosen details fail once, twice and three
#   times: each failed attempt's pending transfer voided (void:<its id>),
#   each next attempt a pending transfer of its own (<award id>#<n>) and
#   a batch detail under the same detail key, one post an award; the
#   rows, their amounts and the pool's and the clearing's balances in
#   MySQL; the statement lists each award once; the three-way reconcile
#   clean;
#
#   kill -9 of cc-payout between the void and the re-send: the wallet
#   fails a chosen detail, then takes no new batch (--accept-max: a
#   signed 503 "busy"), so the payout has committed the void, the next
#   pending and its batch and is retrying the submit when it is killed;
#   the next payout sends that same batch: nothing paid twice, nothing
#   unpaid, no third attempt.
#
# The error paths of cc_ledger_phase_retry: the next attempt's id
# already taken (another payer) rolls the void back with it, in a payout;
# through t/tools' cc-ledger-cli retry, a posted award, another amount,
# an attempt never made, an id not fit for SQL, and a pool too short to
# reserve a next attempt whose void was there before.  And the
# reconcile's new finding: an award with two live pending
# transfers (a second one written by hand, with its sums: what no payer
# writes without voiding the first) is ledger_unbalanced, and so is a
# void without its pending transfer.
#
# Both phases in bulk (cc-ledger-cli pending and post): from 32
# transfers one bulk execution (the server's Com_stmt_execute), below it
# the text; a batch with ids there rolls the bulk insert back to its
# savepoint and the text path decides (a mismatch, one in flight, posts
# there before): the sums moved for the new only, one transfer an id;
# a post refused when either pending sum holds less than it moves; posts
# of which the wallet applied some; a bulk insert refused (a trigger of
# the test's) rolls its batch back whole, in the CLI and, for a batch's
# details, in cc-payout.

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

# an award's transfers: "id kind amount" sorted
sub transfers_of {
    my ($id, $db) = @_;
    return [ map { join ' ', @$_ } @{ mysql_query("SELECT transfer_id, kind, debit, credit, amount_cents "
                                                 . "FROM ledger_transfers WHERE award_id = '$id' ORDER BY transfer_id", $db) } ];
}

# award id => [ [attempt, batch_no], ... ]
sub details {
    my ($c) = @_;
    my %d;
    for my $db (@DBS) {
        push @{ $d{ $_->[0] } }, [ $_->[1], $_->[2] ]
            for @{ mysql_query("SELECT award_id, attempt, batch_no FROM $DETAILS x "
                               . "WHERE award_id LIKE '$c:%' ORDER BY award_id, attempt", $db) };
    }
    return \%d;
}

# Σ debits = Σ credits of a shard's posted and pending sums: "debits/credits" each
sub sums {
    my ($db) = @_;
    return join ' ', map { my $r = mysql_query("SELECT COALESCE(SUM(debits), 0), COALESCE(SUM(credits), 0) FROM $_", $db)->[0];
                           "$r->[0]/$r->[1]" } qw(ledger_accounts ledger_pending);
}

# the pool's pending debits and the clearing's pending credits moved by $d
sub pending_by {
    my ($db, $d) = @_;
    mysql_query("UPDATE ledger_pending SET debits = debits + ($d) WHERE account = 'pool:v1'", $db);
    mysql_query("UPDATE ledger_pending SET credits = credits + ($d) WHERE account = 'clearing:v1'", $db);
}

# ---- chosen details fail 1, 2 and 3 times ---------------------------------------------

my %a1 = map { ($_ => 100 + $_) } 1 .. 60;
my $sum1 = 0;
$sum1 += $_ for values %a1;
seed_awards('v1', \%a1, redis => 0);
my $map1 = shard_map(keys %a1);
my $pool1 = make_drawn('v1', \%a1, $map1);
my %fails = ('v1:3' => 1, 'v1:7' => 2, 'v1:11' => 3);
my $sim = sim_start(process => 5, fail_detail => [ map { "$_=$fails{$_}" } sort keys %fails ]);
my $f1 = http_campaign_file('v1', $sim->{url}, pool => $pool1, mode => 'batch', batch_max => 20);
my $prom = wallet_dir() . '/v1.prom';
my ($rc, $out, $err) = payout_run([ '--once', '--metrics-file', $prom ], $f1);
is($rc, 0, 'three chosen details fail 1, 2 and 3 times: exit 0') or diag $err;
like($err, qr/done: 60 credited/, 'all 60 credited');
my $metrics = do { local (@ARGV, $/) = ($prom); <> } // '';
like($metrics, qr/^cc_payout_wallet_voided_total 6$/m, 'metrics: 6 pending transfers voided');
like($metrics, qr/^cc_payout_wallet_details_failed_total 6$/m, '... of 6 failed details');
like($metrics, qr/^cc_payout_wallet_batches_overdue_total 0$/m, '... no batch overdue');
is_deeply(award_states('v1'), { 'credited/1' => 60 }, 'every award credited and notified');

my %voids;
is_deeply([ check_paid_http('v1', \%a1, $sim->{statement}, voids => \%voids) ], [],
          'each: its attempts\' pending transfers, all voided but the last, one post; the statement: each key once');
is_deeply({ map { ($_ => $voids{$_}) } grep { $voids{$_} } keys %voids }, \%fails,
          'a void for each failed attempt: v1:3 1, v1:7 2, v1:11 3, no other award');

# v1:11, row by row
my $db11 = $map1->{11}[1];
is_deeply(transfers_of('v1:11', $db11),
          [ 'v1:11 pending pool:v1 clearing:v1 111',
            'v1:11#2 pending pool:v1 clearing:v1 111',
            'v1:11#3 pending pool:v1 clearing:v1 111',
            'v1:11#4 pending pool:v1 clearing:v1 111',
            'void:v1:11 void pool:v1 clearing:v1 111',
            'void:v1:11#2 void pool:v1 clearing:v1 111',
            'void:v1:11#3 void pool:v1 clearing:v1 111' ],
          'v1:11: four attempts\' pending transfers, the first three voided (its post: a round\'s, below)');
is_deeply(mysql_query("SELECT transfer_id, kind, award_id, debit, credit, amount_cents FROM ledger_transfers "
                      . "WHERE transfer_id IN ('bpost:v1:11#4', 'bpost:v1:7#3', 'post:v1:11')", $db11),
          $map1->{7}[1] eq $db11
          ? [ [ 'bpost:v1:11#4', 'post', undef, 'pool:v1', 'clearing:v1', 111 ],
              [ 'bpost:v1:7#3', 'post', undef, 'pool:v1', 'clearing:v1', 107 ] ]
          : [ [ 'bpost:v1:11#4', 'post', undef, 'pool:v1', 'clearing:v1', 111 ] ],
          'v1:11#4 posted alone by its batch\'s round post, bpost:v1:11#4 (v1:7#3 by its own round), no post:v1:11');
my $d1 = details('v1');
is_deeply([ map { $_->[0] } @{ $d1->{'v1:11'} } ], [ 1, 2, 3, 4 ], 'v1:11: attempts 1..4 under the same detail key');
is(scalar(keys %{ { map { ($_->[1] => 1) } @{ $d1->{'v1:11'} } } }), 4, '... each in a batch of its own');
is(scalar(grep { @{ $d1->{$_} } != 1 + ($fails{$_} // 0) } keys %$d1), 0, 'every other award: one attempt');
my @jf = grep { $_->[0] eq 'R' && $_->[3] eq 'F' } @{ journal_lines($sim->{journal}) };
is(scalar @jf, 6, 'the wallet failed 6 details (its journal)');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v1' AND kind = 'void'"), 6, '6 void rows');
is(both("SELECT SUM(amount_cents) FROM ledger_transfers WHERE campaign = 'v1' AND kind = 'void'"), 103 + 2 * 107 + 3 * 111,
   'of the failed attempts\' amounts');

# the balances
is(both("SELECT credits FROM ledger_accounts WHERE account = 'clearing:v1'"), $sum1, "clearing:v1 posted $sum1");
is(both("SELECT debits FROM ledger_accounts WHERE account = 'pool:v1'"), $sum1, 'the pool paid it');
is(both("SELECT credits - debits FROM ledger_accounts WHERE account = 'pool:v1'"), 0, 'the pool empty');
is_deeply(ledger_pending_sums(qr/^(pool|clearing):v1$/), {}, 'nothing pending: the voids gave back what the next attempts took');
for my $db (@DBS) {
    my ($p, $q) = split ' ', sums($db);
    my ($pd, $pc) = split m{/}, $p;
    my ($qd, $qc) = split m{/}, $q;
    ok($pd == $pc && $qd == $qc, "$db: Σ debits = Σ credits, posted ($p) and pending ($q)");
}

# the wallet
is(scalar @{ statement_lines($sim->{statement}) }, 60, 'the statement: 60 lines');
is(statement_keys($sim->{statement})->{'v1:11'}, 1, 'v1:11 once, after three failures');

my ($rrc, $rout, $rerr, $doc) = reconcile_money($f1, '--statement', $sim->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr("$rout$rerr", 0, 3000);
is_deeply($doc->{three_way}, { books => 'clearing', posted_to_clearing => $sum1, credited_awards => $sum1, statement => $sum1 },
          'posted to clearing = credited awards = the statement (voids count nowhere)');
sim_stop($sim);

# two live pending transfers of one award: a finding.  A pending of a 5th
# attempt written by hand (what no payer writes without voiding the 4th):
# its sums moved too, so only the phases check sees it.
mysql_query("INSERT INTO ledger_transfers VALUES ('v1:11#5', 'pool:v1', 'clearing:v1', 111, 'v1', 'pending', 'v1:11', 1, NULL)", $db11);
pending_by($db11, 111);
($rrc, $rout) = reconcile_money($f1);
is($rrc, 1, 'an award with two unvoided pending transfers: the reconcile fails');
like($rout, qr/^break ledger_unbalanced shard \d+ award v1:11 uid -: expected one live pending transfer an award, the others voided \(each of its amount\), found 2 live of 5 pending \(posted\)/m,
     'ledger_unbalanced: v1:11, 2 live of 5 pending');
mysql_query("INSERT INTO ledger_transfers VALUES ('void:v1:11#5', 'pool:v1', 'clearing:v1', 111, 'v1', 'void', 'v1:11', 1, NULL)", $db11);
pending_by($db11, -111);
($rrc, $rout) = reconcile_money($f1);
is($rrc, 0, 'voided by a correcting void: clean again') or diag $rout;
mysql_query("INSERT INTO ledger_transfers VALUES ('void:v1:99', 'pool:v1', 'clearing:v1', 5, 'v1', 'void', 'v1:99', 1, NULL)", $db11);
($rrc, $rout) = reconcile_money($f1);
like($rout, qr/^break ledger_unbalanced shard \d+ award v1:99 .* found a void without its pending transfer/m,
     'a void without its pending transfer: ledger_unbalanced');

# ---- cc_ledger_phase_retry's refusals (t/tools/cc-ledger-cli retry) ----------------

my $CLI = "$CcTest::TestToolDir/cc-ledger-cli";
sub cli {
    my ($db, @a) = @_;
    my (undef, $o, $e) = run_worker([ $CLI, '--mysql', "127.0.0.1:$ENV{TEST_MYSQL_PORT}/$db", @a ], timeout => 30, ok => 1);
    return $o;
}
my $db3 = $map1->{3}[1];
like(cli($db3, 'retry', 'v1', 'v1:3:3:103:2'), qr/^rolled back: void: v1:3 is posted: its pending transfer v1:3#2 is not voided$/m,
     'retry of a posted award\'s attempt: refused');
like(cli($db3, 'retry', 'v1', 'v1:3:3:999:1'), qr/^rolled back: void: v1:3 is not v1:3's pending transfer of 999 cents to clearing:v1$/m,
     'of another amount: refused');
like(cli($db3, 'retry', 'v1', 'v1:3:3:103:9'), qr/^rolled back: void: 1 of the 1 pending transfers to void are not there$/m,
     'of an attempt never made: refused');
like(cli($db3, 'retry', 'v1', "v1:3':3:103:1"), qr/^rolled back: void: bad award "v1:3'" or attempt 1$/m,
     'an id not fit for SQL: refused before any query');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v1' AND kind = 'void'"), 8, 'nothing written by them (6 voids of the payout, 2 by hand)');

# a void there before without its next attempt (no payer leaves that: a
# hand did, moving its sums): the retry writes the next pending and
# reserves its amount again, under the pool's guard
my %a5 = (5001 => 80);
seed_awards('v5', \%a5);
my $db5 = shard_map(5001)->{5001}[1];
my $hold5 = sim_start(process => 600000);
($rc) = payout_run([ '--once' ], http_campaign_file('v5', $hold5->{url}, mode => 'batch', timeout => 100));
is($rc, 1, 'v5:5001 in flight (the wallet holds it)');
sim_stop($hold5);
mysql_query("INSERT INTO ledger_transfers VALUES ('void:v5:5001', 'pool:v5', 'clearing:v5', 80, 'v5', 'void', 'v5:5001', 1, NULL)", $db5);
mysql_query("UPDATE ledger_pending SET debits = debits - 80 WHERE account = 'pool:v5'", $db5);
mysql_query("UPDATE ledger_pending SET credits = credits - 80 WHERE account = 'clearing:v5'", $db5);
# the per_credit books (a claim's single call) find the attempt-1
# pending voided and no attempt live: refused (mismatch), nothing
# written, no post taking the amount from other awards' reservations
like(cli($db5, 'pending', 'v5', 'v5:5001:5001:80'), qr/^v5:5001 mismatch\ncommitted$/m,
     'a void without its next attempt: the per_credit books refuse the award (mismatch)');
is_deeply(transfers_of('v5:5001', $db5), [ 'v5:5001 pending pool:v5 clearing:v5 80', 'void:v5:5001 void pool:v5 clearing:v5 80' ],
          '... nothing written');
my $fund5 = mysql_value("SELECT credits FROM ledger_accounts WHERE account = 'pool:v5'", $db5);
mysql_query("UPDATE ledger_accounts SET credits = 79 WHERE account = 'pool:v5'", $db5);     # the pool short
like(cli($db5, 'retry', 'v5', 'v5:5001:5001:80:1'), qr/^rolled back: void: pool:v5 cannot hold 80 more cents pending/m,
     'the pool short of the next attempt: refused');
mysql_query("UPDATE ledger_accounts SET credits = $fund5 WHERE account = 'pool:v5'", $db5);
like(cli($db5, 'retry', 'v5', 'v5:5001:5001:80:1'), qr/^voided 0$/m, 'funded: the next attempt written, the void there before kept');
is_deeply(transfers_of('v5:5001', $db5), [ 'v5:5001 pending pool:v5 clearing:v5 80', 'v5:5001#2 pending pool:v5 clearing:v5 80',
                                            'void:v5:5001 void pool:v5 clearing:v5 80' ], '... its rows');
is(mysql_value("SELECT CONCAT(debits, '/', credits) FROM ledger_pending WHERE account = 'pool:v5'", $db5)
   . ' ' . mysql_value("SELECT CONCAT(debits, '/', credits) FROM ledger_pending WHERE account = 'clearing:v5'", $db5),
   '80/0 0/80', 'its 80 reserved again: pool pending debits, clearing pending credits');
like(cli($db5, 'pending', 'v5', 'v5:5001:5001:80'), qr/^v5:5001 done\ncommitted$/m,
     'with its next attempt live, the per_credit books take it as in flight (done), as a claim does');
is(mysql_value("SELECT CONCAT(debits, '/', credits) FROM ledger_pending WHERE account = 'pool:v5'", $db5), '80/0',
   '... and reserve nothing more');

# ---- kill -9 between the void and the re-send ----------------------------------------

# the awards of one MySQL shard: its lane's first batch is the one the
# wallet takes before it is busy
my $m = shard_map(1001 .. 1200);
my @one = (grep { $m->{$_}[1] eq 'cc_s0' } sort { $a <=> $b } keys %$m)[0 .. 29];
my %a2 = map { ($_ => 40 + $_ % 13) } @one;
my $sum2 = 0;
$sum2 += $_ for values %a2;
my $x = "v2:$one[4]";
seed_awards('v2', \%a2, redis => 0);
my $pool2 = make_drawn('v2', \%a2, shard_map(keys %a2));
# the other shard planned 0, as cc-draw plans a shard with nobody eligible
mysql_query("INSERT INTO draw_plans VALUES ('v2', 1, 0, 0, 0, $pool2, 'equal', 1, 0, REPEAT('a', 64), 1)", 'cc_s1');
my $busy = sim_start(process => 5, fail_detail => [ "$x=1" ], accept_max => 1);
my $f2 = http_campaign_file('v2', $busy->{url}, pool => $pool2, mode => 'batch', timeout => 3000);
my $w = spawn_payout([ '--once' ], $f2);
ok(wait_until(sub { mysql_value("SELECT COUNT(*) FROM $DETAILS x WHERE award_id = '$x' AND attempt = 2", 'cc_s0') }, 60),
   "$x failed: its second attempt committed");
select(undef, undef, undef, 0.3);            # submitting it: 503 busy, again
ok(worker_alive($w), 'the payout is sending the second attempt\'s batch to a busy wallet');
kill 'KILL', $w->{pid};
wait_worker($w, 10);

my $d2 = details('v2');
my $b2 = $d2->{$x}[1][1];
is_deeply(transfers_of($x, 'cc_s0'), [ "$x pending pool:v2 clearing:v2 $a2{$one[4]}", "$x#2 pending pool:v2 clearing:v2 $a2{$one[4]}",
                                       "void:$x void pool:v2 clearing:v2 $a2{$one[4]}" ],
          'killed: the first attempt voided, the second pending, nothing posted');
is(scalar(grep { $_->[0] eq 'B' && $_->[1] eq $b2 } @{ journal_lines($busy->{journal}) }), 0,
   'the wallet never took the second attempt\'s batch');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v2' AND kind = 'post'"), 0, 'killed before any post');
is(mysql_value("SELECT debits FROM ledger_pending WHERE account = 'pool:v2'", 'cc_s0'), $sum2,
   "the pool's pending debits: one live attempt an award, $sum2");
is(sums('cc_s0') =~ m{^(\d+)/\1 (\d+)/\2$} ? 1 : 0, 1, 'Σ debits = Σ credits, posted and pending: ' . sums('cc_s0'));
is(scalar @{ statement_lines($busy->{statement}) }, 29, 'the wallet applied the other 29');
ok(!statement_keys($busy->{statement})->{$x}, "... not $x");

sim_stop($busy);
my $well = sim_start(port => $busy->{port}, statement => $busy->{statement}, process => 5);
($rc, $out, $err) = payout_run([ '--once' ], $f2);
is($rc, 0, 'the next payout: exit 0') or diag $err;
like($err, qr/done: 30 credited/, 'it posts the 29 the wallet applied and the re-sent one');
my %v2;
is_deeply([ check_paid_http('v2', \%a2, $well->{statement}, voids => \%v2) ], [], 'every award paid exactly once');
is_deeply({ map { ($_ => $v2{$_}) } grep { $v2{$_} } keys %v2 }, { $x => 1 }, "one void: ${x}'s first attempt");
is_deeply(details('v2'), $d2, 'the same batches: the second attempt sent under its number, no third attempt');
is(scalar(grep { $_->[0] eq 'B' && $_->[1] eq $b2 } @{ journal_lines($well->{journal}) }), 1, 'the wallet took it once');
($rrc, $rout, $rerr, $doc) = reconcile_money($f2, '--statement', $well->{statement});
is($rrc, 0, 'the three-way reconcile passes') or diag substr("$rout$rerr", 0, 3000);
is_deeply($doc->{three_way}, { books => 'clearing', posted_to_clearing => $sum2, credited_awards => $sum2, statement => $sum2 },
          'posted to clearing = credited awards = the statement');
sim_stop($well);

# ---- the next attempt's id taken: the void rolled back with it --------------------------

# another payer's (here: a hand's) pending transfer under the id of the
# second attempt: the void and the next attempt are one transaction, so
# neither is written, and the failed attempt stays live
my %a3 = (2001 => 60);
seed_awards('v3', \%a3);
my $db23 = shard_map(2001)->{2001}[1];
mysql_query("INSERT INTO ledger_transfers VALUES ('v3:2001#2', 'pool:v3', 'clearing:v3', 60, 'v3', 'pending', 'v3:2001', 1, NULL)", $db23);
mysql_query("INSERT INTO ledger_pending (account) VALUES ('clearing:v3')", $db23);     # the clearing shape, begun
my $taken = sim_start(process => 5, fail_detail => [ 'v3:2001=1' ]);
# a shard whose credit fails is rolled back and retried (a MySQL error
# may pass): the payout is stopped once it has said why
$w = spawn_payout([ '--once' ], http_campaign_file('v3', $taken->{url}, mode => 'batch'));
ok(wait_until(sub { worker_stderr($w) =~ /void: 1 of the next attempts' pending transfers were there \(another payer wrote them\)/ }, 60),
   'the second attempt\'s id taken: the credit fails, saying why') or diag worker_stderr($w);
stop_worker($w);
is_deeply(transfers_of('v3:2001', $db23), [ 'v3:2001 pending pool:v3 clearing:v3 60', 'v3:2001#2 pending pool:v3 clearing:v3 60' ],
          'no void written: rolled back with the next attempt');
is(mysql_value("SELECT MAX(attempt) FROM $DETAILS x WHERE award_id = 'v3:2001'", $db23), 1, 'no second attempt\'s batch');
is(mysql_value("SELECT debits FROM ledger_pending WHERE account = 'pool:v3'", $db23), 60, 'the first attempt still reserves its 60');
sim_stop($taken);

# ---- both phases in bulk, from 32 transfers, and the fallback -----------------------

# From 32 transfers a phase writes them as one bulk execution after a
# savepoint (no SQL text per row); when some id was there the insert is
# rolled back to the savepoint and the text path (RETURNING) decides.
# The server's Com_stmt_execute tells which path ran: nothing else here
# executes prepared statements between the two readings.
sub executes { (mysql_query("SHOW GLOBAL STATUS LIKE 'Com_stmt_execute'", 'cc_s0')->[0] || [])->[1] // 0 }
sub phase_run {
    my ($cmd, @ids) = @_;
    my $e0 = executes();
    my $o = cli('cc_s0', $cmd, 'v7', map { "v7:$_:$_:" . (10 + $_ % 7) } @ids);
    return ($o, executes() - $e0);
}
sub cents { my $s = 0; $s += 10 + $_ % 7 for @_; $s }
sub v7_sums {
    return join ' ', map { mysql_value("SELECT CONCAT(debits, '/', credits) FROM $_->[0] WHERE account = '$_->[1]'", 'cc_s0') // '-' }
        ([ 'ledger_pending', 'pool:v7' ], [ 'ledger_pending', 'clearing:v7' ], [ 'ledger_accounts', 'clearing:v7' ]);
}
like(cli('cc_s0', 'fund', 'v7', 0, 100000), qr/^fund done\ncommitted$/m, 'v7 funded on cc_s0');
my @small = (1 .. 31);
my ($pout, $ex) = phase_run('pending', @small);
is($ex, 0, '31 pending transfers: the text (no prepared statement executed)');
is(scalar(() = $pout =~ /^v7:\d+ done$/mg), 31, '... each done') or diag $pout;
my @big = (81 .. 120);           # not in id order as strings: v7:100 < v7:81
($pout, $ex) = phase_run('pending', @big);
is($ex, 1, '40 pending transfers: one bulk execution');
is(scalar(() = $pout =~ /^v7:\d+ done$/mg), 40, '... each done') or diag $pout;
my $held = cents(@small, @big);
is(v7_sums(), "$held/0 0/$held -", "pending: $held reserved (pool's pending debits, clearing's pending credits)");
# a batch of 40 new, one in flight (v7:101) and one id another transfer's
mysql_query("INSERT INTO ledger_transfers VALUES ('v7:205', 'pool:v7', 'clearing:v7', 999, 'v7', 'pending', 'v7:205', 1, NULL)", 'cc_s0');
my @mixed = (101, 201 .. 240);
($pout, $ex) = phase_run('pending', @mixed);
is($ex, 1, 'a batch with ids there: the bulk tried (one execution) ...');
like($pout, qr/^v7:205 mismatch$/m, '... rolled back to its savepoint, the text path: v7:205 is another transfer (mismatch)');
is(scalar(() = $pout =~ /^v7:\d+ done$/mg), 40, '... the 39 new and the one in flight done') or diag $pout;
$held += cents(grep { $_ != 205 } 201 .. 240);
is(v7_sums(), "$held/0 0/$held -", 'only the 39 new reserved: nothing of the bulk insert left');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v7' AND kind = 'pending'", 'cc_s0'), 31 + 40 + 40,
   'one pending transfer an id');
# the posts: 40 in bulk, then 40 there and 2 new through the fallback
($pout, $ex) = phase_run('post', @big);
is($ex, 1, '40 posts: one bulk execution');
like($pout, qr/^added 40$/m, '... 40 added');
my $posted = cents(@big);
$held -= $posted;
is(v7_sums(), "$held/0 0/$held 0/$posted", "posted $posted: off the pending sums, onto the clearing's posted credits");
($pout, $ex) = phase_run('post', @big, 201, 202);
is($ex, 1, 'posts with 40 there: the bulk tried (one execution) ...');
like($pout, qr/^added 2$/m, '... and rolled back: 2 added by the text path');
is(scalar(() = $pout =~ /^v7:(8\d|9\d|1[01]\d|120) exists$/mg), 40, '... the 40 posted before: exists') or diag $pout;
$posted += cents(201, 202);
$held -= cents(201, 202);
is(v7_sums(), "$held/0 0/$held 0/$posted", 'the sums moved by the 2 only');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v7' AND kind = 'post'", 'cc_s0'), 42, 'one post an id');

# a post refused when either pending sum holds less than it moves (a
# hand took it): nothing of it written, both sums as they were
like(cli('cc_s0', 'pending', 'v7', 'v7:301:301:50'), qr/^v7:301 done\ncommitted$/m, 'v7:301 pending, 50 reserved');
$held += 50;
for my $side ([ 'pool:v7', 'debits' ], [ 'clearing:v7', 'credits' ]) {
    my ($acct, $col) = @$side;
    my $other = $held - 40;
    mysql_query("UPDATE ledger_pending SET $col = $col - $other WHERE account = '$acct'", 'cc_s0');
    my $before = v7_sums();
    like(cli('cc_s0', 'post', 'v7', 'v7:301:301:50'),
         qr/^rolled back: post: clearing:v7's pending credits or pool:v7's pending debits below 50$/m,
         "$acct holding 40 of the post's 50 pending: the post refused");
    is(v7_sums(), $before, '... the sums as they were');
    is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id = 'post:v7:301'", 'cc_s0'), 0, '... no post row');
    mysql_query("UPDATE ledger_pending SET $col = $col + $other WHERE account = '$acct'", 'cc_s0');
}
like(cli('cc_s0', 'post', 'v7', 'v7:301:301:50'), qr/^added 1$/m, 'both sums whole again: posted');
$held -= 50;
$posted += 50;
is(v7_sums(), "$held/0 0/$held 0/$posted", '... both pending sums down by 50, the clearing\'s posted up');

# posts of 45 of which the wallet applied 40: the 40 in bulk, the 5 left
# (ids not in string order, the 5 not applied first: an entry's ok[] and
# its place in id order differ)
my @p45 = (960 .. 1004);
($pout) = phase_run('pending', @p45);
$held += cents(@p45);
my $e0 = executes();
$pout = cli('cc_s0', 'post', 'v7', (map { "-v7:$_:$_:" . (10 + $_ % 7) } 960 .. 964),
            map { "v7:$_:$_:" . (10 + $_ % 7) } 965 .. 1004);
is(executes() - $e0, 1, 'posts of 45, 5 not applied: one bulk execution of the 40');
like($pout, qr/^added 40$/m, '... 40 added');
$held -= cents(965 .. 1004);
$posted += cents(965 .. 1004);
is(v7_sums(), "$held/0 0/$held 0/$posted", '... the sums moved by the 40');
is_deeply(mysql_query("SELECT transfer_id FROM ledger_transfers WHERE kind = 'post' AND transfer_id IN ("
                      . join(',', map { "'post:v7:$_'" } @p45) . ") ORDER BY transfer_id", 'cc_s0'),
          [ map { [ "post:v7:$_" ] } sort { "$a" cmp "$b" } 965 .. 1004 ], '... a post for each of the 40, none for the 5');

# the bulk insert failing (a trigger of the test's refuses every insert):
# the batch rolled back whole, nothing written, nothing reserved
mysql_query("CREATE TRIGGER cc_test_refuse BEFORE INSERT ON ledger_transfers FOR EACH ROW "
            . "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: refused'", 'cc_s0');
my $before = v7_sums();
($pout, $ex) = phase_run('pending', 501 .. 540);
is($ex, 1, 'pending of 40 with inserts refused: the bulk execution tried');
like($pout, qr/^rolled back: pending: insert: test: refused$/m, '... its error said, the batch rolled back') or diag $pout;
is(v7_sums(), $before, '... nothing reserved');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v7' AND award_id >= 'v7:501' "
               . "AND award_id <= 'v7:540'", 'cc_s0'), 0, '... nothing written');
mysql_query("DROP TRIGGER cc_test_refuse", 'cc_s0');
($pout) = phase_run('pending', 501 .. 540);
is(scalar(() = $pout =~ /^v7:5\d\d done$/mg), 40, 'the trigger gone: the 40 pending');

# ---- round posts (cc_ledger_phase_post_rounds): a post a batch's round ---------
#
# v7:601 .. 610 pending, their awards' rows pending; v7:603 credited by a
# single call (post:v7:603 and its award set credited, as a claim's)
my @r10 = (601 .. 610);
($pout) = phase_run('pending', @r10);
($held, $posted) = v7_sums() =~ m{^(\d+)/0 0/\d+ 0/(\d+)$};
mysql_query("INSERT INTO awards (award_id, campaign, uid, amount_cents, status, created_at) VALUES "
            . join(',', map { "('v7:$_', 'v7', $_, " . (10 + $_ % 7) . ", 'pending', 1)" } @r10), 'cc_s0');
like(cli('cc_s0', 'post', 'v7', 'v7:603:603:' . cents(603)), qr/^added 1$/m, 'v7:603 posted by a single call');
mysql_query("UPDATE awards SET status = 'credited' WHERE award_id = 'v7:603'", 'cc_s0');
$held -= cents(603);
$posted += cents(603);
sub rnd { my ($r, @ids) = @_; map { "v7:$_:$_:" . (10 + $_ % 7) . ":$r:1" } @ids }
# a round with v7:603 among its awards: the caller's guard (its UPDATE
# must flip each award it posted) refuses it, nothing written
$pout = cli('cc_s0', 'round', 'v7', rnd(1, 606, 605, 604, 603, 602, 601), rnd(2, 608, 607), rnd(0, 609));
like($pout, qr/^rolled back: mark: 1 of 8 awards credited by another payer$/m,
     'two rounds of 6 and 2 awards, v7:603 (credited by its call) among them: rolled back by the mark\'s guard') or diag $pout;
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id LIKE 'bpost:v7:%'", 'cc_s0'), 0, '... no round post');
is(v7_sums(), "$held/0 0/$held 0/$posted", '... the sums as they were');
$pout = cli('cc_s0', 'round', 'v7', rnd(1, 606, 605, 604, 602, 601), rnd(2, 608, 607), rnd(0, 609));
like($pout, qr/^added 7$/m, 'the same without v7:603: 7 posted') or diag $pout;
like($pout, qr/^v7:609 error$/m, '... v7:609 in no round (round 0): left alone');
is_deeply(mysql_query("SELECT transfer_id, kind, award_id, debit, credit, amount_cents FROM ledger_transfers "
                      . "WHERE transfer_id LIKE 'bpost:v7:%' ORDER BY transfer_id", 'cc_s0'),
          [ [ 'bpost:v7:601', 'post', undef, 'pool:v7', 'clearing:v7', cents(601, 602, 604, 605, 606) ],
            [ 'bpost:v7:607', 'post', undef, 'pool:v7', 'clearing:v7', cents(607, 608) ] ],
          '... a post a round, bpost:<its first award\'s pending id>, of the sum of the awards it posts, no award id');
is(mysql_value("SELECT GROUP_CONCAT(uid ORDER BY uid) FROM awards WHERE campaign = 'v7' AND status = 'credited'", 'cc_s0'),
   '601,602,603,604,605,606,607,608', '... their awards credited in the same transaction (v7:609, v7:610 pending)');
$held -= cents(601, 602, 604 .. 608);
$posted += cents(601, 602, 604 .. 608);
is(v7_sums(), "$held/0 0/$held 0/$posted", '... the sums moved by the 7');
# the claims' guard: a single call's post of an award a round posted
like(cli('cc_s0', 'post', 'v7', 'v7:601:601:' . cents(601)), qr/^v7:601 exists\nadded 0$/m,
     'a single call\'s post of v7:601 (a round posted it): exists, nothing added');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id = 'post:v7:601'", 'cc_s0'), 0, '... no post:v7:601');
like(cli('cc_s0', 'round', 'v7', rnd(3, 601, 602)), qr/^rolled back: round post: Duplicate entry 'bpost:v7:601'/m,
     'a round again of two posted awards: refused by its key (v7:601 led a round before)');
like(cli('cc_s0', 'round', 'v7', rnd(3, 602, 604)), qr/^rolled back: mark: 2 of 2 awards credited by another payer$/m,
     'led by one that led none (v7:602): refused by the mark\'s guard');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE transfer_id LIKE 'bpost:v7:%'", 'cc_s0'), 2, '... no third round post');
is(v7_sums(), "$held/0 0/$held 0/$posted", '... the sums as they were');
# a round whose id is taken (by hand): refused whole, nothing moved
mysql_query("INSERT INTO ledger_transfers VALUES ('bpost:v7:609', 'pool:v7', 'clearing:v7', 1, 'v7', 'post', NULL, 1, NULL)", 'cc_s0');
like(cli('cc_s0', 'round', 'v7', rnd(1, 609, 610)), qr/^rolled back: round post: Duplicate entry 'bpost:v7:609'/m,
     'a round whose id is there: refused (a plain INSERT: the key, not a read, decides)');
is(mysql_value("SELECT COUNT(*) FROM awards WHERE award_id IN ('v7:609', 'v7:610') AND status = 'pending'", 'cc_s0'), 2,
   '... both awards still pending');
is(v7_sums(), "$held/0 0/$held 0/$posted", '... the sums as they were');
like(cli('cc_s0', 'round', 'v7', rnd(1, 610), rnd(4, 609)), qr/^rolled back: round post: Duplicate entry 'bpost:v7:609'/m,
     'with v7:610 in another round of the call: the call refused whole');
like(cli('cc_s0', 'round', 'v7', rnd(1, 610)), qr/^v7:610 done\nadded 1$/m, 'v7:610 alone: posted');
is(mysql_value("SELECT GROUP_CONCAT(CONCAT(transfer_id, '=', amount_cents) ORDER BY transfer_id) FROM ledger_transfers "
               . "WHERE transfer_id LIKE 'bpost:v7:6%' AND transfer_id > 'bpost:v7:607'", 'cc_s0'),
   'bpost:v7:609=1,bpost:v7:610=' . cents(610), '... bpost:v7:610 of its amount; v7:609 pending, bpost:v7:609 the hand\'s');
$held -= cents(610);
$posted += cents(610);
is(v7_sums(), "$held/0 0/$held 0/$posted", '... the sums moved by v7:610 only');

# a batch's rows refused (cc-payout, a trigger on wallet_batches, after
# its details, the pending transfers, went in in bulk): the shard's
# credit rolled back and said, nothing left; then paid
my $m8 = shard_map(8001 .. 8120);
my @on0 = (grep { $m8->{$_}[1] eq 'cc_s0' } sort { $a <=> $b } keys %$m8)[0 .. 39];
my %a8 = map { ($_ => 30 + $_ % 11) } @on0;
seed_awards('v8', \%a8, redis => 0);
my $pool8 = make_drawn('v8', \%a8, shard_map(keys %a8));
mysql_query("INSERT INTO draw_plans VALUES ('v8', 1, 0, 0, 0, $pool8, 'equal', 1, 0, REPEAT('a', 64), 1)", 'cc_s1');
mysql_query("CREATE TRIGGER cc_test_refuse BEFORE INSERT ON wallet_batches FOR EACH ROW "
            . "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'test: no batches'", 'cc_s0');
my $sim8 = sim_start(process => 0);
my $f8 = http_campaign_file('v8', $sim8->{url}, pool => $pool8, mode => 'batch');
$w = spawn_payout([ '--once' ], $f8);
ok(wait_until(sub { worker_stderr($w) =~ /batch \S+: test: no batches/ }, 60),
   'v8: the batch rows refused: said') or diag worker_stderr($w);
stop_worker($w);
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'v8' AND kind <> 'fund'", 'cc_s0')
   + mysql_value("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'v8'", 'cc_s0'), 0,
   '... no transfer, no batch left: rolled back with them');
is(statement_keys($sim8->{statement})->{"v8:$on0[0]"} // 0, 0, '... nothing sent to the wallet');
mysql_query("DROP TRIGGER cc_test_refuse", 'cc_s0');
($rc) = payout_run([ '--once' ], $f8);
is($rc, 0, 'v8: the trigger gone: paid, exit 0');
is_deeply(award_states('v8'), { 'credited/1' => 40 }, '... all 40 credited and notified');
is_deeply([ check_paid_http('v8', \%a8, $sim8->{statement}) ], [], '... each once at the wallet and in the ledger');
is(mysql_value("SELECT COUNT(*) FROM $DETAILS x WHERE award_id LIKE 'v8:%'", 'cc_s0'), 40, '... 40 details');
sim_stop($sim8);

done_testing();
