# cc-payout serves claims beside the bulk pass, not between its batches:
# with a large backlog paid in big batches, a claim pushed to cc:claims is
# credited and notified (w = c:...) within a small part of one bulk
# batch's time, measured here from the batches' own commit times; and 200
# claims racing the bulk pass (ahead of it, inside its batch in flight,
# behind it, each pushed twice) leave every award credited exactly once:
# one transfer each, the pools empty, every notice sent.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use Time::HiRes qw(time sleep);
use List::Util qw(shuffle);

my $seed = $ENV{CC_TEST_SEED} // (time ^ $$) % 1000000;
srand($seed);
diag("CC_TEST_SEED=$seed");

payout_setup();

# the time of each bulk batch on each shard: a batch marks all its awards
# credited with one credited_at, so the gaps between a shard's distinct
# credited_at values (the claimed awards left out) are its batches' times
sub batch_times {
    my ($c, $claimed) = @_;
    my $skip = join ',', map { "'$c:$_'" } @$claimed;
    my @gaps;
    for my $db (qw(cc_s0 cc_s1)) {
        my @t = map { $_->[0] } @{ mysql_query(
            "SELECT DISTINCT credited_at FROM awards WHERE campaign = '$c' AND status = 'credited' "
          . "AND award_id NOT IN ($skip) ORDER BY 1", $db) };
        push @gaps, map { $t[$_] - $t[$_ - 1] } 1 .. $#t;
    }
    return sort { $a <=> $b } @gaps;
}

# What check_paid checks, in sums (its per-wallet queries are too slow
# for backlogs this big): each award credited and notified with its one
# transfer of its amount from the pool to its wallet, no other credit
# transfer, the pool's debits = its credits = the awards' sum.
sub check_sums {
    my ($c) = @_;
    for my $db (qw(cc_s0 cc_s1)) {
        my $r = mysql_query("SELECT COUNT(*), SUM(a.amount_cents), SUM(t.transfer_id IS NULL), "
          . "SUM(t.amount_cents <> a.amount_cents OR t.credit <> CONCAT('wallet:', a.uid) OR t.debit <> 'pool:$c'), "
          . "SUM(a.status <> 'credited' OR a.notified <> 1) "
          . "FROM awards a LEFT JOIN ledger_transfers t ON t.transfer_id = a.award_id WHERE a.campaign = '$c'", $db)->[0];
        my $x = mysql_query("SELECT COUNT(*), COALESCE(SUM(amount_cents), 0) FROM ledger_transfers "
          . "WHERE campaign = '$c' AND kind = 'credit'", $db)->[0];
        my $pool = mysql_query("SELECT debits, credits FROM ledger_accounts WHERE account = 'pool:$c'", $db)->[0];
        is_deeply([ @$r[2 .. 4] ], [ 0, 0, 0 ], "$c $db: each of its $r->[0] awards credited, notified, its transfer right");
        is_deeply($x, [ $r->[0], $r->[1] ], "$c $db: exactly one credit transfer per award, none else");
        is_deeply($pool, [ $r->[1], $r->[1] ], "$c $db: the pool paid out its awards' sum and is empty");
    }
}

# ---- a claim's latency while a big backlog is paid in big batches -------------

my $n = 320000;
my %a1 = map { ($_ => 100 + $_ % 5) } 1 .. $n;
seed_awards('k1', \%a1, redis => 0);
# the winners the bulk reaches last (the greatest ids): only a claim pays
# them while the pass runs
my @late = (sort { "k1:$b" cmp "k1:$a" } keys %a1)[0 .. 29];
my $where = shard_map(@late);
redis_cmd(redis_index($where->{$_}[0]), 'HSET', user_key($_), 'w', "p:$a1{$_}:k1:$_") for @late;

# --claims-batch as --batch: the batches stay big while the claims come
my $d = spawn_payout([ '--batch', 16000, '--claims-batch', 16000, '--interval', 3600, '--progress', 1 ],
                     campaign_file('k1'));
