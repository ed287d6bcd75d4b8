# tools/report/cc-report: a fixture run (t/fixtures/report: cc-load stats of
# grant, flip and claim, and the servers' facts; a social round and the
# gifts' facts written here) becomes report.txt and a
# self-contained report.html with one SVG chart each, the chi-square
# figures (checked here against a closed form), every check marked PASS
# or FAIL; a broken fact fails its check, and bad input fails clearly.

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure;    # a failure's diagnostics kept for the end of the run
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();

my $report = 'tools/report/cc-report';
my $fx = 't/fixtures/report';
my @stats = map { "$fx/$_.jsonl" } qw(grant flip claim);
my $dir = tempdir(CLEANUP => 1);

sub slurp { open my $h, "<", $_[0] or die "$_[0]: $!"; local $/; my $t = <$h>; return $t // "" }
sub spew  { open my $h, '>', $_[0] or die "$_[0]: $!"; print $h $_[1]; close $h }

# runs cc-report; returns (exit code, stdout, stderr)
sub run_report {
    my (@args) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>', "$dir/err" or die;
        exec $^X, $report, @args or die "exec: $!";
    }
    waitpid($pid, 0);
    return ($? >> 8, slurp("$dir/out"), slurp("$dir/err"));
}

my $facts = decode_json(slurp("$fx/facts.json"));
my ($flip_total) = grep { /"type":"total"/ } split /\n/, slurp("$fx/flip.jsonl");
my $cards = decode_json($flip_total)->{flip}{cards};

# ---- the fixture: everything passes --------------------------------------

mkdir "$dir/ok";
my ($rc, $out, $err) = run_report('--facts', "$fx/facts.json", '--out', "$dir/ok", @stats);
is($rc, 0, 'the fixture: exit 0') or diag $err;
is($err, '', '... nothing on stderr (no warning)');
my $txt = slurp("$dir/ok/report.txt");
is($out, $txt, 'the text report is printed as written');
like($txt, qr/^RESULT: PASS \(14 checks, 0 failed\)$/m, 'report.txt: 14 checks pass');
like($txt, qr/^  PASS  flips answered 200 = draws in MySQL = draws in Redis: 3,300 = 3,300 = 3,300$/m,
     '... the 200s against MySQL and Redis');
like($txt, qr/^claims: 9 answered 200 \(credited\), 3 202 \(pending\), 0 404$/m, '... the claims');
like($txt, qr/^reconcile: ok \(missing_credit ok, .*pool_not_empty ok\)$/m, '... the reconcile verdict with its checks');

# the chi-square test over kinds 0..3: kind 4 reached its stock (10 + 10 of
# 20), so it is left out and the others' weights renormalised
my @w = @{ $facts->{weights} }[0 .. 3];
my $n = 0; $n += $cards->[$_] for 0 .. 3;
my $wsum = 0; $wsum += $_ for @w;
my $x2 = 0;
$x2 += ($cards->[$_] - $n * $w[$_] / $wsum) ** 2 / ($n * $w[$_] / $wsum) for 0 .. 3;
# the chi-square survival function for 3 degrees of freedom, in closed form
my $p = POSIX::erfc(sqrt($x2 / 2)) + sqrt(2 * $x2 / 3.14159265358979) * exp(-$x2 / 2);
my $x2s = sprintf '%.3f', $x2;
my $ps = sprintf '%.4f', $p;
like($txt, qr/^randomness: chi-square \Q$x2s\E, df 3, p \Q$ps\E over kinds 0,1,2,3 \(capped, left out: 4\); n 3,280$/m,
     "report.txt: chi-square $x2s, df 3, p $ps");

