# A gift's two halves (issue 19) reach sharded MySQL once each, by both
# roads: Kafka through cc-ingest, and the Redis draw logs through the
# cc-reconcile safety net; each half on its own user's shard, the given /
# received counts moved only by a half that really inserted; bad halves
# become dead letters (Kafka) or skipped lines (the log) with a reason.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use Time::HiRes qw(time);

mysql_start();
kafka_start(partitions => 4);
run_worker([ 'cc-ingest', '--init-shards', map { ('--mysql', $_) } mysql_shards() ], timeout => 20, ok => 1);

# a giver and a receiver on different MySQL shards, and two more users
my $db = shard_of_uids(1 .. 40);
my ($G) = grep { $db->{$_} eq 'cc_s0' } sort { $a <=> $b } keys %$db;
my ($R, $R2) = grep { $db->{$_} eq 'cc_s1' } sort { $a <=> $b } keys %$db;
my $other = { cc_s0 => 'cc_s1', cc_s1 => 'cc_s0' };
ok($G && $R && $R2, "giver $G on cc_s0, receivers $R and $R2 on cc_s1");

my $ms = int(time * 1000);

sub out_msg {
    my ($giver, $to, $card, $rid, $ts) = @_;
    return qq({"type":"gift_out","gift_id":"$giver:$rid","uid":"$giver","to":"$to","card":$card,"ts":$ts});
}

sub in_msg {
    my ($giver, $to, $card, $rid, $ts) = @_;
    return qq({"type":"gift_in","gift_id":"$giver:$rid","uid":"$to","from":"$giver","card":$card,"ts":$ts});
}

# lines "key\tvalue" onto the topic
sub produce {
    my (@lines) = @_;
    my $file = CcTest::Util::topdir() . '/produce.' . int(rand 1e9);
    open(my $fh, '>', $file) or die "$file: $!";
    print $fh map { "$_\n" } @lines;
    close $fh;
    my $p = spawn_worker('/bin/sh', '-c', "$CcTest::WorkerDir/cc-produce --brokers $ENV{TEST_KAFKA_BROKERS} < $file");
    return wait_worker($p, 20);
}

# a shard's halves, in (gift_id, side) order (Perl's: the ids mix uids)
sub moves {
    my ($d) = @_;
    return [ sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] }
             @{ mysql_query('SELECT gift_id, side, uid, peer, card, moved_at FROM gift_moves', $d) } ];
}

sub by_id { [ sort { $a->[0] cmp $b->[0] || $a->[1] cmp $b->[1] } @_ ] }

sub counts {
    my ($d) = @_;
    return mysql_query('SELECT uid, card, given, received FROM gift_counts ORDER BY uid, card', $d);
}

sub all_moves { mysql_value('SELECT COUNT(*) FROM cc_s0.gift_moves') + mysql_value('SELECT COUNT(*) FROM cc_s1.gift_moves') }

# ---- Kafka: both halves, each in its user's shard ---------------------------

my $ingest = start_ingest();

is(produce("$G\t" . out_msg($G, $R, 2, 'g1', $ms), "$R\t" . in_msg($G, $R, 2, 'g1', $ms + 5),
           "$G\t" . out_msg($G, $R2, 3, 'g2', $ms + 10)), 0,
   'gift g1 (both halves) and g2 (the giver\'s half only: in transit) produced');
ok(wait_until(sub { all_moves() == 3 }, 20), 'three halves in MySQL') or diag 'have ' . all_moves();
is_deeply(moves('cc_s0'), by_id([ "$G:g1", 'o', $G, $R, 2, $ms ], [ "$G:g2", 'o', $G, $R2, 3, $ms + 10 ]),
          "the giver's halves in the giver's shard, with peer, card and time");
is_deeply(moves('cc_s1'), [ [ "$G:g1", 'i', $R, $G, 2, $ms + 5 ] ], "the receiver's half in the receiver's shard");
is_deeply(counts('cc_s0'), [ [ $G, 2, 1, 0 ], [ $G, 3, 1, 0 ] ], 'the giver: one card of kind 2 and one of 3 given');
is_deeply(counts('cc_s1'), [ [ $R, 2, 0, 1 ] ], 'the receiver: one of kind 2 received; nothing yet for the gift in transit');

