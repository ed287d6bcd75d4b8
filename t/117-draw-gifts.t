# cc-draw drains every draw log before it splits the pool (cc_drain, grace
# 0): a log that holds gift halves (issue 19) beside the draws and the
# combines is drained whole, the halves into their users' MySQL shards once,
# a bad half skipped, and the draw goes on; the gift keys in Redis (the
# outbox, the applied sets) do not disturb its source check, which scans
# the user hashes.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest qw(shard_map redis_index);
use DrawTest;

draw_setup();

my $map = make_eligible(1000, 1 .. 4);
my $ms = $DrawTest::CUTOFF * 1000 - 5000;
my $giver = 5;
my ($to) = grep { $_ > 5 && shard_map($_)->{$_}[1] ne shard_map($giver)->{$giver}[1] } 6 .. 60;
my $gr = redis_index(shard_map($giver)->{$giver}[0]);
my $tr = redis_index(shard_map($to)->{$to}[0]);

# a gift as its scripts leave it: each half in its own user's shard's log,
# the outbox emptied, the id applied; a half of another gift in transit;
# a half that does not read
redis_cmd($gr, 'XADD', log_key(), '*', 'd', "$giver:1:3:$ms:a1");
redis_cmd($gr, 'XADD', log_key(), '*', 'y', 'go', 'g', "$giver:gift1", 'u', $giver, 'p', $to, 'k', 3, 't', $ms);
redis_cmd($tr, 'XADD', log_key(), '*', 'y', 'gi', 'g', "$giver:gift1", 'u', $to, 'p', $giver, 'k', 3, 't', $ms + 1);
redis_cmd($tr, 'SADD', "cc:{$to}:gi", "$giver:gift1");
redis_cmd($gr, 'XADD', log_key(), '*', 'y', 'go', 'g', "$giver:gift2", 'u', $giver, 'p', $to, 'k', 1, 't', $ms + 2);
redis_cmd($gr, 'ZADD', 'cc:outbox', $ms + 2, "$giver:gift2:$to:1");
redis_cmd($gr, 'XADD', log_key(), '*', 'y', 'gi', 'g', "$giver:bad", 'u', $giver, 'p', $giver, 'k', 1, 't', $ms);

my $c = draw_campaign('g1', pool => 400);
my ($rc, $out, $err) = draw_run($c);
is($rc, 0, 'cc-draw draws over a log with gift halves') or diag $err;
my ($read, $new) = (0, 0);
while ($err =~ /log drained: (\d+) draws and combines, (\d+) were missing from MySQL/g) { $read += $1; $new += $2 }
is("$read $new", '4 4', 'the logs drained: the draw and the three good gift halves, each missing from MySQL')
    or diag $err;
like($err, qr/skipping log entry \d+-\d+: bad from/, 'the bad half named');
is(redis_cmd(0, 'XLEN', log_key()) + redis_cmd(1, 'XLEN', log_key()), 0, 'both logs trimmed');
my $gdb = shard_map($giver)->{$giver}[1];
my $tdb = shard_map($to)->{$to}[1];
is_deeply(mysql_query("SELECT gift_id, side, card FROM gift_moves ORDER BY gift_id", $gdb),
          [ [ "$giver:gift1", 'o', 3 ], [ "$giver:gift2", 'o', 1 ] ], "the giver's halves in the giver's shard");
is_deeply(mysql_query("SELECT gift_id, side, card FROM gift_moves", $tdb),
          [ [ "$giver:gift1", 'i', 3 ] ], "the receiver's half in the receiver's shard");
is_deeply(mysql_query("SELECT uid, card, given, received FROM gift_counts ORDER BY uid, card", $gdb),
          [ [ $giver, 1, 1, 0 ], [ $giver, 3, 1, 0 ] ], 'the giver\'s counts');
is(scalar(keys %{ awards_of('g1') }), 4, 'and the four eligible users are awarded');

done_testing();
