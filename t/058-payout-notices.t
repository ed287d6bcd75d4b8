# Issue 20, a faster ledger: a bulk batch's notices are owed by one row of
# award_notices written in the credit's transaction (the awards notified =
# 1 in the UPDATE that credits them), and told once Redis holds them;
# the notified flag per award after Redis is gone.  What it must keep:
#   - a payout in batches leaves one told row a batch, none owed, every
#     award credited, notified, "c" in Redis, cc-reconcile --money clean;
#   - the state a crash between the commit and Redis leaves (an open row,
#     "p" in Redis): cc-reconcile is clean ("p" is fine while owed), and
#     finds the same "p" once the row says told; cc-payout --once tells
#     the row's range again in pages and the row is told;
#   - cc-payout killed (SIGKILL) with notice rows owed (a Redis shard
#     down): restarted, every notice arrives, nothing is credited twice;
#   - a notice row whose id is not an award id stops the outbox, said,
#     instead of going into SQL.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use DrawTest;
use JSON::PP;

draw_setup();
my @users = (1 .. 300);
make_eligible(60000, @users);
my $map = shard_map(@users);

my $json = CcTest::Util::topdir() . '/money.json';
sub money {
    my ($file) = @_;
    unlink $json;
    my ($rc, $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $file, shard_args(),
                                        '--json', $json ], timeout => 120);
    my $doc = -e $json ? eval { decode_json(CcTest::Util::_slurp($json)) } : undef;
    return ($rc, $out, $err, $doc // {});
}

sub both { my ($sql) = @_; my $n = 0; $n += mysql_value($sql, $_) for qw(cc_s0 cc_s1); $n }

# ---- a payout in batches: a notice row a batch, each told ----------------------------

my $C = 'nt1';
my $file = draw_campaign($C, pool => 300 * 9 + 7, split => 'equal');
my ($rc, $out, $err) = draw_run($file);
is($rc, 0, 'drawn') or diag $err;
my $awards = awards_of($C);
my %amount = map { ($_ => $awards->{$_}[0]) } keys %$awards;

($rc, undef, $err) = payout_run([ '--once', '--batch', 50 ], $file);
is($rc, 0, 'paid in batches of 50') or diag $err;
like($err, qr/done: 300 credited \(0 on claims\), 0 already credited, 0 mismatch, 0 no funds, 300 notified/,
     '300 credited, 300 notices sent');
is_deeply(award_states($C), { 'credited/1' => 300 }, 'every award credited and its notice sent');
is(both("SELECT COUNT(*) FROM awards WHERE campaign = '$C' AND notified = 1"), 300, 'notified = 1 on each');
my $batches = 0;
for my $db (qw(cc_s0 cc_s1)) {
    my $n = mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = '$C'", $db);
    $batches += int(($n + 49) / 50);
}
is(both("SELECT COUNT(*) FROM award_notices WHERE campaign = '$C' AND told_at > 0"), $batches,
   "one notice row a batch ($batches), each told");
is(notices_owed($C), 0, 'none owed');
is(both("SELECT COUNT(*) FROM award_notices n WHERE campaign = '$C' AND (SELECT COUNT(*) FROM awards a "
        . "WHERE a.campaign = n.campaign AND a.award_id BETWEEN n.first_id AND n.last_id) NOT BETWEEN 1 AND 50"), 0,
   'each row covers its batch: 1 to 50 awards');
is_deeply([ check_paid($C, \%amount) ], [], 'each credited exactly once; pools empty; books balanced');
is_deeply([ check_redis($C, \%amount, 'c') ], [], 'every field w is c:...');
($rc, $out, $err) = money($file);
is($rc, 0, 'cc-reconcile --money: clean') or diag $err, $out;

# ---- what a crash between the commit and Redis leaves ----------------------------------

# the batches' rows owed again (one a shard over all its awards), Redis
# behind MySQL as it is before the notices: "p" for every user
for my $db (qw(cc_s0 cc_s1)) {
    mysql_query("INSERT INTO award_notices (campaign, first_id, last_id, created_at) "
                . "SELECT '$C', MIN(award_id), MAX(award_id), 0 FROM awards WHERE campaign = '$C'", $db);
}
redis_cmd(redis_index($map->{$_}[0]), 'HSET', user_key($_), 'w', "p:$amount{$_}:$C:$_") for @users;
is(notices_owed($C), 2, 'two notice rows owed');
is_deeply(award_states($C), { 'credited/0' => 300 }, 'every award credited, its notice owed');
my $doc;
($rc, $out, $err, $doc) = money($file);
is($rc, 0, 'cc-reconcile --money: clean, "p" is fine while the notice is owed') or diag $err, $out;

