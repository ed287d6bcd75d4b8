# Issue 18, Redis: flips a failover lost, found and put back.  With
# cc_redis_wait off, a promoted replica can lack flips already answered
# 200 whose draws reached MySQL through Kafka.  The loss is simulated by
# rolling the users' hashes back (s, c, the cards, the answers, a combine)
# for draws that are in MySQL; cc-reconcile --lost reports exactly those,
# --restore puts them back as they were (a retry of the original request
# id replays the original answer), a second --restore changes nothing.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;

campaign_up(http_config => "    cc_cards 1 1 1 1 1;\n");
my $ingest = start_ingest();
my $metrics = CcTest::Util::topdir() . '/reconcile.prom';

my @users = (1 .. 12);
grant_users(1, 12, 8);
my %answer;                                    # request id => body
for my $uid (@users) {
    for my $k (1 .. 8) {
        my ($st, $body) = http_request('POST', "/cc/flip?request_id=r${uid}_$k", { 'X-CC-Uid' => $uid });
        die "flip $uid $k: $st $body" unless $st == 200;
        $answer{"r${uid}_$k"} = $body;
    }
}
# a user who combines: the first that holds every kind
my ($comb) = grep {
    my ($st, $b) = http_request('POST', "/cc/combine?request_id=set$_", { 'X-CC-Uid' => $_ });
    $st == 200 && $b =~ /"combined":true/
} @users;
ok($comb, "user " . ($comb // 'none') . " combined");
ok(wait_until(sub { !state_diff(@users) }, 20), 'every flip and the combine are in MySQL (through Kafka)');

my %home = map { ($_ => (redis_cmd(0, 'EXISTS', user_key($_)) ? 0 : 1)) } @users;
sub hash_of { my ($u) = @_; +{ @{ redis_cmd($home{$u}, 'HGETALL', user_key($u)) } } }
my %before = map { ($_ => hash_of($_)) } @users;

# ---- the loss: the last two flips of users 1..4 and of the combiner, the combine --------

sub roll_back {
    my ($u, $n, %o) = @_;
    my $h = hash_of($u);
    my ($s, $c) = ($h->{s}, $h->{c});
    for my $k (0 .. $n - 1) {
        my $rid = 'r' . $u . '_' . (8 - $k);
        my ($seq, $card) = split /:/, $h->{":$rid"};
        die "uid $u: $rid is seq $seq, not " . ($s - $k) if $seq != $s - $k;
        redis_cmd($home{$u}, 'HINCRBY', user_key($u), "k$card", -1);
        redis_cmd($home{$u}, 'HDEL', user_key($u), ":$rid");
    }
    redis_cmd($home{$u}, 'HSET', user_key($u), 's', $s - $n, 'c', $o{c} // $c + $n);
    if ($o{combine}) {
        redis_cmd($home{$u}, 'HINCRBY', user_key($u), "k$_", 1) for 0 .. 4;
        redis_cmd($home{$u}, 'HDEL', user_key($u), 'e');
    }
}
my @lost = grep { $_ != $comb } 1 .. 4;
roll_back($_, 2) for @lost;
roll_back($comb, 2, combine => 1);
my ($over) = grep { $_ != $comb && !grep { $_ == $comb } @lost } 5 .. 12;
roll_back($over, 3, c => 1);         # two of its three chances lost too
my $ndraws = 2 * (@lost + 1) + 3;
ok(scalar(state_diff(@users)) > 0, 'Redis now differs from MySQL');
my %rolled = map { ($_ => hash_of($_)) } @users;

# ---- --lost: reported, exactly ----------------------------------------------------

my @args = ('--once', '--grace', 0, shard_args(), '--metrics-file', $metrics);
my ($rc, undef, $err) = run_worker([ 'cc-reconcile', @args, '--lost' ], timeout => 30);
is($rc, 1, 'cc-reconcile --lost --once: exit 1, something is lost') or diag $err;
like($err, qr/lost: 12 users compared; $ndraws draws and 1 combines in MySQL that their Redis shard lacks \(draws ([\d: ]+)\)/,
     "it reports the $ndraws draws and the combine");
my ($sample) = $err =~ /\(draws ([\d: ]+)\)/;
my %want = map { my $u = $_; my $n = $u == $over ? 3 : 2; map { ("$u:" . (8 - $_)) => 1 } 0 .. $n - 1 } @lost, $comb, $over;
my @bad = grep { !$want{$_} } split ' ', $sample // '';
is_deeply(\@bad, [], "the sample names lost draws only ($sample)");
like(CcTest::Util::_slurp($metrics), qr/^cc_reconcile_lost_draws $ndraws$/m, 'metrics: cc_reconcile_lost_draws');
like(CcTest::Util::_slurp($metrics), qr/^cc_reconcile_lost_combines 1$/m, 'metrics: cc_reconcile_lost_combines');
is_deeply({ map { ($_ => hash_of($_)) } @users }, \%rolled, '--lost alone writes nothing');

# ---- --restore ---------------------------------------------------------------------

($rc, undef, $err) = run_worker([ 'cc-reconcile', @args, '--restore' ], timeout => 30);
is($rc, 0, 'cc-reconcile --restore --once: exit 0') or diag $err;
like($err, qr/restored: $ndraws draws, 1 combines; 2 chances over-issued \(the users keep the cards\), 0 cards short at a combine, 0 draws left past a gap/,
     'it restored every draw and the combine, and counts the 2 over-issued chances');
like(CcTest::Util::_slurp($metrics), qr/^cc_reconcile_overissued_chances 2$/m, 'metrics: over-issued chances');
is_deeply([ state_diff(@users) ], [], 'Redis equals MySQL again: s, every card, the combine');
for my $u (@lost, $comb) {
    is_deeply(hash_of($u), $before{$u}, "uid $u: the hash as it was before the loss (answers, s, c, cards, e, g)");
}
my %o = %{ $before{$over} };
$o{c} = 0;
is_deeply(hash_of($over), \%o, "uid $over: as before, but no chance left: the over-issued one is not taken below 0");

my ($st, $body) = http_request('POST', "/cc/flip?request_id=r$lost[0]_8", { 'X-CC-Uid' => $lost[0] });
is("$st $body", "200 $answer{\"r$lost[0]_8\"}", 'a retry of a restored request id replays the original answer');
($st, $body) = http_request('POST', "/cc/flip?request_id=r$over\_7", { 'X-CC-Uid' => $over });
is("$st $body", "200 $answer{\"r$over\_7\"}", 'and for the over-issued user: its original answer');

# ---- a second --restore is a no-op -------------------------------------------------------

my %after = map { ($_ => hash_of($_)) } @users;
($rc, undef, $err) = run_worker([ 'cc-reconcile', @args, '--restore' ], timeout => 30);
is($rc, 0, 'a second --restore: exit 0');
like($err, qr/lost: 12 users compared; 0 draws and 0 combines/, 'it finds nothing lost');
like($err, qr/restored: 0 draws, 0 combines; 0 chances over-issued/, 'and restores nothing');
is_deeply({ map { ($_ => hash_of($_)) } @users }, \%after, 'every hash unchanged');

# ---- a gap: MySQL lacks a draw in the middle -------------------------------------------

my ($g) = grep { my $x = $_; $x != $comb && $x != $over && !grep { $_ == $x } @lost } @users;
roll_back($g, 3);
my $gdb = shard_of_uids($g)->{$g};
mysql_query("DELETE FROM draws WHERE uid = $g AND seq = 7", $gdb);
($rc, undef, $err) = run_worker([ 'cc-reconcile', @args, '--restore' ], timeout => 30);
is($rc, 1, 'a gap in the sequence: exit 1, not all restored');
like($err, qr/restored: 1 draws, 0 combines; .* 1 draws left past a gap in seq/,
     'seq 6 restored; seq 8, past the missing 7, left for a later run');
is(hash_of($g)->{s}, 6, 'its s is 6: never past a draw MySQL lacks');

# ---- what --restore cannot mend: a lost flip's id reused ---------------------------------

# a user flips on the shard before the restore: the shard draws the lost
# flip's seq again, and cc-ingest finds MySQL holding that draw id for
# another request: it keeps the first and says so
my ($h) = grep { my $x = $_; $x != $comb && $x != $over && $x != $g && !grep { $_ == $x } @lost } @users;
roll_back($h, 1);
($st, $body) = http_request('POST', '/cc/flip?request_id=after', { 'X-CC-Uid' => $h });
like("$st $body", qr/^200 \{"draw_id":"$h:8",/, "uid $h flips again: the shard draws seq 8 a second time");
ok(wait_until(sub { worker_stderr($ingest) =~ /draw $h:8 reused: MySQL holds request r${h}_8, this draw is request after \(card \d, at \d+ ms\), not written: a Redis failover lost the first/ }, 20),
   'cc-ingest reports the reused draw id, with the draw it could not write')
    or diag worker_stderr($ingest);
is(mysql_value("SELECT request_id FROM draws WHERE uid = $h AND seq = 8", shard_of_uids($h)->{$h}), "r${h}_8",
   'MySQL keeps the first draw of that id');

is(stop_worker($ingest, 'TERM', 10), 0, 'cc-ingest: SIGTERM, exit 0');

done_testing();
