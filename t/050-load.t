# cc-load against a real nginx with the module: what it says it sent and
# got back equals what Redis holds; a retried request id (by the client,
# or after a 503 whose script Redis ran later) is counted once; and it
# fails clearly on bad options and on a server that is not there.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcToken;
use Cwd qw(abs_path);
use File::Temp qw(tempdir);
use JSON::PP;
use List::Util qw(sum);

my $load = abs_path('build/tools/cc-load');
-x $load or BAIL_OUT("$load is missing: run `make tools`");

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $secret = token_secret_file(dir => $dir, secret => 'load-test-secret-of-at-least-32-bytes!!');
token_secret_file(dir => $dir, name => 'short', secret => 'short');

my ($USERS, $CHANCES, $CAP) = (300, 12, 20);
my $KINDS = 5;

start_nginx(undef, workers => 2,
    http_config => on_shards('cc_redis_timeout 150ms;', 'cc_cards 3000 3000 2500 1400 100;',
                             "cc_card_stock 4 $CAP;"),
    config => "location = /cc/flip { cc_identity token $secret; cc_flip; }\n"
            . "location = /cc/combine { cc_identity token $secret; cc_combine; }\n"
            . "location = /cc/eligibility { cc_identity token $secret; cc_eligibility; }\n"
            . "location = /cc/gift { cc_identity token $secret; cc_gift; }\n"
            . "location = /cc/ask { cc_identity token $secret; cc_ask; }\n"
            . "location = /cc/gifts { cc_identity token $secret; cc_gifts; }\n"
            . "location = /cc/grant { cc_identity trusted_header X-CC-Uid; cc_grant; }\n");
my $url = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT}";

my $seq = 0;

# runs cc-load; returns (exit code, [per-second lines], total, stderr)
sub cc_load {
    my (@args) = @_;
    my $stats = "$dir/stats-" . ++$seq . '.jsonl';
    my ($rc, undef, $err) = run_worker([ $load, @args, '--stats', $stats ], timeout => 120);
    die "cc-load @args still running after 120 s" unless defined $rc;
    my (@sec, $total);
    if (open my $h, '<', $stats) {
        while (my $l = <$h>) {
            my $j = decode_json($l);
            if ($j->{type} eq 'second') { push @sec, $j } else { $total = $j }
        }
    }
    return ($rc, \@sec, $total, $err);
}

# the user hashes of uids from..to, each from the shard that has it
sub users {
    my ($from, $to) = @_;
    my %u;
    for my $uid ($from .. $to) {
        for my $s (0, 1) {
            my $flat = redis_cmd($s, 'HGETALL', user_key($uid));
            next unless @$flat;
            die "user $uid on both shards" if $u{$uid};
            $u{$uid} = { @$flat };
        }
    }
    return \%u;
}

sub sum_field {
    my ($u, $f) = @_;
    my $n = 0;
    $n += $_->{$f} // 0 for values %$u;
    return $n;
}

sub log_draws {
    my $n = 0;
    for my $s (0, 1) {
        for my $e (@{ redis_cmd($s, 'XRANGE', log_key(), '-', '+') }) {
            my %f = @{ $e->[1] };
            $n += scalar(split /\n/, $f{d}) if defined $f{d};
        }
    }
    return $n;
}

# ---- grant ---------------------------------------------------------------

my @grant = ('grant', '--url', $url, '--users', $USERS, '--chances', $CHANCES,
             '--conc', 64, '--quiet');
my ($rc, $sec, $t, $err) = cc_load(@grant);
is($rc, 0, 'grant: exit 0') or diag $err;
is($t->{endpoints}{grant}{200}, $USERS, "grant: $USERS answers 200");
is($t->{grant}{chances_sum}, $USERS * $CHANCES, 'grant: the answers add up to every chance');
is($t->{errors_total}, 0, 'grant: no connection error');
my $u = users(1, $USERS);
is(scalar keys %$u, $USERS, "redis: $USERS user hashes");
is(sum_field($u, 'c'), $USERS * $CHANCES, 'redis: the chances the answers said');

