# cc-draw killed with kill -9 at 20 random points (seeded: CC_TEST_SEED
# replays a run), each followed by the check that what committed is whole
# (per shard, award rows = done_upto; in sync mode one credit per award),
# then a run to the end: the same digest, awards, ledger and Redis fields
# as a draw that was never killed.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest qw(check_paid check_redis);
use DrawTest;
use Time::HiRes qw(time sleep);

my $seed = $ENV{CC_TEST_SEED} // int(time);
srand($seed);
diag("t/044-draw-kill.t: CC_TEST_SEED=$seed");

draw_setup();
my @uids = map { 1000 + 7 * $_ } 1 .. 3000;
make_eligible(1000, @uids);

my $f = draw_campaign('kill', pool => 3000 * 250 + 1234, split => 'random', cap => 600,
                      credit => 'sync', seed => 'kill-seed');
my @batch = ('--batch', 3);

sub state {
    my $aw = awards_of('kill');
    return ({ map { ($_ => $aw->{$_}[0]) } keys %$aw }, $aw);
}

# ---- the reference: a draw never killed ---------------------------------------

my $t0 = time;
my ($rc, $out, $err) = draw_run($f, @batch);
my $span = time - $t0;
is($rc, 0, sprintf('the reference draw: exit 0 (%.2f s)', $span)) or diag $err;
my $digest = digest_of($out);
ok($digest, "its digest $digest");
my ($ref) = state();
is(scalar keys %$ref, 3000, '3000 awards');
my $sum = 0;
$sum += $_ for values %$ref;
is($sum, 751234, 'summing to the pool');
is_deeply([ check_paid('kill', $ref) ], [], 'each credited once, pools empty');

# ---- the same draw again from nothing, killed 20 times -------------------------

reset_money();
is(money_rows('kill'), 0, 'money tables and Redis emptied');

my @broken;
my %phase;
for my $i (1 .. 20) {
    my $at = rand($span * 0.25);      # the runs resume: short ones spread the kills
    my $w = spawn_worker('cc-draw', '--campaign', $f, draw_args(), @batch);
    sleep $at;
    kill_worker($w);
    my $done = 0;
    for my $db (@DrawTest::DBS) {
        my $rows = mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'kill'", $db);
        my $upto = mysql_value("SELECT COALESCE(MAX(done_upto), 0) FROM draw_plans WHERE campaign = 'kill'", $db);
        my $xfer = mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'kill' AND kind = 'credit'", $db);
        push @broken, sprintf('kill %d at %.3f s, %s: %d rows, done_upto %d, %d credits', $i, $at, $db, $rows, $upto, $xfer)
            if $rows != $upto || $xfer != $rows;
        $done += $rows;
    }
    $phase{ $done == 0 ? 'before any award' : $done < 3000 ? 'mid-write' : 'after the writes' }++;
    note(sprintf('kill %d at %.3f s: %d awards committed', $i, $at, $done));
}
is_deeply(\@broken, [], 'after each kill: per shard, award rows = done_upto = credits');
note('killed: ' . join(', ', map { "$phase{$_} $_" } sort keys %phase));
ok(($phase{'mid-write'} // 0) > 0, 'some kills fell in the middle of the writes');

($rc, $out, $err) = draw_run($f, @batch);
is($rc, 0, 'the run after the kills: exit 0') or diag $err;
is(digest_of($out), $digest, '... the same digest as the draw never killed');
my ($got) = state();
is_deeply($got, $ref, '... the same award for every user, none missing, none twice');
is_deeply([ check_paid('kill', $got) ], [], '... each credited exactly once, pools empty, ledger balanced');
is_deeply([ check_redis('kill', $got, 'c') ], [], '... and every Redis field set');

($rc, $out, $err) = draw_run($f, @batch);
is_deeply([ $rc, digest_of($out) ], [ 0, $digest ], 'one more run: the same digest');
like($out, qr/^shard 0: .* 0 awards written now, 0 Redis fields set/m, '... writing nothing');

done_testing();
