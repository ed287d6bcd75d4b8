# scripts/campaign.sh, the README's run command, at a small size: every
# part started on loopback, a campaign from the first grant to the last
# cent, and its report.  Checked here from the files it leaves, not from
# its own verdict alone: the awards add up to the pool, the flips answered
# 200 are the draws in MySQL and in Redis, cc-reconcile passed, the page
# holds its charts, and nothing it started is left running.  Also its
# refusals: a busy port and a bad setting, before anything starts.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;

my $dir = tempdir(CLEANUP => 1);
my $run = "$dir/run";

sub slurp { open my $h, '<', $_[0] or return ''; local $/; my $t = <$h>; $t // '' }

sub port_free {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_[0],
                                  Proto => 'tcp', Listen => 1, ReuseAddr => 1);
    return 0 unless $s;
    close $s;
    return 1;
}

# a base with its 21 ports free (the script uses base + 0..20)
sub free_base {
    for (1 .. 200) {
        my $b = 20000 + int(rand(40000));
        return $b unless grep { !port_free($b + $_) } 0 .. 20;
    }
    die "no free port range";
}

sub campaign {
    my (%env) = @_;
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        $ENV{$_} = $env{$_} for keys %env;
        open STDOUT, '>', "$dir/out" or die;
        open STDERR, '>&', \*STDOUT or die;
        exec 'scripts/campaign.sh' or die "exec: $!";
    }
    waitpid($pid, 0);
    return ($? >> 8, slurp("$dir/out"));
}

my $base = free_base();
my %small = (USERS => 3000, CHANCES => 12, STOCK => 90, POOL_CENTS => 300000,
             CAP_CENTS => 20000, RUN => $run, PORT_BASE => $base, CONC => 128);

# ---- refusals, before anything starts -------------------------------------

{
    my ($rc, $out) = campaign(%small, SPLIT => 'lottery');
    is($rc, 2, 'a bad SPLIT is refused with exit 2');
    like($out, qr/SPLIT is random or equal/, '... saying why');
    ok(!-e $run, '... before anything was started');

    my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $base + 10,
                                     Proto => 'tcp', Listen => 1, ReuseAddr => 1)
        or die "bind: $!";
    ($rc, $out) = campaign(%small);
    close $busy;
    is($rc, 2, 'a busy port is refused with exit 2');
    like($out, qr/ports in use: @{[$base + 10]}/, '... naming the port');
    ok(!-e $run, '... before anything was started');
}

# ---- a whole campaign -----------------------------------------------------

my ($rc, $out) = campaign(%small);
is($rc, 0, 'the campaign ran: exit 0') or diag($out);
like($out, qr/RESULT: PASS \(13 checks, 0 failed\)/, 'the report: 13 checks, all PASS');
like($out, qr/== campaign .* $_:/, "phase $_ ran") for qw(grant flip close draw payout books);

my $facts = eval { decode_json(slurp("$run/facts.json")) } // {};
my ($flip) = map { decode_json($_) } grep { /"type":"total"/ } split /\n/, slurp("$run/flip.jsonl");
$flip //= {};

ok($facts->{awards}{count} > 0, "there were winners ($facts->{awards}{count})");
is($facts->{awards}{sum_cents}, 300000, 'the awards add up to the pool, to the cent');
ok($facts->{awards}{max_cents} <= 20000 && $facts->{awards}{min_cents} >= 1,
   'every award within 1..cap');
is($facts->{draws_mysql}, $flip->{flip}{draws}, 'draws in MySQL = flips answered with a new draw');
is($facts->{draws_redis}, $flip->{flip}{draws}, 'draws in Redis = flips answered with a new draw');
is($facts->{draws_mysql}, 3000 * 12, 'every chance was spent');
is($facts->{eligible_mysql}, $facts->{eligible_redis}, 'eligible: MySQL = Redis');
is($facts->{eligible_mysql}, $facts->{awards}{count}, 'one award per eligible user');
ok($facts->{stock}[0]{issued}[0] + $facts->{stock}[0]{issued}[1] <= 90,
   'the rare kind stayed within its stock');

my $rec = eval { decode_json(slurp("$run/reconcile.json")) } // {};
ok($rec->{ok}, 'cc-reconcile --money passed');
is(scalar(grep { $_->{ok} } @{ $rec->{checks} // [] }), scalar(@{ $rec->{checks} // [] }),
   '... every one of its checks');
my ($last) = reverse @{ $facts->{payout} // [] };
is($last->{pending}, 0, 'nothing left pending');

my $html = slurp("$run/report.html");
my $svgs = () = $html =~ /<svg/g;
ok($svgs >= 8, "the page holds its charts ($svgs svg)");
unlike($html, qr/<script/i, "the page has no script");
unlike($html, qr/(?:src|href|url\()\s*=?\s*["']?https?:/i, "... and loads nothing from the network");
like(slurp("$run/report.txt"), qr/cc-reconcile: nothing broken/, 'report.txt says the books are clean');

ok(-s "$run/logs/cc-draw.log" && -s "$run/logs/cc-payout.log", 'the logs stay');
my @left = grep { !port_free($base + $_) } 0, 1, 2, 3, 10, 11, 20;
is("@left", '', 'every server it started is stopped');

done_testing();
