# Hostile HTTP: every request below is refused with a documented 4xx (or a
# connection nginx itself closes) and changes nothing: the whole Redis
# dataset (every user hash, grant set, stock counter, claim queue and the
# draw log cc:draws) is read after each one and compared with the one
# before (README, "Hostile input").  The whole pipeline runs: the module
# publishes to the Kafka mock broker and cc-ingest writes into two MySQL
# shards, whose every row (draws, cards, eligibility, dead letters, awards,
# the ledger) is read before and after each part: what changed must be
# exactly the rows of the few valid requests sent in between, which prove
# that the pipeline was live.
#
# Part 1 runs the module directly (a trusted-header server and a token
# server on one Redis shard): repeated arguments and headers, escaped and
# non-ASCII ids, malformed uids and counts, oversized heads and bodies, a
# token with another user's header on every endpoint, a claim aimed at
# another user's award.  Part 2 runs nginx.conf.example's edge tier as
# t/006-example.t does: its body rule, its header limits, grants out of
# reach, and 200 clients sending a byte a second while others flip.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use HostileTest;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use IO::Socket::INET;
use IO::Select;
use Socket ();
use POSIX ();
use Time::HiRes qw(time sleep);

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
my $secret = 'a-hostile-campaign-secret-0123456789abcdef';
sub spew { open my $h, '>', $_[0] or die "$_[0]: $!"; print $h $_[1]; close $h }
sub slurp { open my $h, '<', $_[0] or die "$_[0]: $!"; local $/; <$h> }
spew("$dir/secret", "$secret\n");
chmod 0600, "$dir/secret";

sub token {
    my ($uid, $exp, $kid) = @_;
    $exp //= time + 3600;
    $exp = int $exp;
    $kid //= '0';
    return "$uid.$exp.$kid." . encode_base64url(hmac_sha256("cc1|$kid|$uid.$exp", $secret));
}

# ---- part 1: the module ------------------------------------------------------

payout_setup();                                # mariadbd, the schema of cc_s0 and cc_s1
kafka_start(partitions => 4);
my $ingest = start_ingest();

my ($P, $PT) = ($ENV{TEST_NGINX_SERVER_PORT}, $ENV{TEST_NGINX_SERVER_PORT1});
my $locations = all_locations('location = /cc/award { cc_award; }',
                              'location = /cc/claim { cc_claim; }');
# the token server serves no grant: nginx refuses cc_grant behind a token
my $tlocations = all_locations("cc_identity token $dir/secret;",
                               'location = /cc/grant { return 404; }',
                               'location = /cc/award { cc_award; }',
                               'location = /cc/claim { cc_claim; }');
my $nginx = start_nginx(<<"CONF");
    cc_redis_shards $ENV{TEST_NGINX_REDIS_SHARD0};
    cc_kafka_brokers $ENV{TEST_KAFKA_BROKERS};
    cc_cards 1 1 1;
    cc_claim_wait 100ms;
    server {
        listen 127.0.0.1:$P;
$locations
    }
    server {
        listen 127.0.0.1:$PT;
$tlocations
    }
CONF

