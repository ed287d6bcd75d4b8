# cc-payout against real mariadbd and Redis: awards seeded with SQL (as
# cc-draw writes them) are credited once each, with the ledger, the award
# rows and the Redis notice checked; retries, mismatches, unfunded pools,
# claims first, sync mode, bad usage.  Crashes and outages: t/042.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use File::Temp qw(tempdir);

payout_setup();

# ---- usage ------------------------------------------------------------------

my ($rc, $out, $err) = payout_run([]);
is($rc, 2, 'no arguments: exit 2');
like($err, qr/--campaign, --redis and --mysql are required/, 'and says what is missing');
($rc, $out) = payout_run(['--help']);
is($rc, 0, '--help: exit 0');
like($out, qr/^usage: cc-payout --campaign FILE.*--once.*Exit status/s, 'the usage text');
($rc, undef, $err) = payout_run([ '--batch', 0 ], campaign_file('c1'));
is($rc, 2, '--batch 0: exit 2');
like($err, qr/--batch must be an integer in 1\.\.50000, not "0"/, 'and why');
($rc, undef, $err) = payout_run([ '--claims-batch', 50001 ], campaign_file('c1'));
is($rc, 2, '--claims-batch 50001: exit 2');
like($err, qr/--claims-batch must be an integer in 1\.\.50000, not "50001"/, 'and why');
($rc, undef, $err) = payout_run([ '--claims-yield-ms', 1001 ], campaign_file('c1'));
is($rc, 2, '--claims-yield-ms 1001: exit 2');
like($err, qr/--claims-yield-ms must be an integer in 0\.\.1000, not "1001"/, 'and why');
($rc, undef, $err) = payout_run([ '--claims-yield-ms', '-1' ], campaign_file('c1'));
is($rc, 2, '--claims-yield-ms -1: exit 2');
($rc, undef, $err) = payout_run([ '--claims-idle-ms', 'x' ], campaign_file('c1'));
is($rc, 2, '--claims-idle-ms x: exit 2');
like($err, qr/--claims-idle-ms must be an integer in 1\.\.10000, not "x"/, 'and why');
($rc, undef, $err) = payout_run([ '--campaign', '/nonexistent' ]);
is($rc, 2, 'a missing campaign file: exit 2');
like($err, qr{campaign file /nonexistent: .*No such file}, 'and why');
my $bad = campaign_file('c1', extra => "bogus 1\n");
($rc, undef, $err) = payout_run([], $bad);
is($rc, 2, 'a campaign file with an unknown name: exit 2');
like($err, qr/campaign file .*: line 7: .*bogus/, 'with the line');
($rc, undef, $err) = payout_run([ '--redis', 'nohost' ], campaign_file('c1'));
is($rc, 2, 'a --redis without a port: exit 2');
like($err, qr/bad --redis "nohost", expected host:port/, 'and why');
($rc, undef, $err) = payout_run([ 'extra' ], campaign_file('c1'));
is($rc, 2, 'a stray argument: exit 2');

# ---- the script that never moves a status back ----------------------------------

my $lua = do { local $/; open my $f, '<', 'workers/lib/lua/award_set.lua' or die $!; <$f> };
my $k = user_key(77);
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'p:5:x:77'), 1, 'award_set: p on nothing: written');
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'p:5:x:77'), 0, 'the same again: 0');
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'c:5:x:77'), 1, 'c over p: written');
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'p:5:x:77'), 0, 'p over c: refused');
is(redis_cmd(0, 'HGET', $k, 'w'), 'c:5:x:77', 'the field stays credited');
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'p:9:y:77'), 1, 'p of another award (a later campaign) over c: written');
is(redis_cmd(0, 'HGET', $k, 'w'), 'p:9:y:77', '... the field holds the new award');
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'c:9:y:77'), 1, 'and its c over it: written');
is(redis_cmd(0, 'EVAL', $lua, 1, $k, 'p:9:y:77'), 0, 'its p again: refused, the same award credited');
my $e = eval { redis_cmd(0, 'EVAL', $lua, 1, $k, 'x:1') } // $@;
like("$e", qr/must start p: or c:/, 'a value of neither kind: an error');
redis_cmd(0, 'DEL', $k);

# many users a call (how both workers call it): each user on its own
my @k3 = map { user_key($_) } 78 .. 80;
redis_cmd(0, 'HSET', $k3[1], 'w', 'c:6:x:79');
is(redis_cmd(0, 'EVAL', $lua, 3, @k3, 'p:5:x:78', 'p:6:x:79', 'p:7:x:80'), 2,
   'award_set of 3 users: the 2 not credited written');
