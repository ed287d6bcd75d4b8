# A claim's notified = 1 is not a commit of its own (issue 20, the claim
# p99): the claims' lane keeps the ids it told Redis and sets them in its
# next transaction on the shard (the next claims' credit, or one of its
# own at the end of a turn that brought that shard no claim, and when
# cc-payout stops).  Until then the award is credited with notified = 0,
# the state a crash between the credit's commit and Redis leaves.  Here,
# with `wallet http` in batch mode (claims as single calls):
#
#   A. claims in waves on both MySQL shards beside a bulk pass: each
#      claimed award credited on the claims' path and notified (w = c:,
#      notified = 1) once cc-payout stopped on SIGTERM, nothing owed.
#   B. kill -9 at the new point: the award told (w = c:) and its
#      notified = 1 not committed (its row locked by the test, so the
#      UPDATE that carries it waits).  Left credited, notified = 0, told;
#      the next run tells it again and sets it, credits nothing twice.
#   C. kill -9 of cc-payout at random moments while claims stream in,
#      then a run to the end: every award once at the wallet and in the
#      ledger, notified, and the three-way reconcile clean.
#   D. a claims' thread per MySQL shard: a claim on one shard is credited
#      while the other shard's turn is held (a row lock of the test's),
#      and while that shard's next claim is held in turn.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use WalletTest;
use IPC::Run ();
use Time::HiRes qw(time sleep);

my $seed = $ENV{CC_TEST_SEED} // (time ^ $$) % 1000000;
srand($seed);
diag("CC_TEST_SEED=$seed");

payout_setup();

my @DBS = qw(cc_s0 cc_s1);

sub claim {
    my ($uid) = @_;
    redis_cmd(redis_index(shard_map($uid)->{$uid}[0]), 'RPUSH', claims_key(), $uid);
}

sub w_of {
    my ($uid) = @_;
    return redis_cmd(redis_index(shard_map($uid)->{$uid}[0]), 'HGET', user_key($uid), 'w') // 'none';
}

# "status/notified" of one award
sub state_of {
    my ($c, $uid) = @_;
    my $r = mysql_query("SELECT status, notified FROM awards WHERE award_id = '$c:$uid'", shard_db($uid))->[0];
    return $r ? "$r->[0]/$r->[1]" : 'none';
}

# a campaign of $n awards from uid $from on, drawn (for cc-reconcile)
sub campaign {
    my ($c, $from, $n) = @_;
    my %a = map { ($_ => 100 + $_ % 41) } $from .. $from + $n - 1;
    seed_awards($c, \%a, redis => 0);
    my $pool = make_drawn($c, \%a, shard_map(keys %a));
    return (\%a, $pool);
}

sub three_way_clean {
    my ($c, $file, $sim, $a, $what) = @_;
    my ($rc, $out, undef, $doc) = reconcile_money($file, '--statement', $sim->{statement});
    is($rc, 0, "$what: cc-reconcile --money --statement clean") or diag substr($out, 0, 3000);
    my $sum = 0;
    $sum += $_ for values %$a;
    is_deeply($doc->{three_way}, { books => 'clearing', posted_to_clearing => $sum, credited_awards => $sum,
                                   statement => $sum }, "$what: posted to clearing = credited awards = the statement");
}

# ---- A. claims in waves beside a bulk pass, then SIGTERM ------------------------------

my ($a1, $pool1) = campaign('f1', 20001, 1200);
my $sim = sim_start(process => 200);
my $f1 = http_campaign_file('f1', $sim->{url}, pool => $pool1, mode => undef, credit => 'async_client_sync');
my @u1 = sort { $a <=> $b } keys %$a1;
# the awards the bulk order (award ids as strings) reaches last: claimed
my @claimed = (sort { "f1:$b" cmp "f1:$a" } @u1)[0 .. 39];
my %on = map { ($_ => 0) } @DBS;
$on{ shard_db($_) }++ for @claimed;
ok($on{cc_s0} > 5 && $on{cc_s1} > 5, "claims on both MySQL shards ($on{cc_s0}, $on{cc_s1})");

