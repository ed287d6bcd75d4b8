# cc-estimate: the report's totals are the formulas over the per-item sizes
# it prints (recomputed here from those printed sizes), per shard is the
# total over the shards rounded up, and bad command lines exit 2 naming the
# option.  --capacity: every answer is its formula over the figures of a
# RESULTS.md written as bench/all.sh writes it (or the options overriding
# them), names the figure it came from, and bad figures or options exit 2.

use strict;
use warnings;
use integer;
use lib 't/lib';
use CcTest;
use Cwd qw(getcwd);
use File::Temp qw(tempdir);

my @REQUIRED = (qw(--users 1234567 --draws-per-user 7 --days 10 --retention-days 3
                   --redis-shards 3 --mysql-shards 7));

sub run_estimate { run_worker([ 'cc-estimate', @_ ]) }

sub up { my ($a, $b) = @_; return ($a + $b - 1) / $b }
sub min { my ($a, $b) = @_; return $a < $b ? $a : $b }

# "  LABEL   N" in the draws section
sub count_of { my ($out, $l) = @_; return $out =~ /^  \Q$l\E +(\d+)   /m ? $1 : undef }

# "  LABEL   SIZE B   how": a per-item size
sub size_of { my ($out, $l) = @_; return $out =~ /^  \Q$l\E +(\d+) B   \S/m ? $1 : undef }

# "  LABEL   COUNT x SIZE B = BYTES B": [count, size, bytes]
sub line_of {
    my ($out, $l) = @_;
    return $out =~ /^  \Q$l\E +(\d+) x +(\d+) B = +(\d+) B/m ? [ $1, $2, $3 ] : [];
}

# "  LABEL   = BYTES B   human"
sub bytes_of { my ($out, $l) = @_; return $out =~ /^  \Q$l\E +=  *(\d+) B   \d/m ? $1 : undef }

# ---- a small known input -----------------------------------------------------

my ($rc, $out, $err) = run_estimate(@REQUIRED, qw(--grants-per-user 4 --request-ttl-days 2
                                                   --reconcile-lag-min 10 --kafka-replication 3
                                                   --peak-factor 5));
is($rc, 0, 'a small campaign: exit 0');
is($err, '', 'nothing on stderr');
like($out, qr/^sizes per item \(measured: bench\/measure-layout\.sh, \d{4}-\d\d-\d\d, redis 7\.0\.15 \S+, MariaDB 10\.11\.\d+\)$/m,
     'the sizes name their source: the script, the date, the versions');

my %s = map { $_ => size_of($out, $_) }
    ('redis user hash', 'redis grant set', 'redis grant id', 'redis kept answer',
     'redis stream entry', 'kafka value', 'kafka key', 'kafka record framing',
     'kafka batch header', 'mysql draws row', 'mysql user_cards row');
is_deeply([ grep { !defined $s{$_} || $s{$_} <= 0 } sort keys %s ], [], 'every per-item size is printed');
is($s{'kafka batch header'}, 61, 'the v2 batch header is 61 bytes');

my $users = 1234567;
my $draws = $users * 7;
my $avg = up($draws, 10);
my $peak = min($draws, up($draws * 5, 10));
my $sec = up($peak, 86400);
is(count_of($out, 'total'), $draws, "draws: $draws");
is(count_of($out, 'average day'), $avg, "average day: $avg");
is(count_of($out, 'peak day'), $peak, "peak day: $peak");
is(count_of($out, 'peak second'), $sec, "peak second: $sec");

my $grant = $s{'redis grant set'} + 4 * $s{'redis grant id'};
my $kept = min(7, up(2 * 2 * 5 * 7, 10));
is($kept, 7, '(2 TTL periods of 2 days at the peak rate would be more than all 7 draws)');
my $live = $users * $kept;
my $backlog = $sec * 10 * 60;
is_deeply(line_of($out, 'user hashes'), [ $users, $s{'redis user hash'}, $users * $s{'redis user hash'} ],
          'redis: a hash a user');
