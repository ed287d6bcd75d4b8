# Issue 18, MySQL: a primary fenced, not killed.  The promotion tool sets
# read_only = 1 on the old primary while the workers hold connections to
# it: their writes get error 1290 (ER_OPTION_PREVENTS_STATEMENT), they
# close the connection and look again, and write nothing more there; once
# the replica is promoted they write into it by themselves.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use CcTest::MySQLReplica;

mysql_with_replica();
my ($P, $R) = ($ENV{TEST_MYSQL_PORT}, replica_port());
campaign_up(http_config => "    cc_cards 1 1 1 1 1;\n");
my $ingest = start_ingest('--batch', 50, '--batch-ms', 20);

sub draws_in { mysql_value('SELECT (SELECT COUNT(*) FROM cc_s0.draws) + (SELECT COUNT(*) FROM cc_s1.draws)') }

grant_users(1, 20, 10);
is(flip_users(1, 10, 10, 'a'), 100, 'first wave: 100 flips');
ok(wait_until(sub { draws_in() == 100 }, 20), 'in MySQL');

primary_fence();
pass('the primary fenced: SET GLOBAL read_only = 1, its connections left open');
is(flip_users(11, 20, 10, 'b'), 100, 'second wave: 100 flips, into Kafka');
ok(wait_until(sub { worker_stderr($ingest) =~ /insert draws: The MariaDB server is running with the --read-only option/ }, 20),
   'cc-ingest\'s write is refused (error 1290) and it looks again')
    or diag worker_stderr($ingest);
ok(wait_until(sub { worker_stderr($ingest) =~ /127\.0\.0\.1:$P: read-only; 127\.0\.0\.1:$R: read-only \(no writable primary\)/ }, 20),
   'both candidates are read-only now: it retries');
is(draws_in(), 100, 'nothing more written into the fenced primary');

replica_promote();
ok(wait_until(sub { draws_in() == 200 }, 40), 'the replica promoted: cc-ingest writes the second wave into it')
    or diag worker_stderr($ingest);
like(worker_stderr($ingest), qr{the primary is now 127\.0\.0\.1:$R \(was 127\.0\.0\.1:$P\)}, 'and says so');
is_deeply([ state_diff(1 .. 20) ], [], 'every draw exactly once');
is(stop_worker($ingest, 'TERM', 10), 0, 'SIGTERM: exit 0');

done_testing();
