# README.md's "Standing it up by hand", run as written: every block it
# marks <!-- by-hand: run --> (then <!-- by-hand: close -->, then
# <!-- by-hand: stop -->) is run by bash -e, in the section's order, and
# every <!-- by-hand: file PATH --> block is written to PATH, with
#
#   /etc/cardcampaign, /var/lib/cardcampaign, /var/log/cardcampaign
#                      under a temp folder;
#   the ports 6379 6380 3306 9092 8080 8081
#                      free ones;
#   the window's times (2027-01-20T00:00:00Z, 2027-02-10T15:00:00Z,
#                      2027-02-10T16:00:00Z) an hour ago, and 10 and 11
#                      minutes ahead (the close blocks move them to now);
#   the early close's minute ahead and its wait
#                      3 and 5 seconds;
#   load_module's path the module built here; `nginx` the nginx of the
#                      tests (TEST_NGINX_BINARY); the cc-* programs from
#                      build/ (CC_WORKER_DIR).
#
# Between the run and the close blocks the test makes user 7 eligible
# through nginx (grants, flips until it holds every kind, a combine);
# after the close blocks the draw has awarded it, the payout credited it
# and the books passed.  Root only (the servers run as redis and mysql).

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure;    # a failure's diagnostics kept for the end of the run
use Test::More;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);
use IO::Socket::INET;
use HTTP::Tiny;
use POSIX qw(strftime);
use JSON::PP;

plan skip_all => 'needs root (redis and mysql users)' if $> != 0;
for my $p (qw(redis-server redis-cli mariadb-install-db mariadbd mariadb mariadb-admin openssl curl runuser)) {
    plan skip_all => "needs $p" unless grep { -x "$_/$p" } split /:/, "$ENV{PATH}:/usr/sbin:/sbin";
}
for my $u (qw(redis mysql)) {
    plan skip_all => "needs the user $u" unless getpwnam($u);
}

