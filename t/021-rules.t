# The campaign's rules under concurrency and time: one combine per user,
# the stock cap of a rare kind, the campaign window and the combine cutoff.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use Time::HiRes qw(time sleep);

sub shard_of { my ($uid) = @_; (grep { redis_cmd($_, 'EXISTS', user_key($uid)) } 0, 1)[0] }
sub post { http_request('POST', $_[1], { 'X-CC-Uid' => $_[0] }) }
sub get  { http_request('GET',  $_[1], { 'X-CC-Uid' => $_[0] }) }

# ---- 100 concurrent combines by one user: exactly one set consumed --------

start_nginx(undef, workers => 2, http_config => on_shards(), config => all_locations());
post(5, '/cc/grant?grant_id=g&n=1');
my $s = shard_of(5);
redis_cmd($s, 'HSET', user_key(5), map { ("k$_", 3) } 0 .. 4);

my @res = concurrent_requests(100, 'POST', '/cc/combine?request_id=c%d', { 'X-CC-Uid' => 5 });
is(scalar(grep { $_->[0] == 200 } @res), 100, '100 concurrent combines all answer 200');
is(scalar(grep { $_->[1] eq '{"cards":[2,2,2,2,2],"kinds":5,"combined":true,"eligible":true}' } @res), 100,
   'each says combined, with one set consumed');
is_deeply(redis_cmd($s, 'HMGET', user_key(5), map { "k$_" } 0 .. 4), [ (2) x 5 ], 'redis: exactly one set consumed');
my $log = redis_cmd($s, 'XRANGE', log_key(), '-', '+');
is(scalar(grep { $_->[1][0] eq 'y' } @$log), 1, 'redis: one combine in the log');
my ($st, $body) = http_request('GET', '/cc/metrics');
stop_nginx();

# ---- the stock of a rare kind is never exceeded ---------------------------

# kind 4 would come 1000 times in 1004 without the cap; 11 over 2 shards
start_nginx(undef, workers => 2,
    http_config => on_shards('cc_cards 1 1 1 1 1000;', 'cc_card_stock 4 11;'),
    config => all_locations());
post($_, '/cc/grant?grant_id=g&n=20') for 101 .. 140;
for my $uid (101 .. 140) {
    concurrent_requests(20, 'POST', '/cc/flip?request_id=f%d', { 'X-CC-Uid' => $uid });
}
my ($rare, $drawn, %counter) = (0, 0);
for my $uid (101 .. 140) {
    my $sh = shard_of($uid);
    $rare += redis_cmd($sh, 'HGET', user_key($uid), 'k4') // 0;
    $drawn += redis_cmd($sh, 'HGET', user_key($uid), 's') // 0;
}
$counter{$_} = redis_cmd($_, 'GET', stock_key(4)) // 0 for 0, 1;
is($drawn, 800, '800 cards drawn');
is($rare, 11, 'exactly the 11 rare cards in stock were issued');
is($counter{0} + $counter{1}, 11, 'the shards\' stock counters add up to 11');
ok(($counter{0} == 6 && $counter{1} == 5) || ($counter{0} == 5 && $counter{1} == 6),
   "each shard issued its quota, 6 and 5 ($counter{0}, $counter{1})");

# a retried flip does not take stock again, and the rest go to other kinds
my ($st2, $b2) = post(101, '/cc/flip?request_id=f1');
like($b2, qr/^\{"draw_id":"101:\d+"/, 'a retry replays its answer');
post(141, '/cc/grant?grant_id=g&n=30');
my @more = concurrent_requests(30, 'POST', '/cc/flip?request_id=m%d', { 'X-CC-Uid' => 141 });
is(scalar(grep { $_->[1] =~ /"card":[0-3]/ } @more), 30, 'once the stock is spent, every draw is another kind');
is((redis_cmd(0, 'GET', stock_key(4)) // 0) + (redis_cmd(1, 'GET', stock_key(4)) // 0), 11, 'and the counters stay at 11');
stop_nginx();

# ---- the campaign window ---------------------------------------------------

my $now = time;
start_nginx(undef, config => all_locations(), http_config => on_shard0(
    sprintf("cc_campaign_start %d;\ncc_campaign_end %d;", $now + 3, $now + 3600)));
redis_cmd(0, 'HSET', user_key(9), 'c', 5, map { ("k$_", 1) } 0 .. 4);
for my $try (['flip', '/cc/flip?request_id=a'], ['grant', '/cc/grant?grant_id=a&n=1'],
             ['combine', '/cc/combine?request_id=a']) {
    ($st, $body) = post(9, $try->[1]);
    is("$st $body", '403 {"error":"campaign_closed"}', "before the start: $try->[0] is 403 campaign_closed");
}
($st, $body) = get(9, '/cc/eligibility');
is("$st $body", '200 {"cards":[1,1,1,1,1],"kinds":5,"combined":false,"eligible":false}',
   'before the start: eligibility is readable');
is(redis_cmd(0, 'HGET', user_key(9), 'c'), 5, 'redis: nothing changed');
sleep($now + 3 - time + 0.05) if time < $now + 3;
($st, $body) = post(9, '/cc/flip?request_id=b');
like("$st $body", qr/^200 \{"draw_id":"9:1"/, 'from the start second on: open') or diag(nginx_error_log());
stop_nginx();

$now = time;
start_nginx(undef, config => all_locations(), http_config => on_shard0(
    sprintf("cc_campaign_start %d;\ncc_campaign_end %d;", $now - 3600, $now + 2)));
($st, $body) = post(9, '/cc/flip?request_id=c');
like("$st $body", qr/^200 /, 'before the end: open');
sleep($now + 2 - time + 0.05) if time < $now + 2;
($st, $body) = post(9, '/cc/flip?request_id=d');
is("$st $body", '403 {"error":"campaign_closed"}', 'from the end second on: closed');
($st, $body) = post(9, '/cc/flip?request_id=c');
is("$st $body", '403 {"error":"campaign_closed"}', 'even for a retry');
($st, $body) = get(9, '/cc/eligibility');
like("$st $body", qr/^200 \{"cards":\[\d+,\d+,\d+,\d+,\d+\],"kinds":5,"combined":false,"eligible":false\}$/,
     'after the end: eligibility is readable');
stop_nginx();

# the combine cutoff, as a date
start_nginx(undef, config => all_locations(), http_config => on_shard0(
    'cc_campaign_start 2020-01-01T00:00:00Z;', 'cc_combine_cutoff 2021-01-01T00:00:00Z;'));
($st, $body) = post(9, '/cc/combine?request_id=late');
is("$st $body", '403 {"error":"campaign_closed"}', 'after the combine cutoff: combine is 403');
($st, $body) = post(9, '/cc/flip?request_id=e');
like("$st $body", qr/^200 /, 'but flips go on until the end');
is(redis_cmd(0, 'HGET', user_key(9), 'e'), undef, 'redis: no combine');
stop_nginx();

done_testing();
