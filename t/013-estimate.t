# cc-estimate: the report's totals are the formulas over the per-item sizes
# it prints (recomputed here from those printed sizes), per shard is the
# total over the shards rounded up, and bad command lines exit 2 naming the
# option.

use strict;
use warnings;
use integer;
use lib 't/lib';
use CcTest;

my @REQUIRED = (qw(--users 1234567 --draws-per-user 7 --days 10 --retention-days 3
                   --redis-shards 3 --mysql-shards 7));

sub run_estimate {
    my $h = spawn_worker('cc-estimate', @_);
    my $rc = wait_worker($h, 10);
    return ($rc, worker_stdout($h), worker_stderr($h));
}

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

done_testing();
