# nginx.conf.example is a real configuration: nginx -t accepts it, and
# run on loopback (edge + two app nodes + admin) it sends each user to one
# app node, and losing a node moves only that node's users.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use CcToken;

my $top = abs_path('.');
my $so  = $ENV{CC_MODULE_SO} || "$top/build/nginx/ngx_http_cc_module.so";
my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
mkdir "$dir/logs";

sub slurp { open my $h, '<', $_[0] or die "$_[0]: $!"; local $/; <$h> }
sub spew  { open my $h, '>', $_[0] or die "$_[0]: $!"; print $h $_[1]; close $h }

my $conf = slurp("$top/nginx.conf.example");
my $secret = 'example-campaign-secret-0123456789abcdef';
token_secret_file(dir => $dir, name => 'token.secret', secret => $secret);

like($conf, qr/^load_module \S+ngx_http_cc_module\.so;/m, 'the example loads the module');
like($conf, qr/hash \$cc_route_uid consistent;/, 'the edge hashes the uid, consistent');
like($conf, qr/limit_req_zone\s+\$cc_uid\s/, 'the per-user limit is keyed by the verified $cc_uid');
unlike($conf, qr/limit_req_zone\s+\$cc_(?:route|token)_uid/, '... never by the unverified one');
like($conf, qr/location = \/cc\/grant\s+\{ cc_grant; \}/, 'grants are served');
like($conf, qr/allow 127\.0\.0\.1;\s+allow 10\.0\.0\.0\/8;\s+deny all;/, '... to internal addresses only');
like($conf, qr/proxy_pass http:\/\/cc_app;(?:(?!\}).)*proxy_set_header X-CC-Uid "";/s,
     'the edge clears any client-sent X-CC-Uid before proxying');
like($conf, qr/^\s*cc_identity trusted_header X-CC-Uid;\s*location = \/cc\/grant/m,
     'grants trust the header only where the example says so');
like($conf, qr/re-reading the award 5ms after it came, then at\s+#\s+an interval doubling up to cc_claim_poll_max \(100ms by default\)\.\s+cc_claim_wait 1s;\s+cc_claim_poll 5ms;/,
     'the claim comment says what cc_claim_poll and cc_claim_poll_max do');
like($conf, qr/^\s*cc_redis_sentinels (?:\d+\.\d+\.\d+\.\d+:\d+ ){2}\d+\.\d+\.\d+\.\d+:\d+;\n\s*cc_redis_shards cc0 cc1 cc2;/m,
     'the replicated layout: three sentinels by IP address, the shards by master name');
like($conf, qr/^\s*cc_redis_wait 1 \S+;/m, '... a write answered once a replica holds it');
like($conf, qr/^\s*cc_redis_failover_wait \d+ 1s;/m, '... a wait for a primary under the edge\'s 2s');

# the install's paths
$conf =~ s{^load_module \S+;}{load_module $so;}m;
$conf =~ s{error_log \S+}{error_log $dir/logs/error.log}g;
$conf =~ s{/etc/cardcampaign/token\.secret}{$dir/token.secret}g;

sub nginx_t {
    my ($text) = @_;
    spew("$dir/nginx.conf", $text);
    my $msg = `$bin -p $dir -g "pid $dir/t.pid;" -t -q -c $dir/nginx.conf 2>&1`;
    return ($? >> 8, $msg);
}

my ($rc, $msg) = nginx_t($conf);
is($rc, 0, 'nginx -t accepts the example') or diag $msg;

