# The wildcard (万能福) on its way to MySQL: a combine's wildcards and the
# kinds they stood in for reach the eligibility table through Kafka and
# cc-ingest, and through cc-reconcile's safety net from the draw log, so
# MySQL counts a wildcard as the combine did (state_diff compares every
# user's cards held in MySQL with Redis by those columns).  Messages and
# log entries from before the wildcard read as none; malformed ones are
# refused.  cc-reconcile --restore puts back a lost wildcard combine with
# the cards it took.  An existing shard gains the columns from
# --init-shards.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use Time::HiRes qw(time);

sub elig_rows {
    my %row;
    for my $db ('cc_s0', 'cc_s1') {
        for my $r (@{ mysql_query('SELECT uid, wildcard_kind, wildcards_used, replaced_kinds FROM eligibility', $db) }) {
            $row{ $r->[0] } = join ',', map { $_ // 'NULL' } @$r[1 .. 3];
        }
    }
    return \%row;
}

# the columns a combine's 200 answer says MySQL must hold: "4,N,MASK"
sub want_row {
    my ($body) = @_;
    my ($used, $list) = $body =~ /"wildcards_used":(\d+),"replaced":\[([\d,]*)\]\}$/ or return 'no answer';
    my $mask = 0;
    $mask |= 1 << $_ for split /,/, $list;
    return "4,$used,$mask";
}

# combines of users $from..$to: their answers' rows by uid, and how many
# used a wildcard; the answers in %answer
my %answer;
sub combine_users {
    my ($from, $to, $tag) = @_;
    my (%want, $wild);
    for my $uid ($from .. $to) {
        my ($st, $body) = http_request('POST', "/cc/combine?request_id=$tag$uid", { 'X-CC-Uid' => $uid });
        next unless $st == 200;
        $answer{$uid} = $body;
        $want{$uid} = want_row($body);
        $wild++ if $want{$uid} !~ /^4,0,/;
    }
    return (\%want, $wild // 0);
}

# five kinds of equal weight, kind 4 the wildcard: after 8 flips a user
# lacks a kind of the set about half the time, and often holds a wildcard
campaign_up(http_config => "    cc_cards 1 1 1 1 1;\n    cc_wildcard_kind 4;\n");
my $ingest = start_ingest();

grant_users(1, 40, 8);
is(flip_users(1, 40, 8, 'a'), 320, '320 flips answered 200');
ok(wait_until(sub { mysql_value('SELECT COUNT(*) FROM cc_s0.draws') + mysql_value('SELECT COUNT(*) FROM cc_s1.draws') == 320 }, 20),
   '320 draws in MySQL');

# ---- through Kafka and cc-ingest ---------------------------------------------

my ($want, $wild) = combine_users(1, 20, 'k');
my $n = keys %$want;
ok($n > 0, "$n of users 1..20 combined");
ok($wild > 0, "$wild of them used wildcards");
ok(wait_until(sub { keys %{ elig_rows() } == $n }, 20), "$n eligibility rows");
my $rows = elig_rows();
is_deeply({ map { $_ => $rows->{$_} } keys %$want }, $want,
          'each row: wildcard kind 4, the wildcards used and the kinds replaced, as the combine answered');
is_deeply([ state_diff(1 .. 40) ], [], 'MySQL counts the cards held as Redis does, wildcards included');

# messages produced by hand: one from before the wildcard, one with it, bad ones
my $ms = int(time * 1000);
my $c = qq({"type":"combine","uid":"%d","request_id":"h","ts":$ms%s});
my @msgs = ([ 9005, '' ], [ 9006, ',"wildcard":4,"wild":1,"replaced":2' ],
            [ 9007, ',"wild":1' ], [ 9008, ',"wildcard":4,"wild":1,"replaced":16' ],
            [ 9009, ',"wildcard":4,"wild":2,"replaced":2' ]);
my $text = join '', map { "$_->[0]\t" . sprintf($c, $_->[0], $_->[1]) . "\n" } @msgs;
my $p = spawn_worker('/bin/sh', '-c', "printf '%s' '$text' | $CcTest::WorkerDir/cc-produce --brokers $ENV{TEST_KAFKA_BROKERS}");
is(wait_worker($p, 10), 0, 'five combine messages produced by hand');
ok(wait_until(sub { defined elig_rows()->{9006} && mysql_value('SELECT COUNT(*) FROM dead_letters', 'cc_s0') == 3 }, 20),
   'the good ones are rows, the bad ones dead letters');
$rows = elig_rows();
is($rows->{9005}, 'NULL,0,0', 'a message without the wildcard fields: no wildcard, every kind taken');
is($rows->{9006}, '4,1,2', 'a message with them: its wildcard, count and kinds');
ok(!defined $rows->{$_}, "uid $_: no row") for 9007 .. 9009;
is_deeply([ map { $_->[0] } @{ mysql_query('SELECT reason FROM dead_letters ORDER BY payload', 'cc_s0') } ],
          [ 'bad wild', 'bad replaced', 'bad wild' ],
          'dead letters: wild without a wildcard, the wildcard replacing itself, a count that is not the kinds\'');

# ---- through the draw log and cc-reconcile (cc-ingest stopped) ----------------

is(stop_worker($ingest, 'TERM', 10), 0, 'cc-ingest stopped');
my ($want2, $wild2) = combine_users(21, 40, 'r');
my $n2 = keys %$want2;
ok($n2 > 0, "$n2 of users 21..40 combined, $wild2 with wildcards");
is(keys %{ elig_rows() }, $n + 2, 'none in MySQL yet');
my ($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile --once exits 0');
$rows = elig_rows();
is_deeply({ map { $_ => $rows->{$_} } keys %$want2 }, $want2,
          'cc-reconcile wrote each combine with its wildcard columns');
is_deeply([ state_diff(1 .. 40) ], [], 'MySQL and Redis agree on every card of users 1..40');
ok($wild2 > 0, "wildcards were used on this way too ($wild2 combines)");

# hand-made log entries: from before the wildcard, with it, malformed
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'c', 'u', 9010, 'r', 'old', 't', $ms);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'c', 'u', 9011, 'r', 'new', 't', $ms, 'k', 4, 'w', 2, 'm', 9);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'c', 'u', 9012, 'r', 'bad', 't', $ms, 'k', 4, 'w', 1, 'm', 16);
redis_cmd(0, 'XADD', log_key(), '*', 'y', 'c', 'u', 9013, 'r', 'bad', 't', $ms, 'w', 1);
($rc, $err) = run_reconcile();
is($rc, 0, 'cc-reconcile exits 0 over them');
$rows = elig_rows();
is($rows->{9010}, 'NULL,0,0', 'a log entry without k, w, m: no wildcard');
is($rows->{9011}, '4,2,9', 'an entry with them: kinds 0 and 3 replaced by two wildcards');
ok(!defined $rows->{9012} && !defined $rows->{9013}, 'the malformed ones are not written');
like($err, qr/skipping log entry \d+-\d+: bad replaced/, 'the wildcard replacing itself is named');
like($err, qr/skipping log entry \d+-\d+: bad wild/, 'w without k is named');

