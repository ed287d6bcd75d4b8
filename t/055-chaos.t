# bench/chaos.sh, its short version (SHORT=1, about a minute) on free
# loopback ports: flips, combines, gifts, asks and claims through the edge (the edge of
# nginx.conf.example) while nginx workers are killed, an app node stopped,
# Redis shards restarted and killed, the broker down, mariadbd restarted,
# and cc-ingest, cc-draw and cc-payout killed mid-batch; in the claim phase
# a Redis shard and mariadbd restart and an app worker dies while
# cc-payout's batches are open.  It must exit 0, and its summary must say
# what its own stats and files hold: the statuses of every cc-load run
# (200, 202, 429, 503 only), the fault windows and the overlaps built into
# the schedule, each kill landed mid-batch, draws Redis = MySQL, each gift
# one given and one received half in MySQL, the cards per kind held + in
# transit = drawn - combined and cc-reconcile --cards clean, awards
# credited once, the ledger = the pool, the logs clean but for the killed
# workers' lines and with no sanitizer report (make test-asan runs it with
# the sanitized module and workers).  Bad settings and busy ports are
# refused before anything starts; a run past LIMIT_S is stopped, servers
# and all.  The run prints CHAOS_SEED: CHAOS_SEED=N prove t/055-chaos.t
# replays its fault schedule.

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure qw(stop_here);    # a failure's diagnostics kept for the end of the run
use CcTest::Util qw(free_block);      # ports reserved across the files prove runs at once
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX ();

my $dir = tempdir(CLEANUP => 0);
my $run = "$dir/run";

sub slurp { open my $h, '<', $_[0] or die "$_[0]: $!"; local $/; my $t = <$h>; return $t // '' }

# a base with the ports the script uses free and reserved (base + 0 .. 3, 10, 11, 20)
sub free_base { free_block(0 .. 3, 10, 11, 20) }

# runs bench/chaos.sh with %env; returns (exit code, output)
sub chaos {
    my ($limit, %env) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        POSIX::setpgid(0, 0);
        @ENV{ keys %env } = values %env;
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec 'bench/chaos.sh' or die "exec: $!";
    }
    my $rc;
    eval {
        local $SIG{ALRM} = sub { die "timeout\n" };
        alarm $limit;
        waitpid($pid, 0);
        $rc = $? >> 8;
        alarm 0;
    };
    if (!defined $rc) {
        kill 'TERM', -$pid;
        sleep 5;
        kill 'KILL', -$pid;
        waitpid($pid, 0);
        $rc = "timeout after $limit s";
    }
    return ($rc, slurp("$dir/out"));
}

# ---- refused before anything starts -----------------------------------------

my ($rc, $out) = chaos(30, SHORT => 1, FLIP_S => '3x', RUN => $run);
is($rc, 2, 'FLIP_S=3x: exit 2');
like($out, qr/^chaos: FLIP_S must be a decimal$/m, '... saying why');
($rc, $out) = chaos(30, SHORT => 1, FLIP_S => 5, RUN => $run);
is_deeply([ $rc, $out =~ /(FLIP_S must be 20 or more)/ ], [ 2, 'FLIP_S must be 20 or more' ], 'FLIP_S=5: exit 2, too short');
($rc, $out) = chaos(30, SHORT => 1, CHANCES => 16, RUN => $run);
is_deeply([ $rc, $out =~ /(CHANCES above 15)/ ], [ 2, 'CHANCES above 15' ], "CHANCES=16: exit 2, beyond the edge's burst");

{
    my $help = `bench/chaos.sh --help 2>&1`;
    is($?, 0, '--help: exit 0');
    like($help, qr/^bench\/chaos\.sh: a campaign on loopback under faults/m, '... the header, as text');
    like($help, qr/CHAOS_SEED/, '... naming its settings');
    my $bad = `cd bench && ./chaos.sh --seed 3 2>&1`;
    is($? >> 8, 2, 'an argument: exit 2, from another folder too');
    like($bad, qr/^chaos: no arguments but --help/m, '... saying settings are environment variables');
    ok(!-d $run, '... nothing started');
}

my $base = free_base();
{
    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $base + 11,
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1) or die $!;
    ($rc, $out) = chaos(30, SHORT => 1, PORT_BASE => $base, RUN => $run);
    is($rc, 2, 'a busy port: exit 2');
    like($out, qr/^chaos: ports in use: @{[ $base + 11 ]} /m, '... naming it');
    ok(!-e $run, '... nothing started, no run folder');
}

# ---- a run past its limit is stopped, its servers with it --------------------