(my $bad = $conf) =~ s{^load_module \S+;}{}m;
($rc, $msg) = nginx_t($bad);
isnt($rc, 0, 'without the module nginx -t refuses it');
like($msg, qr/unknown directive "cc_/, '... naming the unknown cc_ directive');

# ---- run it on loopback ------------------------------------------------------

my %port = map { $_ => free_port() } qw(8080 8081 8082 8091);
my $run = $conf;
$run =~ s{127\.0\.0\.1:(8080|8081|8082|8091)}{127.0.0.1:$port{$1}}g;
# the harness's shards are plain primaries without replicas: the example's
# Sentinel lines are checked by nginx -t above and run by campaign.sh --ha
# (t/057); here the shards by address, no WAIT (no replica would answer it)
$run =~ s{^\s*cc_redis_(?:sentinels|wait|failover_wait) [^;]+;\n}{}mg;
$run =~ s{cc_redis_shards [^;]+;}{cc_redis_shards $ENV{TEST_NGINX_REDIS_SHARDS};};
$run =~ s{^\s*cc_kafka_brokers [^;]+;\n}{}m;
my $now = time;
$run =~ s{cc_campaign_start \S+;}{cc_campaign_start ${\( $now - 60 )};};
$run =~ s{cc_campaign_end\s+\S+;}{cc_campaign_end ${\( $now + 3600 )};};
$run =~ s{cc_combine_cutoff \S+;}{cc_combine_cutoff ${\( $now + 3600 )};};
$run =~ s{worker_processes auto;}{worker_processes 2;};
$run =~ s{worker_rlimit_nofile \d+;}{};
my $temps = join '', map { "    ${_}_temp_path $dir/$_;\n" } qw(client_body proxy fastcgi uwsgi scgi);
$run =~ s/^http \{\n/http {\n$temps/m;

sub run_example {
    my ($text) = @_;
    spew("$dir/run.conf", $text);
    my $w = spawn_worker($bin, '-p', $dir, '-c', "$dir/run.conf", '-g', "daemon off; pid $dir/run.pid;");
    wait_until(sub { my ($s) = http_request('GET', "http://127.0.0.1:$port{8080}/"); defined $s && $s == 404 }, 5)
        or die "the example did not start: " . worker_stderr($w) . slurp("$dir/logs/error.log");
    return $w;
}

sub token { sign_token($_[0], time + 3600, $secret) }

sub flip_at_edge {
    my ($uid, $rid, $tok) = @_;
    return http_request('POST', "http://127.0.0.1:$port{8080}/cc/flip?request_id=$rid",
                        { Authorization => 'Bearer ' . ($tok // token($uid)) });
}

my $nginx = run_example($run);

for my $uid (1 .. 40) {
    my ($s, $b) = http_request('POST', "http://127.0.0.1:$port{8091}/cc/grant?grant_id=g&n=10", { 'X-CC-Uid' => $uid });
    die "grant $uid: $s $b" unless $s == 200;
}

my (%node, $same, $ok);
for my $uid (1 .. 40) {
    my %seen;
    for my $i (1 .. 3) {
        my ($s, $b, $h) = flip_at_edge($uid, "a$i");
        $ok++ if $s == 200 && $b =~ /^\{"draw_id":"$uid:$i"/;
        $seen{ $h->{'x-cc-node'} // 'none' }++;
    }
    $same++ if keys %seen == 1;
    ($node{$uid}) = keys %seen;
}
is($ok, 120, '120 flips through the edge, each as its token\'s user');
is($same, 40, 'each user\'s requests all land on one app node');
my @on1 = grep { $node{$_} eq 'app1' } 1 .. 40;
my @on2 = grep { $node{$_} eq 'app2' } 1 .. 40;
ok(@on1 > 5 && @on2 > 5, sprintf('both nodes have users (%d on app1, %d on app2)', scalar @on1, scalar @on2));

my ($s, $b) = flip_at_edge(3, 'x', token(4) =~ s/^4\./3./r);
is("$s $b", '401 {"error":"unauthorized"}', 'a forged token is refused through the edge');
($s, $b) = http_request('POST', "http://127.0.0.1:$port{8080}/cc/grant?grant_id=z&n=99", { 'X-CC-Uid' => 1 });
like("$s $b", qr/^404 .*404 Not Found/s, 'grants are not reachable through the edge');
is(redis_cmd($_, 'SISMEMBER', grants_key(1), 'z'), 0, "redis shard $_: the grant id was not applied") for 0, 1;
($s, $b) = http_request('GET', "http://127.0.0.1:$port{8080}/cc/metrics");
unlike("$s $b", qr/cc_flips_total/, 'nor are metrics');
like("$s $b", qr/^404 /, '... answered 404');

# the campaign's own limits: one user's burst is cut at the edge
my $tok = token(41);
my @burst = concurrent_requests(60, 'POST', "http://127.0.0.1:$port{8080}/cc/flip?request_id=burst%d",
                                { Authorization => "Bearer $tok" });
my $limited = grep { defined $_->[0] && $_->[0] == 429 } @burst;
ok($limited >= 30, "a burst of 60 flips by one user: $limited cut with 429 (10 r/s, burst 20)");

# the scheme in lower case is the same user, counted the same (the module
# takes any case; the edge's map once took only "Bearer" and never limited)
$tok = token(42);
@burst = concurrent_requests(60, 'POST', "http://127.0.0.1:$port{8080}/cc/flip?request_id=lower%d",
                             { Authorization => "bearer $tok" });
$limited = grep { defined $_->[0] && $_->[0] == 429 } @burst;
ok($limited >= 30, "a burst of 60 flips with \"bearer\" (lower case): $limited cut with 429");

# forged tokens naming user 43 are not user 43: they are refused and spend
# nothing of 43's allowance, so 43's own token still gets through
my ($gs, $gb) = http_request('POST', "http://127.0.0.1:$port{8091}/cc/grant?grant_id=g&n=5", { 'X-CC-Uid' => 43 });
die "grant 43: $gs $gb" unless $gs == 200;
my $forged = token(44) =~ s/^44\./43./r;
my @forged = concurrent_requests(60, 'POST', "http://127.0.0.1:$port{8080}/cc/flip?request_id=forged%d",
                                 { Authorization => "Bearer $forged" });
is(scalar(grep { defined $_->[0] && $_->[0] == 401 } @forged), 60, '60 forged tokens for user 43: all 401');
($s, $b) = flip_at_edge(43, 'real43');
like("$s $b", qr/^200 \{"draw_id":"43:1"/, '... and user 43\'s real token is served, not 429');

# ---- app2 is lost: only its users move ---------------------------------------

stop_worker($nginx, 'QUIT', 10);
my $p2 = $port{8082};
(my $lost = $run) =~ s/\n    server \{\n        listen 127\.0\.0\.1:$p2;.*?\n    \}\n/\n/s;
unlike($lost, qr/listen 127\.0\.0\.1:$p2/, 'the config without app2');
$nginx = run_example($lost);

my ($stay, $moved, $served) = (0, 0, 0);
for my $uid (1 .. 40) {
    my ($s, $b, $h) = flip_at_edge($uid, 'b1');
    $served++ if $s == 200 && $b =~ /^\{"draw_id":"$uid:4"/;
    $stay++ if $node{$uid} eq 'app1' && ($h->{'x-cc-node'} // '') eq 'app1';
    $moved++ if $node{$uid} eq 'app2' && ($h->{'x-cc-node'} // '') eq 'app1';
}
is($served, 40, 'with app2 down every user is still served');
is($stay, scalar @on1, 'app1\'s users stay on app1');
is($moved, scalar @on2, 'app2\'s users move to app1');

my $draws = 0;
for my $uid (1 .. 40) {
    $draws += redis_cmd($_, 'HGET', user_key($uid), 's') // 0 for 0, 1;
}
is($draws, 160, 'redis: 160 draws, none twice through the failover');

# ---- both app nodes lost: the edge answers 503, never 502 --------------------

stop_worker($nginx, 'QUIT', 10);
my $p1 = $port{8081};
(my $none = $lost) =~ s/\n    server \{\n        listen 127\.0\.0\.1:$p1;.*?\n    \}\n/\n/s;
unlike($none, qr/listen 127\.0\.0\.1:$p1;/, 'the config without app1 and app2');
$nginx = run_example($none);
my %seen;
for my $uid (1 .. 6) {
    my ($s, $b, $h) = flip_at_edge($uid, 'b2');
    $seen{"$s $b " . ($h->{'content-type'} // '')}++;
}
my ($s2, $b2) = http_request('GET', "http://127.0.0.1:$port{8080}/cc/award", { Authorization => 'Bearer ' . token(1) });
$seen{"$s2 $b2 award"}++;
is_deeply(\%seen, { '503 {"error":"unavailable"} application/json' => 6, '503 {"error":"unavailable"} award' => 1 },
          'no app node: each flip and award answered 503 {"error":"unavailable"} by the edge');
$draws = 0;
for my $uid (1 .. 40) {
    $draws += redis_cmd($_, 'HGET', "cc:{$uid}:u", 's') // 0 for 0, 1;
}
is($draws, 160, '... and nothing written');

stop_worker($nginx, 'QUIT', 10);
done_testing();
