# The gift halves in the draw log as one entry per script batch (o: the
# giver's halves of a gift_out batch, i: the receiver's of a gift_in
# batch; common/cc_log.h): many gifts given at once through nginx (no
# Kafka: the logs are the only road) reach MySQL through cc-reconcile,
# each half once on its own user's shard, exactly as the one-entry-a-gift
# halves did; a bad line of a batch's entry is skipped alone, with its
# reason; old one-gift entries and batch entries mix in one log.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;
use CcCampaign;

mysql_start();
run_worker([ 'cc-ingest', '--init-shards', map { ('--mysql', $_) } mysql_shards() ], timeout => 20, ok => 1);
start_nginx(undef, workers => 1, http_config => on_shards('cc_gift_limit 1000;'), config => gift_locations());

place_users(1 .. 40);
my @s0 = grep { shard_of($_) == 0 } 1 .. 40;
my @s1 = grep { shard_of($_) == 1 } 1 .. 40;
ok(@s0 >= 5 && @s1 >= 5, 'users on both Redis shards');

sub moves {
    my @all;
    for my $d ('cc_s0', 'cc_s1') {
        push @all, map { join ' ', @$_ } @{ mysql_query('SELECT gift_id, side, uid, peer, card FROM gift_moves', $d) };
    }
    return [ sort @all ];
}

# the halves as log_gifts spells them, as gift_moves rows: "gift_id side uid peer card"
sub as_rows { [ sort map { my ($y, $g, $u, $p, $k) = split ' '; "$g " . substr($y, 1) . " $u $p $k" } @_ ] }

# --- 5 givers on shard 0, 5 receivers on shard 1, 8 gifts each at once -------

