# cc-draw: the scheduled draw over two Redis and two MySQL shards.  Equal,
# random and sync-credit draws with their rows, sums, ledger and Redis
# fields; a combine still only in a Redis log drained and awarded; a re-run
# writes nothing and prints the same digest; --shard K; every refusal
# writes nothing; bad command lines.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest qw(shard_map redis_index check_paid check_redis ledger_snapshot);
use DrawTest;

draw_setup();

# users 1..50 combined before the cutoff
my @uids = (1 .. 50);
my $map = make_eligible(1000, @uids);
ok((grep { $map->{$_}[1] eq 'cc_s0' } @uids) && (grep { $map->{$_}[1] eq 'cc_s1' } @uids),
   'the eligible users are on both MySQL shards');

sub snapshot {
    my ($c) = @_;
    return [ (map { (mysql_query("SELECT * FROM draw_plans WHERE campaign = '$c' ORDER BY shard", $_),
                     mysql_query("SELECT * FROM awards WHERE campaign = '$c' ORDER BY award_id", $_)) } @DrawTest::DBS),
             ledger_snapshot() ];
}

# ---- refusals: nothing written ------------------------------------------------

my ($rc, $out, $err);

my $f = draw_campaign('down', pool => 10000);
redis_stop(1);
($rc, $out, $err) = draw_run($f);
is($rc, 1, 'a Redis shard down: exit 1');
like($err, qr/redis 127\.0\.0\.1:\d+: .*; not drawing: the combines in its log would be missed/, '... saying why');
is(money_rows('down'), 0, '... and nothing written');
redis_start(1);
redis_fresh();      # a restarted shard is empty: the combine records again

$f = draw_campaign('early', pool => 10000, cutoff => time + 3600);
($rc, $out, $err) = draw_run($f);
is($rc, 2, 'Redis time before the cutoff: exit 2');
like($err, qr/its time \d+\.\d{3} is before the cutoff \d+: combines may still come; not drawing/, '... saying why');
is(money_rows('early'), 0, '... and nothing written');

# combines at or after the campaign file's cutoff in MySQL: nginx's
# cc_combine_cutoff was later than the file's cutoff.  Refused with the
# first 20 uids and the count of the rest, naming both settings; nothing
# written (no plan, award or ledger row, no award field in Redis)
my @late = (901 .. 923);
make_eligible(0, @late[0 .. 11]);                    # at the cutoff
make_eligible(-60_000, @late[12 .. 22]);             # a minute after it
my $redis_before = [ redis_snapshot() ];
$f = draw_campaign('late', pool => 10000);
($rc, $out, $err) = draw_run($f);
is($rc, 2, 'combines at or after the cutoff in MySQL: exit 2');
my @named = $err =~ /^.*cutoff check: uid (\d+) \(mysql \S+\) combined at \S+, at or after the campaign file's cutoff 2023-11-14T22:13:20\.000Z$/mg;
is(scalar @named, 20, '... the first 20 uids named, each with its time and the cutoff');
ok(!(grep { my $n = $_; !grep { $_ == $n } @late } @named), '... all of them late ones');
like($err, qr/cutoff check: \.\.\. and 3 more$/m, '... then the count of the rest');
like($err, qr/cutoff check: 23 eligibility row\(s\) combined at or after the campaign file's cutoff 2023-11-14T22:13:20\.000Z \(\Q$f\E: cutoff 1700000000\), the latest at 2023-11-14T22:14:20\.000Z: nginx took them, so its cc_combine_cutoff \(or cc_campaign_end\) is later than the file's cutoff; the two must be the same moment\..*not drawing/,
     '... naming the file\'s cutoff, the latest combine and cc_combine_cutoff');
is(money_rows('late'), 0, '... no plan, award or ledger row');
is_deeply([ redis_snapshot() ], $redis_before, '... and Redis unchanged');

