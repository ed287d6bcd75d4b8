# Many gifts at once (issue 19): the giver's shard decides, one script
# step at a time, so one last card is given once, an ask is answered
# once, and a request id retried at once moves one card.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;

start_nginx(undef, workers => 2, http_config => on_shards('cc_gift_limit 1000;'), config => gift_locations());

place_users(1 .. 60);
my @s0 = grep { shard_of($_) == 0 } 1 .. 60;
my @s1 = grep { shard_of($_) == 1 } 1 .. 60;
my ($a, $b, $c) = ($s0[0], $s1[0], $s1[1]);

# --- 200 concurrent gifts of the same last card -------------------------------

seed_cards($a, 1, 1);
my @res = concurrent_requests(200, 'POST', "/cc/gift?to=$b&kind=1&request_id=c%d", { 'X-CC-Uid' => $a });
my @ok = grep { ($_->[0] // 0) == 200 } @res;
is(scalar @ok, 1, 'exactly one gift succeeds');
like($ok[0][1] // '', qr/^\{"gift_id":"$a:c\d+","to":"$b","kind":1,"status":"delivered"\}$/, 'delivered');
is(scalar(grep { ($_->[0] // 0) == 409 && $_->[1] eq '{"error":"no_card"}' } @res), 199, 'the other 199: 409 no_card');
is(cards($a, 1) . ' ' . cards($b, 1), '0 1', 'one card moved');
is(redis_cmd(1, 'SCARD', gift_key($b, 'gi')), 1, 'one gift id applied');
is(scalar @{ log_gifts(0) } . ' ' . scalar @{ log_gifts(1) }, '1 1', 'one y=go, one y=gi');
is_deeply(outbox_drained(0), {}, 'the outbox is empty');
like(redis_cmd(0, 'HGET', user_key($a), 'gd'), qr/^\d+:1$/, 'one gift counted for the day');

# --- 100 concurrent copies of one request id ----------------------------------

seed_cards($a, 2, 3);
@res = concurrent_requests(100, 'POST', "/cc/gift?to=$c&kind=2&request_id=same&x=%d", { 'X-CC-Uid' => $a });
is(scalar(grep { ($_->[0] // 0) == 200 && $_->[1] =~ /^\{"gift_id":"$a:same","to":"$c","kind":2,"status":"(?:sent|delivered)"\}$/ } @res),
   100, 'every copy answers the gift');
is(cards($a, 2) . ' ' . cards($c, 2), '2 1', 'one card moved');
is(redis_cmd(1, 'SCARD', gift_key($c, 'gi')), 1, 'applied once');
is_deeply(outbox_drained(0), {}, 'the outbox is empty');

# --- 50 concurrent answers to one ask -----------------------------------------

my $d = $s0[1];
is(gift_req('POST', "/cc/ask?from=$b&kind=3&request_id=ask1", $d), qq(200 {"ask_id":"$d:ask1"}), 'an ask');
seed_cards($b, 3, 5);
@res = concurrent_requests(50, 'POST', "/cc/gift?ask_id=$d:ask1&request_id=w%d", { 'X-CC-Uid' => $b });
is(scalar(grep { ($_->[0] // 0) == 200 } @res), 1, 'one answer succeeds');
is(scalar(grep { ($_->[0] // 0) == 409 && $_->[1] eq '{"error":"ask_answered"}' } @res), 49, 'the others: ask_answered');
is(cards($b, 3) . ' ' . cards($d, 3), '4 1', 'one card moved');

# --- gifts both ways at once: no card created or lost -------------------------

my @pairs = map { [ $s0[$_], $s1[$_] ] } 2 .. 6;
for my $p (@pairs) { seed_cards($_, 0, 10) for @$p }
my @reqs;
for my $i (1 .. 10) {
    for my $p (@pairs) {
        push @reqs, [ $p->[0], $p->[1], "f$i" ], [ $p->[1], $p->[0], "b$i" ];
    }
}
# all sent, then all read: the two workers take them as they come
my @socks = map { send_request('POST', "/cc/gift?to=$_->[1]&kind=0&request_id=$_->[2]", { 'X-CC-Uid' => $_->[0] }) } @reqs;
my @st = map { (read_response($_))[0] // 0 } @socks;
is(scalar(grep { $_ == 200 } @st), 100, '100 gifts both ways succeed');
my $sum = 0;
$sum += cards($_, 0) for map { @$_ } @pairs;
is($sum, 100, 'the ten users hold the 100 cards they had');
is(join(' ', map { cards($_, 0) } map { @$_ } @pairs), join(' ', (10) x 10), 'each gave and got 10');

# --- the lists are bounded: the newest 50 read, 100 kept at most ----------
# (the received list trimmed back to 50 when a push makes it 101: an LTRIM
# every 50 gifts; the gifts sent are the giver's answers in its user hash,
# no list, sorted by GET /cc/gifts)

my ($g, $r) = ($s0[7], $s1[7]);
seed_cards($g, 1, 110);
for my $i (1 .. 55) {
    gift_req('POST', "/cc/gift?to=$r&kind=1&request_id=l$i", $g) =~ /^200 / or fail("gift l$i"), last;
}
is(cards($g, 1) . ' ' . cards($r, 1), '55 55', '55 gifts given');
is(redis_cmd(0, 'EXISTS', gift_key($g, 'gs')), 0, 'no sent list written');
is(scalar(grep { /^\@l\d+$/ } @{ redis_cmd(0, 'HKEYS', user_key($g)) }), 55, 'the user hash holds the 55 answers');
is(redis_cmd(1, 'LLEN', gift_key($r, 'gr')), 55, 'the received list too');
is(redis_cmd(1, 'SCARD', gift_key($r, 'gi')), 55, 'the applied gift ids keep all 55');
my $list = gift_req('GET', '/cc/gifts', $g);
my @sent = $list =~ /"gift_id":"$g:l(\d+)"/g;
is("@sent", join(' ', reverse 6 .. 55), 'GET /cc/gifts: the newest 50 sent, newest first');
my @rcvd = gift_req('GET', '/cc/gifts', $r) =~ /"gift_id":"$g:l(\d+)","from"/g;
is("@rcvd", join(' ', reverse 6 .. 55), '... and the newest 50 received');
for my $i (56 .. 100) {
    gift_req('POST', "/cc/gift?to=$r&kind=1&request_id=l$i", $g) =~ /^200 / or fail("gift l$i"), last;
}
is(scalar(grep { /^\@l\d+$/ } @{ redis_cmd(0, 'HKEYS', user_key($g)) }), 100, 'at 100 gifts: 100 answers');
gift_req('POST', "/cc/gift?to=$r&kind=1&request_id=l101", $g) =~ /^200 / or fail('gift l101');
is(redis_cmd(1, 'LLEN', gift_key($r, 'gr')), 50, 'the 101st trims the received list back to 50');
@sent = gift_req('GET', '/cc/gifts', $g) =~ /"gift_id":"$g:l(\d+)"/g;
is("@sent", join(' ', reverse 52 .. 101), 'GET /cc/gifts: the newest 50 sent of 101, newest first');
like(redis_cmd(1, 'LINDEX', gift_key($r, 'gr'), -1), qr/^$g:l52:1:\d+$/, '... received too');
is(cards($g, 1) . ' ' . cards($r, 1), '9 101', '101 gifts given');

# 6 askers, 9 asks each, of one user: the newest 50 asks are kept
my $x = $s1[8];
my @askers = @s0[8 .. 13];
for my $i (1 .. 9) {
    for my $k (@askers) {
        gift_req('POST', "/cc/ask?from=$x&kind=0&request_id=b$i", $k) =~ /^200 / or fail("ask $k b$i");
    }
}
is(redis_cmd(1, 'LLEN', gift_key($x, 'al')), 50, "the asked user's list keeps 50 asks");
is(redis_cmd(1, 'HLEN', gift_key($x, 'ak')), 50, '... and so does its hash');
seed_cards($x, 0, 1);
is(gift_req('POST', "/cc/gift?ask_id=$askers[0]:b1&request_id=old", $x), '404 {"error":"ask_not_found"}',
   'an ask pushed off: 404');
is(gift_req('POST', "/cc/gift?ask_id=$askers[5]:b9&request_id=new", $x),
   qq(200 {"gift_id":"$x:new","to":"$askers[5]","kind":0,"status":"delivered"}), 'the newest ask is answered');
is(gift_req('POST', "/cc/ask?from=$x&kind=0&request_id=b10", $askers[0]), qq(200 {"ask_id":"$askers[0]:b10"}),
   'an asker with 9 open asks makes a 10th (the default cc_ask_limit)');
is(gift_req('POST', "/cc/ask?from=$x&kind=0&request_id=b11", $askers[0]), '429 {"error":"ask_limit"}',
   '... not an 11th');

done_testing();