my @givers = @s0[0 .. 4];
my @recv = @s1[0 .. 4];
seed_cards($_, 2, 8) for @givers;
my (@reqs, @want);
for my $i (0 .. 4) {
    for my $j (1 .. 8) {
        push @reqs, [ $givers[$i], $recv[$i], "m$j" ];
        push @want, "$givers[$i]:m$j o $givers[$i] $recv[$i] 2", "$givers[$i]:m$j i $recv[$i] $givers[$i] 2";
    }
}
my @socks = map { send_request('POST', "/cc/gift?to=$_->[1]&kind=2&request_id=$_->[2]", { 'X-CC-Uid' => $_->[0] }) } @reqs;
my @got = map { [ read_response($_) ] } @socks;
is(scalar(grep { ($_->[0] // 0) == 200 && $_->[1] =~ /"status":"delivered"/ } @got), 40, '40 gifts delivered');
is(join(' ', map { cards($_, 2) } @givers, @recv), join(' ', (0) x 5, (8) x 5), 'each card moved once');

my $go = log_gifts(0);
my $gi = log_gifts(1);
is(scalar @$go . ' ' . scalar @$gi, '40 40', 'each half in its log once');
is_deeply(as_rows(@$go, @$gi), [ sort @want ], '... each as its gift says');
my @entries0 = @{ redis_cmd(0, 'XRANGE', log_key(), '-', '+') };
my @batched = grep { my %f = @{ $_->[1] }; defined $f{o} } @entries0;
is(scalar @batched, scalar @entries0, "the giver's shard: batch entries only (o)");
ok(@batched < 40, 'fewer entries than gifts: ' . scalar(@batched) . ' for 40 (one a batch)');
like(join("\n", map { my %f = @{ $_->[1] }; $f{o} } @batched), qr/^\d+:\d+:2:\d{13}:m\d$/m,
     'a line: uid:peer:kind:ms:request_id');
ok(!grep({ my %f = @{ $_->[1] }; !defined $f{i} } @{ redis_cmd(1, 'XRANGE', log_key(), '-', '+') }),
   "the receiver's shard: batch entries only (i)");

my ($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile --once exits 0') or diag $err;
like($err, qr/pass done: 80 draws checked, 80 written, 0 unreadable/, '80 halves read from the logs, all written');
is_deeply(moves(), [ sort @want ], 'MySQL holds each half once, on its own shard') or diag explain moves();
my $counts = mysql_query('SELECT uid, card, given, received FROM gift_counts ORDER BY uid', 'cc_s0');
push @$counts, @{ mysql_query('SELECT uid, card, given, received FROM gift_counts ORDER BY uid', 'cc_s1') };
is_deeply([ sort map { join ' ', @$_ } @$counts ],
          [ sort((map { "$_ 2 8 0" } @givers), map { "$_ 2 0 8" } @recv) ], 'the counts moved once each');
is(redis_cmd(0, 'XLEN', log_key()) + redis_cmd(1, 'XLEN', log_key()), 0, 'and the logs trimmed');

# --- the same entries again (a pass that died before its trim): nothing twice --

for my $e (@entries0) {
    redis_cmd(0, 'XADD', log_key(), '*', @{ $e->[1] });
}
($rc, $err) = run_reconcile();
like($err, qr/pass done: 40 draws checked, 0 written, 0 unreadable/, 'a replayed log: 40 halves read, none written');
is(scalar @{ moves() }, 80, 'still 80 halves');

# --- bad lines: each skipped alone, the good lines of the entry written -------

my ($g, $r) = ($s0[5], $s1[5]);
my $ms = int(Time::HiRes::time() * 1000);
redis_cmd(0, 'XADD', log_key(), '*', 'o', join("\n",
    "$g:$r:1:$ms:b1",           # good
    "$g:$g:1:$ms:b2",           # to oneself
    "$g:$r:16:$ms:b3",          # no such kind
    "$g:$r:1:$ms",              # no request id
    "0$g:$r:1:$ms:b5",          # a leading zero
    "$g:$r:1:$ms:b 6",          # a bad request id
    "$g:$r:1:$ms:b7"));         # good
redis_cmd(0, 'XADD', log_key(), '*', 'i', "$g:$r:1:$ms:b8");         # the receiver's half, wherever logged
redis_cmd(0, 'XADD', log_key(), '*', 'o', "$g:$r:1:$ms:b9", 'i', "$r:$g:1:$ms:b9");
redis_cmd(0, 'XADD', log_key(), '*', 'o', "$g:$r:1:$ms:b10", 'd', "$g:1:1:$ms:x");
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'go', 'g', "$g:b11", 'u', $g, 'p', $r, 'k', 1, 't', $ms);   # old form
($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile exits 0 over bad lines');
like($err, qr/pass done: 4 draws checked, 4 written, 7 unreadable/, 'the good lines and the old entry written, 7 counted bad');
like($err, qr/skipping gift 2 of log entry \d+-\d+: bad to\n/, 'a gift to oneself is named, by its line');
like($err, qr/skipping gift 3 of log entry \d+-\d+: bad card\n/, 'a kind out of range');
like($err, qr/skipping gift 4 of log entry \d+-\d+: bad gift line\n/, 'a line cut short');
like($err, qr/skipping gift 5 of log entry \d+-\d+: bad gift line\n/, 'a leading zero');
like($err, qr/skipping gift 6 of log entry \d+-\d+: bad request_id\n/, 'a bad request id');
is((() = $err =~ /skipping log entry \d+-\d+: draws and gifts in one entry\n/g), 2, 'o with i, o with d: refused whole');
my @new = grep { /:b\d+ / } @{ moves() };
is_deeply(\@new, [ sort "$g:b1 o $g $r 1", "$g:b7 o $g $r 1", "$r:b8 i $g $r 1", "$g:b11 o $g $r 1" ],
          'the good halves written: b1, b7 (o), b8 (i: gift id peer:request_id), b11 (the old form)');

# --- more lines than a batch holds: the first 64 read, the rest skipped -----

redis_cmd(0, 'XADD', log_key(), '*', 'o', join("\n", map { "$g:$r:0:$ms:t$_" } 1 .. 65));
($rc, $err) = run_reconcile();
like($err, qr/log entry \d+-\d+ holds over 64 gifts; the rest are skipped/, 'past 64 lines: said');
like($err, qr/pass done: 64 draws checked, 64 written, 1 unreadable/, 'the first 64 written');

done_testing();