my $top = abs_path('.');
my $so  = $ENV{CC_MODULE_SO} || "$top/build/nginx/ngx_http_cc_module.so";
my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $wdir = $ENV{CC_WORKER_DIR} ? abs_path($ENV{CC_WORKER_DIR}) : "$top/build/workers";
my $T = tempdir('cc-by-hand-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CC_TEST_KEEP});
chmod 0755, $T;                         # redis and mysql go through it
diag "kept: $T" if $ENV{CC_TEST_KEEP};

# ---- the section's blocks ------------------------------------------------------

open my $rf, '<', "$top/README.md" or die "README.md: $!";
my $readme = do { local $/; <$rf> };
close $rf;
my ($section) = $readme =~ /^## Standing it up by hand\n(.*?)^## /ms;
ok($section, 'README.md has "Standing it up by hand"') or BAIL_OUT('no section');

my @l = split /\n/, $section;
my (%run, @files);                      # phase => [ text... ]
for (my $i = 0; $i < @l; $i++) {
    next unless $l[$i] =~ /^<!-- by-hand: (run|close|stop|file (\S+)) -->$/;
    my ($what, $path) = ($1, $2);
    my $j = $i + 1;
    $j++ while $j < @l && ($l[$j] =~ /^\s*$/ || $l[$j] =~ /^<!-- nginx-t: /);
    my @b;
    while ($j < @l && ($l[$j] =~ /^ {4}/ || ($l[$j] =~ /^\s*$/ && $j + 1 < @l && $l[$j + 1] =~ /^ {4}/))) {
        push @b, substr($l[$j], 4) // '';
        $j++;
    }
    ok(@b, "by-hand marker at section line @{[ $i + 1 ]} ($what) has a block");
    my $text = join("\n", @b) . "\n";
    if ($path) { push @files, [ $path, $text ] } else { push @{ $run{$what} }, $text }
}
ok(@{ $run{run} // [] } >= 5 && @{ $run{close} // [] } >= 2 && @{ $run{stop} // [] } == 1 && @files == 1,
   'the run, close, stop and file blocks are there');

# ---- here instead of there ---------------------------------------------------------

# free ports below the ephemeral range, where no connection the servers
# make while the others start can take one as its own
my ($low) = do { open my $h, '<', '/proc/sys/net/ipv4/ip_local_port_range'; split ' ', (<$h> // '32768') };
$low = 32768 if $low < 12000;
sub free_port {
    for (1 .. 200) {
        my $p = 10000 + int(rand($low - 10001));
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $p, Proto => 'tcp',
                                      Listen => 1, ReuseAddr => 1) or next;
        close $s;
        return $p;
    }
    die 'no free port';
}
my %port;
for my $p (qw(6379 6380 3306 9092 8080 8081)) {
    my $n;
    do { $n = free_port() } while grep { $_ == $n } values %port;
    $port{$p} = $n;
}
my $now = time;
my $iso = sub { strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $_[0]) };
my %date = ('2027-01-20T00:00:00Z' => $iso->($now - 3600),
            '2027-02-10T15:00:00Z' => $iso->($now + 600),
            '2027-02-10T16:00:00Z' => $iso->($now + 660));

sub here {
    my ($t) = @_;
    $t =~ s{/etc/cardcampaign}{$T/etc}g;
    $t =~ s{/var/lib/cardcampaign}{$T/var}g;
    $t =~ s{/var/log/cardcampaign}{$T/log}g;
    $t =~ s{^(\s*load_module\s+)\S+;}{$1$so;}mg;
    $t =~ s{\b(6379|6380|3306|9092|8080|8081)\b}{$port{$1}}g;
    $t =~ s{(2027-\d\d-\d\dT\d\d:\d\d:\d\dZ)}{$date{$1} // die "a date the test does not know: $1"}ge;
    # the early close: a few seconds ahead instead of a minute
    $t =~ s{date -u -d '\+1 minute'}{date -u -d '+3 seconds'}g;
    $t =~ s{^sleep 62$}{sleep 5}mg;
    return $t;
}

my $prelude = <<"SH";
set -e
export PATH='$wdir:$top/build/tools:$ENV{PATH}:/usr/sbin:/sbin'
nginx() { '$bin' "\$@"; }
SH

sub bash {
    my ($name, @blocks) = @_;
    my $script = "$T/$name.sh";
    open my $f, '>', $script or die $!;
    print $f $prelude, map { here($_) } @blocks;
    close $f;
    my $out = `cd '$top' && timeout 180 bash -x '$script' 2>&1`;
    return ($? >> 8, $out);
}

# whatever happens, everything the blocks started is stopped
END {
    return unless $T && -d "$T/var";
    if (-e "$T/etc/nginx.conf" && -e "$T/var/nginx.pid") {
        system("'$bin' -s quit -c '$T/etc/nginx.conf' >/dev/null 2>&1");
    }
    for my $pf (glob("$T/var/*.pid"), glob("$T/var/*/*.pid")) {
        open my $h, '<', $pf or next;
        my $pid = <$h>;
        next unless $pid && $pid =~ /^(\d+)/;
        kill 'TERM', $1;
    }
    sleep 2;
}

# ---- up --------------------------------------------------------------------------------

for my $f (@files) {
    my $path = here($f->[0]);
    system('mkdir', '-p', "$T/etc");
    open my $h, '>', $path or die "$path: $!";
    print $h here($f->[1]);
    close $h;
}
my ($rc, $out) = bash('up', @{ $run{run} });
is($rc, 0, 'the run blocks: exit 0') or diag $out;
like($out, qr/^PONG$/m, 'Redis answers the ACL user');
like($out, qr/\{"chances":3\}/, 'the grant on the internal port');
like($out, qr/\{"draw_id":"7:1","card":\d,"chances_left":2\}/, 'the flip with a token');
like($out, qr/^cc_flips_total\{result="ok"\} 1$/m, 'the metrics count it');
my $secrets = "$T/etc/secrets";
is((stat $secrets)[2] & 07777, 0700, 'secrets/ is 0700');
is((stat "$secrets/$_")[2] & 07777, 0600, "secrets/$_ is 0600") for qw(cc_owner.mysql cc_books.mysql redis);

# ---- user 7 combines a set -------------------------------------------------------------

my $http = HTTP::Tiny->new(timeout => 5);
my $token = `'$wdir/cc-token' --secret '$T/etc/token.secret' --uid 7`;
chomp $token;
my %bearer = (headers => { Authorization => "Bearer $token" });
$http->post("http://127.0.0.1:$port{8081}/cc/grant?grant_id=more&n=3000", { headers => { 'X-CC-Uid' => 7 } });
my $kinds = 0;
for my $n (1 .. 3000) {
    my $r = $http->post("http://127.0.0.1:$port{8080}/cc/flip?request_id=f$n", \%bearer);
    last unless $r->{status} == 200;
    next if $n % 50;
    my $e = decode_json($http->get("http://127.0.0.1:$port{8080}/cc/eligibility", \%bearer)->{content});
    $kinds = grep { $_ > 0 } @{ $e->{cards} };
    last if $kinds == $e->{kinds};
}
is($kinds, 5, 'user 7 holds every kind');
my $r = $http->post("http://127.0.0.1:$port{8080}/cc/combine?request_id=set7", \%bearer);
like($r->{content}, qr/"eligible":true/, 'user 7 combined a set') or diag "$r->{status} $r->{content}";

# ---- closed, drawn, paid, checked ---------------------------------------------------------

($rc, $out) = bash('close', @{ $run{close} });
is($rc, 0, 'the close blocks: exit 0') or diag $out;
like($out, qr/^campaign cny2027: equal split of 1000000 cents among 1 eligible users on 2 shards/m, 'cc-draw drew user 7');
like($out, qr/cc-payout: .*1 credited|credited 1|paid 1/i, 'cc-payout paid it') or diag $out;
my $books = -e "$T/var/books.json" ? decode_json(do { local $/; open my $h, '<', "$T/var/books.json" or die $!; <$h> }) : {};
ok($books->{ok}, 'cc-reconcile --money: the books pass, in its --json');
$r = $http->get("http://127.0.0.1:$port{8080}/cc/award", \%bearer);
is($r->{content}, '{"status":"credited","amount_cents":1000000,"award_id":"cny2027:7"}', 'user 7 sees the award credited');
$r = $http->post("http://127.0.0.1:$port{8080}/cc/flip?request_id=late", \%bearer);
is($r->{status}, 403, 'a flip after the early close: 403');

# ---- down ------------------------------------------------------------------------------

($rc, $out) = bash('stop', @{ $run{stop} });
is($rc, 0, 'the stop block: exit 0') or diag $out;
sleep 2;
sub slurp { open my $h, '<', $_[0] or return ''; local $/; <$h> }
like(slurp("$T/log/cc-ingest.log"), qr/stopping: \d+ read, [1-9]\d* inserted/, 'cc-ingest wrote the draws nginx sent through the mock broker');
like(slurp("$T/log/mariadb/error.log"), qr/ready for connections/, "mariadbd's log is where the section says");
like(slurp("$T/log/cc-reconcile.log"), qr/pass done/, 'cc-reconcile made its passes');
# the sanitizer runs (make test-asan): a report in any log the blocks wrote
my @reports = grep { slurp($_) =~ /AddressSanitizer|LeakSanitizer|runtime error:/ } glob("$T/log/*.log"), glob("$T/log/*/*.log");
is_deeply(\@reports, [], 'no sanitizer report in the logs');
ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port{$_}", Timeout => 1), "nothing listens on ${_}'s port any more")
    for qw(6379 6380 3306 9092 8080 8081);

done_testing();
