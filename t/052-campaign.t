# scripts/campaign.sh, the README's run command, at a small size: every
# part started on loopback (an edge nginx and two app nodes, each its own
# instance), a campaign from the first grant to the last cent, and its
# report.  Checked here from the files it leaves, not from its own verdict
# alone: the awards add up to the pool, the flips answered 200 are the
# draws in MySQL and in Redis, cc-reconcile passed, winners claimed while
# the payout ran (answers 202 and 200, a payout curve of many samples),
# the page holds each of its charts, the run stayed within its limit, and
# every process it started is gone.  Also its refusals: a bad option, a
# bad setting and a busy port, before anything starts.

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure qw(stop_here);    # a failure's diagnostics kept for the end of the run
use CcTest::Util qw(free_block);      # ports reserved across the files prove runs at once
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Time::HiRes qw(time);

# scripts/campaign.sh builds and runs the plain build (build/), whatever
# the ASan pass's CC_MODULE_SO and CC_WORKER_DIR say: there this file would
# run the plain pass's campaign again, so it is left out (the sanitized
# module and workers meet the same paths in the files that spawn them)
plan skip_all => 'scripts/campaign.sh runs the plain build: left out of the ASan pass'
    if ($ENV{CC_MODULE_SO} // '') =~ m{build/asan};

my $dir = tempdir(CLEANUP => 1);
my $run = "$dir/run";

sub commify { my $n = reverse $_[0]; $n =~ s/(\d{3})(?=\d)/$1,/g; scalar reverse $n }

sub slurp { open my $h, '<', $_[0] or return ''; local $/; my $t = <$h>; $t // '' }

sub port_free {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_[0],
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# a base with the ports the script uses free and reserved (base + 0 .. 20)
sub free_base { free_block(0 .. 20) }

# runs the script with these environment variables and arguments
sub campaign {
    my ($envs, @args) = @_;
    my %env = %$envs;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{$_} = $env{$_} for keys %env;
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec 'scripts/campaign.sh', @args or die "exec: $!";
    }
    waitpid($pid, 0);
    return ($? >> 8, slurp("$dir/out"));
}

my $base = free_base();
my @small = ('--users', 3000, '--chances', 12, '--stock', 300, '--pool-cents', 300000,
             '--cap-cents', 20000, '--claim-pct', 100, '--run', $run, '--port-base', $base,
             '--limit-s', 60);

# ---- refusals, before anything starts -------------------------------------

{
    my ($rc, $out) = campaign({ SPLIT => 'lottery' }, @small);
    is($rc, 2, 'a bad SPLIT (environment) is refused with exit 2');
    like($out, qr/SPLIT is random or equal/, '... saying why');
    ok(!-e $run, '... before anything was started');

    ($rc, $out) = campaign({}, @small, '--split', 'lottery');
    is($rc, 2, 'a bad --split is refused with exit 2');
    like($out, qr/SPLIT is random or equal/, '... saying why');

    ($rc, $out) = campaign({}, @small, '--users', 'ten');
    is($rc, 2, '--users ten is refused with exit 2');
    like($out, qr/USERS must be a decimal/, '... saying why');

    ($rc, $out) = campaign({}, @small, '--bogus', 1);
    is($rc, 2, 'an unknown option is refused with exit 2');
    like($out, qr/unknown argument "--bogus"/, '... naming it');

    ($rc, $out) = campaign({}, @small, 'extra');
    is($rc, 2, 'a stray argument is refused with exit 2');
    like($out, qr/unknown argument "extra"/, '... naming it');

    ($rc, $out) = campaign({}, '--users');
    is($rc, 2, 'an option without its value is refused with exit 2');
    like($out, qr/--users needs a value/, '... saying so');
    ok(!-e $run, '... nothing was started');

    ($rc, $out) = campaign({}, @small, '--social-pct', 101);
    is($rc, 2, '--social-pct 101 is refused with exit 2');
    like($out, qr/SOCIAL_PCT is 0\.\.100/, '... saying why');

    ($rc, $out) = campaign({}, @small, '--wildcard', 2);
    is($rc, 2, '--wildcard 2 is refused with exit 2');
    like($out, qr/WILDCARD is 0 or 1/, '... saying why');

    ($rc, $out) = campaign({}, '--help');
    is($rc, 0, '--help: exit 0');
    like($out, qr/^usage: scripts\/campaign.sh/m, '... the usage');
    for my $o (qw(users chances conc pool-cents split cap-cents stock claim-pct social-pct wildcard claim-s
                  payout-after-s seed port-base run limit-s)) {
        (my $env = uc $o) =~ s/-/_/g;
        like($out, qr/^  --$o (?:(?!^  -).)*?\($env, /ms, "... lists --$o with its variable $env");
    }

    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $base + 10,
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "bind: $!";
    ($rc, $out) = campaign({}, @small);
    close $busy;
    is($rc, 2, 'a busy port is refused with exit 2');
    like($out, qr/ports in use: @{[$base + 10]}/, '... naming the port');
    ok(!-e $run, '... before anything was started');
}

# ---- a whole campaign -----------------------------------------------------

my $t0 = time;
my ($rc, $out) = campaign({ CONC => 128 }, @small);
my $took = time - $t0;
is($rc, 0, 'the campaign ran: exit 0') or stop_here($out);
like($out, qr/RESULT: PASS \(16 checks, 0 failed\)/, 'the report: 16 checks, all PASS');
like($out, qr/== campaign .* $_:/, "phase $_ ran") for qw(grant flip social close draw payout books);
ok($took < 60, sprintf('the run took %.1f s, under a minute', $took));

# a progress line in every phase
like($out, qr/^cc-load grant: +\d+s users \d+\/1500 sent \d+ \(\d+\/s\) 200 \d+ resent \d+ errors 0 gave up 0 /m,
     'progress: grant');
like($out, qr/^cc-load flip: +\d+s users \d+\/3000 sent \d+ \(\d+\/s\)(?: \d{3} \d+)+ resent \d+ errors \d+ gave up 0 /m,
     'progress: flip, the answers by status');
like($out, qr/^== campaign \[ *[\d.]+s\] draw: \d+\/\d+ awards written(?: \(\d+\/s\))?, errors 0, \d+ draws in MySQL$/m,
     'progress: draw') or diag(join "\n", grep { /draw:/ } split /\n/, $out);
like($out, qr/^== campaign \[ *[\d.]+s\] payout: \d+\/\d+ awards credited \(\d+\/s\), errors 0, \d+ pending$/m,
     'progress: payout');
like($out, qr/^cc-load claim: +\d+s users \d+\/3000 sent \d+ \(\d+\/s\)(?: \d{3} \d+)* 202 \d+/m,
     'progress: the claims, some answered 202');
like($out, qr/^== campaign \[ *[\d.]+s\] books: cc-reconcile --money checking \d+ awards and 3000 users, \d+s, errors 0$/m,
     'progress: books');

my $facts = eval { decode_json(slurp("$run/facts.json")) } // {};
sub total { my ($f) = map { decode_json($_) } grep { /"type":"total"/ } split /\n/, slurp($_[0]); $f // {} }
my $flip = total("$run/flip.jsonl");
my $claim = total("$run/claim.jsonl");
my @social = map { total("$run/social-$_.jsonl") } 1, 2;

ok($facts->{awards}{count} > 0, "there were winners ($facts->{awards}{count})");
is($facts->{awards}{sum_cents}, 300000, 'the awards add up to the pool, to the cent');
ok($facts->{awards}{max_cents} <= 20000 && $facts->{awards}{min_cents} >= 1,
   'every award within 1..cap');
is($facts->{draws_mysql}, $flip->{flip}{draws}, 'draws in MySQL = flips answered with a new draw');
is($facts->{draws_redis}, $flip->{flip}{draws}, 'draws in Redis = flips answered with a new draw');
is($facts->{draws_mysql}, 3000 * 12, 'every chance was spent');
is($facts->{eligible_mysql}, $facts->{eligible_redis}, 'eligible: MySQL = Redis');
is($facts->{eligible_mysql}, $facts->{awards}{count}, 'one award per eligible user');
ok($facts->{stock}[0]{issued}[0] + $facts->{stock}[0]{issued}[1] <= 300,
   'the rare kind stayed within its stock');
is($flip->{sent}, $flip->{answered} + $flip->{errors_total} + $flip->{reconnects},
   "the flips' two sides: sent = answered + failed sends");

# the social rounds (--social-pct 30, the default): gifts given and
# delivered once, asks answered, sets a gift completed; the report's
# figures are the state's
sub soc { my ($k) = @_; my $n = 0; $n += $_->{social}{$k} // 0 for @social; $n }
my $gave = soc('gifts_delivered') + soc('gifts_sent');
my $g = $facts->{gifts} // {};
is($social[0]{social}{pct}, 30, 'social: 30% of the users by default');
ok($gave > 0, "social: $gave gifts given");
ok(soc('asks') > 0 && soc('answers') > 0, 'social: ' . soc('asks') . ' asks, ' . soc('answers') . ' answered');
is_deeply([ $g->{given_mysql}, $g->{received_mysql} ], [ $gave, $gave ],
          '... each gift one given and one received half in MySQL');
ok(defined $g->{eligible_needed_gift} && $g->{eligible_needed_gift} <= $facts->{eligible_mysql},
   "... $g->{eligible_needed_gift} of $facts->{eligible_mysql} eligible users needed a gift");
# a user with a kind it never drew combined in a social round, and only
# such a user did (a set of draws alone was combined in the flip phase)
is(soc('combined'), $g->{eligible_needed_gift}, '... each of them combined in a social round, no other user did');
is($flip->{flip}{combined} + soc('combined'), $facts->{eligible_mysql},
   'eligible: the flip and the social rounds\' combines = MySQL');
is($g->{redriven}, 0, '... cc-redrive found nothing to redrive (no fault)');
is($g->{eligible_needed_wildcard}, 0, '... no combine took a wildcard (the campaign names none)');
my $cc = $facts->{cards_check} // {};
is($cc->{exit}, 0, 'cc-reconcile --cards: exit 0');
is(scalar @{ $cc->{kinds} // [] }, 5, '... a line for each of the 5 kinds');
for my $k (@{ $cc->{kinds} // [] }) {
    is($k->{held} + $k->{transit}, $k->{drawn} - $k->{combined},
       "kind $k->{kind}: held $k->{held} + in transit $k->{transit} = drawn $k->{drawn} - combined $k->{combined}");
    is($k->{drawn}, $flip->{flip}{cards}[ $k->{kind} ], '... drawn as the flips\' answers said');
    is($k->{combined}, $facts->{eligible_mysql}, '... one consumed by each combine');
}
like(slurp("$run/report.txt"), qr/^gifts: 30% of the users social; \Q@{[ commify($gave) ]}\E gifts given: .* \Q@{[ commify($g->{eligible_needed_gift}) ]}\E of \Q@{[ commify($facts->{eligible_mysql}) ]}\E eligible users needed a gift, 0 a wildcard$/m,
     'report.txt: the gifts line, its figures the state\'s');
like(slurp("$run/report.txt"), qr/^cards: kind 0: [\d,]+ held \+ 0 in transit = [\d,]+ drawn - [\d,]+ combined: ok$/m,
     'report.txt: the cards per kind');

# winners claimed before and while cc-payout ran
my $cl = $claim->{claim} // {};
ok(($cl->{claims_202} // 0) > 0, "claims answered 202, pending: before the payout ($cl->{claims_202})");
ok(($cl->{claims_200} // 0) > 0, "claims answered 200, credited: once it ran ($cl->{claims_200})");
is(($cl->{claims_200} // 0) + ($cl->{claims_202} // 0), $cl->{claims_sent}, '... every claim one or the other');
my @payout = @{ $facts->{payout} // [] };
ok(@payout > 5, scalar(@payout) . ' samples of the payout');
ok($payout[0]{pending} > 0 && $payout[0]{credited} == 0, '... the first before any credit');
my %credited = map { $_->{credited} => 1 } @payout;
ok(keys %credited >= 2, '... the credited count rising over ' . scalar(keys %credited) . ' values');
is($payout[-1]{pending}, 0, '... nothing left pending at the end');
is($payout[-1]{credited}, $facts->{awards}{count}, '... every award credited');

my $rec = eval { decode_json(slurp("$run/reconcile.json")) } // {};
ok($rec->{ok}, 'cc-reconcile --money passed');
is(scalar(grep { $_->{ok} } @{ $rec->{checks} // [] }), scalar(@{ $rec->{checks} // [] }),
   '... every one of its checks');
ok($facts->{elapsed_s} > 0 && $facts->{elapsed_s} <= $facts->{limit_s} && $facts->{limit_s} == 60,
   "the run within its limit: $facts->{elapsed_s} s of $facts->{limit_s} s");

# the page: each named chart, as a section and as an SVG
my $html = slurp("$run/report.html");
for my $c ([ throughput => 'Requests and flips per second' ],
           [ latency    => 'Latency percentiles per second' ],
           [ cards      => 'Cards drawn per kind against the weights' ],
           [ stock      => 'Rare cards: the stock cap against the cards issued' ],
           [ eligible   => 'Eligible users' ],
           [ awards     => 'Award distribution' ],
           [ payout     => 'Payout: credited and pending over time' ],
           [ claims     => 'Claims: answered 200 against 202' ]) {
    like($html, qr/<h2>\Q$c->[1]\E<\/h2>\s*<svg[^>]* data-chart="$c->[0]"/, "the page: $c->[1]");
}
like($html, qr/<h2>Reconcile<\/h2>.*<table id="reconcile">/s, 'the page: the reconcile verdict with its checks');
like($html, qr/<h2>Gifts and asks<\/h2>\s*<table id="gifts">.*<table id="cards-check">/s,
     'the page: the gifts and the cards per kind');
like($html, qr/<table id="load"><tr><th>phase<\/th><th>users<\/th><th>sent<\/th><th>answered<\/th>/,
     'the page: what the load sent and what came back');
unlike($html, qr/<script/i, "the page has no script");
unlike($html, qr/(?:src|href|url\()\s*=?\s*["']?https?:/i, "... and loads nothing from the network");
my $txt = slurp("$run/report.txt");
like($txt, qr/cc-reconcile: nothing broken/, 'report.txt says the books are clean');
like($txt, qr/^flip  3,000 users in [\d.]+ s: sent [\d,]+, answered [\d,]+ \(200 [\d,]+.*\), re-sent \d+/m,
     'report.txt: the flips sent and answered');

# three nginx instances: an edge without the module, two app nodes with it
my %conf = map { $_ => slurp("$run/$_/nginx.conf") } qw(edge app1 app2);
unlike($conf{edge}, qr/^\s*(?:load_module|cc_\w+)\s/m, 'the edge runs without the module');
like($conf{edge}, qr/hash \$cc_route_uid consistent;/, '... routing by uid, consistent');
like($conf{edge}, qr/"~\*\^Bearer .*proxy_read_timeout 2s;/s,
     "... with the example's case-insensitive map and timeouts");
unlike($conf{edge}, qr/limit_req_zone/, '... and no limit on an unverified uid');
my ($cutoff) = slurp("$run/campaign.conf") =~ /^cutoff\s+(\d+)/m;
for my $n (1, 2) {
    my $c = $conf{"app$n"};
    like($c, qr/^load_module .*ngx_http_cc_module\.so;/m, "app$n loads the module");
    like($c, qr/cc_identity token /, '... token identity');
    like($c, qr/limit_req_zone \$cc_uid .*limit_req zone=cc_per_user burst=20 nodelay;/s,
         '... and the per-user limit on the verified uid');
    like($c, qr/listen 127\.0\.0\.1:@{[$base + 2 + $n]}\b[^;]*;\s*allow 127\.0\.0\.1;\s*deny all;.*cc_grant;/s,
         '... its internal port for grants, loopback only');
    like($c, qr/cc_combine_cutoff $cutoff;/, '... reloaded with the cutoff');
    like(slurp("$run/logs/app$n.log"), qr/reconfiguring/, '... and it reloaded');
}

ok(-s "$run/logs/cc-draw.log" && -s "$run/logs/cc-payout.log", 'the logs stay');

# every process it started is gone
my %pid = map { split ' ' } split /\n/, slurp("$run/pids");
is(join(' ', sort keys %pid), 'app1 app2 claims edge ingest mock mysql payout redis0 redis1 redrive',
   'it named every process it started');
is(join(' ', grep { kill 0, $pid{$_} } sort keys %pid), '', '... and each is gone');
# (a process of the run has the folder in its command line: nginx -p, mariadbd)
my @from_run = grep { $_ != $$ && slurp("/proc/$_/cmdline") =~ /\Q$run\/\E/ }
               map { m{^/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
is("@from_run", '', 'no process runs from its folder');
my @left = grep { !port_free($base + $_) } 0 .. 4, 10, 11, 20;
is("@left", '', 'every port it used is free');


# ---- --wildcard 1: the rare kind is the wildcard ---------------------------
# A smaller campaign: the set is kinds 0..3, a combine takes a wildcard
# (kind 4) for each kind lacked; the report counts the users whose combine
# took one, and every kind still adds up: each wildcard a combine took
# stood in for one kind of the set it did not take.

my $wrun = "$dir/wild";
($rc, $out) = campaign({ CONC => 128 }, '--users', 1000, '--chances', 12, '--stock', 100,
                       '--pool-cents', 100000, '--cap-cents', 20000, '--claim-pct', 20,
                       '--run', $wrun, '--port-base', free_base(), '--limit-s', 60, '--wildcard', 1);
is($rc, 0, '--wildcard 1: exit 0') or diag($out);
like($out, qr/RESULT: PASS \(16 checks, 0 failed\)/, '... every check PASS');
like(slurp("$wrun/app1/nginx.conf"), qr/^\s*cc_wildcard_kind 4;$/m, '... the app nodes name kind 4 the wildcard');
my $wf = eval { decode_json(slurp("$wrun/facts.json")) } // {};
my $wg = $wf->{gifts} // {};
my @wk = @{ $wf->{cards_check}{kinds} // [] };
ok(($wg->{eligible_needed_wildcard} // 0) > 0,
   "... $wg->{eligible_needed_wildcard} of $wf->{eligible_mysql} eligible users' combines took a wildcard");
my $replaced = 0;
$replaced += $wf->{eligible_mysql} - $_->{combined} for @wk[0 .. 3];
is($replaced, $wk[4]{combined}, "... the kinds replaced ($replaced) = the wildcards the combines took");
ok($wk[4]{combined} >= $wg->{eligible_needed_wildcard}, '... at least one a user that needed one');
is(scalar(grep { $_->{ok} && !$_->{transit} } @wk), 5, '... and every kind adds up, nothing in transit');
like(slurp("$wrun/report.txt"), qr/^gifts: .* eligible users needed a gift, \Q@{[ commify($wg->{eligible_needed_wildcard}) ]}\E a wildcard$/m,
     'report.txt: the wildcards, as the state says');
like(slurp("$wrun/report.html"), qr/<td>eligible users who needed a wildcard<\/td><td>\Q@{[ commify($wg->{eligible_needed_wildcard}) ]}\E<\/td>/,
     'report.html: in the gifts table');

done_testing();
