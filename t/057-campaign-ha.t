# scripts/campaign.sh --ha 1 at a small size: the whole campaign on the
# replicated layout (README "Losing a server"), cc0's Redis primary
# killed mid-flip and the MySQL primary mid-payout, the promotions done,
# and the report's checks all passing as without --ha: no acknowledged
# flip lost, no draw lost, the books balanced.  Checked from the files it
# leaves: the events in order, what the failover cost (facts.json), the
# red markers on the time charts and the Failover table, the app nodes'
# Sentinel configuration, and every process it started gone.
#
# About 40 s on two cores, so a file of its own; skipped in the ASan pass
# (CC_MODULE_SO under build/asan), whose budget the rest of the suite uses.

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

plan skip_all => 'the --ha campaign is left out of the ASan pass'
    if ($ENV{CC_MODULE_SO} // '') =~ m{build/asan};

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

# a base with the ports the script uses free and reserved (base + 0 .. 21)
sub free_base { free_block(0 .. 21) }

my $base = free_base();
my @args = ('--users', 3000, '--chances', 12, '--stock', 300, '--pool-cents', 300000,
            '--cap-cents', 20000, '--claim-pct', 100, '--conc', 128, '--run', $run,
            '--port-base', $base, '--limit-s', 120, '--ha', 1);

{
    my $out = `scripts/campaign.sh --ha 2 2>&1`;
    is($? >> 8, 2, '--ha 2 is refused with exit 2');
    like($out, qr/HA is 0 or 1/, '... saying why');
    like(`scripts/campaign.sh --help`, qr/^  --ha 0\|1 (?:(?!^  -).)*?\(HA, 0\)/ms, '--help lists --ha and HA');
}

my $t0 = time;
my $out = `scripts/campaign.sh @args 2>&1`;
my $rc = $? >> 8;
my $took = time - $t0;
is($rc, 0, 'the --ha campaign ran: exit 0') or stop_here($out);
like($out, qr/RESULT: PASS \(17 checks, 0 failed\)/, 'the report: 17 checks, all PASS');
like($out, qr/PASS  the failover lost no acknowledged flip: 0 flips answered 200 and lost/,
     '... one of them: no acknowledged flip lost');
like($out, qr/== campaign .* $_:/, "phase $_ ran") for qw(grant flip lost social close draw payout books);
diag(sprintf 'the --ha run took %.1f s', $took);

my $facts = eval { decode_json(slurp("$run/facts.json")) } // {};

# the events, in order
my @what = map { $_->{what} } @{ $facts->{events} // [] };
is(scalar(@what), 5, 'five events') or diag explain \@what;
like($what[0] // '', qr/^redis primary cc0 :@{[$base + 10]} killed \(kill -9\)$/, '1: cc0\'s primary killed');
like($what[1] // '', qr/^sentinels promoted cc0's replica :@{[$base + 12]}$/, '2: its replica promoted');
like($what[2] // '', qr/^cc0's lost node :@{[$base + 10]} back as a replica, in sync$/, '3: the lost node back, a replica');
like($what[3] // '', qr/^mysql primary :@{[$base + 20]} killed \(kill -9\) at \d+ credited$/, '4: the MySQL primary killed mid-payout');
like($what[4] // '', qr/^mysql replica :@{[$base + 21]} promoted, writable$/, '5: the MySQL replica promoted');
my @t = map { $_->{t_ms} } @{ $facts->{events} // [] };
is_deeply([ sort { $a <=> $b } @t ], \@t, '... in time order');
my ($flip) = grep { $_->{name} eq 'flip' } @{ $facts->{phases} // [] };
ok($flip && $t[0] > $flip->{start_ms} && $t[0] < $flip->{end_ms}, 'the Redis kill within the flip phase');
my ($payout) = grep { $_->{name} eq 'payout' } @{ $facts->{phases} // [] };
ok($payout && $t[3] > $payout->{start_ms} && $t[3] < $payout->{end_ms}, 'the MySQL kill within the payout phase');
my ($credited_at) = ($what[3] // '') =~ /at (\d+) credited/;
ok(defined $credited_at && $credited_at < $facts->{awards}{count},
   "... before every award was credited ($credited_at of $facts->{awards}{count})");

# what it cost
my $fo = $facts->{failover} // {};
is($fo->{lost_acked_flips}, 0, 'acknowledged flips lost: 0 (cc_redis_wait 1)');
is($fo->{shard}, 'cc0', 'the failed shard: cc0');
ok($fo->{shard_users} > 1000 && $fo->{shard_users} < 2000, "about half the users are cc0's ($fo->{shard_users})");
ok($fo->{redis_promotion_ms} > 1000 && $fo->{redis_promotion_ms} < 15000,
   "the sentinels promoted in $fo->{redis_promotion_ms} ms (down-after 1000 ms)");
ok($fo->{redis_replica_back_ms} >= $fo->{redis_promotion_ms}, "a replica in sync after $fo->{redis_replica_back_ms} ms");
ok($fo->{longest_gap_ms} > 500 && $fo->{longest_gap_ms} < 20000,
   "cc0's users' longest time without a 200: $fo->{longest_gap_ms} ms");
ok($fo->{shard_503} > 0, "cc0's users were answered 503 meanwhile ($fo->{shard_503})");
ok($fo->{flip_resends} >= $fo->{flip_503}, "the load client re-sent every 503 ($fo->{flip_resends})");
ok(defined $fo->{mysql_promotion_ms} && $fo->{mysql_promotion_ms} < 10000,
   "the MySQL replica writable $fo->{mysql_promotion_ms} ms after the kill");
is($facts->{draws_mysql}, 36000, 'every chance a draw in MySQL');
is($facts->{draws_redis}, 36000, '... and in Redis');
is($facts->{awards}{sum_cents}, 300000, 'the awards add up to the pool');
is($facts->{payout}[-1]{pending}, 0, 'every award credited through the MySQL failover');

# the gifts after cc0's failover (its new primary, the workers by master
# name): each delivered once, and the cards per kind add up, cc-reconcile
# --cards over the sentinels' primaries
my $gave = 0;
for my $r (1, 2) {
    my ($t) = map { decode_json($_) } grep { /"type":"total"/ } split /\n/, slurp("$run/social-$r.jsonl");
    $gave += ($t->{social}{gifts_delivered} // 0) + ($t->{social}{gifts_sent} // 0);
}
ok($gave > 0, "$gave gifts given");
is_deeply([ @{ $facts->{gifts} // {} }{qw(given_mysql received_mysql)} ], [ $gave, $gave ],
          '... each one given and one received half in MySQL');
is($facts->{cards_check}{exit}, 0, 'cc-reconcile --cards: exit 0');
is(scalar(grep { $_->{ok} && $_->{transit} == 0 && $_->{held} == $_->{drawn} - $_->{combined} }
          @{ $facts->{cards_check}{kinds} // [] }), 5, '... each of the 5 kinds: held = drawn - combined, none in transit');

# the page: red markers on the time charts, the Failover table, the events
my $html = slurp("$run/report.html");
for my $c (qw(throughput latency payout)) {
    my ($svg) = $html =~ /(<svg[^>]* data-chart="$c".*?<\/svg>)/s;
    is(scalar(() = ($svg // '') =~ /<line [^>]*class="marker event"/g), 5, "chart $c: the five events marked");
    like($svg // '', qr/class="mark event">redis primary cc0 :\d+ killed/, '... labelled');
}
like($html, qr/<h2>Failover<\/h2>\s*<table id="failover">.*longest time without a 200.*acknowledged flips lost<\/td><td class="pass">0</s,
     'the page: the Failover table, 0 lost in green');
like($html, qr/<table id="events">/, 'the page: the events table');
like(slurp("$run/report.txt"), qr/^failover: cc0 users \([\d,]+\) longest without a 200 [\d.]+ s, .* acknowledged flips lost 0$/m,
     'report.txt: what the failover cost');

# the replicated layout it ran
for my $n (1, 2) {
    my $c = slurp("$run/app$n/nginx.conf");
    like($c, qr/cc_redis_shards cc0 cc1;\s*cc_redis_sentinels 127\.0\.0\.1:@{[$base + 15]} 127\.0\.0\.1:@{[$base + 16]} 127\.0\.0\.1:@{[$base + 17]};/,
         "app$n: the shards by master name, three sentinels");
    like($c, qr/cc_redis_wait 1 200ms;/, '... a write answered once a replica holds it');
}
like(slurp("$run/logs/cc-draw.log"), qr/redis cc0: log drained/, 'the workers follow the master names');
like(slurp("$run/logs/cc-payout.log"), qr/\S/, 'cc-payout logged');

# every process it started is gone, every port free
my %pid = map { split ' ' } split /\n/, slurp("$run/pids");
is(join(' ', sort keys %pid),
   'app1 app2 claims edge ingest mock mysql mysqlr payout redis0 redis0r redis1 redis1r redrive sentinel0 sentinel1 sentinel2',
   'it named every process it started');
is(join(' ', grep { kill 0, $pid{$_} } sort keys %pid), '', '... and each is gone');
my @from_run = grep { $_ != $$ && slurp("/proc/$_/cmdline") =~ /\Q$run\/\E/ }
               map { m{^/proc/(\d+)$} ? $1 : () } glob '/proc/[0-9]*';
is("@from_run", '', 'no process runs from its folder');
my @left = grep { !port_free($base + $_) } 0 .. 4, 10 .. 13, 15 .. 17, 20, 21;
is("@left", '', 'every port it used is free');

done_testing();
