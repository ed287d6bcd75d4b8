# The claim end to end: nginx with the module, a real cc-payout crediting a
# backlog, and 200 concurrent POST /cc/claim of one award.  The claim
# queues it once, cc-payout serves it before its bulk order reaches it,
# every claim is answered with the award (200 credited, or 202 pending if
# the payout took longer than cc_claim_wait), and the ledger holds exactly
# one transfer for it; at the end every award of the backlog is credited
# exactly once and the books balance.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use JSON::PP;

payout_setup();

my $c = 'cp1';
my %amount = map { ($_ => 100 + $_ % 91) } 1001 .. 4000;
seed_awards($c, \%amount, redis => 1);

# the award bulk order reaches last: award ids sort as strings
my ($last) = sort { "$c:$b" cmp "$c:$a" } keys %amount;
my $id = "$c:$last";
my $want = "\"amount_cents\":$amount{$last},\"award_id\":\"$id\"}";

start_nginx(undef, workers => 2,
            http_config => on_shards(),
            config => 'cc_identity trusted_header X-CC-Uid; location = /cc/claim { cc_claim; } location = /cc/award { cc_award; }');

my $file = campaign_file($c, credit => 'async_client_sync');
my $w = spawn_payout([ '--batch', 200, '--interval', 60 ], $file);

my @res = concurrent_requests(200, 'POST', '/cc/claim', { 'X-CC-Uid' => $last }, '', 20);
my %by;
$by{ ($_->[0] // 'none') . ' ' . ($_->[1] =~ s/\{"status":"(\w+)",.*/$1/sr) }++ for @res;
note(join ', ', map { "$_: $by{$_}" } sort keys %by);
is(scalar(grep { defined $_->[0] && ($_->[0] == 200 || $_->[0] == 202) } @res), 200,
   'every claim answered 200 or 202');
is(scalar(grep { $_->[1] eq "{\"status\":\"credited\",$want" && $_->[0] == 200
                 || $_->[1] eq "{\"status\":\"pending\",$want" && $_->[0] == 202 } @res), 200,
   '... each with the award: credited with 200, pending with 202');
ok(scalar(grep { $_->[0] && $_->[0] == 200 } @res) > 0, 'cc-payout credited the claim while they waited');

my $db = shard_db($last);
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE award_id = '$id'", $db), 1,
   'exactly one ledger transfer for the claimed award');
is(mysql_value("SELECT amount_cents FROM ledger_transfers WHERE award_id = '$id'", $db), $amount{$last},
   '... of its amount');

# served before the bulk order: when it was credited, awards sorting
# after most others were still pending
my $credited_at = mysql_value("SELECT credited_at FROM awards WHERE award_id = '$id'", $db);
ok(($credited_at // 0) > 0, "the claimed award is credited (credited_at $credited_at)");

ok(wait_until(sub { (award_states($c)->{'credited/1'} // 0) == 3000 }, 60),
   'cc-payout credits and notifies the whole backlog') or diag explain award_states($c);
stop_worker($w);
is_deeply([ check_paid($c, \%amount) ], [], 'every award credited exactly once; pools empty; books balanced');
is_deeply([ check_redis($c, { $last => $amount{$last} }, 'c') ], [], "the claimed award is c:... in Redis");
my $home = redis_index(shard_map($last)->{$last}[0]);
is(redis_cmd($home, 'LLEN', claims_key()), 0, 'the claim queue is empty');
is(redis_cmd($home, 'HGET', user_key($last), 'q'), '1', 'the claim was queued once (q)');

my ($st, $body) = http_request('GET', '/cc/award', { 'X-CC-Uid' => $last });
is("$st $body", "200 {\"status\":\"credited\",$want", 'GET /cc/award says credited');

done_testing();