is_deeply(line_of($out, 'grant sets'), [ $users, $grant, $users * $grant ], 'redis: a set a user, with 4 ids');
is_deeply(line_of($out, 'kept answers'), [ $live, $s{'redis kept answer'}, $live * $s{'redis kept answer'} ],
          'redis: a user keeps the answers of 2 TTL periods at the peak, at most one a draw');
is_deeply(line_of($out, 'stream backlog'), [ $backlog, $s{'redis stream entry'}, $backlog * $s{'redis stream entry'} ],
          'redis: peak second x 10 minutes of stream entries');
my $redis = $users * ($s{'redis user hash'} + $grant) + $live * $s{'redis kept answer'}
          + $backlog * $s{'redis stream entry'};
is(bytes_of($out, 'redis total'), $redis, "redis total: $redis B");
is(bytes_of($out, 'redis per shard'), up($redis, 3), 'redis per shard: total / 3, rounded up');

my $window = $peak + $avg * 2;
my $record = $s{'kafka value'} + $s{'kafka key'} + $s{'kafka record framing'};
is_deeply(line_of($out, 'messages'), [ $window, $record, $window * $record ],
          'kafka: 3 days of retention hold the peak day and 2 average days');
is_deeply(line_of($out, 'batch headers'), [ $window, 61, $window * 61 ], 'one batch header a record by default');
my $log = $window * ($record + 61);
is(bytes_of($out, 'kafka log'), $log, "kafka log: $log B");
is(bytes_of($out, 'kafka disk'), $log * 3, 'kafka disk: the log x 3 replicas');

my $cards = $users * 5;
my $mysql = $draws * $s{'mysql draws row'} + $cards * $s{'mysql user_cards row'};
is_deeply(line_of($out, 'draws rows'), [ $draws, $s{'mysql draws row'}, $draws * $s{'mysql draws row'} ],
          'mysql: a draws row a draw');
is_deeply(line_of($out, 'user_cards rows'), [ $cards, $s{'mysql user_cards row'}, $cards * $s{'mysql user_cards row'} ],
          'mysql: a user_cards row a user and kind');
is(bytes_of($out, 'mysql total'), $mysql, "mysql total: $mysql B");
is(line_of($out, 'draws per shard')->[0], up($draws, 7), 'draws rows per shard: rows / 7, rounded up');
is(line_of($out, 'user_cards per shard')->[0], up($cards, 7), 'user_cards rows per shard: rows / 7, rounded up');
is(bytes_of($out, 'mysql per shard'), up($mysql, 7), 'mysql bytes per shard: total / 7, rounded up');

# the same campaign over other shard counts
for my $n (1, 5, 13, 64, 1024) {
    my %o = (@REQUIRED, '--redis-shards', $n, '--mysql-shards', $n);
    (undef, $out) = run_estimate(%o);
    is(bytes_of($out, 'redis per shard'), up(bytes_of($out, 'redis total'), $n),
       "$n shard(s): redis per shard = total / $n, rounded up");
    is(bytes_of($out, 'mysql per shard'), up(bytes_of($out, 'mysql total'), $n),
       "$n shard(s): mysql bytes per shard = total / $n, rounded up");
    is(line_of($out, 'draws per shard')->[0], up(line_of($out, 'draws rows')->[0], $n),
       "$n shard(s): draws rows per shard = rows / $n, rounded up");
}

# ---- retention longer than the campaign, batches, no grants, no lag -----------

($rc, $out, $err) = run_estimate(@REQUIRED, qw(--retention-days 30 --kafka-batch-records 100
                                               --grants-per-user 0 --reconcile-lag-min 0
                                               --draws-per-user 3));
is($rc, 0, 'other options: exit 0');
$draws = $users * 3;
is_deeply(line_of($out, 'messages'), [ $draws, $record, $draws * $record ], 'kafka keeps every draw when R >= DAYS');
is(line_of($out, 'batch headers')->[0], up($draws, 100), 'one batch header per 100 records');
is(bytes_of($out, 'kafka disk'), ($draws * $record + up($draws, 100) * 61) * 3, 'kafka disk with batches of 100');
is(line_of($out, 'grant sets')->[1], 0, 'no grants: no grant set');
is(line_of($out, 'stream backlog')->[0], 0, 'no lag: no stream backlog');
is(line_of($out, 'user_cards rows')->[0], $users * 3, 'user_cards: at most min(draws, kinds) a user');