# ---- gift ids differ by case: two gifts ----------------------------------------

is(produce("$G\t" . out_msg($G, $R, 1, 'Case', $ms), "$G\t" . out_msg($G, $R, 1, 'case', $ms)), 0,
   'two gifts whose request ids differ only by case');
ok(wait_until(sub { all_moves() == 5 }, 20), 'two halves, not one: the id compares as bytes')
    or diag 'have ' . all_moves();
is(mysql_value("SELECT given FROM gift_counts WHERE uid = $G AND card = 1", 'cc_s0'), 2, 'two cards of kind 1 given');
# out of the way of the exact rows below (the replay brings them back once)
mysql_query("DELETE FROM gift_moves WHERE gift_id IN ('$G:Case', '$G:case'); DELETE FROM gift_counts WHERE card = 1", 'cc_s0');
ok(wait_until(sub { worker_stderr($ingest) =~ /5 read, 5 inserted, 0 duplicate/ }, 10), 'cc-ingest: 5 read, 5 inserted')
    or diag worker_stderr($ingest);

# ---- redelivered: once ------------------------------------------------------

is(produce("$G\t" . out_msg($G, $R, 2, 'g1', $ms), "$R\t" . in_msg($G, $R, 2, 'g1', $ms + 5)), 0,
   'the same two halves produced again (a producer retry)');
is(produce("$R2\t" . in_msg($G, $R2, 3, 'g2', $ms + 20)), 0, "and g2's receiver's half, late");
ok(wait_until(sub { all_moves() == 4 }, 20), "g2's receiver's half in");
ok(wait_until(sub { worker_stderr($ingest) =~ /8 read, 6 inserted, 2 duplicate, 0 dead/ }, 10),
   'cc-ingest: 8 read, 6 inserted, 2 duplicate') or diag worker_stderr($ingest);
is_deeply(counts('cc_s0'), [ [ $G, 2, 1, 0 ], [ $G, 3, 1, 0 ] ], 'the giver\'s counts unchanged by the redelivery');
is_deeply(counts('cc_s1'), [ [ $R, 2, 0, 1 ], [ $R2, 3, 0, 1 ] ], 'the receivers: one card each');

# ---- bad halves: dead letters with their reason -----------------------------

is(produce("$G\t" . out_msg($G, $G, 2, 'self', $ms),
           "$G\t" . out_msg($G, $R, 16, 'card', $ms),
           "$R\t" . in_msg($G, $R, 2, 'x y', $ms),
           "$R\t" . qq({"type":"gift_in","gift_id":"$R:imp","uid":"$R","from":"$G","card":2,"ts":$ms}),
           "$R\t" . qq({"type":"gift_in","gift_id":"$G:nofrom","uid":"$R","card":2,"ts":$ms}),
           "$G\t" . qq({"type":"gift_out","gift_id":"$G:nots","uid":"$G","to":"$R","card":2}),
           "$G\t" . qq({"type":"gift_out","gift_id":"$G:nouid","to":"$R","card":2,"ts":$ms})), 0,
   'seven bad halves produced');
my $dead = wait_until(sub { my $d = mysql_query('SELECT reason, payload FROM dead_letters', 'cc_s0');
                            @$d == 7 ? $d : undef }, 20);
