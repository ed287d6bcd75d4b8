# The wildcard card (万能福) is drawn like any other kind: by its weight
# (flip.lua knows nothing of it), and capped by cc_card_stock when it is
# the stocked kind; the wildcards drawn are then spent by a combine, once
# however many combines of the user run at once.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;

sub cards {
    my ($uid) = @_;
    return map { redis_cmd(0, 'HGET', user_key($uid), "k$_") // 0 } 0 .. 4;
}

sub flip_all {
    my ($uid, $n, $tag) = @_;
    my ($st, $body) = http_request('POST', "/cc/grant?grant_id=g&n=$n", { 'X-CC-Uid' => $uid });
    is("$st $body", "200 {\"chances\":$n}", "user $uid has $n chances");
    my $ok = 0;
    for my $i (0 .. $n / 200 - 1) {
        $ok += grep { $_->[0] == 200 }
               concurrent_requests(200, 'POST', "/cc/flip?request_id=${tag}${i}_%d", { 'X-CC-Uid' => $uid });
    }
    is($ok, $n, "$n flips answered 200");
}

# --- drawn by its weight ------------------------------------------------------

# weights 3 3 2 2 10: the wildcard (kind 4) half of the draws.  Over 2000
# flips each kind's count is binomial; 5 standard deviations around its
# mean (the wildcard: 1000 +- 112) fail a draw that skipped the wildcard,
# drew it twice as often, or by another kind's weight, and a fair one
# about once in 3.5 million runs per kind.
my @w = (3, 3, 2, 2, 10);
my $nginx = start_nginx(undef, workers => 2,
                        http_config => on_shard0("cc_cards @w;", 'cc_wildcard_kind 4;'),
                        config => all_locations());
flip_all(5, 2000, 'd');
my @n = cards(5);
is(eval { my $s = 0; $s += $_ for @n; $s }, 2000, 'redis: 2000 cards held');
for my $k (0 .. 4) {
    my $p = $w[$k] / 20;
    my ($mean, $sd) = (2000 * $p, sqrt(2000 * $p * (1 - $p)));
    ok(abs($n[$k] - $mean) <= 5 * $sd,
       sprintf('kind %d%s: %d drawn, %.0f +- %.0f expected', $k, $k == 4 ? ' (the wildcard)' : '',
               $n[$k], $mean, 5 * $sd));
}
my @lines = map { split /\n/, { @{ $_->[1] } }->{d} // '' } @{ redis_cmd(0, 'XRANGE', log_key(), '-', '+') };
is(scalar(grep { /^5:\d+:4:/ } @lines), $n[4], 'the draw log holds each wildcard drawn as a draw of kind 4');

# the set held (every other kind) and wildcards beside: the combine uses none
my ($st, $body) = http_request('POST', '/cc/combine?request_id=all', { 'X-CC-Uid' => 5 });
is($st, 200, 'a combine of a user holding every kind: 200');
like($body, qr/"consumed":\[0,1,2,3\],"wildcards_used":0,"replaced":\[\]\}$/, 'it takes one of each kind of the set, no wildcard');
is_deeply([ cards(5) ], [ $n[0] - 1, $n[1] - 1, $n[2] - 1, $n[3] - 1, $n[4] ], 'redis: the wildcards are all kept');
stop_nginx($nginx);

# --- the wildcard as the stocked kind -------------------------------------------

redis_cmd(0, 'FLUSHALL');
$nginx = start_nginx(undef, workers => 2,
                     http_config => on_shard0('cc_cards 1 1 1 1 1000;', 'cc_card_stock 4 3;', 'cc_wildcard_kind 4;'),
                     config => all_locations());
flip_all(6, 200, 's');
@n = cards(6);
is($n[4], 3, 'a stocked wildcard: 3 drawn, the stock, though its weight is 1000 of 1004');
is(redis_cmd(0, 'GET', 'cc:stock:4'), 3, 'redis: the stock counter is spent');
is($n[0] + $n[1] + $n[2] + $n[3], 197, 'the other 197 flips drew the other kinds');

# make two kinds missing: the user's other cards of kinds 1 and 3 go away
redis_cmd(0, 'HSET', user_key(6), 'k1', 0, 'k3', 0);
($st, $body) = http_request('GET', '/cc/eligibility', { 'X-CC-Uid' => 6 });
like($body, qr/"wildcard_kind":4,"wildcards":3,"missing":\[1,3\],"wildcards_needed":2,"completable":true\}$/,
     'eligibility: two kinds missing, three stocked wildcards held: completable');
($st, $body) = http_request('POST', '/cc/combine?request_id=st', { 'X-CC-Uid' => 6 });
like("$st $body", qr/^200 .*"consumed":\[0,2,4,4\],"wildcards_used":2,"replaced":\[1,3\]\}$/,
     'the combine takes kinds 0 and 2 and two wildcards');
is_deeply([ cards(6) ], [ $n[0] - 1, 0, $n[2] - 1, 0, 1 ], 'redis: one wildcard left');
is(redis_cmd(0, 'GET', 'cc:stock:4'), 3, 'the combine does not give stock back: the wildcards were issued');

# --- 100 combines at once, each its own request id: one takes the cards ---------

redis_cmd(0, 'HSET', user_key(7), 'k0', 1, 'k1', 1, 'k4', 3);
my @res = concurrent_requests(100, 'POST', '/cc/combine?request_id=c%d', { 'X-CC-Uid' => 7 });
is(scalar(grep { $_->[0] == 200 } @res), 100, '100 concurrent combines of one user: all 200');
my %bodies = map { ($_->[1] => 1) } @res;
is_deeply([ keys %bodies ], [ '{"cards":[0,0,0,0,1],"kinds":5,"combined":true,"eligible":true,"wildcard_kind":4,'
                              . '"wildcards":1,"missing":[0,1,2,3],"wildcards_needed":4,"completable":false,'
                              . '"consumed":[0,1,4,4],"wildcards_used":2,"replaced":[2,3]}' ],
          'one answer for all: two wildcards for kinds 2 and 3');
is_deeply([ map { redis_cmd(0, 'HGET', user_key(7), $_) } qw(k0 k1 k4 x) ], [ 0, 0, 1, 12 ],
          'redis: the cards taken once, one wildcard left');
is(scalar(grep { (({ @{ $_->[1] } })->{u} // '') eq '7' } @{ redis_cmd(0, 'XRANGE', log_key(), '-', '+') }), 1,
   'one combine in the draw log');
stop_nginx($nginx);

done_testing();