# a long campaign: a user keeps 2 TTL periods of answers, not all
($rc, $out) = run_estimate(qw(--users 1000 --draws-per-user 100 --days 30 --retention-days 7
                              --redis-shards 1 --mysql-shards 1 --request-ttl-days 1 --peak-factor 2));
is_deeply(line_of($out, 'kept answers'), [ 1000 * 14, $s{'redis kept answer'}, 14000 * $s{'redis kept answer'} ],
          'kept answers: 2 x 1 day x 2 x 100 / 30 = 14 a user, not the 100 drawn');

# ---- the planning example ------------------------------------------------------

($rc, $out) = run_estimate(qw(--users 168000000 --draws-per-user 20 --days 14 --retention-days 7
                              --redis-shards 64 --mysql-shards 256));
is($rc, 0, '168M users: exit 0');
is(count_of($out, 'total'), 3360000000, '3360000000 draws');
is(bytes_of($out, 'redis per shard'), up(bytes_of($out, 'redis total'), 64), 'redis per shard: total / 64');
is(bytes_of($out, 'mysql per shard'), up(bytes_of($out, 'mysql total'), 256), 'mysql per shard: total / 256');

# ---- bad command lines -------------------------------------------------------------

my %req = @REQUIRED;
for my $opt (sort keys %req) {
    ($rc, $out, $err) = run_estimate(map { ($_, $req{$_}) } grep { $_ ne $opt } sort keys %req);
    is($rc, 2, "without $opt: exit 2");
    like($err, qr/^cc-estimate: \Q$opt\E is needed/m, "... naming $opt");
    is($out, '', '... and no report');
}

for my $bad (['--users', '0'], ['--users', '10000000001'], ['--users', '12x'], ['--users', ''],
             ['--draws-per-user', 'abc'], ['--days', '3651'], ['--retention-days', '0'],
             ['--redis-shards', '1025'], ['--mysql-shards', '-1'], ['--grants-per-user', '-1'],
             ['--request-ttl-days', '0'], ['--reconcile-lag-min', '10081'],
             ['--kafka-replication', '11'], ['--peak-factor', '0'], ['--kafka-batch-records', '1.5'])
{
    my ($opt, $v) = @$bad;
    ($rc, $out, $err) = run_estimate(@REQUIRED, $opt, $v);
    is($rc, 2, "$opt \"$v\": exit 2");
    like($err, qr/^cc-estimate: \Q$opt\E must be an integer in \d+\.\.\d+, not "\Q$v\E"$/m, "... naming $opt");
}

($rc, $out, $err) = run_estimate(@REQUIRED, '--bogus');
is($rc, 2, 'an unknown option: exit 2');
like($err, qr/unrecognized option '--bogus'/, '... saying which');
($rc, $out, $err) = run_estimate(@REQUIRED, 'extra');
is($rc, 2, 'a stray argument: exit 2');
like($err, qr/unexpected argument "extra"/, '... saying which');

($rc, $out, $err) = run_estimate('--help');
is($rc, 0, '--help exits 0');
like($out, qr/^usage: cc-estimate --users N/, '... with the usage');
like($out, qr/--$_ /, "... listing --$_")
    for qw(users draws-per-user days retention-days redis-shards mysql-shards grants-per-user
           request-ttl-days reconcile-lag-min kafka-replication peak-factor kafka-batch-records);

# ---- --capacity ------------------------------------------------------------------

my $tmp = tempdir(CLEANUP => 1);