my $html = slurp("$dir/ok/report.html");
like($html, qr/^<!DOCTYPE html>/, 'report.html is an HTML page');
like($html, qr/<b>&chi;&sup2; = \Q$x2s\E<\/b>, <b>df = 3<\/b>, <b>p = \Q$ps\E<\/b>/, '... with the chi-square figures');
my %bars = (cards => 10, stock => 2, eligible => 3, awards => 3, claims => 3);
my %lines = (throughput => 2, latency => 3, payout => 2);
my @svgs = $html =~ /(<svg\b.*?<\/svg>)/sg;
is(scalar @svgs, 8, '... 8 SVG charts');
for my $id (sort keys %bars) {
    my @c = grep { /data-chart="$id"/ } @svgs;
    is(scalar @c, 1, "chart $id: one svg");
    my $rects = () = ($c[0] // '') =~ /<rect [^>]*><title>/g;
    is($rects, $bars{$id}, "chart $id: $bars{$id} bars");
}
for my $id (sort keys %lines) {
    my @c = grep { /data-chart="$id"/ } @svgs;
    is(scalar @c, 1, "chart $id: one svg");
    my %colors = map { $_ => 1 } ($c[0] // '') =~ /<polyline fill="none" stroke="([^"]+)"/g;
    is(scalar keys %colors, $lines{$id}, "chart $id: $lines{$id} lines");
}
my ($tp) = grep { /data-chart="throughput"/ } @svgs;
my $segments = () = $tp =~ /<polyline /g;
is($segments, 6, 'throughput: each line broken between the three phases');
like($tp, qr/>grant<.*>flip<.*>draw<.*>payout<.*>claim</s, 'throughput: the phases marked');
my ($cd) = grep { /data-chart="cards"/ } @svgs;
like($cd, qr/<title>drawn kind 3: 440<\/title>/, 'cards: a bar carries its figure');
like($cd, qr/<title>expected by the weights kind 0: 990<\/title>/, 'cards: 3300 x 3000 / 10000 expected of kind 0');
unlike($html, qr/<script|\bsrc=|\bhref=|url\(|\@import/i, 'nothing loaded: no script, src, href or url()');
is(scalar(() = $html =~ /http/g), scalar @svgs, 'the only http is each svg\'s xmlns');
like($html, qr/<table id="reconcile">.*<td>pool_sum<\/td><td class="pass">ok<\/td>/s, 'the reconcile checks in a table');
is(scalar(() = $html =~ /<td class="pass">PASS<\/td>/g), 14, 'the 14 checks marked PASS');

# ---- the load client's two sides --------------------------------------------

like($txt, qr/^flip  3,000 users in 3\.0 s: sent 3,432, answered 3,432 \(200 3,402 409 30\), re-sent 0, 0 errors, 0 given up; /m,
     'report.txt: each phase with what it sent and what came back, by status');
like($txt, qr/^  PASS  the load client's two sides: .*flip: sent 3,432 = answered 3,432 \+ 0 errors \+ 0 reopened, failures 0 = re-sent 0 \+ given up 0/m,
     '... checked against each other');
like($html, qr/<table id="load"><tr><th>phase<\/th><th>users<\/th><th>sent<\/th><th>answered<\/th>.*<td>flip<\/td><td>3,000<\/td><td>3,432<\/td><td>3,432<\/td><td>200 3,402 409 30<\/td>/s,
     'report.html: sent and answered in the load table');

# edits the flip phase's total line
sub with_flip {
    my ($name, $edit) = @_;
    my @lines = split /\n/, slurp("$fx/flip.jsonl");
    for (@lines) {
        next unless /"type":"total"/;
        my $j = decode_json($_);
        $edit->($j);
        $_ = JSON::PP->new->canonical->encode($j);
    }
    spew("$dir/$name.jsonl", join("\n", @lines) . "\n");
    mkdir "$dir/$name";
    return run_report('--facts', "$fx/facts.json", '--out', "$dir/$name",
                      map { $_ eq "$fx/flip.jsonl" ? "$dir/$name.jsonl" : $_ } @stats);
}

# five flips answered 503 and re-sent, one connection timed out and re-sent
($rc, $out) = with_flip('resent', sub {
    my $t = $_[0];
    $t->{status}{503} = 5; $t->{endpoints}{flip}{503} = 5;
    $t->{errors}{timeout} = 1; $t->{errors_total} = 1;
    $t->{resends} = 6; $t->{sent} += 6; $t->{answered} += 5;
});
is($rc, 0, '503s and a timeout, each re-sent: exit 0');
like($out, qr/^flip  3,000 users in 3\.0 s: sent 3,438, answered 3,437 \(200 3,402 409 30 503 5\), re-sent 6, 1 errors, 0 given up; /m,
     '... the 503s said by their code, and the re-sends');
like($out, qr/^  PASS  every request answered within its tries, as the contract says: 0 given up, 0 answers off the contract, 1 connection errors and 5 answers 429\/5xx re-sent$/m,
     '... counted as re-sent, not hidden');

($rc, $out) = with_flip('unsent', sub { $_[0]{sent} += 1 });
is($rc, 1, 'a send neither answered nor failed: exit 1');
like($out, qr/^  FAIL  the load client's two sides: .*flip: sent 3,433 = answered 3,432 \+ 0 errors \+ 0 reopened/m,
     '... the two sides check fails');
like($out, qr/^RESULT: FAIL \(14 checks, 1 failed\)$/m, '... only that one');

($rc, $out) = with_flip('lost503', sub {
    my $t = $_[0];
    $t->{status}{503} = 2; $t->{sent} += 2; $t->{answered} += 2;
});
is($rc, 1, 'two 503 answers neither re-sent nor given up: exit 1');
like($out, qr/^  FAIL  the load client's two sides: .*flip: .* failures 2 = re-sent 0 \+ given up 0/m,
     '... the two sides check fails');

($rc, $out) = with_flip('uncounted', sub { $_[0]{answered} += 1; $_[0]{sent} += 1 });
is($rc, 1, 'an answer without a status: exit 1');
like($out, qr/^  FAIL  the load client's two sides/m, '... the two sides check fails');

# ---- a fact that breaks a check ---------------------------------------------

sub with_facts {
    my ($name, $edit) = @_;
    my $f = decode_json(slurp("$fx/facts.json"));
    $edit->($f);
    spew("$dir/$name.json", encode_json($f));
    mkdir "$dir/$name";
    return run_report('--facts', "$dir/$name.json", '--out', "$dir/$name", @stats);
}

($rc, $out) = with_facts('lost', sub { $_[0]{draws_mysql} = 3299 });
is($rc, 1, 'MySQL one draw short: exit 1');
like($out, qr/^  FAIL  flips answered 200 = draws in MySQL = draws in Redis: 3,300 = 3,299 = 3,300$/m, '... the check fails');
like($out, qr/^RESULT: FAIL \(14 checks, 1 failed\)$/m, '... and the result');
like(slurp("$dir/lost/report.html"), qr/<td class="fail">FAIL<\/td><td>flips answered 200 = draws in MySQL/,
     '... in the HTML too');

($rc, $out) = with_facts('over', sub { $_[0]{stock}[0]{issued} = [ 11, 10 ] });
is($rc, 1, 'more rare cards issued than the cap: exit 1');
like($out, qr/^  FAIL  rare kind 4: issued within the stock cap: 21 issued \(11 \+ 10\) of cap 20/m, '... the stock check fails');

($rc, $out) = with_facts('open', sub { $_[0]{stock}[0]{cap} = 1000 });
is($rc, 0, 'a stock never reached: exit 0');
like($out, qr/^randomness: chi-square [\d.]+, df 4, p [\d.]+ over kinds 0,1,2,3,4; n 3,300$/m,
     '... its kind stays in the test: df 4');

($rc, $out) = with_facts('skew', sub { $_[0]{weights} = [ 2000, 3000, 2500, 1400, 100 ] });
is($rc, 1, 'cards against other weights: exit 1');
like($out, qr/^  FAIL  the draw's randomness: cards against the weights \(p >= 0.001\): chi-square [\d.]+, df 3, p [\d.]+e-\d+/m,
     '... the randomness check fails with a tiny p');

($rc, $out) = with_facts('broken', sub {
    $_[0]{reconcile}{ok} = JSON::PP::false;
    $_[0]{reconcile}{checks}[1]{ok} = JSON::PP::false;
    $_[0]{reconcile}{breaks} = [ { class => 'duplicate_credit', shard => 0, award_id => 'fixture:7' } ];
});
is($rc, 1, 'reconcile found a break: exit 1');
like($out, qr/^reconcile: BROKEN \(missing_credit ok, duplicate_credit FAIL,/m, '... said with the failing check');
like(slurp("$dir/broken/report.html"), qr/duplicate_credit.*fixture:7/s, '... the break listed in the HTML');

# ---- a failover (campaign.sh --ha): the events marked, what it cost --------------

my $ev0 = $facts->{phases}[0]{start_ms} + 1500;
my @events = ({ t_ms => $ev0, what => 'redis primary cc0 :1 killed (kill -9)' },
              { t_ms => $ev0 + 2300, what => "sentinels promoted cc0's replica :2" });
($rc, $out) = with_facts('failover', sub {
    $_[0]{events} = \@events;
    $_[0]{failover} = { shard => 'cc0', shard_users => 1500, longest_gap_ms => 2345, shard_503 => 263,
                        flip_503 => 263, flip_504 => 0, flip_resends => 263, redis_promotion_ms => 2300,
                        redis_replica_back_ms => 2400, mysql_promotion_ms => 47, lost_acked_flips => 0,
                        lost_draws => 0, reused_seqs => 0 };
});
is($rc, 0, 'a failover that lost nothing: exit 0');
like($out, qr/^  PASS  the failover lost no acknowledged flip: 0 flips answered 200 and lost \(0 draws only MySQL holds, 0 sequence numbers reused\)$/m,
     '... its check passes');
like($out, qr/^RESULT: PASS \(15 checks, 0 failed\)$/m, '... one check more');
like($out, qr/^failover: cc0 users \(1,500\) longest without a 200 2\.35 s, answered 503 263 times; flips answered 503 263, 504 0, re-sent 263; Redis promoted in 2\.30 s, a replica in sync again after 2\.40 s; MySQL promoted in 0\.05 s; acknowledged flips lost 0$/m,
     '... and what it cost, in the text');
like($out, qr/^event: \d\d:\d\d:\d\d\.\d{3} redis primary cc0 :1 killed \(kill -9\)$/m, '... each event listed');
my $fhtml = slurp("$dir/failover/report.html");
for my $c (qw(throughput latency payout)) {
    my ($svg) = $fhtml =~ /(<svg[^>]* data-chart="$c".*?<\/svg>)/s;
    is(scalar(() = ($svg // '') =~ /<line [^>]*class="marker event"\/><text [^>]*class="mark event">/g), 2,
       "chart $c: both events, red markers with labels");
}
like($fhtml, qr/class="mark event">sentinels promoted cc0's replica :2</, '... the label');
like($fhtml, qr/<table id="failover">.*longest time without a 200, from the kill on<\/td><td>2\.35 s<\/td>/s,
     'the Failover table');
like($fhtml, qr/<table id="events">.*redis primary cc0 :1 killed/s, 'the events table');

($rc, $out) = with_facts('failover_lost', sub {
    $_[0]{events} = \@events;
    $_[0]{failover} = { shard => 'cc0', lost_acked_flips => 3, lost_draws => 2, reused_seqs => 1 };
});
is($rc, 1, 'acknowledged flips lost: exit 1');
like($out, qr/^  FAIL  the failover lost no acknowledged flip: 3 flips answered 200 and lost \(2 draws only MySQL holds, 1 sequence numbers reused\)$/m,
     '... the check fails, with the figures');
($rc, $out) = with_facts('failover_unmeasured', sub { $_[0]{failover} = { shard => 'cc0', lost_acked_flips => undef } });
is($rc, 1, 'a failover whose loss was not measured: exit 1');
like($out, qr/^  FAIL  the failover lost no acknowledged flip: not measured$/m, '... said so');

# ---- the gifts (issue 19): social rounds, the gift halves, the cards per kind ----

my $st = $facts->{phases}[0]{start_ms} + 4000;
my $lat = { p50 => 900, p90 => 1500, p99 => 2100, max => 2500 };
spew("$dir/social.jsonl", join("\n", map { JSON::PP->new->canonical->encode($_) }
    { type => 'second', phase => 'social', t => 1, ts_ms => $st + 1000, sent => 40, answered => 40,
      status => { 200 => 38, 409 => 2 }, errors => 0, draws => 0, latency_us => $lat },
    { type => 'total', phase => 'social', url => 'http://127.0.0.1:1', users => 3000, users_done => 3000,
      first_uid => 1, conc => 64, started_ms => $st, elapsed_s => 1.0, sent => 40, answered => 40, rps => 40,
      endpoints => { gift => { 200 => 10, 409 => 2, sent => 12 } }, status => { 200 => 38, 409 => 2 },
      errors => { connect => 0, timeout => 0, reset => 0, bad_response => 0 }, errors_total => 0,
      reconnects => 0, resends => 0, gave_up => 0, bad_answers => 0, latency_us => $lat,
      social => { pct => 30, social_users => 5, gifts_delivered => 9, gifts_sent => 1, gifts_refused => 2,
                  answers => 3, asks => 6, asks_refused => 0, asks_open_seen => 4, combines_200 => 0,
                  combined => 0 } }) . "\n");
sub gift_facts {
    my ($f) = @_;
    $f->{gifts} = { social_pct => 30, given_mysql => 10, received_mysql => 10, redriven => 1,
                    eligible_needed_gift => 2 };
    $f->{cards_check} = { exit => 0, summary => '3000 users, 0 gifts in transit; 0 differences',
                          kinds => [ map { { kind => $_, held => $cards->[$_] - 12, transit => 0,
                                             drawn => $cards->[$_], combined => 12, given => 2,
                                             received => 2, ok => JSON::PP::true } } 0 .. 4 ] };
}
sub with_gifts {
    my ($name, $edit) = @_;
    my $f = decode_json(slurp("$fx/facts.json"));
    gift_facts($f);
    $edit->($f) if $edit;
    spew("$dir/$name.json", encode_json($f));
    mkdir "$dir/$name";
    return run_report('--facts', "$dir/$name.json", '--out', "$dir/$name", @stats, "$dir/social.jsonl");
}

($rc, $out, $err) = with_gifts('gifts');
is($rc, 0, 'social rounds, gifts delivered once, the cards adding up: exit 0') or diag $err;
like($out, qr/^RESULT: PASS \(16 checks, 0 failed\)$/m, '... two checks more, all PASS');
like($out, qr/^gifts: 30% of the users social; 10 gifts given: 9 delivered at once, 1 sent \(the receiver's half later\), 2 refused; 1 redriven by cc-redrive; 6 asks, 3 answered; 2 of 12 eligible users needed a gift$/m,
     '... the gifts line');
like($out, qr/^  PASS  gifts: each gift given was delivered, once: 10 answered 200 \(1 "sent", the receiver's half later; cc-redrive delivered 1\) = MySQL 10 given = 10 received$/m,
     '... gifts given = MySQL given = received');
like($out, qr/^cards: kind 0: 988 held \+ 0 in transit = 1,000 drawn - 12 combined: ok$/m, '... the cards of each kind');
like($out, qr/^  PASS  the cards per kind: held \+ in transit = drawn - combined, nothing left in transit: kind 0: 988 held .*kind 4: 8 held \+ 0 in transit = 20 drawn - 12 combined$/m,
     '... their check');
like($out, qr/^social 3,000 users in 1\.0 s: sent 40, answered 40 \(200 38 409 2\)/m, '... the social round in the load');
my $ghtml = slurp("$dir/gifts/report.html");
like($ghtml, qr/<h2>Gifts and asks<\/h2>\s*<table id="gifts">.*<td>delivered by cc-redrive<\/td><td>1<\/td>.*<td>eligible users who needed a gift<\/td><td>2<\/td>/s,
     'report.html: the gifts table');
like($ghtml, qr/<table id="cards-check">.*<td>4<\/td><td>8<\/td><td>0<\/td><td>20<\/td><td>12<\/td><td>2<\/td><td>2<\/td><td class="pass">ok<\/td>/s,
     '... and the cards per kind');

($rc, $out) = with_gifts('gifts_wild', sub { $_[0]{gifts}{eligible_needed_wildcard} = 1 });
like($out, qr/needed a gift, 1 a wildcard$/m, 'a wildcard count: said after the gifts');

($rc, $out) = with_gifts('gift_lost', sub { $_[0]{gifts}{received_mysql} = 9 });
is($rc, 1, 'a gift given and never received: exit 1');
like($out, qr/^  FAIL  gifts: each gift given was delivered, once: .* = MySQL 10 given = 9 received$/m, '... the gifts check fails');
like($out, qr/^RESULT: FAIL \(16 checks, 1 failed\)$/m, '... only it');

($rc, $out) = with_gifts('card_created', sub {
    my $k = $_[0]{cards_check}{kinds}[2];
    $k->{held}++; $k->{ok} = JSON::PP::false; $_[0]{cards_check}{exit} = 1;
});
is($rc, 1, 'a card created: exit 1');
like($out, qr/^cards: kind 2: 819 held \+ 0 in transit = 830 drawn - 12 combined: DIFFERENCE$/m, '... the kind said');
like($out, qr/^  FAIL  the cards per kind: .*; cc-reconcile --cards exit 1$/m, '... the cards check fails');
like(slurp("$dir/card_created/report.html"), qr/<td class="fail">DIFFERENCE<\/td>/, '... red in the page');

($rc, $out) = with_gifts('in_transit', sub {
    my $k = $_[0]{cards_check}{kinds}[0];
    $k->{held}--; $k->{transit}++;
});
is($rc, 1, 'a gift still in transit at the end: exit 1');
like($out, qr/^  FAIL  the cards per kind: held \+ in transit = drawn - combined, nothing left in transit: kind 0: 987 held \+ 1 in transit/m,
     '... the redrive did not finish: the check fails');

# ---- bad input ------------------------------------------------------------------

spew("$dir/notjson.json", '{"weights": [1, 2');
spew("$dir/notobj.json", '[1, 2]');
(my $nototal = slurp("$fx/flip.jsonl")) =~ s/^.*"type":"total".*\n//m;
spew("$dir/nototal.jsonl", $nototal);
(my $kinds4 = slurp("$fx/flip.jsonl")) =~ s/"cards":\[1000,1010,830,440,20\]/"cards":[1000,1010,830,440]/;
spew("$dir/kinds4.jsonl", $kinds4);
spew("$dir/garbage.jsonl", "{\"type\":\"second\"}\nnot json\n");

my %bad = (
    'no --facts'           => [ [ '--out', $dir, @stats ], qr/--facts FILE is required/ ],
    'no --out'             => [ [ '--facts', "$fx/facts.json", @stats ], qr/--out DIR is required/ ],
    'no stats'             => [ [ '--facts', "$fx/facts.json", '--out', $dir ], qr/no cc-load stats file given/ ],
    'out not a dir'        => [ [ '--facts', "$fx/facts.json", '--out', "$dir/none", @stats ], qr/--out: \S+ is not a directory/ ],
    'facts missing'        => [ [ '--facts', "$dir/none.json", '--out', $dir, @stats ], qr/cannot read \S+none.json/ ],
    'facts not JSON'       => [ [ '--facts', "$dir/notjson.json", '--out', $dir, @stats ], qr/notjson.json: not JSON/ ],
    'facts not an object'  => [ [ '--facts', "$dir/notobj.json", '--out', $dir, @stats ], qr/not a JSON object/ ],
    'stats without total'  => [ [ '--facts', "$fx/facts.json", '--out', $dir, "$dir/nototal.jsonl" ], qr/no total line/ ],
    'stats not JSON'       => [ [ '--facts', "$fx/facts.json", '--out', $dir, "$dir/garbage.jsonl" ], qr/garbage.jsonl line 2: not JSON/ ],
    'kinds differ'         => [ [ '--facts', "$fx/facts.json", '--out', $dir, "$dir/kinds4.jsonl" ], qr/4 card kinds, the weights have 5/ ],
    'no flip phase'        => [ [ '--facts', "$fx/facts.json", '--out', $dir, "$fx/grant.jsonl" ], qr/no flip phase/ ],
    'unknown option'       => [ [ '--bogus' ], qr/Unknown option: bogus.*see cc-report --help/s ],
);
for my $case (sort keys %bad) {
    my ($args, $re) = @{ $bad{$case} };
    ($rc, $out, $err) = run_report(@$args);
    is($rc, 2, "$case: exit 2");
    like($err, $re, "... says so");
}
for my $case (
    [ 'no weights',      sub { delete $_[0]{weights} },              qr/facts: weights is required/ ],
    [ 'weights of text', sub { $_[0]{weights} = [ 1, 'a' ] },        qr/weights must be an array of 2\.\.16 positive numbers/ ],
    [ 'no draws_redis',  sub { delete $_[0]{draws_redis} },          qr/facts: draws_redis is required/ ],
    [ 'cards too short', sub { $_[0]{cards_redis} = [ 1, 2 ] },      qr/cards_redis has 2 entries for 5 kinds/ ],
    [ 'bad stock',       sub { $_[0]{stock} = [ { kind => 4 } ] },   qr/a stock entry needs kind, cap and issued/ ],
    [ 'stock kind 9',    sub { $_[0]{stock}[0]{kind} = 9 },          qr/stock kind 9 is not a kind/ ],
    [ 'bad histogram',   sub { $_[0]{awards}{histogram} = [ 1 ] },   qr/awards.histogram must be/ ],
    [ 'bad payout',      sub { $_[0]{payout} = [ { t_ms => 1 } ] },  qr/payout must be/ ],
    [ 'bad reconcile',   sub { $_[0]{reconcile} = [] },              qr/reconcile must be the object/ ],
    [ 'bad events',      sub { $_[0]{events} = [ { what => 'x' } ] }, qr/events must be \[\{t_ms, what\}\]/ ],
    [ 'bad failover',    sub { $_[0]{failover} = { longest_gap_ms => 'long' } }, qr/failover\.longest_gap_ms must be a number/ ],
    [ 'bad gifts',       sub { $_[0]{gifts} = { given_mysql => 'ten' } }, qr/gifts\.given_mysql must be a number/ ],
    [ 'gifts not a hash', sub { $_[0]{gifts} = [ 1 ] },              qr/gifts must be an object/ ],
    [ 'bad cards_check', sub { $_[0]{cards_check} = { exit => 0, kinds => [ { kind => 0 } ] } },
      qr/a cards_check kind needs kind, held, transit, drawn, combined/ ],
    [ 'cards_check without exit', sub { $_[0]{cards_check} = { kinds => [] } }, qr/cards_check must be \{exit, kinds/ ],
) {
    my ($name, $edit, $re) = @$case;
    ($rc, $out, $err) = with_facts($name =~ s/\W/_/gr, $edit);
    is($rc, 2, "facts, $name: exit 2");
    like($err, $re, "... says so");
    ok(!-e "$dir/" . ($name =~ s/\W/_/gr) . '/report.html', '... and writes no report');
}

($rc, $out) = run_report('--help');
is($rc, 0, '--help: exit 0');
like($out, qr/^usage: cc-report --facts FACTS.json --out DIR/, '... the usage');

done_testing();