my $w = spawn_payout([ '--batch', 50, '--interval', 3600 ], $f1);
ok(wait_until(sub { (award_states('f1')->{'credited/1'} // 0) > 0 }, 30), 'the bulk pass is paying')
    or diag worker_stderr($w);
for my $wave (0 .. 3) {
    claim($_) for @claimed[$wave * 10 .. $wave * 10 + 9];
    sleep(0.05);
}
ok(wait_until(sub { !grep { w_of($_) !~ /^c:/ } @claimed }, 30), 'every claimed award told: w = c:')
    or diag explain [ map { "$_ " . w_of($_) } @claimed ];
my $left = award_states('f1')->{'pending/0'} // 0;
ok($left > 0, "the bulk pass was still busy ($left awards pending)");
is(stop_worker($w, 'TERM', 30), 0, 'cc-payout: SIGTERM, exit 0');
my ($claims) = worker_stderr($w) =~ /stopping: \d+ credited \((\d+) on claims\)/;
is($claims, 40, 'the 40 claimed awards credited on the claims\' path');
is_deeply([ grep { state_of('f1', $_) ne 'credited/1' } @claimed ], [],
          'each claimed award credited and notified = 1 once cc-payout stopped: none owed');
is_deeply([ map { mysql_query("SELECT award_id, kind FROM ledger_transfers WHERE campaign = 'f1' AND award_id IN ("
                              . join(',', map { "'f1:$_'" } @claimed) . ") AND kind NOT IN ('pending', 'post')", $_) }
            @DBS ], [ [], [] ], 'their books: pending and post transfers only');

($w) = spawn_payout([ '--once' ], $f1);
is(wait_worker($w, 120), 0, 'a run to the end: exit 0') or diag worker_stderr($w);
like(worker_stderr($w), qr/done: \d+ credited \(0 on claims\)/, 'nothing claimed is credited again');
is_deeply(award_states('f1'), { 'credited/1' => 1200 }, 'all 1200 credited and notified');
is_deeply([ check_paid_http('f1', $a1, $sim->{statement}) ], [], 'each once at the wallet and in the ledger');
is_deeply([ check_redis('f1', $a1, 'c') ], [], 'every w = c:');
three_way_clean('f1', $f1, $sim, $a1, 'A');
sim_stop($sim);

# ---- B. kill -9 between the tell and the commit that sets notified = 1 -----------------

my ($a2, $pool2) = campaign('f2', 30001, 20);
my $sim2 = sim_start(process => 0);
my $f2 = http_campaign_file('f2', $sim2->{url}, pool => $pool2, mode => undef, credit => 'async_client_sync');
my ($rc, $out, $err) = payout_run([ '--once' ], $f2);
is($rc, 0, 'B: the campaign paid: exit 0') or diag $err;
my ($x) = sort { $a <=> $b } keys %$a2;
my $dbx = shard_db($x);

# X as a crash right after its credit's commit leaves it: credited,
# notified = 0, w still p:; its user claims, the claims' lane tells it
mysql_query("UPDATE awards SET notified = 0 WHERE award_id = 'f2:$x'", $dbx);
redis_cmd(redis_index(shard_map($x)->{$x}[0]), 'HSET', user_key($x), 'w', "p:$a2->{$x}:f2:$x");

# its row locked by a transaction of the test's (a client asleep in it):
# the UPDATE that carries its notified = 1 waits
my $sock = CcTest::Util::topdir() . '/mysql/mysql.sock';
my $locker = IPC::Run::start([ $CcTest::MySQL::MysqlClient, '--no-defaults', '-S', $sock, '-uroot', '-N', '-B',
                               '-D', $dbx, '-e', "BEGIN; SELECT award_id FROM awards WHERE award_id = 'f2:$x' "
                               . "FOR UPDATE; SELECT SLEEP(120)" ], '>', \my $lout, '2>', \my $lerr);
ok(wait_until(sub { mysql_value("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(120)'") }, 10),
   'B: the test holds the award\'s row lock');

claim($x);
my $w2 = spawn_payout([ '--interval', 3600 ], $f2);
ok(wait_until(sub { w_of($x) =~ /^c:/ }, 30), 'B: the claim is told: w = c:') or diag worker_stderr($w2);
# the claims' lane's and the outbox's (which tells it too: notified = 0)
ok(wait_until(sub { mysql_value("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE "
                                . "'UPDATE awards SET notified = 1 %f2:$x%'") == 2 }, 10),
   'B: both lanes\' UPDATEs that set its notified = 1 wait on the lock') or diag worker_stderr($w2);
kill_worker($w2);
$locker->kill_kill;
$locker->finish;
is(state_of('f2', $x), 'credited/0', 'B: after kill -9: credited, notified = 0 (owed)');
is(w_of($x), "c:$a2->{$x}:f2:$x", '... and told');
is(mysql_value("SELECT GROUP_CONCAT(kind ORDER BY kind) FROM ledger_transfers WHERE award_id = 'f2:$x'", $dbx),
   'pending', '... one pending transfer (posted by its batch\'s round post: none written again)');
is(mysql_value("SELECT SUM(amount_cents) FROM ledger_transfers WHERE campaign = 'f2' AND kind = 'post'", $dbx),
   mysql_value("SELECT SUM(amount_cents) FROM awards WHERE campaign = 'f2'", $dbx), '... the posts\' sum: its shard\'s awards\'');
is(statement_keys($sim2->{statement})->{"f2:$x"}, 1, '... once at the wallet');

($rc, $out, $err) = payout_run([ '--once' ], $f2);
is($rc, 0, 'B: the next run: exit 0') or diag $err;
like($err, qr/done: 0 credited \(0 on claims\), 0 already credited, 0 mismatch, 0 no funds, 1 notified/,
     'B: nothing credited again, the award notified');
is(state_of('f2', $x), 'credited/1', 'B: the claimed award notified = 1');
is_deeply(award_states('f2'), { 'credited/1' => 20 }, 'B: all credited and notified');
is_deeply([ check_paid_http('f2', $a2, $sim2->{statement}) ], [], 'B: each once at the wallet and in the ledger');
is_deeply([ check_redis('f2', $a2, 'c') ], [], 'B: every w = c:');
three_way_clean('f2', $f2, $sim2, $a2, 'B');
sim_stop($sim2);

# ---- C. kill -9 at random moments while claims stream in ------------------------------

my ($a3, $pool3) = campaign('f3', 40001, 600);
my $sim3 = sim_start(process => 10);
my $f3 = http_campaign_file('f3', $sim3->{url}, pool => $pool3, mode => undef, credit => 'async_client_sync');
my @u3 = sort { "f3:$b" cmp "f3:$a" } keys %$a3;
my $next = 0;
for my $round (1 .. 3) {
    $w = spawn_payout([ '--batch', 50, '--interval', 3600 ], $f3);
    my $until = time + 0.2 + rand(0.6);
    while (time < $until) {
        claim($u3[$next++]) for 1 .. 3;
        sleep(0.02);
    }
    kill_worker($w);
}
ok($next > 30, "C: $next claims pushed over three runs, each killed (kill -9)");
my $owed = 0;
$owed += mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'f3' AND status = 'credited' AND notified = 0", $_)
    for @DBS;
note("C: $owed credited awards owed their notified = 1 after the kills");
($rc, $out, $err) = payout_run([ '--once' ], $f3, 300);
is($rc, 0, 'C: a run to the end: exit 0') or diag $err;
is_deeply(award_states('f3'), { 'credited/1' => 600 }, 'C: all 600 credited and notified');
is_deeply([ check_paid_http('f3', $a3, $sim3->{statement}) ], [], 'C: each once at the wallet and in the ledger');
is_deeply([ check_redis('f3', $a3, 'c') ], [], 'C: every w = c:');
three_way_clean('f3', $f3, $sim3, $a3, 'C');
sim_stop($sim3);

# ---- D. a claim never waits for another shard's turn -------------------------------

# A claims' thread per MySQL shard.  A's turn (cc_s0) is held on its
# award's row lock while C (cc_s0, its row locked too) and B (cc_s1) are
# claimed: B is credited while A's turn still waits (one thread for all
# shards, even popping before every turn, served B only after A's turn).
# A released, C's turn waits on its own lock, and C is credited once it
# is released.
my ($a4, $pool4) = campaign('f4', 50001, 40);
my $sim4 = sim_start(process => 0);
my $f4 = http_campaign_file('f4', $sim4->{url}, pool => $pool4, mode => undef, credit => 'async_client_sync');
my @s0 = grep { shard_db($_) eq 'cc_s0' } sort { $a <=> $b } keys %$a4;
my ($b4) = grep { shard_db($_) eq 'cc_s1' } sort { $a <=> $b } keys %$a4;
my ($ua, $uc) = @s0[0, 1];
my $held = join ',', map { "'f4:$_'" } $ua, $b4, $uc;
# out of the bulk pass's reach (another campaign's rows) until it is over
mysql_query("UPDATE awards SET campaign = 'f4held' WHERE award_id IN ($held)", $_) for @DBS;
$w = spawn_payout([ '--interval', 3600 ], $f4);
ok(wait_until(sub { (award_states('f4')->{'credited/1'} // 0) == 37 }, 30), 'D: the bulk pass paid the 37 others')
    or diag worker_stderr($w);
mysql_query("UPDATE awards SET campaign = 'f4' WHERE award_id IN ($held)", $_) for @DBS;

sub lock_award {
    my ($uid) = @_;
    my $l = IPC::Run::start([ $CcTest::MySQL::MysqlClient, '--no-defaults', '-S', $sock, '-uroot', '-N', '-B',
                              '-D', shard_db($uid), '-e', "BEGIN; SELECT award_id FROM awards WHERE award_id = "
                              . "'f4:$uid' FOR UPDATE; SELECT SLEEP(120), $uid" ], '>', \my $o, '2>', \my $e);
    ok(wait_until(sub { mysql_value("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = "
                                    . "'SELECT SLEEP(120), $uid'") }, 10), "D: f4:${uid}'s row locked by the test");
    return $l;
}
sub waits_on {
    my ($uid) = @_;
    return wait_until(sub { mysql_value("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE "
                                        . "'UPDATE awards SET%f4:$uid%'") == 1 }, 10);
}
my $la = lock_award($ua);
claim($ua);
ok(waits_on($ua), "D: A's credit (f4:$ua, cc_s0) waits on its row") or diag worker_stderr($w);
my $lc = lock_award($uc);
claim($uc);
claim($b4);
ok(wait_until(sub { state_of('f4', $b4) =~ /^credited/ }, 10), 'D: B (cc_s1) credited while A\'s turn (cc_s0) waits')
    or diag worker_stderr($w);
ok(waits_on($ua), '... A\'s credit still waiting on its row');
is(state_of('f4', $ua), 'pending/0', '... A still pending');
$la->kill_kill;
$la->finish;
ok(wait_until(sub { state_of('f4', $ua) =~ /^credited/ }, 10), 'D: A released: credited');
ok(waits_on($uc), '... then C\'s credit (cc_s0) waits on its row lock');
is(state_of('f4', $uc), 'pending/0', '... C still pending');
$lc->kill_kill;
$lc->finish;
ok(wait_until(sub { state_of('f4', $uc) =~ /^credited/ }, 10), 'D: C released: credited');
is(stop_worker($w, 'TERM', 30), 0, 'D: cc-payout: SIGTERM, exit 0');
like(worker_stderr($w), qr/stopping: 40 credited \(3 on claims\)/, 'D: the three on the claims\' path');
is_deeply(award_states('f4'), { 'credited/1' => 40 }, 'D: all 40 credited and notified');
is_deeply([ check_paid_http('f4', $a4, $sim4->{statement}) ], [], 'D: each once at the wallet and in the ledger');
three_way_clean('f4', $f4, $sim4, $a4, 'D');
sim_stop($sim4);

done_testing();