# a RESULTS.md as bench/all.sh writes it (its row(): "| %s | %s | %s | %s | %s | `%s` |")
sub results_md {
    my (%o) = @_;
    my %v = ('flip, module' => 51100, 'flip, peer' => 26000, 'flip, redis cpu' => 5600,
             ingest => 103000, draw => 105000, 'draw, storage limit' => 340000, payout => 24000,
             %{ $o{values} // {} });
    my $md = "# Benchmark results\n\n";
    $md .= "**QUICK=1: shrunk sizes, a check that every bench runs.  Not\nfigures to quote.**\n\n" if $o{quick};
    $md .= "## Machine\n\n" . ($o{no_cores} ? '' : "- cores: " . ($o{cores} // 2) . "\n")
         . "- cpu: AMD EPYC\n- ram: 23.4 GiB\n\n## Figures\n\n"
         . "| figure | value | unit | against | ratio | command |\n| --- | --- | --- | --- | --- | --- |\n";
    for my $f ('flip, module', 'flip, peer', 'flip, redis cpu', 'ingest', 'draw', 'draw, storage limit', 'payout') {
        next if $o{drop} && $o{drop} eq $f;
        $md .= "| $f | $v{$f} | x/s | goal 50000 | 1.02 | `bench/x.sh` |\n";
    }
    my $file = "$tmp/" . ($o{name} // 'RESULTS.md');
    open my $fh, '>', $file or die "$file: $!";
    print $fh $md;
    close $fh;
    return $file;
}

# "  LABEL   N = ..." of the capacity report: [N, the rest of the line]
sub answer {
    my ($out, $l) = @_;
    return $out =~ /^  \Q$l\E +(\d+)(?: s)? = (.*)$/m ? [ $1, $2 ] : [];
}

my $res = results_md();
my @CAP = ('--capacity', '--users', 300000000, '--peak-flips', 900000, '--results', $res);

($rc, $out, $err) = run_estimate(@CAP, qw(--winners 120000000));
is($rc, 0, 'capacity from a RESULTS.md: exit 0');
is($err, '', '... nothing on stderr');
like($out, qr/^cc-estimate --capacity: 300000000 users, peak 900000 flips\/s, 120000000 winners$/m, 'the inputs');
like($out, qr/^  flip, module +51100 flips\/s +\(\Q$res\E: flip, module\)$/m, 'the flip figure, named by file and row');
like($out, qr/^  cores +2 cores +\(\Q$res\E: cores\)$/m, 'the cores of the measured machine');
unlike($out, qr/WARNING/, 'no warning for a full run');

my $load = up(900000 * 150, 100);
is($load, 1350000, '(the planned load: 150% of the peak)');
like($out, qr/^planned load +1350000 flips\/s  = 900000 x 150% headroom/m, 'the planned load, 150% by default');
is_deeply(answer($out, 'app nodes'),
          [ up($load, 51100), "$load flips/s / 51100 flips/s per 2-core node ($res: flip, module)" ],
          'app nodes = load / the flip figure, naming it: ' . up($load, 51100));
is_deeply(answer($out, 'redis shards'),
          [ up($load * 5600, 1000000000),
            "$load flips/s x 5600 ns/flip ($res: flip, redis cpu) / 10^9 ns: a shard is one core" ],
          'redis shards = load x ns a flip / 10^9, naming the figure: ' . up($load * 5600, 1000000000));
sub hms { my ($t) = @_; sprintf('%d h %d min %d s', int($t / 3600), int($t / 60) % 60, $t % 60) }
my $hosts = up($load, 103000);
is_deeply(answer($out, 'mysql hosts'), [ $hosts, "$load draws/s / 103000 draws/s per host of 2 shards ($res: ingest)" ],
          "mysql hosts = load / the ingest figure: $hosts");
is(answer($out, 'mysql shards')->[0], 2 * $hosts, 'mysql shards: 2 a host, as measured');
is_deeply(answer($out, 'payout threads'), [ 2 * $hosts, 'one per mysql shard, all in one cc-payout process' ],
          'payout threads: one a mysql shard, in one process');
unlike($out, qr/one payout|payout workers/, 'no payout line assumes a process per host');
is_deeply(answer($out, 'draw time'),
          [ up(120000000, $hosts * 105000),
            "120000000 winners / ($hosts hosts x 105000 awards/s ($res: draw)): 0 h 1 min 22 s" ],
          'draw time = winners / (hosts x the draw figure), with h min s');
is_deeply(answer($out, 'payout time'),
          [ up(120000000, $hosts * 24000),
            "120000000 winners / ($hosts hosts x 24000 credits/s per host of 2 shards ($res: payout)): "
            . hms(up(120000000, $hosts * 24000)) ],
          'payout time = winners / (hosts x the payout figure), naming it');
# the replicated layout: one standby each by default, 3 Sentinels up to 16 shards
my $rshards = up($load * 5600, 1000000000);
is_deeply(answer($out, 'redis replicas'),
          [ $rshards, "$rshards shards x 1 (--replicas), each the memory of its primary" ],
          "redis replicas: one a shard by default: $rshards");
is_deeply(answer($out, 'mysql replicas'),
          [ $hosts, "$hosts hosts x 1 (--replicas), semi-sync, each the disk of its primary" ],
          "mysql replicas: one a host by default: $hosts");
is_deeply(answer($out, 'sentinels'), [ 3, 'one set for every shard, up to 16 redis shards (majority 2)' ],
          'sentinels: 3 for 8 shards');
like($out, qr/Sentinels on hosts apart from the Redis they watch/, '... and where they go, in the assumptions');
like($out, qr/^assumptions\n(  .*\n)+/m, 'the assumptions are printed');
like($out, qr/150% headroom over the peak/, '... with the headroom');

# options override the file's figures, and say so; another headroom and node size
($rc, $out) = run_estimate(@CAP, qw(--eligible-fraction 0.25 --flip-rate 40000 --redis-ns-per-flip 2500
                                    --ingest-rate 50000 --draw-rate 1000 --payout-rate 3000
                                    --node-cores 8 --headroom-pct 200));
is($rc, 0, 'figures from options: exit 0');
like($out, qr/ 75000000 winners$/m, 'winners = 300000000 x 0.25');
like($out, qr/^  flip, module +40000 flips\/s +\(--flip-rate\)$/m, 'the option is named as the source');
is_deeply(answer($out, 'app nodes'), [ 45, '1800000 flips/s / 40000 flips/s per 8-core node (--flip-rate)' ],
          'app nodes: 900000 x 200% / 40000 = 45, per 8-core node');
is(answer($out, 'redis shards')->[0], 5, 'redis shards: 1800000 x 2500 ns = 4.5 cores, rounded up to 5');
is(answer($out, 'mysql hosts')->[0], 36, 'mysql hosts: 1800000 / 50000 = 36');
is(answer($out, 'draw time')->[0], up(75000000, 36 * 1000), 'draw time from --draw-rate');
is(answer($out, 'payout time')->[0], up(75000000, 36 * 3000), 'payout time from --payout-rate');

# --replicas: 2 standbys, and over 16 shards 5 Sentinels; 0: none at all
($rc, $out) = run_estimate(@CAP, qw(--winners 1 --replicas 2 --redis-ns-per-flip 20000));
is($rc, 0, '--replicas 2: exit 0');
is(answer($out, 'redis shards')->[0], 27, '(1350000 x 20000 ns: 27 shards)');
is_deeply(answer($out, 'redis replicas'), [ 54, '27 shards x 2 (--replicas), each the memory of its primary' ],
          'redis replicas: 27 shards x 2');
is(answer($out, 'mysql replicas')->[0], 2 * $hosts, "mysql replicas: $hosts hosts x 2");
is_deeply(answer($out, 'sentinels'), [ 5, 'one set for every shard, over 16 redis shards (majority 3)' ],
          'sentinels: 5 over 16 shards');
($rc, $out) = run_estimate(@CAP, qw(--winners 1 --redis-ns-per-flip 11851));
is(answer($out, 'redis shards')->[0], 16, '(1350000 x 11851 ns: 16 shards)');
is(answer($out, 'sentinels')->[0], 3, 'sentinels: still 3 at 16 shards');
($rc, $out) = run_estimate(@CAP, qw(--winners 1 --replicas 0));
is($rc, 0, '--replicas 0: exit 0');
is(answer($out, 'redis replicas')->[0], 0, '... no Redis replica');
is(answer($out, 'mysql replicas')->[0], 0, '... no MySQL replica');
is_deeply(answer($out, 'sentinels'), [ 0, 'no replicas: nothing to fail over to' ], '... and no Sentinel');
for my $r (qw(5 -1 one)) {
    ($rc, $out, $err) = run_estimate(@CAP, '--winners', 1, '--replicas', $r);
    is($rc, 2, "--replicas $r: exit 2");
    like($err, qr/--replicas must be an integer in 0\.\.4, not "\Q$r\E"/, '... saying why');
}

# every figure given: no file needed
($rc, $out, $err) = run_estimate(qw(--capacity --users 1000 --peak-flips 1000 --winners 0 --results /nonexistent
                                    --flip-rate 1000 --redis-ns-per-flip 1000 --ingest-rate 1000 --draw-rate 1
                                    --payout-rate 1 --node-cores 1 --headroom-pct 100));
is($rc, 0, 'every figure as an option: the file is not read') or diag($err);
is(answer($out, 'app nodes')->[0], 1, '1000 flips/s on nodes of 1000: one node, headroom 100%');
is(answer($out, 'redis shards')->[0], 1, '1000 x 1000 ns = 1 ms a second: one shard');
is(answer($out, 'draw time')->[0], 0, 'no winners: no draw time');

# the fraction: rounded to the nearest user; 1 and 0 allowed
for my $f (['0.5', 500], ['1', 1000], ['0', 0], ['0.0005', 1], ['0.0004', 0], ['1.000000', 1000], ['0.333333', 333]) {
    ($rc, $out) = run_estimate('--capacity', '--users', 1000, '--peak-flips', 10, '--results', $res,
                               '--eligible-fraction', $f->[0]);
    like($out, qr/ $f->[1] winners$/m, "--eligible-fraction $f->[0] of 1000 users: $f->[1] winners");
}

# the default file, bench/RESULTS.md from the working folder
mkdir "$tmp/top"; mkdir "$tmp/top/bench";
results_md(name => 'top/bench/RESULTS.md', values => { 'flip, module' => 90000 });
my $cwd = getcwd();
chdir "$tmp/top" or die;
($rc, $out) = run_estimate(qw(--capacity --users 10 --peak-flips 90000 --winners 1 --headroom-pct 100));
chdir $cwd or die;
is_deeply(answer($out, 'app nodes'), [ 1, '90000 flips/s / 90000 flips/s per 2-core node (bench/RESULTS.md: flip, module)' ],
          'by default the figures are bench/RESULTS.md');

# a QUICK=1 file: a warning in the report
($rc, $out) = run_estimate(@CAP, '--winners', 1, '--results', results_md(quick => 1, name => 'quick.md'));
is($rc, 0, 'a QUICK=1 RESULTS.md: exit 0');
like($out, qr/^  WARNING: \S+quick\.md is from a QUICK=1 run: not figures to plan with$/m, '... with a warning');

# ---- --capacity: bad figures and command lines ----------------------------------------

for my $bad ([ 'a missing file', [ '--results', "$tmp/none.md" ], qr/\Q$tmp\E\/none\.md: No such file or directory \(run bench\/all\.sh/ ],
             [ 'a failed bench', [ '--results', results_md(name => 'f.md', values => { payout => 'failed' }) ],
               qr/f\.md: "payout" is "failed", not an integer in 1\.\.\d+ \(give --payout-rate\)/ ],
             [ 'a zero figure', [ '--results', results_md(name => 'z.md', values => { ingest => 0 }) ],
               qr/z\.md: "ingest" is "0", not an integer/ ],
             [ 'a missing row', [ '--results', results_md(name => 'm.md', drop => 'flip, redis cpu') ],
               qr/m\.md has no "flip, redis cpu" \(give --redis-ns-per-flip\)/ ],
             [ 'no cores', [ '--results', results_md(name => 'c.md', no_cores => 1) ],
               qr/c\.md has no "- cores: N" \(give --node-cores\)/ ],
             [ 'cores not a number', [ '--results', results_md(name => 'c2.md', cores => 'two') ],
               qr/c2\.md: "cores" is "two"/ ])
{
    my ($what, $args, $re) = @$bad;
    ($rc, $out, $err) = run_estimate(@CAP, '--winners', 1, @$args);
    is($rc, 2, "$what: exit 2");
    like($err, $re, '... saying which figure and file');
    is($out, '', '... and no report');
}

for my $bad ([ [qw(--users 0)], qr/--users must be an integer in 1\.\.10000000000, not "0"/ ],
             [ [qw(--peak-flips 1000000001)], qr/--peak-flips must be an integer/ ],
             [ [qw(--headroom-pct 99)], qr/--headroom-pct must be an integer in 100\.\.1000, not "99"/ ],
             [ [qw(--headroom-pct 1001)], qr/--headroom-pct must be an integer in 100\.\.1000/ ],
             [ [qw(--flip-rate 0)], qr/--flip-rate must be an integer in 1\.\.100000000, not "0"/ ],
             [ [qw(--redis-ns-per-flip 1000001)], qr/--redis-ns-per-flip must be an integer in 1\.\.1000000/ ],
             [ [qw(--node-cores x)], qr/--node-cores must be an integer/ ],
             [ [qw(--payout-rate -5)], qr/--payout-rate must be an integer/ ],
             [ [qw(--winners 300000001)], qr/--winners 300000001 is more than --users 300000000/ ],
             [ [qw(--winners 5 --eligible-fraction 0.5)], qr/needs one of --winners and --eligible-fraction/ ])
{
    my ($args, $re) = @$bad;
    ($rc, $out, $err) = run_estimate(@CAP, @$args, ($args->[0] =~ /winners|eligible/ ? () : ('--winners', 1)));
    is($rc, 2, "@$args: exit 2");
    like($err, $re, '... saying why');
}

for my $f ('1.5', '.5', '0.', '0.1234567', 'abc', '-0.1', '', '1.0000001', '0,5', ' 0.5') {
    ($rc, $out, $err) = run_estimate(@CAP, '--eligible-fraction', $f);
    is($rc, 2, "--eligible-fraction \"$f\": exit 2");
    like($err, qr/--eligible-fraction must be a number in 0\.\.1 with up to 6 decimals, not "\Q$f\E"/, '... naming it');
}

($rc, $out, $err) = run_estimate(@CAP);
is($rc, 2, 'neither --winners nor --eligible-fraction: exit 2');
like($err, qr/needs one of --winners and --eligible-fraction/, '... saying so');
($rc, $out, $err) = run_estimate(qw(--capacity --peak-flips 5 --winners 1), '--results', $res);
is($rc, 2, 'no --users: exit 2');
like($err, qr/--capacity needs --users/, '... saying so');
($rc, $out, $err) = run_estimate(qw(--capacity --users 5 --winners 1), '--results', $res);
is($rc, 2, 'no --peak-flips: exit 2');
like($err, qr/--capacity needs --peak-flips/, '... saying so');
($rc, $out, $err) = run_estimate(@CAP, qw(--winners 1 --days 3));
is($rc, 2, 'a storage option with --capacity: exit 2');
like($err, qr/unrecognized option '--days'/, '... saying which');
($rc, $out, $err) = run_estimate(@CAP, qw(--winners 1 extra));
is($rc, 2, 'a stray argument: exit 2');
like($err, qr/unexpected argument "extra"/, '... saying which');

($rc, $out, $err) = run_estimate(qw(--capacity --help));
is($rc, 0, '--capacity --help exits 0');
like($out, qr/^usage: cc-estimate --capacity --users N --peak-flips P/, '... with the capacity usage');
like($out, qr/--$_ /, "... listing --$_")
    for qw(users peak-flips winners eligible-fraction headroom-pct results flip-rate redis-ns-per-flip
           ingest-rate draw-rate payout-rate node-cores);

done_testing();
