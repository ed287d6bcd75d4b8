# Hostile input on the gift endpoints (issue 19), in t/060-hostile.t's
# way: every request below is refused with its documented 400 or 404 and
# changes nothing: both shards' whole datasets (the users' cards, the
# outbox, the gift and ask keys, the draw logs) are read after each and
# compared with before (README, "Hostile input").  A token for one user
# with another's header gives as the token's user.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcGift;
use CcToken;

my $secret_file = token_secret_file();
my $P1 = $ENV{TEST_NGINX_SERVER_PORT1};
my $nginx = start_nginx(undef,
    http_config => on_shards('cc_cards 1 1 1;', 'cc_card_stock 2 5;'),
    config => gift_locations() . <<"CONF");
    }
    server {
        listen 127.0.0.1:$P1;
        cc_identity token $secret_file;
        location = /cc/gift  { cc_gift; }
        location = /cc/ask   { cc_ask; }
        location = /cc/gifts { cc_gifts; }
CONF

place_users(1 .. 20);
my @s0 = grep { shard_of($_) == 0 } 1 .. 20;
my @s1 = grep { shard_of($_) == 1 } 1 .. 20;
my ($a, $b) = ($s0[0], $s1[0]);
seed_cards($a, 0, 3);
seed_cards($a, 2, 3);
is(gift_req('POST', "/cc/ask?from=$a&kind=0&request_id=q1", $b), qq(200 {"ask_id":"$b:q1"}), "an ask of $a by $b");

my @cases = (
    # [ uri, status, error ]
    [ "/cc/gift?to=0$b&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=+$b&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=-$b&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=%3$b&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=0&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=18446744073709551616&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=123456789012345678901&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=$b%20&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=$b&to=$b&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?TO=$b&to=$b&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=0x1&kind=0&request_id=h", 400, 'bad_to' ],
    [ "/cc/gift?to=$a&kind=0&request_id=h", 400, 'gift_to_self' ],
    [ "/cc/gift?to=$b&kind=00&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=+0&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=%30&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=3&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=4294967296&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=0.0&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=0&kind=0&request_id=h", 400, 'bad_kind' ],
    [ "/cc/gift?to=$b&kind=2&request_id=h", 400, 'kind_not_givable' ],
    [ "/cc/gift?to=$b&kind=0&request_id=h&request_id=h", 400, 'bad_request_id' ],
    [ "/cc/gift?to=$b&kind=0&request_id=a%2Db", 400, 'bad_request_id' ],
    [ "/cc/gift?to=$b&kind=0&request_id=" . ('x' x 65), 400, 'bad_request_id' ],
    [ "/cc/gift?ask_id=$b%3Aq1&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=$b:q1:x&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=0$b:q1&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=:q1&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=$b:&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=$b:" . ('q' x 65) . "&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=$b:q1&ask_id=$b:q1&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=$b:q1&kind=0&request_id=h", 400, 'bad_ask_id' ],
    [ "/cc/gift?ask_id=$a:q1&request_id=h", 404, 'ask_not_found' ],
    [ "/cc/ask?from=0$b&kind=0&request_id=h", 400, 'bad_from' ],
    [ "/cc/ask?from=$b&from=$b&kind=0&request_id=h", 400, 'bad_from' ],
    [ "/cc/ask?from=$a&kind=0&request_id=h", 400, 'ask_from_self' ],
    [ "/cc/ask?from=$b&kind=01&request_id=h", 400, 'bad_kind' ],
    [ "/cc/ask?from=$b&kind=2&request_id=h", 400, 'kind_not_givable' ],
    [ "/cc/ask?from=$b&kind=0&request_id=%00", 400, 'bad_request_id' ],
);

for my $c (@cases) {
    my ($uri, $st, $err) = @$c;
    my $before = redis_snapshot();
    is(gift_req('POST', $uri, $a), qq($st {"error":"$err"}), "$uri: $st $err");
    is(redis_snapshot(), $before, "$uri: redis unchanged");
}

# a token for a with b's header: a gives, b is never read as the caller
my $tok = sign_token($a, time + 3600);
my ($st, $body) = http_request('POST', "http://127.0.0.1:$P1/cc/gift?to=$b&kind=0&request_id=t1",
                               { Authorization => "Bearer $tok", 'X-CC-Uid' => $b });
is("$st $body", qq(200 {"gift_id":"$a:t1","to":"$b","kind":0,"status":"delivered"}), 'a token with another header gives as its user');
is(cards($a, 0) . ' ' . cards($b, 0), '2 1', 'from the token user');
($st, $body) = http_request('POST', "http://127.0.0.1:$P1/cc/gift?ask_id=$b:q1&request_id=t2",
                            bearer($b));
is("$st $body", '404 {"error":"ask_not_found"}', "the asker's token cannot answer its own ask");
($st, $body) = http_request('POST', "http://127.0.0.1:$P1/cc/gift?to=$b&kind=0&request_id=t3");
is("$st $body", '401 {"error":"unauthorized"}', 'no token: 401');

done_testing();