($rc, $sec, $t) = cc_load(@grant);
is($rc, 0, 'the same grant again: exit 0');
is($t->{grant}{chances_sum}, $USERS * $CHANCES, '... it answers the chances as they are');
is(sum_field(users(1, $USERS), 'c'), $USERS * $CHANCES, 'redis: ... and adds none');

# ---- flip with client retries and combines --------------------------------

my @flip = ('flip', '--url', $url, '--users', $USERS, '--secret', $secret,
            '--retry-pct', 10, '--combine', '--conc', 128, '--answers', "$dir/answers.txt");
($rc, $sec, $t, $err) = cc_load(@flip);
is($rc, 0, 'flip: exit 0') or diag $err;
like($err, qr/^cc-load flip: done in [\d.]+s: \d+ requests/m, 'flip: a closing line on stderr');
my $f = $t->{flip};
$u = users(1, $USERS);
is($f->{draws}, $USERS * $CHANCES, 'flip: every chance drawn, by the answers');
is(sum_field($u, 's'), $f->{draws}, 'redis: the draw sequences add up to the distinct draws');
is(sum_field($u, 'c'), 0, 'redis: no chance left');
is(log_draws(), $f->{draws}, 'redis: the draw logs hold as many draws');
ok($f->{retries_sent} > 100, "flip: $f->{retries_sent} flips re-sent with their request id");
is($f->{retries_same}, $f->{retries_sent}, '... each answered its first body');
is($f->{retries_differ}, 0, '... none differently');
is($f->{answers_200}, $f->{draws} + $f->{retries_sent}, 'flip: 200s = draws + replays');
is($t->{endpoints}{flip}{200}, $f->{answers_200}, 'flip: the endpoint\'s 200s are those');
is($f->{dup_draw_ids}, 0, 'flip: no draw id answered twice to new request ids');
is($t->{errors_total} + $t->{gave_up} + $t->{bad_answers}, 0, 'flip: no error');