# ---- a combine the Redis shard lost: --restore takes the cards it took ----------

my ($lost) = grep { $want->{$_} =~ /^4,[12],/ } sort { $a <=> $b } keys %$want;
ok(defined $lost, 'a user whose combine used one or two wildcards: ' . ($lost // 'none'));
$lost //= 1;
my ($rs) = grep { redis_cmd($_, 'EXISTS', user_key($lost)) } 0, 1;
my $hash = sub { my %h = @{ redis_cmd($rs, 'HGETALL', user_key($lost)) }; \%h };
my $before = $hash->();
my ($consumed) = ($answer{$lost} // '') =~ /"consumed":\[([\d,]*)\]/;
redis_cmd($rs, 'HINCRBY', user_key($lost), "k$_", 1) for split /,/, $consumed // '';
redis_cmd($rs, 'HDEL', user_key($lost), 'e', 'x');
ok(scalar(state_diff($lost)) > 0, "uid $lost: its combine lost by Redis (cards back, no e, no x)");
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, shard_args(), '--restore' ], timeout => 30);
is($rc, 0, 'cc-reconcile --restore --once: exit 0') or diag $err;
like($err, qr/restored: 0 draws, 1 combines;.* 0 cards short at a combine/, 'it restored the combine, no card short');
is_deeply($hash->(), $before, 'the hash as the combine left it: the wildcards and kinds it took, e and x');
my ($st, $body) = http_request('POST', "/cc/combine?request_id=again", { 'X-CC-Uid' => $lost });
is("$st $body", "200 $answer{$lost}", 'a second combine answers what the first consumed');
is_deeply([ state_diff(1 .. 40) ], [], 'MySQL and Redis agree again');

# ---- an existing shard gains the columns ----------------------------------------

my $old = "127.0.0.1:$ENV{TEST_MYSQL_PORT}/cc_old";
mysql_query('CREATE DATABASE cc_old');
mysql_query('CREATE TABLE eligibility (uid BIGINT UNSIGNED NOT NULL, request_id VARCHAR(64) NOT NULL, '
          . 'combined_at BIGINT NOT NULL, PRIMARY KEY (uid)) ENGINE=InnoDB; '
          . "INSERT INTO eligibility VALUES (7, 'x', 1764240000000)", 'cc_old');
for my $pass (1, 2) {
    ($rc, undef, $err) = run_worker([ 'cc-ingest', '--init-shards', '--mysql', $old ], timeout => 20);
    is($rc, 0, "--init-shards on a shard made before the wildcard (pass $pass)") or diag $err;
}
is_deeply(mysql_query('SELECT uid, request_id, wildcard_kind, wildcards_used, replaced_kinds FROM eligibility', 'cc_old'),
          [ [ 7, 'x', undef, 0, 0 ] ], 'its row kept, read as no wildcard');
is(mysql_value("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'cc_old' "
             . "AND table_name = 'eligibility'"), 6, 'three columns added, once');

done_testing();
