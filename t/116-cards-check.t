# cc-reconcile --cards: the cards invariant of issue 19 (gifts only move
# cards), over Redis and MySQL.  A consistent state is built as the scripts
# leave it (flip.lua's draws, combine.lua's combine, gift_out.lua /
# gift_in.lua / gift_done.lua's gifts: the user hashes, the outbox, the
# applied sets and the draw-log entries), drained into MySQL by the same
# run, and found clean; then a card created, a card lost and a card
# delivered twice are each reported with the exact difference, by uid and
# kind, and the exit status and the metrics say so; a gift whose halves do
# not pair (lost, never given, two kinds) is named by its id; a server's
# wrong answer fails the check; a daemon checks anew each pass.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest qw(payout_setup shard_map redis_index);

payout_setup();

my $map = shard_map(1 .. 80);
sub rs { redis_index($map->{ $_[0] }[0]) }
sub pick {
    my ($r, $db, @not) = @_;
    my %skip = map { ($_ => 1) } @not;
    my ($u) = grep { !$skip{$_} && rs($_) == $r && $map->{$_}[1] eq $db } 1 .. 80;
    return $u;
}

# a giver and a receiver apart on both rings, a third user, a combiner
my $A = pick(0, 'cc_s0');
my $B = pick(1, 'cc_s1');
my $C = pick(1, 'cc_s0');
my $D = pick(0, 'cc_s1');
ok($A && $B && $C && $D, "users: A $A (redis 0, cc_s0), B $B (redis 1, cc_s1), C $C, D $D");

my $ms = int(time * 1000) - 60_000;
my %seq;

# flip.lua: s and the kind's count in the hash, the draw in the log
sub draw { my ($uid, @cards) = @_; fake_draws(rs($uid), $uid, \%seq, $ms, @cards) }

# combine.lua: one of each of the five kinds, e, the log's y c
sub combine {
    my ($uid) = @_;
    redis_cmd(rs($uid), 'HINCRBY', user_key($uid), "k$_", -1) for 0 .. 4;
    redis_cmd(rs($uid), 'HSET', user_key($uid), 'e', "set$uid:$ms");
    redis_cmd(rs($uid), 'XADD', log_key(), '*', 'y', 'c', 'u', $uid, 'r', "set$uid", 't', $ms);
}

sub gi_key { "cc:{$_[0]}:gi" }

# gift_out.lua on the giver's shard: the card taken, the outbox, the log
sub give {
    my ($giver, $to, $k, $rid) = @_;
    my $g = rs($giver);
    redis_cmd($g, 'HINCRBY', user_key($giver), "k$k", -1);
    redis_cmd($g, 'ZADD', 'cc:outbox', $ms, "$giver:$rid:$to:$k");
    redis_cmd($g, 'XADD', log_key(), '*', 'y', 'go', 'g', "$giver:$rid", 'u', $giver, 'p', $to, 'k', $k, 't', $ms);
}

# gift_in.lua on the receiver's shard: the id applied, the card, the log
sub receive {
    my ($giver, $to, $k, $rid) = @_;
    my $r = rs($to);
    redis_cmd($r, 'SADD', gi_key($to), "$giver:$rid");
    redis_cmd($r, 'HINCRBY', user_key($to), "k$k", 1);
    redis_cmd($r, 'XADD', log_key(), '*', 'y', 'gi', 'g', "$giver:$rid", 'u', $to, 'p', $giver, 'k', $k, 't', $ms + 1);
}

# gift_done.lua on the giver's shard: out of the outbox
sub done {
    my ($giver, $to, $k, $rid) = @_;
    redis_cmd(rs($giver), 'ZREM', 'cc:outbox', "$giver:$rid:$to:$k");
}

draw($A, 0, 1, 2, 2, 3, 4, 4);
draw($B, 1, 2, 3);
draw($C, 0, 0, 3);
draw($D, 0, 1, 2, 3, 4, 4);
give($A, $B, 2, 'g1'); receive($A, $B, 2, 'g1'); done($A, $B, 2, 'g1');       # delivered
give($A, $B, 4, 'g2'); receive($A, $B, 4, 'g2');                        # delivered, not yet done
give($A, $C, 0, 'g3');                                                  # in transit
give($C, $B, 0, 'g4'); receive($C, $B, 0, 'g4'); done($C, $B, 0, 'g4');        # across the rings the other way
give($B, $D, 1, 'g5'); receive($B, $D, 1, 'g5'); done($B, $D, 1, 'g5');        # D completes its set
combine($D);

