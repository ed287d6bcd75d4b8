# Issue 18, MySQL: each shard's primary has a semi-synchronous replica
# (CcTest::MySQLReplica), and the workers are given both as the shard's
# candidates (--mysql P,R/db).  A commit is on the replica before it
# returns; the primary killed (kill -9) while cc-ingest consumes, the
# replica promoted as an orchestrator does, cc-ingest finds the new primary
# by itself and every draw is in MySQL exactly once.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use CcTest::MySQLReplica;
use POSIX ();
use Time::HiRes ();

mysql_with_replica();
my ($P, $R) = ($ENV{TEST_MYSQL_PORT}, replica_port());
is_deeply([ mysql_shards() ], [ "127.0.0.1:$P,127.0.0.1:$R/cc_s0", "127.0.0.1:$P,127.0.0.1:$R/cc_s1" ],
          'the shards are named by their candidates');

# ---- the ring is keyed by the spec as written --------------------------------------

{
    my (undef, $one) = run_worker([ 'cc-ingest', '--shard-of', '--mysql', "127.0.0.1:$P,127.0.0.1:$R/cc_s0",
                                    '--mysql', "127.0.0.1:$P,127.0.0.1:$R/cc_s1", 1 .. 5 ], timeout => 10, ok => 1);
    like($one, qr{^1 127\.0\.0\.1:$P,127\.0\.0\.1:$R/cc_s[01]$}m, '--shard-of names the shard as written');
}

campaign_up(http_config => "    cc_cards 1 1 1 1 1;\n");
is(replica_value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'cc_s0' "
                 . "AND table_name = 'draws'"), 1, 'the schema cc-ingest --init-shards made is on the replica');
is(replica_value('SELECT @@read_only'), 1, 'the replica runs read_only = 1');

# ---- semi-sync: on the replica before the commit returns -----------------------------

my $yes = semi_sync_status()->{yes_tx};
mysql_query("INSERT INTO dead_letters (topic, part, off, reason, payload) VALUES ('semi', 0, 1, 'probe', 'x')",
            'cc_s0');
my $received = CcTest::MySQLReplica::_gtid_io_pos();
my $binlog = mysql_value('SELECT @@gtid_binlog_pos');
is($received, $binlog, 'when the commit returned, the replica had received it (Gtid_IO_Pos = the primary\'s binlog pos)');
is(semi_sync_status()->{yes_tx}, $yes + 1, 'Rpl_semi_sync_master_yes_tx grew by one: the commit waited for the ack');
ok(wait_until(sub { replica_value("SELECT COUNT(*) FROM dead_letters WHERE topic = 'semi'", 'cc_s0') == 1 }, 10),
   'and the row is on the replica');
mysql_query("DELETE FROM dead_letters WHERE topic = 'semi'", 'cc_s0');

# ---- kill -9 the primary while cc-ingest consumes ------------------------------------

sub draws_in { mysql_value('SELECT (SELECT COUNT(*) FROM cc_s0.draws) + (SELECT COUNT(*) FROM cc_s1.draws)') }

my $ingest = start_ingest('--batch', 50, '--batch-ms', 20);
grant_users(1, 40, 20);
my $ok = flip_users(1, 20, 10, 'a');
is($ok, 200, 'first wave: 200 flips answered 200');
ok(wait_until(sub { draws_in() == 200 }, 20), 'first wave in MySQL');

# the second wave goes to Kafka while the primary dies under cc-ingest
# (a child of this process: its answers counted into a file, POSIX::_exit
# so that the harness's END stays the parent's)
my $count = CcTest::Util::topdir() . '/wave2';
my $flips = fork // die "fork: $!";
if ($flips == 0) {
    # paced, a user each 0.1 s: the wave takes 2 s, so the kill below
    # lands inside it (unpaced, all 400 could be in MySQL before the
    # kill on a busy machine: one CI run in many saw 600 of 600)
    my $n = 0;
    for my $uid (21 .. 40) {
        $n += flip_users($uid, $uid, 20, 'b');
        Time::HiRes::sleep(0.1);
    }
    open my $f, '>', $count; print $f "$n\n"; close $f;
    POSIX::_exit(0);
}
ok(wait_until(sub { draws_in() > 200 }, 20), 'cc-ingest writes the second wave');
my $at_kill = draws_in();
mysql_kill();
ok($at_kill > 200 && $at_kill < 600, "the primary killed (kill -9) mid-ingest, $at_kill of 600 draws in");
waitpid($flips, 0);
is(CcTest::Util::_slurp($count), "400\n", 'second wave: 400 flips answered 200 (Redis and Kafka need no MySQL)');
ok(wait_until(sub { worker_stderr($ingest) =~ /no writable primary/ }, 20),
   'cc-ingest retries: no candidate is writable (the primary down, the replica read-only)')
    or diag worker_stderr($ingest);

replica_promote();
pass('the replica promoted (STOP SLAVE; RESET SLAVE ALL; read_only = 0)');
ok(wait_until(sub { draws_in() == 600 }, 40), 'cc-ingest, on its own, writes the rest into the new primary')
    or diag worker_stderr($ingest);
like(worker_stderr($ingest),
     qr{mysql shard 127\.0\.0\.1:$P,127\.0\.0\.1:$R/cc_s\d: the primary is now 127\.0\.0\.1:$R \(was 127\.0\.0\.1:$P\)},
     'it says which server is the primary now');
ok(worker_alive($ingest), 'cc-ingest never exited');
is_deeply([ state_diff(1 .. 40) ], [], 'every draw exactly once: seqs 1..s, card counts equal Redis');
is(stop_worker($ingest, 'TERM', 10), 0, 'SIGTERM: exit 0');

done_testing();
