# Many requests at once: the store, not the handler, decides.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;

sub sum_cards {
    my ($shard, $uid, $kinds) = @_;
    my $sum = 0;
    $sum += (redis_cmd($shard, 'HGET', user_key($uid), "k$_") // 0) for 0 .. $kinds - 1;
    return $sum;
}

sub shard_of {
    my ($uid) = @_;
    my @on = grep { redis_cmd($_, 'EXISTS', user_key($uid)) } 0, 1;
    return @on == 1 ? $on[0] : "@on";
}

# --- 200 concurrent flips by one user with 50 chances ----------------------

start_nginx(undef, workers => 2, http_config => on_shards(), config => all_locations());

my ($st, $body) = http_request('POST', '/cc/grant?grant_id=g50&n=50', { 'X-CC-Uid' => 77 });
is("$st $body", '200 {"chances":50}', 'user 77 has 50 chances');

my $shard = shard_of(77);
like($shard, qr/^[01]$/, 'user 77 lives on exactly one shard');

my @res = concurrent_requests(200, 'POST', '/cc/flip?request_id=c%d', { 'X-CC-Uid' => 77 });

my @ok = grep { $_->[0] == 200 } @res;
my @no = grep { $_->[0] == 409 } @res;
is(scalar @ok, 50, '50 flips succeed');
is(scalar @no, 150, '150 flips are refused');
is(scalar(grep { $_->[1] eq '{"error":"no_chances"}' } @no), 150, 'each refusal says no_chances');

my %seq;
for (@ok) {
    $_->[1] =~ /^\{"draw_id":"77:(\d+)","card":[0-4],"chances_left":(\d+)\}$/ or next;
    $seq{$1} = $2;
}
is_deeply([ sort { $a <=> $b } keys %seq ], [ 1 .. 50 ], 'draw ids are 77:1 .. 77:50, each once');
is(scalar(grep { $seq{$_} == 50 - $_ } keys %seq), 50, 'chances_left follows the sequence');

is(redis_cmd($shard, 'HGET', user_key(77), 'c'), 0, 'redis: no chance left');
is(redis_cmd($shard, 'HGET', user_key(77), 's'), 50, 'redis: sequence at 50');
is(sum_cards($shard, 77, 5), 50, 'redis: 50 cards held');
my @results = grep { /^:/ } @{ redis_cmd($shard, 'HKEYS', user_key(77)) };
is(scalar @results, 50, 'redis: 50 stored answers, none for the refusals');
my $lines = join "\n", map { $_->[1][1] } @{ redis_cmd($shard, 'XRANGE', log_key(), '-', '+') };
is(scalar(() = $lines =~ /^77:\d+:\d:\d{13}:c\d+$/mg), 50, 'redis: 50 draws in the log');

# the same 200 requests again are retries: same answers, nothing changes
my @again = concurrent_requests(200, 'POST', '/cc/flip?request_id=c%d', { 'X-CC-Uid' => 77 });
is(scalar(grep { $res[$_][0] == 200 && $again[$_][1] eq $res[$_][1] } 0 .. 199), 50,
   'each successful flip retried answers its first body');
is(redis_cmd($shard, 'HGET', user_key(77), 's'), 50, 'redis: retries drew nothing');

# --- 100 concurrent copies of one grant ------------------------------------

@res = concurrent_requests(100, 'POST', '/cc/grant?grant_id=same&n=7&x=%d', { 'X-CC-Uid' => 78 });
is(scalar(grep { $_->[0] == 200 } @res), 100, 'all 100 copies of a grant answer 200');
is(redis_cmd(shard_of(78), 'HGET', user_key(78), 'c'), 7, 'redis: the grant was applied once');

# --- users spread over both shards, each user on one ----------------------

my %on;
for my $uid (1000 .. 1099) {
    http_request('POST', "/cc/grant?grant_id=s&n=2", { 'X-CC-Uid' => $uid });
    http_request('POST', "/cc/flip?request_id=a", { 'X-CC-Uid' => $uid });
    http_request('POST', "/cc/flip?request_id=b", { 'X-CC-Uid' => $uid });
    $on{ shard_of($uid) }++;
}
is(($on{0} // 0) + ($on{1} // 0), 100, 'every user is on exactly one shard');
ok(($on{0} // 0) > 20 && ($on{1} // 0) > 20, "both shards hold users ($on{0}/$on{1})");
my $whole = grep { my $s = shard_of($_); redis_cmd($s, 'HGET', user_key($_), 's') == 2 } 1000 .. 1099;
is($whole, 100, "a user's flips all reach its shard");

unlike(nginx_error_log(), qr/\[(error|alert|crit)\]/, 'no error logged');
stop_nginx();

# --- the weights are honoured ---------------------------------------------

start_nginx(undef, http_config => on_shards('cc_cards 1 1;'), config => all_locations());
redis_cmd($_, 'HSET', user_key(5), 'c', 2000) for 0, 1;
my %n;
for my $i (1 .. 20) {
    my @r = concurrent_requests(50, 'POST', "/cc/flip?request_id=w${i}_%d", { 'X-CC-Uid' => 5 });
    $n{ $_->[1] =~ /"card":(\d)/ ? $1 : 'x' }++ for @r;
}
is(($n{0} // 0) + ($n{1} // 0), 1000, '1000 draws');
# binomial(1000, 0.5): sd 15.8, so 400..600 fails about once in 10^10 runs
ok($n{0} > 400 && $n{0} < 600, "weights 1:1 give an even split ($n{0}/$n{1})");
stop_nginx();

start_nginx(undef, http_config => on_shards('cc_cards 99 1;'), config => all_locations());
redis_cmd($_, 'HSET', user_key(5), 'c', 2000) for 0, 1;
%n = ();
for my $i (1 .. 20) {
    my @r = concurrent_requests(50, 'POST', "/cc/flip?request_id=v${i}_%d", { 'X-CC-Uid' => 5 });
    $n{ $_->[1] =~ /"card":(\d)/ ? $1 : 'x' }++ for @r;
}
# binomial(1000, 0.01): mean 10, P(>30) < 1e-7
ok(($n{1} // 0) <= 30, 'a rare kind of weight 1 in 100 stays rare (' . ($n{1} // 0) . ' in 1000)');
stop_nginx();

done_testing();
