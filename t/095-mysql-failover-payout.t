# Issue 18, MySQL: cc-payout through a kill -9 of a shard's primary.  The
# shards have a semi-synchronous replica (CcTest::MySQLReplica) and the
# workers are given both servers as each shard's candidates.  A drawn
# campaign's payout runs; the primary is killed mid-payout and the replica
# promoted as an orchestrator does; cc-payout finds the new primary by
# itself, and every award is credited exactly once, the books balance and
# cc-reconcile --money finds nothing wrong.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use CcTest::MySQLReplica;
use PayoutTest;
use DrawTest;
use JSON::PP;

mysql_with_replica();
my ($P, $R) = ($ENV{TEST_MYSQL_PORT}, replica_port());
draw_setup();

my $C = 'fo1';
my @users = (1 .. 3000);
make_eligible(60000, @users);
my $file = draw_campaign($C, pool => 3000 * 7 + 11, split => 'equal');
my ($rc, undef, $err) = draw_run($file);
is($rc, 0, 'cc-draw through the candidates: drawn') or diag $err;
my $awards = awards_of($C);
is(scalar(keys %$awards), 3000, '3000 awards, pending');
my %amount = map { ($_ => $awards->{$_}[0]) } keys %$awards;

ok(replica_caught_up(20), 'the replica has the draw');

# ---- kill -9 the primary mid-payout --------------------------------------------------

sub credited { award_states($C)->{'credited/1'} // 0 }

my $w = spawn_payout([ '--batch', 20, '--idle-ms', 5, '--interval', 1, '--progress', 1 ], $file);
ok(wait_until(sub { credited() >= 200 }, 60), 'the payout is under way');
my $at = credited();
mysql_kill();
ok($at < 3000, "the primary killed (kill -9) mid-payout, $at of 3000 credited and notified");
ok(wait_until(sub { worker_stderr($w) =~ /no writable primary/ }, 20),
   'cc-payout retries: no candidate writable (the primary down, the replica read-only)')
    or diag worker_stderr($w);

replica_promote();
pass('the replica promoted (relay log applied, STOP SLAVE, RESET SLAVE ALL, read_only = 0)');
ok(replica_value("SELECT COUNT(*) FROM awards WHERE campaign = '$C' AND status = 'credited'", 'cc_s0')
   + replica_value("SELECT COUNT(*) FROM awards WHERE campaign = '$C' AND status = 'credited'", 'cc_s1') >= $at,
   'every credit the old primary acknowledged is on the new one (semi-sync)');
ok(wait_until(sub { credited() == 3000 }, 90), 'cc-payout, on its own, finishes on the new primary')
    or diag worker_stderr($w);
like(worker_stderr($w), qr{mysql shard 127\.0\.0\.1:$P,127\.0\.0\.1:$R/cc_s\d: the primary is now 127\.0\.0\.1:$R},
     'it says which server is the primary now');
ok(worker_alive($w), 'without dying');
is(stop_worker($w, 'TERM', 20), 0, 'SIGTERM: exit 0');

is_deeply([ check_paid($C, \%amount) ], [],
          'each award credited exactly once; pools empty; each wallet = its transfers; debits = credits');
is_deeply(award_states($C), { 'credited/1' => 3000 }, 'every award notified');
my %some = map { ($_ => $amount{$_}) } grep { $_ % 50 == 0 } keys %amount;
is_deeply([ check_redis($C, \%some, 'c') ], [], 'Redis notices c:... (every 50th user)');

my $sums = mysql_query('SELECT SUM(debits), SUM(credits) FROM ledger_accounts', 'cc_s0')->[0];
is($sums->[0], $sums->[1], "cc_s0's ledger: Σ debits = Σ credits ($sums->[0])");

my $json = CcTest::Util::topdir() . '/money.json';
($rc, my $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $file, shard_args(),
                                     '--json', $json ], timeout => 120);
is($rc, 0, 'cc-reconcile --money on the new primary: exit 0') or diag $err, $out;
my $doc = eval { decode_json(CcTest::Util::_slurp($json)) } // {};
is_deeply($doc->{breaks}, [], 'and no break');

done_testing();