is_deeply([ map { redis_cmd(0, 'HGET', $_, 'w') } @k3 ], [ 'p:5:x:78', 'c:6:x:79', 'p:7:x:80' ],
          'each user\'s field its own value; the credited one kept');
is(redis_cmd(0, 'EVAL', $lua, 3, @k3, 'c:5:x:78', 'c:6:x:79', 'c:7:x:80'), 2, 'c over them: the 2 pending written');
$e = eval { redis_cmd(0, 'EVAL', $lua, 2, user_key(81), user_key(82), 'p:1:x:81', 'x:1') } // $@;
like("$e", qr/must start p: or c:/, 'one bad value among many: an error');
is_deeply([ map { redis_cmd(0, 'EXISTS', user_key($_)) } 81, 82 ], [ 0, 0 ], '... and nothing written, the good one neither');
$e = eval { redis_cmd(0, 'EVAL', $lua, 2, user_key(81), user_key(82), 'p:1:x:81') } // $@;
like("$e", qr/one value per key/, 'fewer values than keys: an error');
is(redis_cmd(0, 'EXISTS', user_key(81)), 0, '... nothing written');
redis_cmd(0, 'DEL', @k3);

# ---- a payout of pending awards ---------------------------------------------

my $c1 = campaign_file('c1');
my %amount = map { ($_ => 100 + $_ % 7) } 1 .. 300;
seed_awards('c1', \%amount);
is_deeply(award_states('c1'), { 'pending/0' => 300 }, '300 pending awards seeded');