{
    my $lrun = "$dir/limited";
    my $lbase = free_base();
    ($rc, $out) = chaos(120, SHORT => 1, LIMIT_S => 15, PORT_BASE => $lbase, RUN => $lrun);
    is($rc, 124, 'LIMIT_S=15: stopped by timeout(1) (exit 124)');
    like($out, qr/^chaos: stopped by a signal \(LIMIT_S=15 s/m, '... saying so');
    like($out, qr/\] up: edge :$lbase /m, '... after its servers had started');
    my @open = grep { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $lbase + $_, Proto => 'tcp') }
               0 .. 3, 10, 11, 20;
    is_deeply(\@open, [], '... none of them listens any more');
    my @left = grep { my $c = eval { slurp("$_/cmdline") } // ''; index($c, $lrun) >= 0 } glob('/proc/[0-9]*');
    is_deeply(\@left, [], '... no process of the run is left');
}

# ---- the short run ------------------------------------------------------------

my %env = (SHORT => 1, PORT_BASE => free_base(), RUN => $run);
$env{CHAOS_SEED} = $ENV{CHAOS_SEED} if defined $ENV{CHAOS_SEED};
($rc, $out) = chaos(600, %env);
my ($seed) = $out =~ /^CHAOS_SEED=(\d+)$/m;
diag("t/055-chaos.t: CHAOS_SEED=" . ($seed // '?'));
is($rc, 0, 'SHORT=1: exit 0') or stop_here($out);
like($out, qr/^chaos: PASS$/m, '... PASS');
unlike($out, qr/^chaos: BREAK/m, '... no break');

# the requests: the summary's figures are the sum of every cc-load run's totals
my (%st, $sent);
for my $f (glob("$run/stats/*.jsonl")) {
    my ($total) = grep { $_->{type} eq 'total' } map { decode_json($_) } split /\n/, slurp($f);
    $sent += $total->{sent};
    $st{$_} += $total->{status}{$_} for keys %{ $total->{status} };
}
my ($line) = $out =~ /^chaos: requests sent (\d+, answers by status: [^;]*);/m;
is($line, "$sent, answers by status: " . join(', ', map { "$_ $st{$_}" } sort keys %st),
   "requests: the stats' sum ($sent sent)");
is_deeply([ grep { !/^(200|202|429|503)$/ } keys %st ], [], '... documented statuses only: 200, 202, 429, 503');
ok($st{200} > 10000 && $sent >= $st{200}, "... $st{200} answered 200");
for my $ep (qw(flip combine award claim grant eligibility gifts gift ask)) {
    like($out, qr/^chaos:   $ep +200 [1-9]/m, "... $ep answered 200");
}

# the faults: eleven windows, each opened and closed, in the run's file
my %win;
for (split /\n/, slurp("$run/faults.tsv")) {
    my ($n, $s, $e, $d) = split /\t/;
    $win{$n}{s} = $s if $s ne '-';
    $win{$n}{e} = $e if $e ne '-';
    $win{$n}{d} .= $d if $d ne '-';
}
my @names = qw(ingest app worker mysql broker redis9 redis plock predis pmysql pworker);
is_deeply([ sort keys %win ], [ sort @names ], 'eleven faults');
is_deeply([ grep { !$win{$_}{e} || $win{$_}{e} < $win{$_}{s} } sort keys %win ], [], '... each window closed');
is(scalar(() = $out =~ /^chaos: fault /mg), 11, '... each in the summary');

# overlaps built by the schedule, as the file's windows say and the summary
sub overlap {
    my ($x, $y) = @win{@_};
    return 0 unless $x && $y;
    return (($x->{e} < $y->{e} ? $x->{e} : $y->{e}) - ($x->{s} > $y->{s} ? $x->{s} : $y->{s})) / 1000;
}
my ($ovl) = $out =~ /^chaos: overlaps: (.*)$/m;
for my $pair ([qw(app worker)], [qw(broker redis9)], [qw(predis pmysql)]) {
    my $o = overlap(@$pair);
    ok($o > 0, "the windows $pair->[0] and $pair->[1] overlap (${o} s)");
    my ($said) = ($ovl // '') =~ /\b(?:$pair->[0]&$pair->[1]|$pair->[1]&$pair->[0]) ([\d.]+) s/;
    is($said, sprintf('%.1f', $o), '... and the summary says so');
}

# the claim phase's faults came while cc-payout had awards to pay, and
# claims were answered in each window
for my $n (qw(plock predis pmysql pworker)) {
    my ($c, $all) = ($win{$n}{d} // '') =~ /with (\d+) of (\d+) credited/;
    ok(defined $c && $c < $all, "$n: at its start " . ($c // '?') . ' of ' . ($all // '?') . ' awards credited');
}
my ($mr, $mm, $mw) = $out =~ /^chaos: claim-phase faults met claims: predis (\d+) answers, pmysql (\d+) answers, pworker (\d+) answers$/m;
ok($mr && $mm && $mw, 'claims answered in each claim-phase window (' . join('/', map { $_ // '?' } $mr, $mm, $mw) . ')');

# draws, eligibility, money
my ($dr, $dm, $dc) = $out =~ /^chaos: draws Redis (\d+) = MySQL (\d+) = client (\d+), none twice \(0 request ids with two rows\)$/m;
ok($dr && $dr == $dm && $dm == $dc, "draws: Redis = MySQL = client (" . ($dr // '?') . '), none twice');
my ($el, $er, $ec, $aw, $cr, $cn, $cb, $cs, $pool, $rm) = $out =~
    /^chaos: eligible (\d+) \(Redis (\d+), client (\d+)\); awards (\d+), credited (\d+), each once \((\d+) credits, (\d+) not exactly once\); Σ ledger credits (\d+) = pool (\d+); reconcile --money exit (\d+)$/m;
ok($el && $el == $er && $er == $ec, 'eligible: MySQL = Redis = client (' . ($el // '?') . ')');
ok(defined $aw && $aw == $el && $cr == $aw && $cn == $aw && $cb == 0, '... one award each, credited exactly once');
ok(defined $cs && $cs == 5000000 && $pool == 5000000 && $rm == 0, '... Σ ledger credits = the pool, cc-reconcile --money clean');
like($out, qr/^chaos: redis: 3 starts loaded the AOF; /m, 'the three Redis restarts loaded their AOF');

# the gifts under the faults: the summary's figures are the social rounds'
# totals; each gift one half given and one received in MySQL, the cards
# of each kind adding up in Redis and in cc-reconcile --cards
my %so;
for my $f (glob("$run/stats/social-*.jsonl")) {
    my ($total) = grep { $_->{type} eq 'total' } map { decode_json($_) } split /\n/, slurp($f);
    $so{$_} += $total->{social}{$_} // 0 for qw(gifts_delivered gifts_sent asks answers);
}
my $gave = $so{gifts_delivered} + $so{gifts_sent};
ok($gave > 100, "gifts: $gave given under the faults ($so{gifts_sent} answered \"sent\")");
like($out, qr/^chaos: gifts: \d+ users social \(30%\), $gave given: $so{gifts_delivered} delivered at once, $so{gifts_sent} sent \(the receiver's half later\), \d+ redriven by cc-redrive; MySQL $gave given = $gave received; $so{asks} asks, $so{answers} answered; \d+ sets completed by a gift$/m,
     '... each one a given and a received half in MySQL');
my @kinds = $out =~ /^chaos: cards kind (\d): held (\d+) \+ in transit 0 = \d+; drawn (\d+) - combined (\d+) = \d+: ok$/mg;
is(scalar @kinds, 20, 'the cards of each of the 5 kinds: held = drawn - combined, nothing in transit');
is(scalar(() = $out =~ /^chaos: cc-reconcile --cards: cards: kind \d: .*: ok$/mg), 5, 'cc-reconcile --cards: each kind ok');
like($out, qr/^chaos: cc-reconcile --cards: cards: \d+ users, 0 gifts in transit; 0 differences/m, '... no difference');
like($out, qr/^chaos: claims sent [1-9]\d*: 200 \d+, 202 \d+, 404 0$/m, 'claims: 200 or 202, no 404');

# each kill landed in a batch: its transaction waited with rows written,
# and closed with the kill
for my $w (qw(ingest draw payout)) {
    like($out, qr/^chaos: kill -9: cc-$w .*mid-batch.*\(connection \d+, [1-9]\d* rows written\) was waiting; closed with the kill, rolled back$/m,
         "cc-$w killed mid-batch");
}
my ($dwc, $dwu) = $out =~ /^chaos: kill -9: cc-draw killed mid-batch on shard \d: (\d+) of its \d+ awards committed \(done_upto (\d+)\)/m;
ok(defined $dwc && $dwc > 0 && $dwc == $dwu, "... cc-draw's committed awards = its done_upto (" . ($dwc // '?') . ')');

# the logs: the killed workers' lines, nothing else
my @killed = map { [ split /\t/ ] } split /\n/, slurp("$run/expected-alerts");
is(scalar @killed, 2, 'two nginx workers killed');
for (@killed) {
    my ($inst, $pid) = @$_;
    like(slurp("$run/logs/$inst.log"), qr/\[alert\] .* worker process $pid exited on signal 9$/m,
         "the $inst worker $pid killed: its alert line is there");
}
like($out, qr/^chaos: logs: 0 \[alert\]\/\[emerg\]\/signal 11 lines beyond the 2 expected worker kill line\(s\); 0 sanitizer reports$/m,
     '... and no other alert, emerg or signal 11, no sanitizer report');
ok(!grep({ kill 0, $_ } map { slurp($_) =~ /(\d+)/ } grep { -s } glob("$run/*.pid")), 'every server stopped');

# the run's folder stays for a failed run (logs, stats, summary.txt)
if (Test::More->builder->is_passing) { system('rm', '-rf', $dir) }
else { diag("the run is kept in $run") }

done_testing();