ok(wait_until(sub { (award_states('k1')->{'credited/1'} // 0) > 0 }, 60), 'the bulk pass is under way')
    or diag worker_stderr($d);

my (@lat, @claimed);
for my $uid (@late[0 .. 9]) {
    sleep(rand(0.3));
    my $r = redis_index($where->{$uid}[0]);
    my $t0 = time;
    redis_cmd($r, 'RPUSH', claims_key(), $uid);
    my $ok = wait_until(sub { (redis_cmd($r, 'HGET', user_key($uid), 'w') // '') eq "c:$a1{$uid}:k1:$uid" }, 30);
    push @lat, time - $t0;
    push @claimed, $uid;
    ok($ok, "claim of $uid: w = c:... in Redis");
}
my $pending = award_states('k1')->{'pending/0'} // 0;
ok($pending > 0, "the bulk pass was still busy after the claims ($pending pending)");

ok(wait_until(sub { (award_states('k1')->{'credited/1'} // 0) == $n }, 600), 'then the pass pays everything')
    or diag worker_stderr($d);
is(stop_worker($d, 'TERM', 30), 0, 'SIGTERM: exit 0');
like(worker_stderr($d), qr/stopping: $n credited \(10 on claims\)/, 'the 10 claimed awards were paid by the claims');

my @batch = batch_times('k1', \@claimed);
ok(@batch >= 4, scalar(@batch) . ' bulk batches timed');
my $median = $batch[ int(@batch / 2) ] / 1000;
my ($max) = sort { $b <=> $a } @lat;
diag(sprintf 'bulk batch (median of %d): %.0f ms; claim latency: max %.0f ms, each %s', scalar @batch,
     $median * 1000, $max * 1000, join ' ', map { sprintf '%.0f', $_ * 1000 } @lat);
# a claim that waited for the batch in flight would take up to a whole
# batch; ten of them all under half of one is 1 in 2^10 by luck
ok($max < $median / 2, sprintf 'every claim paid within half a bulk batch (%.0f < %.0f ms)',
   $max * 1000, $median * 500);
for my $db (qw(cc_s0 cc_s1)) {
    my $ids = join ',', map { "'k1:$_'" } grep { $where->{$_}[1] eq $db } @claimed;
    next unless length $ids;
    is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE award_id IN ($ids)", $db),
       scalar(grep { $where->{$_}[1] eq $db } @claimed), "$db: one transfer per claimed award");
}
check_sums('k1');
my %c1 = map { ($_ => $a1{$_}) } @late;
is_deeply([ check_redis('k1', \%c1, 'c') ], [], 'the claimed (and the seeded) notices are c:...');

# ---- 200 claims racing the bulk pass --------------------------------------------

my $m = 60000;
my %a2 = map { ($_ => 7 + $_ % 11) } 1000001 .. 1000000 + $m;      # wallets of their own
seed_awards('k2', \%a2, redis => 0);
my @ids = sort { "k2:$a" cmp "k2:$b" } keys %a2;
# spread over the whole id order: some the bulk paid already, some in its
# batch in flight, some ahead of it
my @race = map { $ids[ int(($_ + rand()) * $m / 200) ] } 0 .. 199;
my $w2 = shard_map(@race);
redis_cmd(redis_index($w2->{$_}[0]), 'HSET', user_key($_), 'w', "p:$a2{$_}:k2:$_") for @race;
my @queue = shuffle(@race, @race);         # each claimed twice

$d = spawn_payout([ '--once', '--batch', 2000, '--claims-batch', 500 ], campaign_file('k2'));
while (my @part = splice @queue, 0, 20) {
    redis_cmd(redis_index($w2->{$_}[0]), 'RPUSH', claims_key(), $_) for @part;
    sleep(0.01);
}
my $left = award_states('k2')->{'pending/0'} // 0;
ok($left > 0, "the claims were all pushed while awards were pending ($left)");
my $rc = wait_worker($d, 600);
is($rc, 0, '--once: exit 0 once everything is paid') or diag worker_stderr($d);
like(worker_stderr($d), qr/done: $m credited \((\d+) on claims\)/, "$m credited, the claims among them");
my ($on_claims) = worker_stderr($d) =~ /done: \d+ credited \((\d+) on claims\)/;
ok(($on_claims // 0) > 0, 'some paid by their claim (' . ($on_claims // 0) . ')');
is_deeply(award_states('k2'), { 'credited/1' => $m }, 'every award credited and notified');
# a bulk batch's awards share its credited_at (one shard's batches never
# start in the same ms): while claims came the batches were 500
my %size;
for my $db (qw(cc_s0 cc_s1)) {
    my $skip = join ',', map { "'k2:$_'" } @race;
    $size{ $_->[0] }++ for @{ mysql_query("SELECT COUNT(*) FROM awards WHERE campaign = 'k2' "
                                        . "AND award_id NOT IN ($skip) GROUP BY credited_at", $db) };
}
my @sizes = sort { $a <=> $b } keys %size;
ok($size{500}, 'while claims came, bulk batches of --claims-batch 500 (' . ($size{500} // 0) . ' of them)');
ok($sizes[-1] <= 2000, "none bigger than --batch 2000 (sizes @sizes[0 .. ($#sizes < 9 ? $#sizes : 9)])");
check_sums('k2');
# and the claimed awards' wallets: credited once, with their award
for my $db (qw(cc_s0 cc_s1)) {
    my @mine = grep { $w2->{$_}[1] eq $db } @race;
    my $acc = join ',', map { "'wallet:$_'" } @mine;
    my $want = 0;
    $want += $a2{$_} for @mine;
    is(mysql_value("SELECT SUM(credits) FROM ledger_accounts WHERE account IN ($acc)", $db), $want,
       "$db: the claimed users' wallets hold their awards, once");
}
my %c2 = map { ($_ => $a2{$_}) } @race;
is_deeply([ check_redis('k2', \%c2, 'c') ], [], 'every claimed award notified: w = c:...');
is(redis_cmd(0, 'LLEN', claims_key()) + redis_cmd(1, 'LLEN', claims_key()), 0, 'the claims queues drained');

done_testing();
