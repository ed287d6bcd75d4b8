# The cards check against the module's own scripts: users flip and combine
# through nginx (flip.lua, combine.lua), Kafka and cc-ingest carry their
# draws and combines to MySQL; then they give each other cards, each gift
# as gift_out.lua / gift_in.lua / gift_done.lua leave it (the halves in the
# logs, the outbox, the applied sets), some left in transit.  cc-reconcile
# drains the halves and cc-reconcile --cards finds that everything adds
# up; CcCampaign's state_diff agrees user by user.  A second run (a drain
# with nothing left, the same check) changes nothing.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;

campaign_up(http_config => "    cc_cards 1 1 1 1 1;\n");
my $ingest = start_ingest();
my @users = (1 .. 24);

grant_users(1, 24, 10);
is(flip_users(1, 24, 10, 'f'), 240, '240 flips answered 200');
my $combined = grep { (http_request('POST', "/cc/combine?request_id=c$_", { 'X-CC-Uid' => $_ }))[0] == 200 } @users;
ok($combined > 0, "$combined users combined");
ok(wait_until(sub { mysql_value('SELECT COUNT(*) FROM cc_s0.draws') + mysql_value('SELECT COUNT(*) FROM cc_s1.draws') == 240 }, 30),
   'the 240 draws in MySQL through Kafka');
ok(wait_until(sub { mysql_value('SELECT COUNT(*) FROM cc_s0.eligibility') + mysql_value('SELECT COUNT(*) FROM cc_s1.eligibility') == $combined }, 30),
   'and the combines');

sub shard_of { my ($uid) = @_; (grep { redis_cmd($_, 'EXISTS', user_key($uid)) } 0, 1)[0] }
sub held { redis_cmd(shard_of($_[0]), 'HGET', user_key($_[0]), "k$_[1]") // 0 }

my $ms = int(time * 1000) - 60_000;
my ($given, $transit) = (0, 0);

# every user gives one card of each kind it holds two of to the next user;
# every third gift stays in its outbox (its receiver's half not applied)
for my $i (0 .. $#users) {
    my ($u, $to) = ($users[$i], $users[($i + 1) % @users]);
    for my $k (0 .. 4) {
        next if held($u, $k) < 2;
        my ($gs, $rs, $gid) = (shard_of($u), shard_of($to), "$u:give$k");
        redis_cmd($gs, 'HINCRBY', user_key($u), "k$k", -1);
        redis_cmd($gs, 'ZADD', 'cc:outbox', $ms, "$gid:$to:$k");
        redis_cmd($gs, 'XADD', log_key(), '*', 'y', 'go', 'g', $gid, 'u', $u, 'p', $to, 'k', $k, 't', $ms);
        $given++;
        if ($given % 3 == 0) { $transit++; next }
        redis_cmd($rs, 'SADD', "cc:{$to}:gi", $gid);
        redis_cmd($rs, 'HINCRBY', user_key($to), "k$k", 1);
        redis_cmd($rs, 'XADD', log_key(), '*', 'y', 'gi', 'g', $gid, 'u', $to, 'p', $u, 'k', $k, 't', $ms + 1);
        redis_cmd($gs, 'ZREM', 'cc:outbox', "$gid:$to:$k");
    }
}
ok($given >= 6, "$given gifts given, $transit left in transit");

my @cmd = ('cc-reconcile', '--once', '--grace', 0, '--cards', shard_args());
my ($rc, undef, $err) = run_worker([ @cmd ], timeout => 60);
is($rc, 0, 'cc-reconcile --cards: everything adds up') or diag $err;
like($err, qr/pass done: \d+ draws checked, ${\( 2 * $given - $transit )} written/,
     'the pass wrote every gift half (Kafka had the draws and combines)');
like($err, qr/cards: 24 users, $transit gifts in transit; 0 differences/, 'the summary');
is(scalar(() = $err =~ /cards: kind \d: .*: ok\n/g), 5, 'each of the five kinds adds up');
is(mysql_value('SELECT SUM(given) FROM cc_s0.gift_counts') + mysql_value('SELECT SUM(given) FROM cc_s1.gift_counts'),
   $given, 'MySQL counts every gift given');
is(mysql_value('SELECT SUM(received) FROM cc_s0.gift_counts') + mysql_value('SELECT SUM(received) FROM cc_s1.gift_counts'),
   $given - $transit, 'and every gift received');
is_deeply([ state_diff(@users) ], [], 'state_diff: each user\'s cards in MySQL equal Redis');

($rc, undef, $err) = run_worker([ @cmd ], timeout => 60);
is($rc, 0, 'a second check: the same') or diag $err;
like($err, qr/pass done: 0 draws checked, 0 written/, 'nothing left to drain');
like($err, qr/cards: 24 users, $transit gifts in transit; 0 differences/, 'the same summary');
is(stop_worker($ingest, 'TERM', 10), 0, 'cc-ingest stops');

done_testing();
