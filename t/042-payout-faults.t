# cc-payout under faults: SIGKILL at 20 random points then a restart, and
# MySQL killed mid-run: every award is credited exactly once, the ledger
# balances, the pools end empty, every notice arrives.  The kill points
# come from a seed (CC_TEST_SEED to replay) printed with every failure.
# CC_TEST_KILL_ROUNDS sets the number of kills (default 20; the ASan pass,
# `make test-asan`, runs 6: it is there for memory errors on these paths,
# and each round costs seconds there).

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use Time::HiRes qw(sleep);

my $seed = $ENV{CC_TEST_SEED} // (time ^ $$) % 1000000;
srand($seed);
my $rounds = $ENV{CC_TEST_KILL_ROUNDS} // 20;
die "CC_TEST_KILL_ROUNDS: a positive number of rounds, not \"$rounds\"\n"
    unless $rounds =~ /^[1-9][0-9]*\z/;
diag("CC_TEST_SEED=$seed CC_TEST_KILL_ROUNDS=$rounds");

payout_setup();

# ---- SIGKILL at $rounds random points ------------------------------------------

# each round a campaign of its own, so that every kill lands in work: a
# payout killed after a random time, then restarted to the end.  A kill
# that came after the payout had finished is not one: the round is drawn
# again with half the delay (a new campaign), so all of them land mid-work
# however fast this machine is today.
my (@points, @at, $mid);
$mid = 0;
for my $round (1 .. $rounds) {
    my ($c, %a, $file, $ms);
    my $limit = 300;
    for my $try (1 .. 6) {
        $c = "k$round-$try";
        %a = map { ($_ => 1 + $_ % 97) } $round * 10000 + 1 .. $round * 10000 + 1500;
        seed_awards($c, \%a, redis => 0);
        $file = campaign_file($c);
        $ms = int(rand($limit));
        my $w = spawn_payout([ '--batch', 40, '--idle-ms', 5 ], $file);
        sleep($ms / 1000);
        kill_worker($w);
        my $st = award_states($c);
        my $landed = ($st->{'credited/1'} // 0) < 1500;
        if ($landed || $try == 6) {
            push @points, $ms;
            push @at, ($st->{'credited/0'} // 0) . '+' . ($st->{'credited/1'} // 0);
            $mid++ if $landed;
            last;
        }
        my ($rc) = payout_run([ '--once', '--batch', 40 ], $file);    # finish it
        $limit = int($limit / 2) || 1;
    }
    my ($rc, undef, $err) = payout_run([ '--once', '--batch', 40 ], $file);
    is($rc, 0, "round $round: killed after $ms ms ($at[-1] credited+notified), restarted: exit 0 (seed $seed)")
        or diag $err;
    is_deeply([ check_paid($c, \%a) ], [], "round $round: each credited exactly once; pool empty; books balanced (seed $seed)");
    is_deeply(award_states($c), { 'credited/1' => 1500 }, "round $round: every award notified (seed $seed)");
    my %some = map { ($_ => $a{$_}) } grep { $_ % 25 == 0 } keys %a;
    is_deeply([ check_redis($c, \%some, 'c') ], [], "round $round: Redis notices (every 25th user) (seed $seed)");
}
note("kill points (ms) @points; credited+notified at each kill: @at");
is($mid, $rounds, "all $rounds kills landed before the end (seed $seed)");

# ---- MySQL down mid-run ---------------------------------------------------------

my %b = map { ($_ => 2 + $_ % 5) } 10001 .. 16000;
seed_awards('m1', \%b);
my $w = spawn_payout([ '--batch', 20, '--idle-ms', 5, '--progress', 1 ], campaign_file('m1'));
ok(wait_until(sub { (award_states('m1')->{'credited/1'} // 0) > 0 }, 30), 'the payout is under way');
mysql_kill();
my $at = 0;
mysql_start();
$at = (award_states('m1')->{'credited/1'} // 0);
ok($at < 6000, "MySQL was killed and restarted before the end ($at credited)");
ok(wait_until(sub { (award_states('m1')->{'credited/1'} // 0) == 6000 }, 120), 'the payout resumes and finishes');
like(worker_stderr($w), qr/mysql (?:shard \S+: .*|: .*); retrying/, 'it said MySQL failed and that it retries');
ok(worker_alive($w), 'without dying');
is(stop_worker($w, 'TERM', 20), 0, 'SIGTERM: exit 0');
is_deeply([ check_paid('m1', \%b) ], [], 'each credited exactly once; pools empty; books balanced');
is_deeply(award_states('m1'), { 'credited/1' => 6000 }, 'and notified');

# ---- MySQL down under a claims' thread: it says so, reconnects, pays ----------

# A MySQL shard's claims' thread finds its connection dead at a claim's
# turn (the claim is left to the bulk), tries again at the next turn once
# its backoff allows, and says "mysql (claims): ...; retrying"; MySQL back,
# it connects ("connected again") and credits the next claim itself.  The
# two claimed awards (one shard's) are kept out of the bulk pass until it
# is over, so only the claims' thread can pay them.
my %e = map { ($_ => 4) } 30001 .. 30040;
seed_awards('m2', \%e);
my ($ca, $cb) = (grep { shard_db($_) eq 'cc_s0' } sort { $a <=> $b } keys %e)[0, 1];
my $held = join ',', map { "'m2:$_'" } $ca, $cb;
mysql_query("UPDATE awards SET campaign = 'm2held' WHERE award_id IN ($held)", $_) for qw(cc_s0 cc_s1);
$w = spawn_payout([ '--interval', 3600, '--idle-ms', 5 ], campaign_file('m2'));
ok(wait_until(sub { (award_states('m2')->{'credited/1'} // 0) == 38 }, 30), 'claims lane: the bulk pass paid the 38 others')
    or diag worker_stderr($w);
mysql_query("UPDATE awards SET campaign = 'm2' WHERE award_id IN ($held)", $_) for qw(cc_s0 cc_s1);
sub claim_of { redis_cmd(redis_index(shard_map($_[0])->{ $_[0] }[0]), 'RPUSH', claims_key(), $_[0]) }
mysql_kill();
ok(wait_until(sub { claim_of($ca); worker_stderr($w) =~ /mysql \(claims\): shard \S+: .*; retrying in \d+ ms/ }, 20),
   'claims lane: MySQL down at its turns: "mysql (claims): ...; retrying"') or diag worker_stderr($w);
mysql_start();
claim_of($cb);
ok(wait_until(sub { mysql_value("SELECT status FROM awards WHERE award_id = 'm2:$cb'", 'cc_s0') eq 'credited' }, 20),
   'claims lane: MySQL back, the next claim credited') or diag worker_stderr($w);
like(worker_stderr($w), qr/mysql \(claims\): shard \S+ connected again/, '... after "connected again"');
claim_of($ca);
ok(wait_until(sub { (award_states('m2')->{'credited/1'} // 0) == 40 }, 20), '... and the one claimed while it was down, claimed again')
    or diag worker_stderr($w);
is(stop_worker($w, 'TERM', 20), 0, 'claims lane: SIGTERM, exit 0');
like(worker_stderr($w), qr/stopping: 40 credited \(2 on claims\)/, '... the two on the claims\' path');
is_deeply([ check_paid('m2', \%e) ], [], '... each credited once, the books balanced');

# ---- a Redis shard down: notices wait, nothing is lost ------------------------

my %c = map { ($_ => 9) } 20001 .. 20200;
seed_awards('r1', \%c);
redis_stop(1);
$w = spawn_payout([ '--once', '--idle-ms', 5 ], campaign_file('r1'));
ok(wait_until(sub { (award_states('r1')->{'credited/0'} // 0) > 0 }, 30), 'with a Redis shard down, awards are credited');
sleep(1);
ok(worker_alive($w), '--once waits for the notices of the shard that is down');
like(worker_stderr($w), qr/redis \S+: .*retrying in \d+ ms/, 'and says so');
redis_start(1);
is(wait_worker($w, 60), 0, 'the shard back: --once finishes, exit 0');
is_deeply(award_states('r1'), { 'credited/1' => 200 }, 'every award credited and notified');
is_deeply([ check_paid('r1', \%c) ], [], 'each credited once');
is_deeply([ check_redis('r1', \%c, 'c') ], [], 'every notice on its shard (a restarted Redis gets the script again)');

done_testing();
