# kill -9 of cc-payout in batch mode at the two points issue 20 names,
# each reached deterministically:
#
#   written, not sent: the wallet's port refuses connections, so the
#   payout has committed the batch (its pending transfers, its details,
#   and its wallet_batches row) and is retrying its first
#   call when it is killed: the wallet never saw the batch;
#
#   sent, its result not read: the wallet accepts the batch (journalled)
#   but holds its result (--process-ms 600000), the payout is querying
#   it when it is killed.
#
# Each time the next payout finds the same batch in MySQL and sends or
# queries it unchanged: every award paid exactly once, none left unpaid,
# no new batch, no new key.

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

# the campaign's batches: { batch_no => "award:attempt,..." }, both shards
sub batches {
    my ($c) = @_;
    my %b;
    for my $db (@DBS) {
        for (@{ mysql_query("SELECT d.batch_no, GROUP_CONCAT(CONCAT(d.award_id, ':', d.attempt) ORDER BY d.award_id) "
                            . "FROM $DETAILS d JOIN wallet_batches b ON b.batch_no = d.batch_no "
                            . "WHERE b.campaign = '$c' GROUP BY d.batch_no", $db) }) {
            $b{ $_->[0] } = $_->[1];
        }
    }
    return \%b;
}

# ---- killed after writing the batch, before the wallet saw it -----------------------

my %a1 = map { ($_ => 100 + $_ % 9) } 1 .. 400;
seed_awards('x1', \%a1);
my $port = free_port();
my $st1 = wallet_dir() . '/x1.csv';
my $f1 = http_campaign_file('x1', "http://127.0.0.1:$port", mode => 'batch', batch_max => 100, timeout => 2000);
my $w = spawn_payout([ '--once' ], $f1);
wait_until(sub { both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'x1'") > 0
                 && worker_stderr($w) =~ /Couldn't connect|Connection refused/ || 0 }, 60);
my $b1 = batches('x1');
ok(scalar(keys %$b1) > 0, scalar(keys %$b1) . ' batches written (committed) and being sent to a port that refuses');
kill 'KILL', $w->{pid};
wait_worker($w, 10);
is(scalar(grep { /^credited/ } keys %{ award_states('x1') }), 0, 'killed: none credited');
my $pend = both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'x1' AND kind = 'pending'");
my $inb = 0;
$inb += () = $_ =~ /x1:/g for values %$b1;
is($pend, $inb, "a pending transfer for each of the $inb awards in a batch, none without one");
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'x1' AND kind = 'post'"), 0, 'nothing posted');

my $sim = sim_start(port => $port, statement => $st1, process => 5);
is(scalar @{ journal_lines($sim->{journal}) }, 0, 'the wallet never had a batch');
my ($rc, $out, $err) = payout_run([ '--once' ], $f1);
is($rc, 0, 'the next payout: exit 0') or diag $err;
is_deeply([ check_paid_http('x1', \%a1, $st1) ], [], 'every award paid exactly once');
my $after = batches('x1');
is_deeply({ map { ($_ => $after->{$_}) } keys %$b1 }, $b1, 'the batches written before the kill, unchanged');
my %sent = map { ($_->[1] => 1) } grep { $_->[0] eq 'B' } @{ journal_lines($sim->{journal}) };
is(scalar(grep { !$sent{$_} } keys %$b1), 0, 'each sent under its number then');
is(scalar(grep { /:2(,|$)/ } values %$after), 0, 'no second attempt: no award got a new batch key');

# ---- killed after sending, before reading the result -------------------------------------

my %a2 = map { ($_ => 50 + $_ % 11) } 1001 .. 1300;
seed_awards('x2', \%a2);
my $hold = sim_start(process => 600000);
my $f2 = http_campaign_file('x2', $hold->{url}, mode => 'batch', batch_max => 100, timeout => 3000);
$w = spawn_payout([ '--once' ], $f2);
wait_until(sub { my $n = grep { $_->[0] eq 'B' && $_->[1] =~ /^x2:/ } @{ journal_lines($hold->{journal}) };
                 $n > 0 && $n == both("SELECT COUNT(*) FROM wallet_batches WHERE campaign = 'x2'") }, 60)
    or fail('the wallet accepted every batch written');
sleep 1;                                  # querying: PROCESSING, PROCESSING, ...
ok(worker_alive($w), 'the payout is querying batches the wallet holds');
kill 'KILL', $w->{pid};
wait_worker($w, 10);
my $b2 = batches('x2');
is_deeply(award_states('x2'), { 'pending/0' => 300 }, 'killed: all 300 unpaid');
is(both("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'x2' AND kind = 'post'"), 0, 'nothing posted');
is(scalar @{ statement_lines($hold->{statement}) }, 0, 'nothing applied yet at the wallet');

# the wallet restarts (its journal read back) and processes them now
sim_stop($hold);
my $now = sim_start(port => $hold->{port}, statement => $hold->{statement}, process => 0);
wait_until(sub { @{ statement_lines($now->{statement}) } >= 300 }, 30);
is(scalar @{ statement_lines($now->{statement}) }, 300, 'the wallet applied the 300 it had accepted, each once');
($rc, $out, $err) = payout_run([ '--once' ], $f2);
is($rc, 0, 'the next payout: exit 0') or diag $err;
like($err, qr/done: 300 credited/, 'it read the results and posted the 300');
is_deeply([ check_paid_http('x2', \%a2, $now->{statement}) ], [], 'every award paid exactly once');
is_deeply(batches('x2'), $b2, 'the same batches: queried, none sent anew');
is(scalar(grep { $_->[0] eq 'B' && $_->[1] =~ /^x2:/ } @{ journal_lines($now->{journal}) }), scalar(keys %$b2),
   'the wallet accepted each batch once');
sim_stop($now);
sim_stop($sim);

done_testing();