# header pairs, repeats kept, from a flat list
sub pairs { my @h = @_; return [ map { [ @h[2 * $_, 2 * $_ + 1] ] } 0 .. $#h / 2 ] }

sub req {
    my ($port, $method, $path, @hdrs) = @_;
    return http_request($method, "http://127.0.0.1:$port$path", pairs(@hdrs));
}

# the state every refusal must leave as it was
for ([7, 5], [8, 3], [21, 3], [22, 3]) {
    my ($uid, $n) = @$_;
    my ($st, $bd) = req($P, 'POST', "/cc/grant?grant_id=seed&n=$n", 'X-CC-Uid', $uid);
    die "seed grant $uid: $st $bd" unless $st == 200;
}
my ($st, $bd) = req($P, 'POST', '/cc/flip?request_id=seed', 'X-CC-Uid', 7);
die "seed flip: $st $bd" unless $st == 200;
redis_cmd(0, 'HSET', 'cc:{9}:u', 'w', 'p:500:spring-2027:9');
redis_cmd(0, 'HSET', 'cc:{22}:u', 'k0', 1, 'k1', 2, 'k2', 1);
redis_cmd(0, 'HSET', 'cc:{23}:u', 'w', 'p:700:spring-2027:23');
seed_awards('spring-2027', { 9 => 500, 23 => 700 }, redis => 0);   # as cc-draw writes them, pools funded
my $before = redis_snapshot();
like($before, qr/cc:\{7\}:u .*c=4.*s=1/, 'the seeded state: user 7 flipped once, 4 chances left');
like($before, qr/shard0 cc:draws \(stream\) d,7:1:\d:\d+:seed\n/, '... and the draw is in the log');

# MySQL: the seed's draw arrives through Kafka and cc-ingest
my $dbof = shard_of_uids(7, 8, 9, 21, 22, 23);
my ($seed_card) = $bd =~ /"card":(\d+)/;
ok(wait_until(sub { mysql_rows() =~ /^$dbof->{7} draws 7\t1\t$seed_card\tseed\t\d+$/m }, 20),
   'MySQL: the seed flip reached its shard through Kafka and cc-ingest');
my $mysql_before = mysql_rows();
like($mysql_before, qr/^$dbof->{23} awards spring-2027:23\tspring-2027\t23\t700\tpending\t/m,
     '... and the awards of users 9 and 23 are pending in MySQL, their pools funded');
my @live;      # what the valid requests below must add to MySQL, nothing else

# acted($name, $port, $method, $path, \@headers, $status, $body_regex): a
# valid request between the hostile ones: its answer, and what it must add
# to MySQL (a draw or a combine); the Redis state to keep is read again
sub acted {
    my ($name, $port, $method, $path, $hdrs, $want_status, $want_body) = @_;
    my ($st, $bd) = req($port, $method, $path, @$hdrs);
    $bd //= '';
    like(($st // '-') . " $bd", qr/^$want_status $want_body/, "valid, $name: $want_status")
        or diag($CcTest::error // '');
    my %h = @$hdrs;
    my ($rid) = $path =~ /(?:^|[?&])request_id=([\w-]+)/;
    if ($bd =~ /^\{"draw_id":"(\d+):(\d+)","card":(\d+)/) {
        push @live, "$dbof->{$1} draws $1 $2 $3 $rid", "$dbof->{$1} user_cards $1 $3 +1";
    } elsif ($bd =~ /"combined":true/) {
        push @live, "$dbof->{$h{'X-CC-Uid'}} eligibility $h{'X-CC-Uid'} $rid";
    }
    $before = redis_snapshot();
}

# refused($name, $port, $method, $path, \@headers, $status, $body): the
# answer, and not one byte of Redis changed
sub refused {
    my ($name, $port, $method, $path, $hdrs, $want_status, $want_body) = @_;
    my ($st, $bd) = req($port, $method, $path, @$hdrs);
    is($st, $want_status, "$name: $want_status") or diag($CcTest::error // '');
    if (ref $want_body) { like($bd // '', $want_body, "$name: the body") }
    else                { is($bd, $want_body, "$name: the body") }
    is(redis_snapshot(), $before, "$name: redis unchanged");
}

my $uid7 = ['X-CC-Uid', 7];
my $bad_rid = '{"error":"bad_request_id"}';

# repeated arguments: refused, never one of them picked
refused('flip, request_id twice', $P, 'POST', '/cc/flip?request_id=a&request_id=b', $uid7, 400, $bad_rid);
refused('flip, the same request_id twice', $P, 'POST', '/cc/flip?request_id=a&request_id=a', $uid7, 400, $bad_rid);
refused('flip, request_id and REQUEST_ID', $P, 'POST', '/cc/flip?request_id=a&REQUEST_ID=b', $uid7, 400, $bad_rid);
refused('flip, a bare request_id then one with a value', $P, 'POST', '/cc/flip?request_id&request_id=a', $uid7, 400, $bad_rid);
refused('flip, the seed\'s request_id repeated', $P, 'POST', '/cc/flip?request_id=seed&request_id=other', $uid7, 400, $bad_rid);
refused('combine, request_id twice', $P, 'POST', '/cc/combine?request_id=a&request_id=b', ['X-CC-Uid', 22], 400, $bad_rid);
refused('grant, grant_id twice', $P, 'POST', '/cc/grant?grant_id=g&grant_id=h&n=1', $uid7, 400, '{"error":"bad_grant_id"}');
refused('grant, n twice', $P, 'POST', '/cc/grant?grant_id=g&n=1&n=100000', $uid7, 400, '{"error":"bad_n"}');
refused('grant, n twice, the same', $P, 'POST', '/cc/grant?grant_id=g&n=1&n=1', $uid7, 400, '{"error":"bad_n"}');
refused('flip, X-CC-Uid twice', $P, 'POST', '/cc/flip?request_id=a', ['X-CC-Uid', 7, 'X-CC-Uid', 8], 400, '{"error":"bad_uid"}');
refused('grant, X-CC-Uid twice, the same', $P, 'POST', '/cc/grant?grant_id=g&n=1', ['X-CC-Uid', 7, 'x-cc-uid', 7], 400, '{"error":"bad_uid"}');
refused('flip, X_CC_Uid (nginx drops headers with "_")', $P, 'POST', '/cc/flip?request_id=a', ['X_CC_Uid', 7], 400, '{"error":"bad_uid"}');
refused('flip, two Authorization headers (nginx refuses)', $PT, 'POST', '/cc/flip?request_id=a',
        ['Authorization', 'Bearer ' . token(7), 'Authorization', 'Bearer ' . token(8)], 400, qr/400 Bad Request/);
acted('a flip of user 8', $P, 'POST', '/cc/flip?request_id=live8', ['X-CC-Uid', 8], 200, qr/\{"draw_id":"8:1",/);

# argument names are matched as sent (case aside), never unescaped, as in
# nginx's own $arg_NAME: an escaped name is another, unknown argument,
# ignored like any other
refused('flip, only an escaped name: %72equest_id', $P, 'POST', '/cc/flip?%72equest_id=a', $uid7, 400, $bad_rid);
refused('flip, only an escaped name: request%5Fid', $P, 'POST', '/cc/flip?request%5Fid=a', $uid7, 400, $bad_rid);
refused('flip, only an escaped name: %52EQUEST_ID', $P, 'POST', '/cc/flip?%52EQUEST_ID=a', $uid7, 400, $bad_rid);
refused('combine, only an escaped name: %72equest_id', $P, 'POST', '/cc/combine?%72equest_id=a', ['X-CC-Uid', 22],
        400, $bad_rid);
refused('grant, only an escaped name: %67rant_id', $P, 'POST', '/cc/grant?%67rant_id=g&n=1', $uid7, 400,
        '{"error":"bad_grant_id"}');
refused('grant, only an escaped name: %6E', $P, 'POST', '/cc/grant?grant_id=g&%6E=1', $uid7, 400, '{"error":"bad_n"}');
acted('a flip with request_id and an escaped %72equest_id: the plain one acts', $P, 'POST',
      '/cc/flip?%72equest_id=zz&request_id=live7', $uid7, 200, qr/\{"draw_id":"7:2",/);
like(redis_cmd(0, 'HGET', 'cc:{7}:u', ':live7') // '(nil)', qr/^2:/, '... redis: its answer is kept under "live7"');
is(redis_cmd(0, 'HGET', 'cc:{7}:u', ':zz'), undef, '... and nothing under "zz"');

# ids: 1..64 of [A-Za-z0-9_-], checked before any unescaping
for my $rid ('a%2Db', '%61', 'a+b', 'a%00', '%C0%AF', "\xC0\xAF", "caf\xC3\xA9", "\xEF\xBC\xA1", 'a.b', 'a/b', 'x' x 65, 'x' x 5000, '') {
    my $show = $rid =~ s/([^\x21-\x7e])/sprintf '\\x%02X', ord $1/ger;
    $show = substr($show, 0, 20) . '...(' . length($rid) . ')' if length $rid > 70;
    refused("flip, request_id \"$show\"", $P, 'POST', "/cc/flip?request_id=$rid", $uid7, 400, $bad_rid);
}
refused('grant, grant_id escaped', $P, 'POST', '/cc/grant?grant_id=%67&n=1', $uid7, 400, '{"error":"bad_grant_id"}');
refused('grant, grant_id overlong UTF-8', $P, 'POST', "/cc/grant?grant_id=\xC0\xAF&n=1", $uid7, 400, '{"error":"bad_grant_id"}');
for my $rid ('a%2Db', '%61', 'a%00', '%C0%AF', "\xC0\xAF", "\xE0\x80\xAF", "caf\xC3\xA9", 'x' x 65) {
    my $show = $rid =~ s/([^\x21-\x7e])/sprintf '\\x%02X', ord $1/ger;
    refused("combine, request_id \"$show\"", $P, 'POST', "/cc/combine?request_id=$rid", ['X-CC-Uid', 22], 400,
            $bad_rid);
}
refused('grant, grant_id overlong UTF-8, escaped', $P, 'POST', '/cc/grant?grant_id=%C0%AF&n=1', $uid7, 400,
        '{"error":"bad_grant_id"}');
acted('a combine of user 22', $P, 'POST', '/cc/combine?request_id=set22', ['X-CC-Uid', 22], 200,
      qr/\{"cards":\[0,1,0\],"kinds":3,"combined":true,"eligible":true\}$/);

# uids: a positive decimal below 2^64, no sign, no leading zero, nothing else
for my $uid ('007', '0', '+7', '-7', '7 8', '7,8', '7x', '0x7', '1e3', '%37', "\xEF\xBC\x97", "7\xC0\x80",
             '18446744073709551616', '99999999999999999999', '123456789012345678901', '') {
    my $show = $uid =~ s/([^\x21-\x7e])/sprintf '\\x%02X', ord $1/ger;
    refused("flip, X-CC-Uid \"$show\"", $P, 'POST', '/cc/flip?request_id=a', ['X-CC-Uid', $uid], 400, '{"error":"bad_uid"}');
}
refused('award, X-CC-Uid 2^64', $P, 'GET', '/cc/award', ['X-CC-Uid', '18446744073709551616'], 400, '{"error":"bad_uid"}');
refused('claim, X-CC-Uid "09"', $P, 'POST', '/cc/claim', ['X-CC-Uid', '09'], 400, '{"error":"bad_uid"}');
refused('a token for uid "007", correctly signed', $PT, 'POST', '/cc/flip?request_id=a',
        ['Authorization', 'Bearer ' . token('007')], 401, '{"error":"unauthorized"}');
refused('a token for uid 2^64, correctly signed', $PT, 'POST', '/cc/flip?request_id=a',
        ['Authorization', 'Bearer ' . token('18446744073709551616')], 401, '{"error":"unauthorized"}');

# key ids: 1..16 of [A-Za-z0-9_-], one the server holds ("0" here); each of
# these correctly signed under that kid with the server's secret
for my $kid ('', '1', 'k0', '00', '0 ', ' 0', '%30', '0%00', '0.0', 'a+b', 'a/b', 'a=', "\xE4\xB8\xAD",
             '0123456789abcdefg', 'x' x 200) {
    my $show = $kid =~ s/([^\x21-\x7e])/sprintf '\\x%02X', ord $1/ger;
    refused("a token of key id \"$show\", correctly signed", $PT, 'POST', '/cc/flip?request_id=a',
            ['Authorization', 'Bearer ' . token(7, undef, $kid)], 401, '{"error":"unauthorized"}');
}
# the old format, "<uid>.<exp>.<sig>" over "<uid>.<exp>": no domain, no key id
{
    my $exp = time + 3600;
    refused('a token of the old format, correctly signed', $PT, 'POST', '/cc/flip?request_id=a',
            ['Authorization', "Bearer 7.$exp." . encode_base64url(hmac_sha256("7.$exp", $secret))], 401,
            '{"error":"unauthorized"}');
    refused('the old signature in the new format', $PT, 'POST', '/cc/flip?request_id=a',
            ['Authorization', "Bearer 7.$exp.0." . encode_base64url(hmac_sha256("7.$exp", $secret))], 401,
            '{"error":"unauthorized"}');
}
refused('a token valid for two days (cc_token_max_ttl 1d)', $PT, 'POST', '/cc/flip?request_id=a',
        ['Authorization', 'Bearer ' . token(7, time + 2 * 86400)], 401, '{"error":"unauthorized"}');

# grant counts: 1..100000, plain decimal
for my $n ('0', '-1', '+1', '01', '100001', '18446744073709551616', '99999999999999999999999', '1e3', '0x10',
           '1.5', '1%30', '%31', '%201', '') {
    refused("grant, n=\"$n\"", $P, 'POST', "/cc/grant?grant_id=g&n=$n", $uid7, 400, '{"error":"bad_n"}');
}
refused('grant, no n', $P, 'POST', '/cc/grant?grant_id=g', $uid7, 400, '{"error":"bad_n"}');

# oversized: nginx's own limits (large_client_header_buffers 4 8k,
# client_max_body_size 1m) answer before the module runs
refused('a 9000-byte header line', $P, 'POST', '/cc/flip?request_id=a', [@$uid7, 'X-Pad', 'x' x 9000], 400,
        qr/Request Header Or Cookie Too Large/);
refused('a 9000-byte X-CC-Uid', $P, 'POST', '/cc/flip?request_id=a', ['X-CC-Uid', '7' x 9000], 400,
        qr/Request Header Or Cookie Too Large/);
refused('40 KB of headers', $P, 'POST', '/cc/flip?request_id=a', [@$uid7, map { ("X-Pad$_", 'x' x 7000) } 1 .. 6], 400,
        qr/Request Header Or Cookie Too Large/);
refused('a 9000-byte query string', $P, 'POST', '/cc/flip?request_id=' . ('x' x 9000), $uid7, 414,
        qr/414 Request-URI Too Large/);
{
    my ($s, $b) = http_request('POST', "http://127.0.0.1:$P/cc/flip?request_id=big",
                               pairs(@$uid7, 'Content-Length', 2_000_000), '', 8);
    is($s, 413, 'a 2 MB body announced: 413 before the module reads it');
    is(redis_snapshot(), $before, '... redis unchanged');
}

# ---- a token for user A with user B's header, on every endpoint ----------------

my $tok21 = token(21);
my @a_as_b = ('Authorization', "Bearer $tok21", 'X-CC-Uid', 22);
sub user_state { my ($u) = @_; redis_text(redis_cmd(0, 'HGETALL', "cc:{$u}:u")) . '|'
                 . redis_text(redis_cmd(0, 'SMEMBERS', "cc:{$u}:g")) }
my $b_before = user_state(22);
my $b23 = user_state(23);

($st, $bd) = req($PT, 'POST', '/cc/flip?request_id=x', @a_as_b);
like("$st $bd", qr/^200 \{"draw_id":"21:1",/, 'flip: A\'s token with B\'s header draws for A');
push @live, "$dbof->{21} draws 21 1 $1 x", "$dbof->{21} user_cards 21 $1 +1" if $bd =~ /"card":(\d+)/;
is(redis_cmd(0, 'HGET', 'cc:{21}:u', 's'), 1, '... redis: A\'s sequence moved');
($st, $bd) = req($PT, 'GET', '/cc/eligibility', @a_as_b);
like("$st $bd", qr/^200 \{"cards":\[\d,\d,\d\],"kinds":3,"combined":false,"eligible":false\}$/, 'eligibility: A\'s cards, not B\'s full set');
unlike($bd, qr/\[1,2,1\]/, '... B\'s cards are not shown');
($st, $bd) = req($PT, 'POST', '/cc/combine?request_id=x', @a_as_b);
is("$st $bd", '409 {"error":"missing_cards"}', 'combine: A, who lacks cards, is refused; B\'s set is not used');
($st, $bd) = req($PT, 'GET', '/cc/award', 'Authorization', "Bearer $tok21", 'X-CC-Uid', 23);
is("$st $bd", '200 {"status":"none"}', 'award: A has none; B\'s pending award is not shown');
($st, $bd) = req($PT, 'POST', '/cc/claim', 'Authorization', "Bearer $tok21", 'X-CC-Uid', 23);
is("$st $bd", '404 {"error":"no_award"}', 'claim: A has nothing to claim');
($st, $bd) = req($PT, 'POST', '/cc/grant?grant_id=x&n=9', @a_as_b);
like("$st $bd", qr/^404 /, 'grant: not served beside the token endpoints (nginx refuses cc_grant behind a token)');
is(user_state(22), $b_before, 'redis: B\'s hash and grants unchanged by all of it');
is(user_state(23), $b23, 'redis: B\'s award not claimed');
is(redis_cmd(0, 'LLEN', 'cc:claims'), 0, 'redis: nothing queued for payment');

# a claim names no award: it can only ever be the caller's own
for my $q ('?award_id=spring-2027:23', '?uid=23', '?award_id=spring-2027:23&uid=23') {
    ($st, $bd) = req($P, 'POST', "/cc/claim$q", 'X-CC-Uid', 9);
    is("$st $bd", '202 {"status":"pending","amount_cents":500,"award_id":"spring-2027:9"}',
       "claim$q by user 9: user 9's own award, whatever the query names");
    ($st, $bd) = req($PT, 'POST', "/cc/claim$q", 'Authorization', "Bearer $tok21");
    is("$st $bd", '404 {"error":"no_award"}', "claim$q with user 21's token: no award of 21's");
}
is(user_state(23), $b23, 'redis: user 23\'s award never claimed');
is(redis_text(redis_cmd(0, 'LRANGE', 'cc:claims', 0, -1)), '9', 'redis: only user 9 queued, once');

# MySQL: exactly the rows of the valid requests arrived, nothing else
is(scalar(@live), 7, 'part 1 sent 3 valid flips and a combine, all answered');
my $mysql_after;
wait_until(sub { $mysql_after = mysql_rows(); my @d = mysql_delta($mysql_before, $mysql_after);
                 my @w = live_delta(@live); @d >= @w }, 20);
is_deeply([ mysql_delta($mysql_before, $mysql_after) ], [ live_delta(@live) ],
          'part 1, MySQL: the valid draws and combine arrived; no hostile request added or changed a row')
    or diag("MySQL now:\n$mysql_after");
ok(worker_alive($ingest), 'cc-ingest lives on');
stop_nginx($nginx);
is(join('', sanitizer_reports($nginx->{error_log})), '', 'part 1: no sanitizer report in the error log');

# ---- part 2: nginx.conf.example's edge tier -----------------------------------

my $top = abs_path('.');
my $so  = $ENV{CC_MODULE_SO} || "$top/build/nginx/ngx_http_cc_module.so";
my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
mkdir "$dir/logs";
my $conf = slurp("$top/nginx.conf.example");
like($conf, qr/^\s*client_header_timeout 5s;/m, 'the example sets client_header_timeout');
like($conf, qr/^\s*client_body_timeout\s+5s;/m, '... client_body_timeout');
like($conf, qr/^\s*send_timeout\s+5s;/m, '... send_timeout');
like($conf, qr/^\s*lingering_time 5s;/m, '... and lingering_time at the edge');

my %port = map { $_ => free_port() } qw(8080 8081 8082 8091);
$conf =~ s{^load_module \S+;}{load_module $so;}m;
$conf =~ s{error_log \S+ notice;}{error_log $dir/logs/error.log info;}g;
$conf =~ s{/etc/cardcampaign/token\.secret}{$dir/secret}g;
$conf =~ s{127\.0\.0\.1:(8080|8081|8082|8091)}{127.0.0.1:$port{$1}}g;
$conf =~ s{cc_redis_shards [^;]+;}{cc_redis_shards $ENV{TEST_NGINX_REDIS_SHARDS};};
# the example's replicated layout (Sentinels, WAIT) on the harness's plain
# shards, as t/006 runs it: no sentinel or replica here to answer
$conf =~ s{^\s*cc_redis_(?:sentinels|wait|failover_wait) [^;]+;\n}{}mg;
$conf =~ s{cc_kafka_brokers [^;]+;}{cc_kafka_brokers $ENV{TEST_KAFKA_BROKERS};};
my $now = time;
$conf =~ s{cc_campaign_start \S+;}{cc_campaign_start ${\( int($now) - 60 )};};
$conf =~ s{cc_campaign_end\s+\S+;}{cc_campaign_end ${\( int($now) + 3600 )};};
$conf =~ s{cc_combine_cutoff \S+;}{cc_combine_cutoff ${\( int($now) + 3600 )};};
$conf =~ s{worker_processes auto;}{worker_processes 2;};
$conf =~ s{worker_rlimit_nofile \d+;}{};
my $temps = join '', map { "    ${_}_temp_path $dir/$_;\n" } qw(client_body proxy fastcgi uwsgi scgi);
$conf =~ s/^http \{\n/http {\n$temps/m;
spew("$dir/run.conf", $conf);
redis_cmd($_, 'FLUSHALL') for 0, 1;
# users 1..60 include part 1's, whose draw ids start over with Redis
mysql_query('TRUNCATE draws; TRUNCATE user_cards; TRUNCATE eligibility', $_) for qw(cc_s0 cc_s1);
my $edge = spawn_worker($bin, '-p', $dir, '-c', "$dir/run.conf", '-g', "daemon off; pid $dir/run.pid;");
my $E = "http://127.0.0.1:$port{8080}";
wait_until(sub { my ($s) = http_request('GET', "$E/"); defined $s && $s == 404 }, 10)
    or die "the example did not start: " . worker_stderr($edge) . slurp("$dir/logs/error.log");

for my $uid (1 .. 60) {
    my ($s, $b) = http_request('POST', "http://127.0.0.1:$port{8091}/cc/grant?grant_id=g&n=20", { 'X-CC-Uid' => $uid });
    die "grant $uid: $s $b" unless $s == 200;
}
$before = redis_snapshot();
$mysql_before = mysql_rows();
$dbof = shard_of_uids(1 .. 60);
my @live2;     # the rows of the flips served below, all MySQL may gain

# a served flip's draw: what it adds to MySQL
sub served {
    my ($rid, $body) = @_;
    my ($uid, $seq, $card) = ($body // '') =~ /^\{"draw_id":"(\d+):(\d+)","card":(\d+)/ or return 0;
    push @live2, "$dbof->{$uid} draws $uid $seq $card $rid", "$dbof->{$uid} user_cards $uid $card +1";
    return 1;
}

sub at_edge {
    my ($name, $method, $path, $hdrs, $body, $want_status, $want_body) = @_;
    my ($s, $b) = http_request($method, "$E$path", pairs(@$hdrs), $body);
    is($s, $want_status, "edge, $name: $want_status") or diag($CcTest::error // '');
    like($b // '', $want_body, "edge, $name: the body");
    is(redis_snapshot(), $before, "edge, $name: redis unchanged");
}
my @tok1 = ('Authorization', 'Bearer ' . token(1));
at_edge('a flip with a 10-byte body', 'POST', '/cc/flip?request_id=b1', [@tok1], '0123456789', 413, qr/413 Request Entity Too Large/);
{
    # by hand: the client adds a Content-Length to any body it sends
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{8080}, Proto => 'tcp') or die $!;
    print $sock "POST /cc/flip?request_id=b2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n$tok1[0]: $tok1[1]\r\n"
              . "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    my $raw = do { local $/; <$sock> } // '';
    like($raw, qr{^HTTP/1\.1 413 .*413 Request Entity Too Large}s, 'edge, a flip with a chunked body: 413');
    is(redis_snapshot(), $before, 'edge, a flip with a chunked body: redis unchanged');
}
at_edge('a 2 KB body (client_max_body_size 1k)', 'POST', '/cc/flip?request_id=b3', [@tok1], 'x' x 2048, 413,
        qr/413 Request Entity Too Large/);
at_edge('a 9000-byte header line', 'POST', '/cc/flip?request_id=b4', [@tok1, 'X-Pad', 'x' x 9000], undef, 400,
        qr/Request Header Or Cookie Too Large/);
at_edge('a 9000-byte query string', 'POST', '/cc/flip?request_id=' . ('x' x 9000), [@tok1], undef, 414,
        qr/414 Request-URI Too Large/);
at_edge('request_id twice', 'POST', '/cc/flip?request_id=a&request_id=b', [@tok1], undef, 400, qr/^\Q$bad_rid\E$/);
at_edge('a grant with user 1\'s token and X-CC-Uid 2', 'POST', '/cc/grant?grant_id=z&n=99',
        [@tok1, 'X-CC-Uid', 2], undef, 404, qr/404 Not Found/);
at_edge('the metrics', 'GET', '/cc/metrics', [@tok1], undef, 404, qr/404 Not Found/);
{
    my ($s, $b) = http_request('POST', "$E/cc/flip?request_id=ok", pairs(@tok1, 'Content-Length', 0));
    like("$s $b", qr/^200 \{"draw_id":"1:1"/, 'edge: a flip with "Content-Length: 0" is served');
    served('ok', $b);
}

# ---- slow clients against the example's timeouts ---------------------------

# A child process holds $n connections to the edge and sends each its
# request: the first part at once, the rest one byte a second; it reports per connection when the server
# closed it (seconds after connecting), what it answered, and the last
# moment (epoch seconds) it saw the connection still ESTABLISHED, checked
# every 0.1 s without reading (tcp_state).
sub slow_clients {
    my ($n, $request_of) = @_;
    pipe(my $r, my $w) or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid) {
        close $w;
        my $ready = <$r>;
        die "slow clients did not start: " . ($ready // 'nothing') unless ($ready // '') eq "ready\n";
        return ($pid, $r);
    }
    close $r;
    my (@sock, @t0, @req, @got, @closed, @next, @last_open);
    for my $i (0 .. $n - 1) {
        $sock[$i] = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port{8080}, Proto => 'tcp')
            or do { print $w "connect $i: $!\n"; POSIX::_exit(1) };
        my ($at_once, $trickle) = $request_of->($i);
        syswrite($sock[$i], $at_once) == length $at_once or do { print $w "write $i: $!\n"; POSIX::_exit(1) };
        $sock[$i]->blocking(0);
        ($t0[$i], $req[$i], $got[$i], $next[$i]) = (time, $trickle, '', time);
    }
    syswrite $w, "ready\n";
    my $end = time + 40;
    while (time < $end && grep { !defined } @closed[0 .. $n - 1]) {
        for my $i (grep { !defined $closed[$_] } 0 .. $n - 1) {
            $last_open[$i] = time if tcp_state($sock[$i]) eq 'ESTABLISHED';
            my $got = sysread($sock[$i], my $buf, 4096);
            if (defined $got && $got > 0) { $got[$i] .= $buf; next }
            if ((defined $got && $got == 0) || !$!{EAGAIN}) { $closed[$i] = time - $t0[$i]; next }
            next unless length $req[$i] && time >= $next[$i];
            $next[$i] += 1;
            my $sent = syswrite($sock[$i], substr($req[$i], 0, 1));
            if (defined $sent && $sent == 1) { substr($req[$i], 0, 1, '') }
            elsif (!$!{EAGAIN}) { $closed[$i] = time - $t0[$i] }
        }
        sleep 0.1;
    }
    for my $i (0 .. $n - 1) {
        my ($status) = $got[$i] =~ m{^HTTP/1\.\d (\d{3})};
        printf $w "%d %s %s %.3f\n", $i, $closed[$i] // 'open', $status // '-', $last_open[$i] // 0;
    }
    close $w;
    POSIX::_exit(0);
}

sub results {
    my ($pid, $r) = @_;
    my @lines = <$r>;
    waitpid($pid, 0);
    return map { [split ' '] } @lines;
}

sub percentile {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return $v[ int($p * $#v + 0.5) ];
}

# flips of users 1..60 through the edge, one at a time, each timed (and
# when it ended, in @probe_end); $watch is called between them
my $probe_seq = 0;
my @probe_end;
sub probe_flips {
    my ($n, $watch) = @_;
    my (@ms, $ok);
    @probe_end = ();
    for (1 .. $n) {
        my $uid = 2 + $probe_seq++ % 59;
        my $t = time;
        my ($s, $b) = http_request('POST', "$E/cc/flip?request_id=p$probe_seq", { Authorization => 'Bearer ' . token($uid) });
        push @probe_end, time;
        push @ms, (time - $t) * 1000;
        $ok++ if defined $s && $s == 200 && served("p$probe_seq", $b);
        $watch->() if $watch;
        sleep 0.02;
    }
    return ($ok // 0, @ms);
}

# A client that pipelines $n requests on one connection and never reads
# an answer, its receive buffer as small as the kernel allows: nginx
# writes answers until the socket's buffers are full, then waits at most
# send_timeout for room.  Returns [socket, the time it sent them all].
sub non_reader {
    my ($port, $request, $n) = @_;
    socket(my $s, Socket::PF_INET(), Socket::SOCK_STREAM(), 0) or die "socket: $!";
    setsockopt($s, Socket::SOL_SOCKET(), Socket::SO_RCVBUF(), pack('i', 2048)) or die "SO_RCVBUF: $!";
    connect($s, Socket::pack_sockaddr_in($port, Socket::inet_aton('127.0.0.1'))) or die "connect: $!";
    my $all = $request x $n;
    while (length $all) {                # blocking: the server's receive buffer takes them
        my $sent = syswrite($s, $all);
        die "non-reader write: $!" unless defined $sent;
        substr($all, 0, $sent, '');
    }
    return [ $s, time ];
}

my ($ok0, @base) = probe_flips(100);
is($ok0, 100, 'without slow clients: 100 flips through the edge, all 200');

my $line = "POST /cc/flip?request_id=slow HTTP/1.1\r\n";
my $head = "Host: x\r\nAuthorization: Bearer %s\r\nX-Pad: " . ('p' x 40) . "\r\n\r\n";
my ($kid, $pipe) = slow_clients(200, sub {
    my ($i) = @_;
    my $uid = 1000 + $i;
    return $i < 90  ? ('', $line . sprintf($head, token($uid)))       # the whole head a byte a second
         : $i < 180 ? ($line, sprintf($head, token($uid)))               # the headers a byte a second
                    : ("POST /cc/flip?request_id=slow HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                       . token($uid) . "\r\nContent-Length: 200\r\n\r\n", 'b' x 200);   # then its body
});
my $t_slow = time;

# meanwhile, send_timeout: two clients ask the admin server for the
# metrics (over 4 KB each) 1000 times on one connection and never read.
# (At the edge a client cannot reach send_timeout: its answers are a few
# hundred bytes, at most keepalive_requests = 1000 on a connection, and
# the kernel's buffers take them all.)  nginx closes each with requests
# unread, so the kernel resets the connection, which the client's own
# socket state shows without reading (tcp_state).
my $metrics_size = length((http_request('GET', "http://127.0.0.1:$port{8091}/cc/metrics"))[1] // '');
my @nr = map { non_reader($port{8091}, "GET /cc/metrics HTTP/1.1\r\nHost: x\r\n\r\n", 1000) } 1 .. 2;
my @nr_closed;      # when nginx closed each, seconds after its requests were sent
sub watch {
    for my $i (0 .. $#nr) {
        $nr_closed[$i] //= time - $nr[$i][1] if tcp_state($nr[$i][0]) ne 'ESTABLISHED';
    }
}

my ($ok1, @during) = probe_flips(200, \&watch);
my @slow = results($kid, $pipe);
my $held = time - $t_slow;
wait_until(sub { watch(); @nr_closed == @nr && !grep { !defined } @nr_closed }, 15);
is(scalar @slow, 200, '200 slow clients ran');
is($ok1, 200, 'while 200 slow clients hang on, 200 flips by others are all served');

# the probes ran while the slow clients held their connections: every
# head was still ESTABLISHED (seen by its client) after the probes ended
my ($first_close) = sort { $a <=> $b } map { $_->[3] } grep { $_->[0] < 180 } @slow;
my $overlap = grep { $_ <= $first_close } @probe_end;
diag(sprintf '%d of the 200 flips ended while all 180 slow heads were open; the first was seen open '
           . 'last %.1fs after they began, the last flip ended after %.1fs', $overlap,
     $first_close - $t_slow, $probe_end[-1] - $t_slow);
# (about 200 here, a flip every ~25 ms; 50 leaves room for a slow machine)
cmp_ok($overlap, '>=', 50, 'at least 50 of those flips ended while all 180 slow heads were still open');
my @heads = grep { $_->[0] < 180 } @slow;
my @bodies = grep { $_->[0] >= 180 } @slow;
is(scalar(grep { $_->[1] ne 'open' && $_->[1] <= 5 + 2 } @heads), 180,
   '180 heads sent a byte a second: closed within client_header_timeout (5s) + 2s');
is(scalar(grep { $_->[2] eq '-' } @heads), 180, '... with no answer (nginx closes a head that timed out)');
is(scalar(grep { $_->[2] eq '413' } @bodies), 20, '20 bodies sent a byte a second: 413 at once');
is(scalar(grep { $_->[1] ne 'open' && $_->[1] <= 5 + 2 } @bodies), 20,
   '... and closed within lingering_time (5s) + 2s');
my ($p50b, $p99b, $maxb) = (percentile(0.5, @base), percentile(0.99, @base), percentile(1, @base));
my ($p50, $p99, $max) = (percentile(0.5, @during), percentile(0.99, @during), percentile(1, @during));
diag(sprintf 'flip latency through the edge, ms: alone p50 %.1f p99 %.1f max %.1f; '
           . 'with 200 slow clients p50 %.1f p99 %.1f max %.1f (slow clients held %.1fs)',
     $p50b, $p99b, $maxb, $p50, $p99, $max, $held);
cmp_ok($p99, '<', 250, 'with 200 slow clients the p99 of other users\' flips stays below 250 ms');
cmp_ok($max, '<', 1000, '... and none waits a second');
my $snap = redis_snapshot();
unlike($snap, qr/cc:\{1\d\d\d\}/, 'redis: no key of any slow client\'s user');

diag(sprintf 'non-readers closed by nginx after %s s (metrics answer %d bytes)',
     join(', ', map { defined $_ ? sprintf('%.1f', $_) : 'never' } @nr_closed), $metrics_size);
ok($metrics_size > 4000, 'a metrics answer is over 4 KB: 1000 of them outgrow the socket buffers');
is(scalar(grep { defined && $_ > 5 - 0.5 && $_ <= 5 + 2.5 } @nr_closed), 2,
   'two clients pipelining 1000 metrics requests, never reading: closed by send_timeout (5s), within 2.5s more');

# MySQL: the flips served, nothing of the hostile requests nor of a slow client
wait_until(sub { $mysql_after = mysql_rows(); my @d = mysql_delta($mysql_before, $mysql_after);
                 my @w = live_delta(@live2); @d >= @w }, 20);
is(scalar(@live2), 2 * 301, 'part 2 served 301 flips');
is_deeply([ mysql_delta($mysql_before, $mysql_after) ], [ live_delta(@live2) ],
          'part 2, MySQL: exactly the served flips arrived; no hostile request, no slow client added a row')
    or diag("MySQL now:\n$mysql_after");

stop_worker($edge, 'QUIT', 10);
my $log = slurp("$dir/logs/error.log");
is(scalar(() = $log =~ /client timed out \(110: Connection timed out\) while reading client request line/g), 90,
   'the error log names the 90 request lines that timed out');
is(scalar(() = $log =~ /client timed out \(110: Connection timed out\) while reading client request headers/g), 90,
   '... and the 90 heads');
is(scalar(() = $log =~ /client timed out \(110: Connection timed out\), client: \S+, server: , request: "GET \/cc\/metrics /g), 2,
   '... and the 2 metrics answers that could not be sent');
is(join('', sanitizer_reports("$dir/logs/error.log")), '', 'part 2: no sanitizer report in the error log');

done_testing();
