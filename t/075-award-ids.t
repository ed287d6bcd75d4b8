# Award ids read back from MySQL go into SQL text again (cc-payout's id
# lists, its cursor, the notices' UPDATE): one that is not an award id
# (cc_check_award_id) must never run as SQL.  A row whose id is an
# injection ("x') OR ('1'='1") stops the payout of its shard, said and
# escaped in the log, and touches nothing: before the check, the notices'
# UPDATE marked every award of the shard notified, another campaign's
# too.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;

payout_setup();

my %b1 = map { ($_ => 100) } 1 .. 4;
seed_awards('b1', \%b1, credited => 1);
my %b2 = map { ($_ => 100) } 11 .. 14;
seed_awards('b2', \%b2, credited => 1);
my $db = shard_db(1);
my $bad = "b1:9') OR ('1'='1";
(my $sqlbad = $bad) =~ s/'/''/g;
mysql_query("INSERT INTO awards (award_id, campaign, uid, amount_cents, status, notified, created_at) "
          . "VALUES ('$sqlbad', 'b1', 9, 100, 'credited', 0, 1700000000000)", $db);
my $w = spawn_payout([ '--once' ], campaign_file('b1'));
wait_until(sub { (worker_stderr($w) // '') =~ /not fit for SQL/ }, 20);
kill_worker($w);
my $err = worker_stderr($w);
like($err, qr/mysql shard \S+: read awards: award id "b1:9'\) OR \('1'='1" not fit for SQL; retrying in \d+ ms/,
     'the bad id stops its shard, said');
unlike($err, qr/SQL syntax/, 'no statement ran with it');
my $n = mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = 'b2' AND notified = 1", $db);
is($n, 0, 'another campaign\'s awards on that shard: not marked notified');
is(mysql_value("SELECT notified FROM awards WHERE award_id = '$sqlbad'", $db), 0, 'the bad row itself untouched');
mysql_query("DELETE FROM awards WHERE award_id = '$sqlbad'", $db);
my ($rc, undef, $e2) = payout_run([ '--once' ], campaign_file('b1'));
is($rc, 0, 'the row mended (deleted): the payout finishes') or diag $e2;
is_deeply(award_states('b1'), { 'credited/1' => 4 }, 'b1\'s four notified');
is_deeply(award_states('b2'), { 'credited/0' => 4 }, 'b2\'s left alone');

done_testing();