# four partitions: the letters come in any order; each by its gift id
is_deeply([ sort map { ($_->[1] =~ /"gift_id":"\d+:([^"]+)"/)[0] . ": $_->[0]" } @{ $dead // [] } ],
          [ 'card: bad card', 'imp: bad gift_id', 'nofrom: bad from', 'nots: bad ts', 'nouid: bad uid',
            'self: bad to', 'x y: bad gift_id' ],
          'each a dead letter with its reason, and its payload: a gift to oneself, a kind out of range, '
          . 'a bad request id, a gift id not of the giver, no from, no ts, no uid');
is(all_moves(), 4, 'no half of them written');
ok(worker_alive($ingest), 'cc-ingest lives on');
is(stop_worker($ingest, 'TERM', 10), 0, 'SIGTERM: cc-ingest exits 0');
like(worker_stderr($ingest), qr/stopping: 15 read, 6 inserted, 2 duplicate, 7 dead/, 'and says what it did');

# ---- the whole topic again under another group: nothing twice ---------------

my $again = start_ingest('group', '--group', 'replay', '--exit-idle', 5);
is(wait_worker($again, 40), 0, 'a second consumer group reads the whole topic again');
like(worker_stderr($again), qr/stopping: 15 read, 2 inserted, 6 duplicate, 7 dead/,
     'every half a duplicate, every bad one dead again (but the two deleted by hand)');
is(all_moves(), 6, 'four halves, and the two deleted by hand back once');
is_deeply([ @{ counts('cc_s0') }, @{ counts('cc_s1') } ],
          [ [ $G, 1, 2, 0 ], [ $G, 2, 1, 0 ], [ $G, 3, 1, 0 ], [ $R, 2, 0, 1 ], [ $R2, 3, 0, 1 ] ],
          'and the same counts');
mysql_query("DELETE FROM gift_moves WHERE gift_id IN ('$G:Case', '$G:case'); DELETE FROM gift_counts WHERE card = 1", 'cc_s0');
is(mysql_value('SELECT COUNT(*) FROM dead_letters', 'cc_s0'), 7, 'redelivered bad halves are not kept twice');

# ---- the safety net: the halves in the Redis logs ----------------------------

# each half in its own user's Redis shard's log, as the gift scripts append
# them (whichever shard that is: the log pass writes rows by uid)
sub log_half {
    my ($shard, $side, $giver, $uid, $peer, $card, $rid, $ts) = @_;
    return redis_cmd($shard, 'XADD', log_key(), '*', 'y', "g$side", 'g', "$giver:$rid", 'u', $uid,
                     'p', $peer, 'k', $card, 't', $ts);
}

my $t3 = $ms + 100;
log_half(0, 'o', $G, $G, $R, 4, 'g3', $t3);
log_half(1, 'i', $G, $R, $G, 4, 'g3', $t3 + 1);
log_half(0, 'o', $R2, $R2, $G, 3, 'g4', $t3 + 2);          # R2 passes g2's card on
log_half(1, 'o', $G, $G, $R, 2, 'g1', $ms);                # g1 again: Kafka delivered it
my ($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile --once exits 0') or diag $err;
like($err, qr/pass done: 4 draws checked, 3 written, 0 unreadable/,
     'four halves read from the logs, three were missing from MySQL');
is(redis_cmd(0, 'XLEN', log_key()) + redis_cmd(1, 'XLEN', log_key()), 0, 'and the logs are trimmed');
is_deeply(moves('cc_s0'), by_id([ "$G:g1", 'o', $G, $R, 2, $ms ], [ "$G:g2", 'o', $G, $R2, 3, $ms + 10 ],
                                [ "$G:g3", 'o', $G, $R, 4, $t3 ]), "g3's giver's half in the giver's shard");
is_deeply(moves('cc_s1'), by_id([ "$G:g1", 'i', $R, $G, 2, $ms + 5 ], [ "$G:g2", 'i', $R2, $G, 3, $ms + 20 ],
                                [ "$G:g3", 'i', $R, $G, 4, $t3 + 1 ], [ "$R2:g4", 'o', $R2, $G, 3, $t3 + 2 ]),
          "g3's receiver's half and g4's giver's half in the receivers' shard");
is_deeply([ @{ counts('cc_s0') }, @{ counts('cc_s1') } ],
          [ [ $G, 2, 1, 0 ], [ $G, 3, 1, 0 ], [ $G, 4, 1, 0 ],
            [ $R, 2, 0, 1 ], [ $R, 4, 0, 1 ], [ $R2, 3, 1, 1 ] ], 'each count moved once');

# the same halves again in the logs (a pass that died before its trim) and
# on Kafka (the fast path, late): nothing twice
log_half(0, 'o', $G, $G, $R, 4, 'g3', $t3);
log_half(1, 'i', $G, $R, $G, 4, 'g3', $t3 + 1);
($rc, $err) = run_reconcile();
like($err, qr/pass done: 2 draws checked, 0 written/, 'a replayed log: two halves read, none written');
is(produce("$G\t" . out_msg($G, $R, 4, 'g3', $t3), "$R\t" . in_msg($G, $R, 4, 'g3', $t3 + 1),
           "$R2\t" . out_msg($R2, $G, 3, 'g4', $t3 + 2), "$G\t" . in_msg($R2, $G, 3, 'g4', $t3 + 3)), 0,
   'and the same halves on Kafka, with g4\'s receiver\'s half that only Kafka has');
$ingest = start_ingest('--exit-idle', 3);
is(wait_worker($ingest, 40), 0, 'cc-ingest reads them');
like(worker_stderr($ingest), qr/stopping: 4 read, 1 inserted, 3 duplicate, 0 dead/,
     'only the half MySQL lacked inserts');
is(all_moves(), 8, 'eight halves: four gifts, each half once');
is_deeply([ @{ counts('cc_s0') }, @{ counts('cc_s1') } ],
          [ [ $G, 2, 1, 0 ], [ $G, 3, 1, 1 ], [ $G, 4, 1, 0 ],
            [ $R, 2, 0, 1 ], [ $R, 4, 0, 1 ], [ $R2, 3, 1, 1 ] ], 'no count moved twice');

# ---- bad halves in the log: skipped with a reason, the good ones written -----

redis_cmd(0, 'XADD', log_key(), '*', 'y', 'go', 'g', "$G:b1", 'u', $G, 'p', $G, 'k', 2, 't', $ms);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'go', 'g', "$G:b2", 'u', $G, 'p', $R, 'k', 16, 't', $ms);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'gi', 'g', "$R:b3", 'u', $R, 'p', $G, 'k', 2, 't', $ms);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'gi', 'g', "$G:b4", 'u', $R, 'k', 2, 't', $ms);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'gx', 'g', "$G:b5", 'u', $G, 'p', $R, 'k', 2, 't', $ms);
log_half(0, 'o', $G, $G, $R, 1, 'g5', $ms + 200);
log_half(0, 'o', $G, $G, $R, 1, 'g5', $ms + 200);         # twice in one batch
log_half(0, 'o', $G, $G, $R2, 3, 'g1', $ms + 300);        # g1's id again, another gift
($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile exits 0 over unreadable halves');
like($err, qr/pass done: 3 draws checked, 1 written, 5 unreadable/,
     'the good half written once (twice in one batch), the five bad counted');
like($err, qr/gift $G:g1 side o reused: MySQL holds uid $G peer $R card 2, this half is uid $G peer $R2 card 3 \(at ${\($ms + 300)} ms\), not written/,
     'a gift id used again for another gift: logged whole, not written');
like($err, qr/skipping log entry \d+-\d+: bad to\n/, 'a gift to oneself is named');
like($err, qr/skipping log entry \d+-\d+: bad card\n/, 'a kind out of range');
like($err, qr/skipping log entry \d+-\d+: bad gift_id\n/, 'a gift id not of the giver');
like($err, qr/skipping log entry \d+-\d+: bad from\n/, 'no from');
like($err, qr/skipping log entry \d+-\d+: unknown type\n/, 'an unknown half');
is(all_moves(), 9, 'only the good half written');
is_deeply(counts('cc_s0'), [ [ $G, 1, 1, 0 ], [ $G, 2, 1, 0 ], [ $G, 3, 1, 1 ], [ $G, 4, 1, 0 ] ],
          "g5 counted, the giver's other counts untouched by the other gift");
is(redis_cmd(0, 'XLEN', log_key()), 0, 'and the log trimmed past the bad ones');

done_testing();