my $prom = tempdir('cc-prom-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/payout.prom';
($rc, $out, $err) = payout_run([ '--once', '--batch', 50, '--metrics-file', $prom ], $c1);
is($rc, 0, 'cc-payout --once: exit 0') or diag $err;
like($err, qr/done: 300 credited \(0 on claims\), 0 already credited, 0 mismatch, 0 no funds, 300 notified/,
     'it says what it did');
is_deeply(award_states('c1'), { 'credited/1' => 300 }, 'every award credited and notified');
is_deeply([ check_paid('c1', \%amount) ], [], 'one transfer per award, its amount, to its wallet; pools empty; books balanced');
is_deeply([ check_redis('c1', \%amount, 'c') ], [], 'Redis: w = "c:amount:award_id" on the uid\'s shard, nowhere else');
my $text = do { local $/; open my $f, '<', $prom or die "$prom: $!"; <$f> };
like($text, qr/^cc_payout_rows_total 300$/m, 'the metrics file: 300 credited');
like($text, qr/^cc_payout_notified_total 300$/m, '300 notified');
like($text, qr/^cc_payout_mismatch_total 0$/m, 'no mismatch');
like($text, qr/^cc_payout_last_success_timestamp_seconds \d+/m, 'a last success time');
ok(!-e "$prom.tmp", 'written by rename: no .tmp left');
SKIP: {
    skip 'promtool not installed', 1 unless grep { -x "$_/promtool" } split /:/, $ENV{PATH};
    my $check = `promtool check metrics < $prom 2>&1`;
    is($?, 0, 'promtool check metrics accepts it') or diag $check;
}
is(mysql_value("SELECT COUNT(*) FROM awards WHERE credited_at IS NULL OR credited_at < created_at", 'cc_s0')
 + mysql_value("SELECT COUNT(*) FROM awards WHERE credited_at IS NULL OR credited_at < created_at", 'cc_s1'), 0,
   'each has its credit time');

my $before = ledger_snapshot();
($rc, $out, $err) = payout_run([ '--once' ], $c1);
is($rc, 0, 'a retried payout: exit 0');
like($err, qr/done: 0 credited \(0 on claims\), 0 already credited, 0 mismatch, 0 no funds, 0 notified/, 'nothing to do');
is_deeply(ledger_snapshot(), $before, 'no transfer written, no account changed');

# crash between commit and notice: the outbox sends it again
mysql_query("UPDATE awards SET notified = 0 WHERE uid IN (3, 4, 5)", $_) for qw(cc_s0 cc_s1);
redis_cmd($_, 'HSET', user_key(4), 'w', "p:$amount{4}:c1:4") for grep { redis_cmd($_, 'HEXISTS', user_key(4), 'w') } 0, 1;
($rc, $out, $err) = payout_run([ '--once' ], $c1);
is($rc, 0, 'credited awards without their notice: exit 0');
like($err, qr/done: 0 credited .* 3 notified/, 'the outbox notifies them, credits nothing');
is_deeply(award_states('c1'), { 'credited/1' => 300 }, 'all notified');
is_deeply([ check_redis('c1', \%amount, 'c') ], [], 'Redis credited again where it had been lost');
is_deeply(ledger_snapshot(), $before, 'and no money moved');

# ---- mismatch and no funds ----------------------------------------------------

my %a2 = map { ($_ => 50) } 1001 .. 1010;
seed_awards('c2', \%a2);
my $db1001 = shard_db(1001);
# someone credited award c2:1001 with another amount (fund it so the pool is not the reason)
mysql_query("INSERT INTO ledger_transfers VALUES ('c2:1001','pool:c2','wallet:1001',51,'c2','credit','c2:1001',1, NULL)", $db1001);
($rc, $out, $err) = payout_run([ '--once' ], campaign_file('c2'));
is($rc, 1, 'an award credited in the ledger with another amount: exit 1') or diag $err;
like($err, qr/award c2:1001: MISMATCH: the ledger holds transfer c2:1001 with another amount or wallet; not paid \(50 cents to uid 1001 stays pending\)/,
     'named in a MISMATCH line');
like($err, qr/done: 9 credited .* 1 mismatch/, 'the other nine credited');
is_deeply(mysql_query("SELECT status, notified FROM awards WHERE award_id = 'c2:1001'", $db1001), [ [ 'pending', 0 ] ],
          'the mismatched award stays pending');
is_deeply(mysql_query("SELECT amount_cents FROM ledger_transfers WHERE award_id = 'c2:1001'", $db1001), [ [51] ],
          'and is not paid twice: one transfer, the first');
is(mysql_value("SELECT credits FROM ledger_accounts WHERE account = 'wallet:1001'", $db1001), undef,
   'no wallet credit from the payout');
($rc, undef, $err) = payout_run([ '--once' ], campaign_file('c2'));
is($rc, 1, 'run again: still exit 1');
like($err, qr/done: 0 credited .* 1 mismatch/, 'still reported, still not paid');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE award_id = 'c2:1001'", $db1001), 1, 'still one transfer');

my %a3 = map { ($_ => 70) } 2001 .. 2004;
seed_awards('c3', \%a3, fund => 0);
($rc, undef, $err) = payout_run([ '--once' ], campaign_file('c3'));
is($rc, 1, 'awards of a pool never funded: exit 1');
like($err, qr/NO_FUNDS: credit: pool:c3 holds less than the \d+ cents .*left pending/, 'NO_FUNDS said');
like($err, qr/done: 0 credited .* 4 no funds/, 'counted');
is_deeply(award_states('c3'), { 'pending/0' => 4 }, 'the awards stay pending');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'c3'", 'cc_s0')
 + mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'c3'", 'cc_s1'), 0, 'no transfer');

# ---- claims first -------------------------------------------------------------

my %a4 = map { ($_ => 10 + $_ % 3) } 3001 .. 6000;
seed_awards('c4', \%a4);
my $where = shard_map(keys %a4);
my @last = (sort { "c4:$b" cmp "c4:$a" } keys %a4)[0 .. 9];     # the bulk reaches these last
redis_cmd(redis_index($where->{$_}[0]), 'RPUSH', claims_key(), $_) for @last;
($rc, undef, $err) = payout_run([ '--once', '--batch', 20 ], campaign_file('c4'));
is($rc, 0, 'a payout with 10 claims queued: exit 0') or diag $err;
like($err, qr/done: 3000 credited \(10 on claims\)/, 'the 10 claimed awards credited on the claims step');
is(redis_cmd(0, 'LLEN', claims_key()) + redis_cmd(1, 'LLEN', claims_key()), 0, 'the claims queues are empty');
my $ids = join ',', map { "'c4:$_'" } @last;
my ($claimed_max, $bulk_min) = (0, 9e18);
for my $db (qw(cc_s0 cc_s1)) {
    my $r = mysql_query("SELECT MAX(IF(award_id IN ($ids), credited_at, 0)), MIN(IF(award_id IN ($ids), NULL, credited_at)) FROM awards WHERE campaign = 'c4'", $db)->[0];
    $claimed_max = $r->[0] if $r->[0] > $claimed_max;
    $bulk_min = $r->[1] if defined $r->[1] && $r->[1] < $bulk_min;
}
ok($claimed_max <= $bulk_min, "the claimed awards were credited before any of the bulk ($claimed_max <= $bulk_min)");
is_deeply([ check_paid('c4', \%a4) ], [], 'every award paid once');
is_deeply([ check_redis('c4', \%a4, 'c') ], [], 'and notified');

# a daemon serves a claim at once, not at its next pass
my %a5 = map { ($_ => 25) } 7001 .. 7020;
seed_awards('c5', \%a5, extra_fund => { shard_db(7021) => 25 });
my $d = spawn_payout([ '--interval', 3600, '--progress', 1 ], campaign_file('c5'));
ok(wait_until(sub { (award_states('c5')->{'credited/1'} // 0) == 20 }, 30), 'the daemon pays the 20 pending awards');
seed_awards('c5', { 7021 => 25 }, fund => 0);
my $rs = redis_index(shard_map(7021)->{7021}[0]);
sleep 1;
is(mysql_value("SELECT status FROM awards WHERE award_id = 'c5:7021'", shard_db(7021)), 'pending',
   'an award written after the pass waits for the next pass (an hour away)');
redis_cmd($rs, 'RPUSH', claims_key(), 7021);
ok(wait_until(sub { (redis_cmd($rs, 'HGET', user_key(7021), 'w') // '') eq 'c:25:c5:7021' }, 5),
   'its claim: credited and notified within seconds');
is(mysql_value("SELECT CONCAT(status, '/', notified) FROM awards WHERE award_id = 'c5:7021'", shard_db(7021)), 'credited/1',
   'MySQL: credited, notified');
ok(wait_until(sub { worker_stderr($d) =~ /progress: 21 credited \(1 on claims\)/ }, 5), 'a progress line says so');
is(stop_worker($d, 'TERM', 10), 0, 'SIGTERM: exit 0');
like(worker_stderr($d), qr/stopping: 21 credited \(1 on claims\)/, 'with its last line');
is_deeply([ check_paid('c5', { %a5, 7021 => 25 }) ], [], 'books of c5 balanced, each paid once');

# ---- claims that are not uids: dropped, logged, counted, never credited --------
# (strtoull read "-1" as 2^64-1 and "+9101", " 9102", "09103" as uids)

my %a7 = map { ($_ => 30) } 9101 .. 9103;
seed_awards('c7', \%a7);
my @bad_claims = ('-1', '+9101', ' 9102', '09103', '9103x', '18446744073709551616', '', '0');
redis_cmd(0, 'RPUSH', 'cc:claims', @bad_claims);
redis_cmd(redis_index(shard_map(9101)->{9101}[0]), 'RPUSH', 'cc:claims', 9101);
my $prom7 = tempdir('cc-prom-XXXXXX', TMPDIR => 1, CLEANUP => 1) . '/payout.prom';
($rc, undef, $err) = payout_run([ '--once', '--metrics-file', $prom7 ], campaign_file('c7'));
is($rc, 0, 'a payout with 8 bad claims queued: exit 0') or diag $err;
for my $b (@bad_claims) {
    like($err, qr/skipping claim "\Q$b\E": not a uid/, "claim \"$b\": dropped and logged");
}
like($err, qr/done: 3 credited \(1 on claims\), .* 3 notified, 8 bad claims;/,
     'the one good claim credited on the claims step, the 8 bad ones counted, none credited');
my $text7 = do { local $/; open my $f, '<', $prom7 or die "$prom7: $!"; <$f> };
like($text7, qr/^cc_payout_bad_claims_total 8$/m, 'the metrics file counts them');
is(redis_cmd(0, 'LLEN', 'cc:claims') + redis_cmd(1, 'LLEN', 'cc:claims'), 0, 'the claims queues are empty');
is_deeply([ check_paid('c7', \%a7) ], [], 'each award paid once, by its own id');
is(mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'c7' AND uid NOT IN (9101, 9102, 9103)", 'cc_s0')
 + mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'c7' AND uid NOT IN (9101, 9102, 9103)", 'cc_s1'), 0,
   'no award for another uid');

# ---- sync mode: the draw credited, payout only notifies ------------------------

my %a6 = map { ($_ => 40) } 8001 .. 8030;
seed_awards('c6', \%a6, credited => 1);
seed_awards('c6', { 8031 => 40 }, fund => 0);
($rc, undef, $err) = payout_run([ '--once' ], campaign_file('c6', credit => 'sync'));
is($rc, 0, 'sync mode: exit 0') or diag $err;
like($err, qr/\(sync: credited by cc-draw, notices only\)/, 'it says it only notifies');
like($err, qr/done: 0 credited .* 30 notified/, 'the 30 credited awards notified, nothing credited');
is_deeply(award_states('c6'), { 'credited/1' => 30, 'pending/0' => 1 }, 'a pending award is left to cc-draw');
is_deeply([ check_redis('c6', \%a6, 'c') ], [], 'Redis credited for the 30');

done_testing();
