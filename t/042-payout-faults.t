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