# --answers: a line a flip answer, what each user was told
my (%ans_st, $ans_bad, %ans_seq);
open my $ah, '<', "$dir/answers.txt" or die "answers: $!";
while (my $l = <$ah>) {
    my ($ts, $uid, $st, $tries, $body) = $l =~ /^(\d+\.\d{3}) (\d+) (\d+) (\d+) (\S*)\n\z/
        or do { $ans_bad++; next };
    $ans_st{$st}++;
    $ans_bad++ if abs($ts - time) > 300 || $tries < 1;
    if ($st == 200) {
        my ($du, $seq) = $body =~ /^\{"draw_id":"(\d+):(\d+)"/ or do { $ans_bad++; next };
        $ans_bad++ if $du != $uid;
        $ans_seq{$uid} = $seq if $seq > ($ans_seq{$uid} // 0);
    }
}
close $ah;
is($ans_bad // 0, 0, '--answers: every line TIME_S UID STATUS TRIES BODY, a 200 naming its own uid');
is($ans_st{200}, $f->{answers_200}, '--answers: a line for each flip answered 200');
is(sum(values %ans_st), $t->{endpoints}{flip}{sent}, '... and for each flip sent (no error here)');
is(scalar(grep { $ans_seq{$_} == $u->{$_}{s} } keys %$u), $USERS,
   '--answers: each user\'s newest draw is the sequence Redis holds');

my $eligible = grep { defined $_->{e} } values %$u;
is($f->{combined}, $eligible, "flip: $eligible combines answered combined, as many users have e");
ok($eligible > 0, '... some users combined');
is($t->{endpoints}{combine}{200}, $eligible, '... each combine answered 200 once');
for my $k (0 .. $KINDS - 1) {
    is(sum_field($u, "k$k") + $eligible, $f->{cards}[$k],
       "card $k: held in redis + combined = drawn by the answers ($f->{cards}[$k])");
}
my $stock = 0;
$stock += redis_cmd($_, 'GET', stock_key(4)) // 0 for 0, 1;
is($stock, $f->{cards}[4], "rare kind 4: the stock counters equal the answers ($stock)");
ok($stock <= $CAP, "... within the cap of $CAP");

my %sum;
for my $s (@$sec) {
    $sum{$_} += $s->{$_} for qw(sent answered draws);
    $sum{ok} += $s->{status}{200} // 0;
    $sum{bad}++ unless $s->{latency_us}{p50} <= $s->{latency_us}{p99}
                    && $s->{latency_us}{p99} <= $s->{latency_us}{max};
}
is($sum{sent}, $t->{sent}, 'per second: the sends add up to the total');
is($sum{draws}, $f->{draws}, 'per second: the draws add up');
is($sum{ok}, $t->{status}{200}, 'per second: the 200s add up');
is($sum{bad}, undef, 'per second: p50 <= p99 <= max');
is_deeply([ map { $_->{t} } @$sec ], [ 1 .. @$sec ], 'per second: the seconds run 1, 2, ...');

# ---- the whole flip phase again: every id is a retry ----------------------

my $before = log_draws();
($rc, $sec, $t) = cc_load(@flip[0 .. $#flip - 7], '--conc', 64);
is($rc, 0, 'flip again with the same request ids: exit 0');
is($t->{endpoints}{flip}{200}, $USERS * $CHANCES, '... every request id replayed with 200');
is(sum_field(users(1, $USERS), 's'), $USERS * $CHANCES, 'redis: no draw twice');
is(log_draws(), $before, 'redis: nothing new in the draw logs');

# ---- social: partners give duplicates, ask, answer, combine ---------------
# Every user (--social-pct 100) and its partner (uid ^ 1 among 1..300):
# the first run gives duplicates and asks; the second answers the asks
# and combines the sets the gifts completed.  Gifts only move cards: per
# kind, held + combined = drawn, and each gift the client saw delivered
# is one id in a receiver's cc:{uid}:gi.

sub gifts_applied {
    my $n = 0;
    for my $uid (1 .. $USERS) {
        $n += redis_cmd($_, 'SCARD', gift_key($uid, 'gi')) for 0, 1;
    }
    return $n;
}
my $e_before = grep { defined $_->{e} } values %{ users(1, $USERS) };
my @social = ('social', '--url', $url, '--users', $USERS, '--secret', $secret,
              '--rare', 4, '--conc', 64, '--quiet');
my ($s1, $s2);
($rc, $sec, $t, $err) = cc_load(@social, '--rid-prefix', 's1');
is($rc, 0, 'social, first run: exit 0') or diag $err;
$s1 = $t->{social};
is($s1->{social_users}, $USERS, '... every user chosen at 100%');
ok($s1->{gifts_delivered} > 0, "... $s1->{gifts_delivered} duplicates given, delivered");
ok($s1->{asks} > 0, "... $s1->{asks} asks for a kind the user lacks");
is($s1->{gifts_refused} + $s1->{asks_refused}, 0, '... none refused');
is($t->{endpoints}{eligibility}{200}, $USERS, '... one eligibility read a user');
($rc, $sec, $t, $err) = cc_load(@social, '--rid-prefix', 's2');
is($rc, 0, 'social, second run: exit 0') or diag $err;
$s2 = $t->{social};
ok($s2->{asks_open_seen} > 0, "... $s2->{asks_open_seen} open asks listed by GET /cc/gifts");
ok($s2->{answers} > 0, "... $s2->{answers} of them answered with a gift");
is($t->{errors_total} + $t->{gave_up} + $t->{bad_answers}, 0, '... no error, no broken answer');
($rc, $sec, $t) = cc_load(@social, '--rid-prefix', 's3', '--social-pct', 0);
is($rc, 0, 'social at 0%: exit 0');
is_deeply([ $t->{sent}, $t->{users_done} ], [ 0, $USERS ],
          '... nobody chosen, no partner of one: every user done, nothing sent');

# a gift answered "sent" (the receiver's shard slower than 150 ms) waits
# in its giver's outbox: cc-redrive delivers it
($rc, undef, $err) = run_worker([ abs_path('build/workers/cc-redrive'),
    map({ ('--redis', '127.0.0.1:' . redis_port($_)) } 0, 1), '--once', '--grace', 0 ]);
is($rc, 0, 'cc-redrive --once: exit 0') or diag $err;
$u = users(1, $USERS);
my $e_after = grep { defined $_->{e} } values %$u;
is($e_after - $e_before, $s1->{combined} + $s2->{combined},
   "redis: the social runs' combines ($s1->{combined} + $s2->{combined}) are the new e fields");
for my $k (0 .. $KINDS - 1) {
    is(sum_field($u, "k$k") + $e_after, $f->{cards}[$k],
       "card $k: held + combined = drawn ($f->{cards}[$k]): gifts only moved cards");
}
my $given = 0;
$given += $_->{gifts_delivered} + $_->{gifts_sent} for $s1, $s2;
is(gifts_applied(), $given, "redis: each gift given ($given) is one applied gift id");
is_deeply([ map { redis_cmd($_, 'ZCARD', outbox_key()) } 0, 1 ], [ 0, 0 ],
   'redis: the outboxes are empty');

# a set completed by a gift, for certain: above, whether a pair's gifts
# complete a set is the draws' chance (a rare card is scarce).  A pair
# set up for it: 5001 holds one of every kind but 3 (the rare 4 too), its
# partner 5002 three of kind 3.  The first run: 5001 asks for 3, 5002
# gives its most-held duplicate (3); the second: 5001 combines.
($rc) = cc_load('grant', '--url', $url, '--first-uid', 5001, '--users', 2, '--chances', 1, '--quiet');
is($rc, 0, 'a pair of users, 5001 and 5002');
my ($sa, $sb) = map { my $uid = $_; (grep { redis_cmd($_, 'EXISTS', user_key($uid)) } 0, 1)[0] } 5001, 5002;
redis_cmd($sa, 'HSET', user_key(5001), 'k0', 1, 'k1', 1, 'k2', 1, 'k3', 0, 'k4', 1);
redis_cmd($sb, 'HSET', user_key(5002), 'k3', 3);
my @pair = ('social', '--url', $url, '--first-uid', 5001, '--users', 2, '--secret', $secret,
            '--rare', 4, '--social-pct', 100, '--quiet');
my ($p1, $p2);
($rc, undef, $t) = cc_load(@pair, '--rid-prefix', 'p1');
is($rc, 0, 'the pair, first run: exit 0');
$p1 = $t->{social};
($rc, undef, $t) = cc_load(@pair, '--rid-prefix', 'p2');
is($rc, 0, 'the pair, second run: exit 0');
$p2 = $t->{social};
ok($p1->{gifts_delivered} + $p2->{gifts_delivered} >= 1, '... 5002 gave 5001 a card of kind 3');
is($p1->{combined} + $p2->{combined}, 1, '... and 5001 combined: a set completed by a gift');
ok(defined redis_cmd($sa, 'HGET', user_key(5001), 'e'), 'redis: 5001 has combined (field e)');
is(redis_cmd($sa, 'HGET', user_key(5001), 'k3') + redis_cmd($sb, 'HGET', user_key(5002), 'k3') + 1, 3,
   'redis: kind 3 held by the pair + the one the combine took = the 3 seeded');

# ---- 503 while a shard is paused: resends with the same id --------------

my $U2 = 400;
($rc) = cc_load('grant', '--url', $url, '--first-uid', 1001, '--users', $U2,
                '--chances', 3, '--quiet');
is($rc, 0, 'grant 400 more users');
redis_pause(0);
my $w = spawn_worker($load, 'flip', '--url', $url, '--first-uid', 1001, '--users', $U2,
                     '--secret', $secret, '--conc', 64, '--max-tries', 20,
                     '--stats', "$dir/paused.jsonl");
Time::HiRes::sleep(1.0);
redis_resume(0);
$rc = wait_worker($w, 120);
is($rc, 0, 'flip through a paused shard: exit 0') or diag worker_stderr($w);
my $perr = worker_stderr($w);
like($perr, qr/^cc-load flip: +1s users \d+\/$U2 sent \d+ \(\d+\/s\)(?: \d{3} \d+)+ resent \d+ errors 0 gave up 0 p99 [\d.]+ms$/m,
     '... a progress line each second on stderr, the answers by status');
($t) = grep { $_->{type} eq 'total' }
       map { decode_json($_) } do { open my $h, '<', "$dir/paused.jsonl" or die $!; <$h> };
ok(($t->{endpoints}{flip}{503} // 0) > 0, "... $t->{endpoints}{flip}{503} answers 503 while it was paused");
is($t->{resends}, $t->{endpoints}{flip}{503}, '... each re-sent with its request id');
my ($p503) = $perr =~ /^cc-load flip: +1s .* 503 (\d+) resent (\d+) /m;
ok($p503 && $p503 > 0, "... the progress line says the 503s (${\($p503 // 'none')}), not \"other\"");
like($perr, qr/^cc-load flip: done in .* sent $t->{sent} answered $t->{answered} \(200 \d+ 503 $t->{endpoints}{flip}{503}\), resent $t->{resends}, errors 0, gave up 0$/m,
     '... and the closing line: sent, answered by status, resent');
is($t->{sent}, $t->{answered} + $t->{errors_total} + $t->{reconnects},
   '... sent = answered + errors + keep-alive connections reopened');
$u = users(1001, 1000 + $U2);
is($t->{flip}{draws}, $U2 * 3, '... and in the end every chance drawn');
is(sum_field($u, 's'), $t->{flip}{draws}, 'redis: the sequences equal the distinct draws, none twice');
is(sum_field($u, 'c'), 0, 'redis: no chance left');

# ---- errors ------------------------------------------------------------------

my $nobody = free_port();
($rc, $sec, $t, $err) = cc_load('grant', '--url', "http://127.0.0.1:$nobody", '--users', 3,
                                '--chances', 1, '--max-tries', 2, '--quiet');
is($rc, 1, 'nobody listening: exit 1');
is($t->{errors}{connect}, 6, '... 3 users x 2 tries counted as connection errors');
is($t->{gave_up}, 3, '... every user given up');
like($err, qr/errors 6, gave up 3/, '... and said on stderr');
($rc) = cc_load('flip', '--url', "http://127.0.0.1:$nobody", '--users', 3, '--max-tries', 2,
                '--quiet', '--answers', "$dir/answers0.txt");
is($rc, 1, 'a flip, nobody listening: exit 1');
open $ah, '<', "$dir/answers0.txt" or die "answers0: $!";
my @a0 = <$ah>;
close $ah;
is(scalar(grep { /^\d+\.\d{3} [123] 0 [12] \n\z/ } @a0), 6,
   '--answers: each failed send a line of status 0, its tries counted');

for my $case (
    [ [ 'flip', '--users', 3 ], qr/--url is required/ ],
    [ [ 'flip', '--url', $url ], qr/--users is required/ ],
    [ [ 'grant', '--url', $url, '--users', 3 ], qr/--chances is required/ ],
    [ [ 'shuffle', '--url', $url ], qr/unknown phase "shuffle"/ ],
    [ [ 'flip', '--url', $url, '--users', 'ten' ], qr/--users: not a number: "ten"/ ],
    [ [ 'flip', '--url', $url, '--users', 0 ], qr/--users: 0 is outside 1\.\./ ],
    [ [ 'flip', '--url', 'https://x', '--users', 1 ], qr/--url: must start with http:/ ],
    [ [ 'flip', '--url', "$url/cc/flip", '--users', 1 ], qr/no path is taken/ ],
    [ [ 'flip', '--url', 'http://127.0.0.1:0', '--users', 1 ], qr/--url: bad port in "http:\/\/127\.0\.0\.1:0"/ ],
    [ [ 'flip', '--url', 'http://127.0.0.1:65536/', '--users', 1 ], qr/--url: bad port in/ ],
    [ [ 'flip', '--url', 'http://[::1', '--users', 1 ], qr/--url: unclosed bracket in "http:\/\/\[::1"/ ],
    [ [ 'flip', '--url', 'http://:80', '--users', 1 ], qr/--url: empty host in/ ],
    [ [ 'flip', '--url', 'http://::1:80', '--users', 1 ], qr/--url: IPv6 address not in brackets in/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--retry-pct', 101 ], qr/--retry-pct: not a percentage/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--chances', 3 ], qr/an option of another phase/ ],
    [ [ 'grant', '--url', $url, '--users', 1, '--chances', 3, '--answers', "$dir/a" ],
      qr/an option of another phase/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--answers', "$dir/no/such/a" ],
      qr/--answers: cannot write .*no\/such\/a/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--social-pct', 5 ], qr/an option of another phase/ ],
    [ [ 'social', '--url', $url, '--users', 1, '--combine' ], qr/an option of another phase/ ],
    [ [ 'social', '--url', $url, '--users', 1, '--social-pct', 'most' ], qr/--social-pct: not a percentage/ ],
    [ [ 'social', '--url', $url, '--users', 1, '--rare', 16 ], qr/--rare: 16 is outside 0\.\.15/ ],
    [ [ 'social', '--url', $url, '--users', 1, '--rare', 5 ], qr/--rare 5 is not one of the 5 kinds/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--wildcard', 7, '--kinds', 6 ], qr/--wildcard 7 is not one of the 6 kinds/ ],
    [ [ 'claim', '--url', $url, '--users', 1, '--wildcard', 4 ], qr/an option of another phase/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--rid-prefix', 'a b' ], qr/--rid-prefix: 1\.\.50 of/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--secret', "$dir/short" ], qr/--secret: .*short/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--secret', "$dir/none" ], qr/--secret: / ],
    [ [ 'grant', '--url', $url, '--users', 1, '--chances', 1, '--secret', $secret ],
      qr/grant: --secret is not taken/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--secret', $secret, '--token-kid', 'a.b' ],
      qr/--token-kid must be 1\.\.16 of \[A-Za-z0-9_-\], not "a\.b"/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--bogus' ], qr/unrecognized option/ ],
    [ [ 'flip', '--url', $url, '--users', 1, '--rate', 'fast' ], qr/--rate: not a number: "fast"/ ],
) {
    my ($args, $re) = @$case;
    my $w = spawn_worker($load, @$args);
    is(wait_worker($w, 10), 2, "cc-load @$args: exit 2");
    like(worker_stderr($w), $re, "... says $re");
}
$w = spawn_worker($load, '--help');
is(wait_worker($w, 10), 0, '--help: exit 0');
like(worker_stdout($w), qr/^usage: cc-load PHASE.*--retry-pct/s, '... the usage');

# a forged identity: every flip refused, nothing drawn, said in the stats
{ open my $h, '>', "$dir/other" or die $!; print $h "another-secret-of-at-least-32-bytes-!!\n"; close $h; chmod 0600, "$dir/other" }
($rc, $sec, $t) = cc_load('flip', '--url', $url, '--users', 5, '--secret', "$dir/other", '--quiet');
is($t->{endpoints}{flip}{401}, 5, 'tokens of another secret: 5 answers 401');
is($t->{flip}{draws}, 0, '... no draw');
is(sum_field(users(1, 5), 's'), 5 * $CHANCES, 'redis: nothing drawn for them');

# the right secret under a key id the server does not hold: the tokens
# carry --token-kid, and nginx refuses them
($rc, $sec, $t) = cc_load('flip', '--url', $url, '--users', 5, '--secret', $secret, '--token-kid', 'k9', '--quiet');
is($t->{endpoints}{flip}{401}, 5, 'tokens of key id "k9": 5 answers 401');
is(sum_field(users(1, 5), 's'), 5 * $CHANCES, '... nothing drawn');

unlike(nginx_error_log(), qr/\[(alert|crit)\]/, 'nginx logged no alert');
stop_nginx();

# ---- claim: the client's side of GET /cc/award and POST /cc/claim ---------
# The award and claim routes come with the money half; until then a plain
# nginx answers them from the uid (even uids won 150 cents, claims of uids
# ending in 0 stay pending: 202), and its access log shows what was sent.

my $claims = start_nginx(undef, no_module => 1, port => $ENV{TEST_NGINX_SERVER_PORT1},
    http_config => <<'HTTP',
    log_format sent '$request_method $uri $http_x_cc_uid';
    map $http_x_cc_uid $award {
        "~[02468]$"  '{"status":"pending","amount_cents":150,"award_id":"c:$http_x_cc_uid"}';
        default      '{"status":"none"}';
    }
HTTP
    config => <<"CONF");
        access_log $dir/sent.log sent;
        default_type application/json;
        location = /cc/award { return 200 \$award; }
        location = /cc/claim {
            if (\$http_x_cc_uid ~ 0\$) { return 202 '{"status":"pending","amount_cents":150}'; }
            return 200 '{"status":"credited","amount_cents":150}';
        }
CONF
my $curl = "http://127.0.0.1:$ENV{TEST_NGINX_SERVER_PORT1}";
($rc, $sec, $t, $err) = cc_load('claim', '--url', $curl, '--users', 20, '--pct', 100, '--quiet');
is($rc, 0, 'claim: exit 0') or diag $err;
my $c = $t->{claim};
is_deeply([ @$c{qw(award_none award_pending award_credited award_cents)} ], [ 10, 10, 0, 1500 ],
          'claim: 10 users without an award, 10 pending worth 1500 cents');
is_deeply([ @$c{qw(claims_sent claims_200 claims_202 claims_404 claimed_cents)} ], [ 10, 8, 2, 0, 1200 ],
          'claim: the 10 winners claimed: 8 answered 200 (1200 cents), 2 answered 202');
is($t->{endpoints}{award}{200}, 20, 'claim: every user read the award');
my @sent = do { open my $h, '<', "$dir/sent.log" or die $!; map { chomp; $_ } <$h> };
is_deeply([ sort { (split ' ', $a)[2] <=> (split ' ', $b)[2] } grep { /^POST / } @sent ],
          [ map { "POST /cc/claim $_" } grep { $_ % 2 == 0 } 1 .. 20 ],
          'the server saw a POST /cc/claim from each winner and nobody else');
is(scalar(grep { /^GET \/cc\/award \d+$/ } @sent), 20, '... and one GET /cc/award from each user');

# --rate: users arriving over time, not all at once: 40 users at 20 a
# second take two seconds, though 64 connections could start them at once
($rc, $sec, $t) = cc_load('claim', '--url', $curl, '--first-uid', 101, '--users', 40,
                          '--pct', 100, '--conc', 64, '--rate', 20, '--quiet');
is($rc, 0, 'claim --rate 20: exit 0');
is($t->{endpoints}{award}{200}, 40, '... every user read the award');
ok($t->{elapsed_s} >= 1.9 && $t->{elapsed_s} < 10, "... over about two seconds ($t->{elapsed_s} s)");
my ($most) = sort { $b <=> $a } map { $_->{sent} } @$sec;
ok($most <= 2 * 21, "... no second sent more than 21 users' award reads and claims ($most)");

($rc, $sec, $t) = cc_load('claim', '--url', $curl, '--users', 20, '--pct', 0, '--quiet');
is($t->{claim}{claims_sent}, 0, 'claim --pct 0: no winner claims');
is($t->{claim}{award_pending}, 10, '... all read their award');
stop_nginx($claims);
done_testing();