my $prom = CcTest::Util::topdir() . '/cards.prom';
sub check {
    my ($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, '--cards',
                                         '--metrics-file', $prom, shard_args() ], timeout => 60);
    my $p = -e $prom ? do { local (@ARGV, $/) = ($prom); <> } : '';
    return ($rc, $err, $p);
}

# ---- the consistent state: clean ------------------------------------------------

my ($rc, $err, $p) = check();
is($rc, 0, 'a consistent state: cc-reconcile --cards exits 0') or diag $err;
like($err, qr/pass done: \d+ draws checked, \d+ written/, 'the pass drained the logs into MySQL first');
is(mysql_value('SELECT COUNT(*) FROM cc_s0.gift_moves') + mysql_value('SELECT COUNT(*) FROM cc_s1.gift_moves'), 9,
   'nine gift halves in MySQL (g3 only given)');
like($err, qr/cards: redis \S+: \d+ users compared so far, 0 differences/, 'a progress line per Redis shard');
# kind 0: drawn A1 C2 D1 = 4; held A0 B1 C1 D0 = 2 (g3 in transit, D's combine took one)
like($err, qr/cards: kind 0: held 2 \+ in transit 1 = drawn 4 - combined 1 = 3; MySQL given 2 - received 1 = 1 in transit: ok/,
     'kind 0 adds up, the gift in transit counted');
for my $k (1 .. 4) {
    like($err, qr/cards: kind $k: held \d+ \+ in transit 0 = drawn \d+ - combined 1 = \d+; .*: ok/, "kind $k adds up");
}
unlike($err, qr/cards: uid/, 'no user differs');
like($err, qr/cards: 4 users, 1 gifts in transit; 0 differences/, 'the summary: 4 users, 1 in transit, no difference');
like($p, qr/^cc_reconcile_card_differences 0$/m, 'metric: 0 differences');
like($p, qr/^cc_reconcile_cards_in_transit 1$/m, 'metric: 1 gift in transit');
like($p, qr/^cc_reconcile_card_kind_excess\{kind="0"\} 0$/m, 'metric: kind 0 adds up');

# ---- a card created: the receiver's count +1 with no gift -------------------------

my $bk2 = redis_cmd(rs($B), 'HGET', user_key($B), 'k2');
redis_cmd(rs($B), 'HINCRBY', user_key($B), 'k2', 1);
($rc, $err, $p) = check();
is($rc, 1, 'a card created: exit 1');
like($err, qr/cards: uid $B kind 2: Redis holds ${\($bk2 + 1)}, MySQL $bk2 \(drawn 1 \+ received 1 - given 0 - combined 0\): Redis \+1\n/,
     'the user and the kind, both counts and the difference');
like($err, qr/cards: kind 2: held \d+ \+ in transit 0 = \d+, drawn 4 - combined 1 = 3: \+1 cards; MySQL given 1 - received 1 = 0, in transit 0: \+0: DIFFERENCE/,
     'kind 2: one card too many');
like($err, qr/cards: kind 0: .*: ok/, 'the other kinds add up');
like($err, qr/2 differences: 1 of users, 1 of kinds/, 'two differences');
like($p, qr/^cc_reconcile_card_differences 2$/m, 'metric: 2 differences');
like($p, qr/^cc_reconcile_card_kind_excess\{kind="2"\} 1$/m, 'metric: kind 2 is one over');
redis_cmd(rs($B), 'HINCRBY', user_key($B), 'k2', -1);
($rc, $err) = check();
is($rc, 0, 'put back: clean again') or diag $err;

# ---- a card lost: the gift in transit dropped from its outbox, not delivered ---------

redis_cmd(rs($A), 'ZREM', 'cc:outbox', "$A:g3:$C:0");
($rc, $err, $p) = check();
is($rc, 1, 'a card lost: exit 1');
like($err, qr/cards: kind 0: held 2 \+ in transit 0 = 2, drawn 4 - combined 1 = 3: -1 cards; MySQL given 2 - received 1 = 1, in transit 0: \+1: DIFFERENCE/,
     'kind 0: one card short, and MySQL has a gift given that is neither received nor in transit');