# every eligible row late: the same refusal, not "no eligible user"
{
    my $saved = [ map { mysql_query('SELECT uid, request_id, combined_at FROM eligibility', $_) } @DrawTest::DBS ];
    mysql_query("UPDATE eligibility SET combined_at = $DrawTest::CUTOFF * 1000 + 5 WHERE combined_at < $DrawTest::CUTOFF * 1000", $_)
        for @DrawTest::DBS;
    ($rc, $out, $err) = draw_run($f);
    is($rc, 2, 'every combine after the cutoff: exit 2');
    like($err, qr/cutoff check: 73 eligibility row\(s\) combined at or after the campaign file's cutoff/, '... the cutoff refusal, all counted');
    unlike($err, qr/no eligible user/, '... not "no eligible user"');
    is(money_rows('late'), 0, '... nothing written');
    for my $i (0, 1) {
        mysql_query("UPDATE eligibility SET combined_at = $_->[2] WHERE uid = $_->[0]", $DrawTest::DBS[$i])
            for @{ $saved->[$i] };
    }
}
unmake_eligible(@late);

$f = draw_campaign('small', pool => 49);
($rc, $out, $err) = draw_run($f);
is($rc, 2, 'pool smaller than the eligible count: exit 2');
like($err, qr/the pool of 49 cents cannot be split among 50 eligible users \(equal split\): pool smaller than the eligible count; not drawing/,
     '... saying why');
is(money_rows('small'), 0, '... and nothing written');

$f = draw_campaign('tight', pool => 103, split => 'random', cap => 2);
($rc, $out, $err) = draw_run($f);
is($rc, 2, 'cap times the eligible count below the pool: exit 2');
like($err, qr/cap_cents times the eligible count is below the pool/, '... saying why');
is(money_rows('tight'), 0, '... and nothing written');

# ---- a combine only in a Redis log: drained, then awarded --------------------

# uid 77 combined before the cutoff; the event reached its Redis log only
# (and the user hash's combine record, which the same script writes)
my $home = redis_index(shard_map(77)->{77}[0]);
redis_cmd($home, 'XADD', log_key(), '*', 'y', 'c', 'u', 77, 'r', 'set77', 't', $DrawTest::CUTOFF * 1000 - 5);
redis_cmd($home, 'HSET', user_key(77), 'e', 'set77:' . ($DrawTest::CUTOFF * 1000 - 5));
push @uids, 77;
$map = shard_map(@uids);
is(mysql_value('SELECT COUNT(*) FROM eligibility WHERE uid = 77', $map->{77}[1]), 0,
   'uid 77 is only in the Redis log');

# ---- equal ---------------------------------------------------------------------

$f = draw_campaign('eq', pool => 51 * 100 + 37, seed => 'spring');
($rc, $out, $err) = draw_run($f);
is($rc, 0, 'equal draw: exit 0') or diag $err;
is(redis_cmd($home, 'XLEN', log_key()), 0, 'the Redis log was drained and trimmed first');
is(mysql_value('SELECT request_id FROM eligibility WHERE uid = 77', $map->{77}[1]), 'set77',
   '... so uid 77 is eligible in MySQL');
like($out, qr/^campaign eq: equal split of 5137 cents among 51 eligible users on 2 shards, credit async$/m,
     'the summary names the split');
like($out, qr/^awards: 51, min 100, median 101, max 101 cents$/m, '... min, median, max');
like($out, qr/^total: 5137 cents$/m, '... the total');
my $digest = digest_of($out);
ok($digest, "... and the digest ($digest)");
like($out, qr/^time: \d+\.\d\d s$/m, '... and the time');
like($err, qr/progress: 51 of 51 awards written \(\d+\/s\)/, 'the progress line (stderr)');

my $aw = awards_of('eq');
is_deeply([ sort { $a <=> $b } keys %$aw ], [ sort { $a <=> $b } @uids ], 'one award per eligible user');
my ($sum, $plus, $wrong) = (0, 0, 0);
for my $uid (keys %$aw) {
    $sum += $aw->{$uid}[0];
    $plus++ if $aw->{$uid}[0] == 101;
    $wrong++ if $aw->{$uid}[0] != 100 && $aw->{$uid}[0] != 101 or $aw->{$uid}[2] ne $map->{$uid}[1] or $aw->{$uid}[1] ne 'pending';
}
is($sum, 5137, 'the awards sum to the pool');
is($plus, 37, '37 users got the extra cent');
is($wrong, 0, 'every award 100 or 101, pending, in its uid\'s shard');
ok((grep { $aw->{$_}[0] == 101 } 1 .. 37) < 37, 'the extra cents are not simply the lowest uids');

my $plans = [ map { @{ mysql_query("SELECT shard, eligible, total_cents, done_upto, digest IS NOT NULL FROM draw_plans WHERE campaign = 'eq'", $_) } } @DrawTest::DBS ];
is(scalar @$plans, 2, 'a plan row per shard');
is($plans->[0][1] + $plans->[1][1], 51, 'their eligible counts sum to 51');
is($plans->[0][2] + $plans->[1][2], 5137, 'their totals to the pool');
ok(!grep({ $_->[3] != $_->[1] || !$_->[4] } @$plans), 'each done up to its count, with its digest');
for my $i (0, 1) {
    my $db = $DrawTest::DBS[$i];
    my $t = $plans->[$i][2];
    is_deeply(mysql_query("SELECT debit, credit, amount_cents FROM ledger_transfers WHERE transfer_id = 'fund:eq:$i'", $db),
              [ [ 'sponsor:eq', 'pool:eq', $t ] ], "$db: the pool funded with its shard's total, $t");
    is_deeply(mysql_query("SELECT debits, credits FROM ledger_accounts WHERE account = 'pool:eq'", $db),
              [ [ 0, $t ] ], "$db: pool:eq holds it");
}
my %amount = map { ($_ => $aw->{$_}[0]) } keys %$aw;
is_deeply([ check_redis('eq', \%amount, 'p') ], [], 'Redis: w = p:amount:award_id on each user\'s shard');

# ---- a re-run writes nothing and prints the same digest -----------------------

my $before = snapshot('eq');
($rc, $out, $err) = draw_run($f);
is($rc, 0, 're-run: exit 0');
is(digest_of($out), $digest, '... the same digest');
like($out, qr/^shard 0: \d+ users, \d+ cents, 0 awards written now, 0 Redis fields set/m, '... shard 0: nothing written');
like($out, qr/^shard 1: \d+ users, \d+ cents, 0 awards written now, 0 Redis fields set/m, '... shard 1: nothing written');
is_deeply(snapshot('eq'), $before, '... MySQL unchanged');

# a credited award is never moved back to pending by a re-run
my $u1 = (sort { $a <=> $b } keys %amount)[0];
my $h1 = redis_index($map->{$u1}[0]);
redis_cmd($h1, 'HSET', user_key($u1), 'w', "c:$amount{$u1}:eq:$u1");
($rc, $out, $err) = draw_run($f);
is($rc, 0, 're-run after a payout notice: exit 0');
is(redis_cmd($h1, 'HGET', user_key($u1), 'w'), "c:$amount{$u1}:eq:$u1", '... the credited field stays credited');

# ---- the eligible set or the settings changed: refused -------------------------

make_eligible(10, 51);
($rc, $out, $err) = draw_run($f);
is($rc, 2, 'a new eligible user after the draw: exit 2');
like($err, qr/shard \d \(127\.0\.0\.1:\d+\/cc_s\d\): the eligible set or settings changed: drawn before with \d+ eligible/, '... saying why');
is_deeply(snapshot('eq'), $before, '... nothing written');
unmake_eligible(51);

($rc, $out, $err) = draw_run(draw_campaign('eq', pool => 51 * 100 + 37, seed => 'autumn'));
is($rc, 2, 'the same campaign with another seed: exit 2');
like($err, qr/the eligible set or settings changed: .* seed key \d+; now .* seed key \d+/, '... saying why');
is_deeply(snapshot('eq'), $before, '... nothing written');

# ---- random ---------------------------------------------------------------------

# a user hash holds one award field (w), for the campaign drawn last:
# each campaign below starts on Redis shards emptied but for the users'
# combine records (the draw checks the eligible against them)
sub fresh_redis {
    redis_fresh();
    redis_cmd($home, 'HSET', user_key(77), 'e', 'set77:' . ($DrawTest::CUTOFF * 1000 - 5));
}
fresh_redis();

# ten fields there before the draw (another campaign's): the loader's
# HSETNX finds them and hands those users to award_set.lua, which sets them
my @stale = (sort { $a <=> $b } @uids)[0 .. 9];
redis_cmd(redis_index($map->{$_}[0]), 'HSET', user_key($_), 'w', "p:5:old:$_") for @stale;

$f = draw_campaign('rnd', pool => 4321, split => 'random', cap => 200);
($rc, $out, $err) = draw_run($f, '--batch', 7);
is($rc, 0, 'random draw in batches of 7: exit 0') or diag $err;
my $set = 0;
$set += $1 while $out =~ /^shard \d: .* (\d+) Redis fields set/mg;
is($set, 51, 'every field set, the ten stale ones too');
$aw = awards_of('rnd');
is(scalar keys %$aw, 51, '51 awards');
($sum, $wrong) = (0, 0);
my %seen;
for my $uid (keys %$aw) {
    $sum += $aw->{$uid}[0];
    $seen{ $aw->{$uid}[0] }++;
    $wrong++ if $aw->{$uid}[0] < 1 || $aw->{$uid}[0] > 200 || $aw->{$uid}[2] ne $map->{$uid}[1];
}
is($sum, 4321, 'the awards sum to the pool');
is($wrong, 0, 'every award in 1..200, in its uid\'s shard');
ok(keys %seen > 10, 'the amounts vary (' . scalar(keys %seen) . ' distinct)');
like($out, qr/^campaign rnd: random split of 4321 cents among 51 eligible users on 2 shards \(cap 200\)/m, 'the summary');
my $rdigest = digest_of($out);
isnt($rdigest, $digest, 'another digest than the equal draw');
%amount = map { ($_ => $aw->{$_}[0]) } keys %$aw;
is_deeply([ check_redis('rnd', \%amount, 'p') ], [], 'Redis: w on each user\'s shard');

# another cap keeps each shard's total (the plan row matches) but not the
# amounts (a cap of 100 binds where 2 x the mean, ~169, would not): the
# awards already written tell
$before = snapshot('rnd');
($rc, $out, $err) = draw_run(draw_campaign('rnd', pool => 4321, split => 'random', cap => 100));
is($rc, 2, 'the same random campaign with another cap: exit 2');
like($err, qr/award rnd:\d+ of \d+ cents is not in this plan \(another amount\): the eligible set or settings changed/,
     '... saying why');
is_deeply(snapshot('rnd'), $before, '... nothing written');

# ---- sync credit: every award credited in the draw -----------------------------

fresh_redis();
$f = draw_campaign('syn', pool => 9999, split => 'random', cap => 500, credit => 'sync');
($rc, $out, $err) = draw_run($f, '--batch', 10);
is($rc, 0, 'sync draw: exit 0') or diag $err;
$aw = awards_of('syn');
%amount = map { ($_ => $aw->{$_}[0]) } keys %$aw;
is(scalar keys %amount, 51, '51 awards');
is_deeply([ check_paid('syn', \%amount) ], [],
          'each credited, one transfer of its amount pool -> wallet, pools empty, ledger balanced');
my $paid = 0;
$paid += mysql_value("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_transfers WHERE campaign = 'syn' AND kind = 'credit'", $_)
    for @DrawTest::DBS;
is($paid, 9999, 'the credits sum to the pool');
is_deeply([ map { mysql_query("SELECT debits - credits FROM ledger_accounts WHERE account = 'pool:syn'", $_)->[0][0] } @DrawTest::DBS ],
          [ 0, 0 ], 'each shard\'s pool account is zero');
is_deeply([ check_redis('syn', \%amount, 'c') ], [], 'Redis: w = c:... on each user\'s shard');
($rc, $out, $err) = draw_run($f);
is_deeply([ $rc, scalar check_paid('syn', \%amount) ], [ 0, 0 ], 'a re-run credits nothing twice');

# ---- --shard K: one shard per process ------------------------------------------

fresh_redis();
$f = draw_campaign('part', pool => 51 * 7, seed => 'p');
($rc, $out, $err) = draw_run($f, '--shard', 1);
is($rc, 0, '--shard 1: exit 0') or diag $err;
is(mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'part'", 'cc_s0'), 0, '... nothing on shard 0');
is(mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'part'", 'cc_s1'),
   scalar(grep { $map->{$_}[1] eq 'cc_s1' } @uids), '... every award of shard 1');
like($out, qr/^digest: pending, shard\(s\) 0 not drawn yet$/m, '... the draw digest waits for shard 0');
unlike($out, qr/^shard 0:/m, '... and shard 0 is not summarised');
($rc, $out, $err) = draw_run($f, '--shard', 0);
is($rc, 0, '--shard 0: exit 0');
my $pdigest = digest_of($out);
ok($pdigest, '... now the draw digest is there');
($rc, $out, $err) = draw_run($f);
is(digest_of($out), $pdigest, 'a run over both shards prints the same digest');
like($out, qr/^shard 0: .* 0 awards written now/m, '... and writes nothing');
is(scalar keys %{ awards_of('part') }, 51, '51 awards in all');

# ---- Redis refuses a field: the draw fails, says why, MySQL keeps the awards ----

# one user's key is not a hash: the source check cannot read its combine
# record, so a fresh draw fails before writing anything
fresh_redis();
my $bad = (sort { $a <=> $b } @uids)[3];
my $hb = redis_index($map->{$bad}[0]);
my $e_bad = redis_cmd($hb, 'HGET', user_key($bad), 'e');
redis_cmd($hb, 'SET', user_key($bad), 'not a hash');
$f = draw_campaign('wt', pool => 5100, seed => 'w');
($rc, $out, $err) = draw_run($f);
is($rc, 1, 'a user key of the wrong type before the draw: exit 1');
like($err, qr/source check: redis \S+: HGET: WRONGTYPE/, '... the source check said why');
is(money_rows('wt'), 0, '... and nothing was written');

# drawn, then the key broken: a re-run skips the source check (the plan
# rows stand) and its final pass of award_set.lua fails on it, said
redis_cmd($hb, 'DEL', user_key($bad));
redis_cmd($hb, 'HSET', user_key($bad), 'e', $e_bad);
($rc, $out, $err) = draw_run($f);
is($rc, 0, 'the key mended: drawn') or diag $err;
redis_cmd($hb, 'SET', user_key($bad), 'not a hash');
($rc, $out, $err) = draw_run($f);
is($rc, 1, 'the key broken after the draw, a re-run: exit 1');
like($err, qr/source check: skipped, every shard to draw was planned by an earlier run/, '... the source check skipped');
like($err, qr/redis \S+: award_set: .*WRONGTYPE/, '... the final pass failed on the key, said');
is(scalar keys %{ awards_of('wt') }, 51, '... the 51 awards are in MySQL all the same');
redis_cmd($hb, 'DEL', user_key($bad));
redis_cmd($hb, 'HSET', user_key($bad), 'e', $e_bad);
($rc, $out, $err) = draw_run($f);
is($rc, 0, 'the key mended, a re-run: exit 0') or diag $err;
$aw = awards_of('wt');
%amount = map { ($_ => $aw->{$_}[0]) } keys %$aw;
is_deeply([ check_redis('wt', \%amount, 'p') ], [], '... and every field is set, that user\'s too');

# ---- bad command lines ---------------------------------------------------------

my $w = spawn_worker('cc-draw', '--help');
is(wait_worker($w, 5), 0, '--help exits 0');
like(worker_stdout($w), qr/usage: cc-draw --campaign FILE/, '... with the usage');
$w = spawn_worker('cc-draw', draw_args());
is(wait_worker($w, 5), 2, 'no --campaign: exit 2');
like(worker_stderr($w), qr/--campaign is needed/, '... saying why');
$w = spawn_worker('cc-draw', '--campaign', $f);
is(wait_worker($w, 5), 2, 'no shards: exit 2');
like(worker_stderr($w), qr/at least one --redis and one --mysql are needed/, '... saying why');
my $bad_file = draw_campaign('bad', pool => 0);
$w = spawn_worker('cc-draw', '--campaign', $bad_file, draw_args());
is(wait_worker($w, 5), 2, 'a bad campaign file: exit 2');
like(worker_stderr($w), qr/cc-draw: \S+: line 2: pool_cents: not a decimal in 1\.\.10\^15/, '... with the file, line and reason');
$w = spawn_worker('cc-draw', '--campaign', '/nonexistent.conf', draw_args());
is(wait_worker($w, 5), 2, 'a missing campaign file: exit 2');
like(worker_stderr($w), qr{/nonexistent\.conf: No such file or directory}, '... saying why');
$w = spawn_worker('cc-draw', '--campaign', $f, draw_args(), '--shard', 2);
is(wait_worker($w, 5), 2, '--shard past the shards: exit 2');
like(worker_stderr($w), qr/--shard 2, but there are 2 MySQL shards \(0\.\.1\)/, '... saying why');
$w = spawn_worker('cc-draw', '--campaign', $f, draw_args(), '--batch', 0);
is(wait_worker($w, 5), 2, '--batch 0: exit 2');
like(worker_stderr($w), qr/--batch must be an integer in 1\.\.20000, not "0"/, '... saying why');
$w = spawn_worker('cc-draw', '--campaign', $f, '--redis', 'nohost', '--mysql', 'h:1/db');
is(wait_worker($w, 5), 2, 'a bad --redis: exit 2');
like(worker_stderr($w), qr/bad --redis "nohost", expected host:port/, '... saying why');
$w = spawn_worker('cc-draw', '--campaign', $f, '--redis', (split ' ', $ENV{TEST_NGINX_REDIS_SHARDS})[0],
                  '--mysql', '127.0.0.1:' . free_port() . '/cc_s0');
is(wait_worker($w, 20), 1, 'MySQL unreachable: exit 1');
like(worker_stderr($w), qr/mysql: shard 127\.0\.0\.1:\d+\/cc_s0: connect: .*; not drawing/, '... saying why');

done_testing();
