# The cards check (cc-reconcile --cards) after a campaign that used every
# road a card can take, each through the module's own endpoints: flips,
# real gifts (POST /cc/gift: gift_out.lua / gift_in.lua / gift_done.lua),
# and combines that stand wildcards (万能福, cc_wildcard_kind) in for the
# kinds a user lacks.  Kafka and cc-ingest carry the draws, the gift
# halves and the combines (with the kinds their wildcards replaced) to
# MySQL; then, per kind, the cards held + in transit equal the cards drawn
# less what the combines consumed, and each user's cards in MySQL equal
# Redis's.  A wildcard made from nothing in one user's hash is then found,
# by user and by kind.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use CcGift;
use JSON::PP;

my @users = (1 .. 30);

mysql_start();
kafka_start(partitions => 4);
run_worker([ 'cc-ingest', '--init-shards', map { ('--mysql', $_) } mysql_shards() ], timeout => 20, ok => 1);
start_nginx(undef, workers => 1,
            http_config => on_shards('cc_kafka_brokers $TEST_KAFKA_BROKERS;',
                                     "    cc_cards 1 1 1 1 3;\n    cc_wildcard_kind 4;\n"
                                     . "    cc_gift_limit 100;\n    cc_gift_rare on;\n"),
            config => gift_locations());
my $ingest = start_ingest();

grant_users(1, 30, 12);
is(flip_users(1, 30, 12, 'f'), 360, '360 flips answered 200');

sub held {
    my ($uid) = @_;
    return [ map { cards($uid, $_) } 0 .. 4 ];
}

# every user gives the next one a card of each kind it holds two of
# (the wildcard's kind too: cc_gift_rare on): real gifts, both halves through nginx
my ($gifts, $delivered) = (0, 0);
for my $i (0 .. $#users) {
    my ($u, $to) = ($users[$i], $users[($i + 1) % @users]);
    my $h = held($u);
    for my $k (0 .. 4) {
        next if $h->[$k] < 2;
        my ($st, $body) = http_request('POST', "/cc/gift?to=$to&kind=$k&request_id=w$k",
                                       { 'X-CC-Uid' => $u });
        is($st, 200, "uid $u gives kind $k to $to") or diag $body;
        $gifts++;
        $delivered++ if ($body // '') =~ /"status":"delivered"/;
    }
}
ok($gifts >= 10, "$gifts gifts given");
is($delivered, $gifts, 'each delivered at once (both shards up)');

# every user combines; those who lack kinds spend wildcards on them
my ($combined, $wild_combines, $wild_used) = (0, 0, 0);
for my $u (@users) {
    my ($st, $body) = http_request('POST', "/cc/combine?request_id=c$u", { 'X-CC-Uid' => $u });
    next unless $st == 200;
    my $j = decode_json($body);
    next unless $j->{combined};
    $combined++;
    if ($j->{wildcards_used}) { $wild_combines++; $wild_used += $j->{wildcards_used} }
}
ok($combined >= 10, "$combined users combined");
ok($wild_combines >= 1, "$wild_combines of them with wildcards ($wild_used wildcards)");

my $sum = sub { my ($sql) = @_; (mysql_value("$sql FROM cc_s0.$_[1]") // 0) + (mysql_value("$sql FROM cc_s1.$_[1]") // 0) };
ok(wait_until(sub { $sum->('SELECT COUNT(*)', 'draws') == 360
                    && $sum->('SELECT COUNT(*)', 'eligibility') == $combined
                    && $sum->('SELECT COUNT(*)', 'gift_moves') == 2 * $gifts }, 30),
   'the draws, the combines and both halves of every gift in MySQL through Kafka');
is($sum->('SELECT COALESCE(SUM(wildcards_used), 0)', 'eligibility'), $wild_used,
   'MySQL holds the wildcards each combine used');

my @cmd = ('cc-reconcile', '--once', '--grace', 0, '--cards', shard_args());
my ($rc, undef, $err) = run_worker([ @cmd ], timeout => 60);
is($rc, 0, 'cc-reconcile --cards: everything adds up') or diag $err;
like($err, qr/cards: 30 users, 0 gifts in transit; 0 differences/, 'the summary');
is(scalar(() = $err =~ /cards: kind \d: .*: ok\n/g), 5, 'each of the five kinds adds up, the wildcard\'s too');
is_deeply([ state_diff(@users) ], [], 'state_diff: each user\'s cards in MySQL equal Redis');

# a wildcard out of nothing in one user's hash
my $u = $users[0];
redis_cmd(shard_of($u), 'HINCRBY', user_key($u), 'k4', 1);
($rc, undef, $err) = run_worker([ @cmd ], timeout => 60);
is($rc, 1, 'a wildcard made from nothing: the check fails');
like($err, qr/cards: uid $u kind 4: Redis holds \d+, MySQL \d+ .*: Redis \+1/, 'named by user and kind');
like($err, qr/cards: kind 4: .*: \+1 cards.*DIFFERENCE/, 'and in the wildcard kind\'s sum');
unlike($err, qr/cards: kind [0-3]: .*DIFFERENCE/, 'no other kind is off');
is(stop_worker($ingest, 'TERM', 10), 0, 'cc-ingest stops');

done_testing();