unlike($err, qr/cards: uid/, 'no user differs: the giver gave it, the receiver never had it');
like($err, qr/cards: gift $A:g3: uid $A gave a card of kind 0 to uid $C, who never received it, and it is in no outbox \(a card lost\)/,
     'the gift named: its halves paired, the receiver\'s missing, no outbox holds it');
like($err, qr/2 differences: 0 of users, 1 of kinds, 1 of gifts/, 'two differences: the kind, the gift');
like($p, qr/^cc_reconcile_card_kind_excess\{kind="0"\} -1$/m, 'metric: kind 0 is one short');
redis_cmd(rs($A), 'ZADD', 'cc:outbox', $ms, "$A:g3:$C:0");
($rc, $err) = check();
is($rc, 0, 'back in the outbox: clean again') or diag $err;

# ---- a card delivered twice: the receiver's half applied again ----------------------

my $bk4 = redis_cmd(rs($B), 'HGET', user_key($B), 'k4');
redis_cmd(rs($B), 'HINCRBY', user_key($B), 'k4', 1);
redis_cmd(rs($B), 'XADD', log_key(), '*', 'y', 'gi', 'g', "$A:g2", 'u', $B, 'p', $A, 'k', 4, 't', $ms + 1);
($rc, $err, $p) = check();
is($rc, 1, 'a card delivered twice: exit 1');
like($err, qr/pass done: 1 draws checked, 0 written/, 'MySQL took the second half once: nothing written');
like($err, qr/cards: uid $B kind 4: Redis holds ${\($bk4 + 1)}, MySQL $bk4 \(drawn 0 \+ received 1 - given 0 - combined 0\): Redis \+1\n/,
     'the receiver and the kind, one over');
like($err, qr/cards: kind 4: held \d+ \+ in transit 0 = \d+, drawn 4 - combined 1 = 3: \+1 cards; .*: DIFFERENCE/,
     'kind 4: one card too many');
redis_cmd(rs($B), 'HINCRBY', user_key($B), 'k4', -1);

# ---- a gift applied in Redis and its receiver's set lost: counted twice ---------------

redis_cmd(rs($B), 'SREM', gi_key($B), "$A:g2");
($rc, $err) = check();
is($rc, 1, 'a delivered gift still in its outbox and not in the applied set: exit 1');
like($err, qr/cards: kind 4: held \d+ \+ in transit 1 = \d+, drawn 4 - combined 1 = 3: \+1 cards; MySQL given 1 - received 1 = 0, in transit 1: -1: DIFFERENCE/,
     'kind 4: the card held and in transit at once');
redis_cmd(rs($B), 'SADD', gi_key($B), "$A:g2");

# ---- a user's hash gone (a shard lost it), and an outbox entry that does not read ----

my @cs = @{ redis_cmd(rs($C), 'HGETALL', user_key($C)) };
redis_cmd(rs($C), 'DEL', user_key($C));
redis_cmd(rs($A), 'ZADD', 'cc:outbox', $ms, "$A:junk:$C:16");
($rc, $err) = check();
is($rc, 1, 'a user only in MySQL and a bad outbox entry: exit 1');
like($err, qr/cards: 1 users have cards in MySQL and no hash in any Redis shard/, 'the user only in MySQL is counted');
like($err, qr/cards: redis \S+: outbox gift $A:junk:$C:16: "$ms" is not giver:request_id:to:kind by its ms/,
     'the bad outbox entry is named (kind 16: past the kinds)');
redis_cmd(rs($A), 'ZREM', 'cc:outbox', "$A:junk:$C:16");
redis_cmd(rs($A), 'HSET', 'cc:outbox:g', "$A:junk", 'nobody');
($rc, $err) = check();
is($rc, 1, 'an old outbox value that does not read: exit 1');
like($err, qr/cards: redis \S+: outbox gift $A:junk: "nobody" is not to:kind:ms/, 'the bad old outbox entry is named');
like($err, qr/cards: kind 3: held \d+ \+ in transit 0 = \d+, drawn \d+ - combined 1 = \d+: -1 cards/,
     "C's kind 3 is missing from the totals");
redis_cmd(rs($C), 'HSET', user_key($C), @cs);
redis_cmd(rs($A), 'HDEL', 'cc:outbox:g', "$A:junk");
($rc, $err) = check();
is($rc, 0, 'all put back: clean') or diag $err;

# ---- a receiver's half never given (a forged gift_in), two kinds for one gift --------