mysql_query("UPDATE award_notices SET told_at = 1 WHERE campaign = '$C' AND told_at = 0", $_) for qw(cc_s0 cc_s1);
($rc, $out, $err, $doc) = money($file);
is($rc, 1, 'the rows marked told with Redis behind: exit 1');
my %class;
$class{ $_->{class} }++ for @{ $doc->{breaks} // [] };
is_deeply(\%class, { status_mismatch => 300 }, '300 status_mismatch breaks: "p" for awards told');
mysql_query("UPDATE award_notices SET told_at = 0 WHERE campaign = '$C' AND told_at = 1", $_) for qw(cc_s0 cc_s1);

($rc, undef, $err) = payout_run([ '--once', '--batch', 40 ], $file);
is($rc, 0, 'cc-payout --once') or diag $err;
like($err, qr/done: 0 credited .* 300 notified/, 'credits nothing, sends the 300 notices again (pages of 40)');
is(notices_owed($C), 0, 'the two rows told');
is_deeply(award_states($C), { 'credited/1' => 300 }, 'every notice sent');
is_deeply([ check_redis($C, \%amount, 'c') ], [], 'every field w is c:... again');
is_deeply([ check_paid($C, \%amount) ], [], 'nothing credited twice');
($rc, $out, $err) = money($file);
is($rc, 0, 'cc-reconcile --money: clean') or diag $err, $out;

# ---- SIGKILL with notice rows owed --------------------------------------------------

# a Redis shard down: every batch is credited, its row stays owed (some of
# its users are on that shard); the kill lands between the commit and the
# notices of every batch
my $C2 = 'nt2';
my $file2 = draw_campaign($C2, pool => 300 * 5 + 1, split => 'equal');
($rc, undef, $err) = draw_run($file2);
is($rc, 0, 'a second campaign drawn') or diag $err;
my $awards2 = awards_of($C2);
my %amount2 = map { ($_ => $awards2->{$_}[0]) } keys %$awards2;
# (a batch whose users all live on the shard still up is told: a short
# last batch of three awards is so one run in eight, so the owed notices
# are those of the stopped shard's users, not every one)
my %down = map { ($_ => 1) } grep { redis_cmd(1, 'EXISTS', user_key($_)) } @users;
redis_stop(1);
my $w = spawn_payout([ '--once', '--batch', 50, '--idle-ms', 5 ], $file2);
ok(wait_until(sub { my $st = award_states($C2);
                    ($st->{'credited/0'} // 0) + ($st->{'credited/1'} // 0) == 300 }, 60),
   'with a Redis shard down, every award is credited');
kill_worker($w);
my $owed = notices_owed($C2);
ok($owed > 0, "killed (SIGKILL) with $owed notice rows owed");
my @told = map { @{ mysql_query("SELECT a.uid, a.notified AND NOT EXISTS (SELECT 1 FROM award_notices n "
                                . "WHERE n.campaign = a.campaign AND n.told_at = 0 AND n.first_id <= a.award_id "
                                . "AND n.last_id >= a.award_id) FROM awards a WHERE campaign = '$C2'", $_) } }
           qw(cc_s0 cc_s1);
my @on_down = grep { $down{ $_->[0] } } @told;
ok(@on_down > 0, scalar(@on_down) . ' awards of the stopped shard\'s users');
is_deeply([ grep { $_->[1] } @on_down ], [], 'and every notice of theirs owed');
redis_start(1);
DrawTest::_combines(@users);          # the restarted shard's field e
($rc, undef, $err) = payout_run([ '--once', '--batch', 50 ], $file2);
is($rc, 0, 'restarted: cc-payout --once, exit 0') or diag $err;
like($err, qr/done: 0 credited /, 'it credits nothing');
is(notices_owed($C2), 0, 'every row told');
is_deeply(award_states($C2), { 'credited/1' => 300 }, 'every notice sent');
is_deeply([ check_redis($C2, \%amount2, 'c') ], [], 'every field w is c:..., on both shards');
is_deeply([ check_paid($C2, \%amount2) ], [], 'each credited exactly once; pools empty; books balanced');
($rc, $out, $err) = money($file2);
is($rc, 0, 'cc-reconcile --money: clean') or diag $err, $out;

# ---- a notice row that is not fit for SQL ------------------------------------------

my $bad = "$C2:1' OR '1'='1";
mysql_query("INSERT INTO award_notices (campaign, first_id, last_id, created_at) VALUES "
            . "('$C2', '" . ($bad =~ s/'/''/gr) . "', '$C2:9', 0)", 'cc_s0');
$w = spawn_payout([ '--once', '--idle-ms', 5 ], $file2);
ok(wait_until(sub { worker_stderr($w) =~ /read notice rows: notice \d+: award id "\Q$C2\E:1' OR '1'='1" not fit for SQL/ }, 30),
   'cc-payout: a notice row with a bad id is said, not run as SQL');
ok(worker_alive($w), '--once does not end with a notice owed');
is(stop_worker($w, 'TERM', 20), 0, 'SIGTERM: exit 0');
is_deeply([ check_paid($C2, \%amount2) ], [], 'and credits nothing');

done_testing();
