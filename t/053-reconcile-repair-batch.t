# cc-reconcile --money --repair with more missing credits than its SQL
# buffer was sized for: the buffer holds --batch uids (--batch * 80 bytes
# + 1 KB), the repair's UPDATE lists up to 500 award ids in one
# transaction.  400 stale pending awards with ids like
# "spring2027:123456789" and --batch 100 overran it (the statement was cut
# and rolled back, and the appends after it wrote past the buffer: ASan's
# heap-buffer-overflow in cc_money_repair_batch).  Every one must be
# credited exactly once, its award set credited, the pool emptied.
#
# One MySQL shard and one Redis shard: every user lives on both.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign qw(campaign_conf);
use JSON::PP;
use File::Temp qw(tempdir);
use Time::HiRes qw(time);

mysql_start();

my $dir = tempdir('cc-repair-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $db = 'cc_r0';
my $mysql = "127.0.0.1:$ENV{TEST_MYSQL_PORT}/$db";
my $redis = (split ' ', $ENV{TEST_NGINX_REDIS_SHARDS})[0];
my $C = 'spring2027';
my $cutoff = 1900000000;
my $n = 400;
my @users = map { 123456789 + $_ } 0 .. $n - 1;
my %amount = map { ($users[$_] => 100 + $_) } 0 .. $n - 1;
my $total = 0;
$total += $_ for values %amount;

# a finished draw whose payout never ran: every award pending for two
# hours, no transfer, the pool funded
run_worker([ 'cc-ingest', '--init-shards', '--mysql', $mysql ], timeout => 30, ok => 1);
{
    my $now = int(time * 1000);
    my $cut = $cutoff * 1000;
    my @sql = (
        "INSERT INTO draw_plans VALUES ('$C', 0, $n, $total, 0, $total, 'random', 7, $n, REPEAT('a', 64), $now)",
        "INSERT INTO ledger_transfers VALUES ('fund:$C:0', 'sponsor:$C', 'pool:$C', $total, '$C', 'fund', NULL, $now, NULL)",
        "INSERT INTO ledger_accounts VALUES ('sponsor:$C', $total, 0, 0)",
        "INSERT INTO ledger_accounts VALUES ('pool:$C', 0, $total, 1)");
    for my $u (@users) {
        push @sql, "INSERT INTO eligibility VALUES ($u, 'set$u', " . ($cut - 3600_000) . ')',
                   "INSERT INTO awards VALUES ('$C:$u', '$C', $u, $amount{$u}, 'pending', 0, "
                 . ($now - 7200_000) . ', 0)';
        redis_cmd(0, 'HSET', user_key($u), 'c', 0, 'e', "set$u:" . ($cut - 3600_000),
                  'w', "p:$amount{$u}:$C:$u");
    }
    mysql_query(join(';', @sql), $db);
}

my $campaign = campaign_conf(dir => $dir, campaign => $C, pool_cents => $total, split => 'random',
                             cap_cents => 100000, seed => 's1', cutoff => $cutoff, pending_max => 3600,
                             alert => 'cat > /dev/null');
my $json = "$dir/out.json";

sub reconcile {
    my (@extra) = @_;
    unlink $json;
    my ($rc, $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $campaign,
                                        '--redis', $redis, '--mysql', $mysql, '--batch', 100,
                                        '--json', $json, @extra ], timeout => 120);
    my $doc = -e $json ? eval { decode_json(CcTest::_slurp($json)) } : undef;
    return ($rc, $out, $err, $doc);
}

my ($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'before: exit 1');
is(scalar(grep { $_->{class} eq 'missing_credit' } @{ $doc->{breaks} // [] }), $n,
   "before: $n missing credits");

($rc, $out, $err, $doc) = reconcile('--repair');
is($doc->{repaired}, $n, "repair: $n repaired") or diag $err;
unlike($err, qr/rolled back/, 'repair: nothing rolled back');
is_deeply(mysql_query("SELECT COUNT(*), COUNT(DISTINCT award_id), SUM(amount_cents) FROM ledger_transfers "
                    . "WHERE kind = 'credit'", $db),
          [ [ $n, $n, $total ] ], 'repair: one credit transfer an award, of the pool in all');
is_deeply(mysql_query("SELECT COUNT(*) FROM awards a JOIN ledger_transfers t ON t.award_id = a.award_id "
                    . "WHERE t.amount_cents = a.amount_cents AND t.credit = CONCAT('wallet:', a.uid)", $db),
          [ [ $n ] ], 'repair: each of its award\'s amount, to its user\'s wallet');
is_deeply(mysql_query("SELECT status, COUNT(*) FROM awards GROUP BY status", $db),
          [ [ 'credited', $n ] ], 'repair: every award credited');
is_deeply(mysql_query("SELECT COUNT(*), SUM(credits - debits) FROM ledger_accounts WHERE account LIKE 'wallet:%'", $db),
          [ [ $n, $total ] ], 'repair: every wallet credited');
is_deeply(mysql_query("SELECT debits, credits FROM ledger_accounts WHERE account = 'pool:$C'", $db),
          [ [ $total, $total ] ], 'repair: the pool empty');

($rc, $out, $err, $doc) = reconcile('--repair');
is($rc, 0, 'a second run passes') or diag $out;
is($doc->{repaired}, 0, 'and repairs nothing');
is(mysql_query("SELECT COUNT(*) FROM ledger_transfers WHERE kind = 'credit'", $db)->[0][0], $n,
   'still one transfer an award');

done_testing();