redis_cmd(rs($C), 'XADD', log_key(), '*', 'y', 'gi', 'g', "$D:forged", 'u', $C, 'p', $D, 'k', 3, 't', $ms);
($rc, $err) = check();
is($rc, 1, 'a receiver\'s half that nobody gave: exit 1');
like($err, qr/cards: uid $C kind 3: Redis holds \d+, MySQL \d+ \(drawn 1 \+ received 1 - given 0 - combined 0\): Redis -1\n/,
     'the receiver: MySQL one over Redis');
like($err, qr/cards: kind 3: .*MySQL given 0 - received 1 = -1, in transit 0: -1: DIFFERENCE/, 'kind 3: a gift received, none given');
like($err, qr/cards: gift $D:forged: uid $C received a card of kind 3 from uid $D, who never gave it \(a card created\)/,
     'the gift named');
mysql_query("DELETE FROM gift_moves WHERE gift_id = '$D:forged'; "
            . "UPDATE gift_counts SET received = received - 1 WHERE uid = $C AND card = 3", $map->{$C}[1]);

redis_cmd(rs($C), 'XADD', log_key(), '*', 'y', 'gi', 'g', "$A:g3", 'u', $C, 'p', $A, 'k', 1, 't', $ms);
($rc, $err) = check();
is($rc, 1, 'the receiver\'s half of a gift in transit with another kind: exit 1');
like($err, qr/cards: gift $A:g3: uid $A gave a card of kind 0, uid $C received one of kind 1/, 'the gift and both kinds named');
mysql_query("DELETE FROM gift_moves WHERE gift_id = '$A:g3' AND side = 'i'; "
            . "DELETE FROM gift_counts WHERE uid = $C AND card = 1", $map->{$C}[1]);
($rc, $err) = check();
is($rc, 0, 'taken out of MySQL by hand: clean') or diag $err;

# ---- a server that answers wrong: the check fails, says why, writes no figures -----

unlink $prom;
redis_cmd(rs($A), 'RENAME', 'cc:outbox', 'cc:outbox:kept');
redis_cmd(rs($A), 'SET', 'cc:outbox', 'not a zset');
($rc, $err, $p) = check();
is($rc, 1, 'an outbox of the wrong type: exit 1');
like($err, qr/cards: redis \S+: ZSCAN cc:outbox: WRONGTYPE/, 'the shard and the reply named');
is($p, '', 'no metrics file: a check that did not run is no success');
redis_cmd(rs($A), 'RENAME', 'cc:outbox:kept', 'cc:outbox');
redis_cmd(rs($A), 'SET', 'cc:outbox:g', 'not a hash');
($rc, $err, $p) = check();
is($rc, 1, 'the old outbox gifts of the wrong type: exit 1');
like($err, qr/cards: redis \S+: HSCAN cc:outbox:g: WRONGTYPE/, 'the shard and the reply named');
redis_cmd(rs($A), 'DEL', 'cc:outbox:g');

redis_cmd(0, 'SET', user_key(999), 'not a hash');
($rc, $err) = check();
is($rc, 1, 'a user key of the wrong type: exit 1');
like($err, qr/cards: redis \S+: HMGET: WRONGTYPE/, 'the reply named');
redis_cmd(0, 'DEL', user_key(999));

# ---- as a daemon: each pass checks anew (MySQL's snapshot is not kept) --------------

my $w = spawn_worker('cc-reconcile', '--interval', 1, '--grace', 0, '--cards', shard_args());
ok(wait_until(sub { worker_stderr($w) =~ /cards: 4 users, 1 gifts in transit; 0 differences/ }, 20),
   'a daemon\'s first check: clean') or diag worker_stderr($w);
draw($C, 4);
give($C, $D, 4, 'g6');
ok(wait_until(sub { worker_stderr($w) =~ /cards: kind 4: held \d+ \+ in transit 1 = drawn 5 - combined 1 = 4; MySQL given 2 - received 1 = 1 in transit: ok/ }, 20),
   'a later check sees the new draw and the new gift in transit, still adding up') or diag worker_stderr($w);
is(stop_worker($w, 'TERM', 10), 0, 'SIGTERM: exit 0');

# ---- the option's text ---------------------------------------------------------

my (undef, $help) = run_worker([ 'cc-reconcile', '--help' ], timeout => 10, ok => 1);
like($help, qr/--cards +after each pass, check the cards invariant, read-only/, '--help says what --cards does');

done_testing();
