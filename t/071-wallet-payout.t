# cc-payout with `wallet http`: credits into cc-wallet-sim, two-phase in
# the ledger (pending, then post), with the award, the ledger, the pending
# sums and the wallet's statement checked after each run: a clean payout,
# the wallet away (awards stay crediting, money reserved, then a rerun
# with the same keys), 409, 401 and a wrong echoed amount (alert, nothing
# posted), a timeout (unknown: the same key later).  10,000 awards against a wallet
# that fails 20% of calls and drops 5% after applying: t/072, with the
# three-way reconcile.

use strict;
use Time::HiRes qw(time);
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use WalletTest;

payout_setup();

# ---- usage ------------------------------------------------------------------

my $nosecret = http_campaign_file('h0', 'http://127.0.0.1:1', secret => '/nonexistent/secret');
my ($rc, $out, $err) = payout_run([ '--once' ], $nosecret);
is($rc, 2, 'wallet http with a secret file it cannot read: exit 2');
like($err, qr{wallet http: .*/nonexistent/secret}, 'and why');
my $open_secret = wallet_dir() . '/open.secret';
{ open my $f, '>', $open_secret or die; print $f 'o' x 40; close $f; chmod 0640, $open_secret }
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('h0', 'http://127.0.0.1:1', secret => $open_secret));
is($rc, 2, 'wallet http with a secret file its group may read: exit 2');
like($err, qr{wallet http: .*secret file "\Q$open_secret\E" is open to its group or others \(mode 0640\)}, 'and why');
my $sync = http_campaign_file('h0', 'http://127.0.0.1:1', extra => '');
{ local $/; open my $f, '<', $sync or die; my $t = <$f>; close $f;
  $t =~ s/credit async/credit sync/; open $f, '>', $sync or die; print $f $t; close $f }
($rc, $out, $err) = payout_run([ '--once' ], $sync);
is($rc, 2, 'wallet http with credit sync: exit 2');
like($err, qr/wallet http: needs credit async or async_client_sync/, 'and why');

# ---- a clean payout -------------------------------------------------------------

my $sim = sim_start();
my %a1 = map { ($_ => 100 + $_ % 13) } 1 .. 300;
seed_awards('h1', \%a1);
my $alert_out = wallet_dir() . '/alert-h1.json';
my $h1 = http_campaign_file('h1', $sim->{url}, extra => "alert cat > $alert_out\n");
($rc, $out, $err) = payout_run([ '--once', '--batch', 70 ], $h1);
is($rc, 0, 'wallet http, 300 awards: exit 0') or diag $err;
like($err, qr/done: 300 credited \(0 on claims\), 0 already credited, 0 mismatch, 0 no funds, 300 notified/,
     'it says what it did');
is_deeply(award_states('h1'), { 'credited/1' => 300 }, 'every award credited and notified');
is_deeply([ check_paid_http('h1', \%a1, $sim->{statement}) ], [],
          'each: pending + post transfers of its amount, wallet credited, pool empty; the statement: each key once');
is_deeply(ledger_pending_sums(), {}, 'nothing pending in the ledger');
is_deeply([ check_redis('h1', \%a1, 'c') ], [], 'Redis: w = "c:..."');
ok(!-e $alert_out, 'no alert');
my $before = ledger_snapshot();
my $lines = scalar @{ statement_lines($sim->{statement}) };
($rc, $out, $err) = payout_run([ '--once' ], $h1);
is($rc, 0, 'run again: exit 0');
like($err, qr/done: 0 credited/, 'nothing to do');
is_deeply(ledger_snapshot(), $before, 'no transfer, no account changed');
is(scalar @{ statement_lines($sim->{statement}) }, $lines, 'no call applied anything');

# ---- the wallet away: crediting, money reserved, then the same keys ----------------

my %a2 = map { ($_ => 50 + $_ % 7) } 1001 .. 1040;
seed_awards('h2', \%a2);
my $port = free_port();
my $st2 = wallet_dir() . '/h2.csv';
my $h2 = http_campaign_file('h2', "http://127.0.0.1:$port", timeout => 300);
($rc, $out, $err) = payout_run([ '--once' ], $h2);
is($rc, 1, 'the wallet refuses connections: exit 1 (unpaid)');
like($err, qr/award h2:10\d\d: no answer after 10 calls \(Couldn't connect to server\); stays crediting, the same key is tried again later/,
     'each award: no answer, stays crediting');
is_deeply(award_states('h2'), { 'crediting/0' => 40 }, 'all 40 crediting, none notified');
my $sum2 = 0; $sum2 += $_ for values %a2;
my $pend = ledger_pending_sums();
my ($pd, $pc) = (0, 0);
for (grep { /pool:h2$/ } keys %$pend) { my ($d) = split m{/}, $pend->{$_}; $pd += $d }
for (grep { / clearing:h2$/ } keys %$pend) { my (undef, $c) = split m{/}, $pend->{$_}; $pc += $c }
is($pd, $sum2, "the pool's pending debits: the 40 amounts ($sum2)");
is($pc, $sum2, "the clearing account's pending credits: the same sum");
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'h2' AND kind = 'pending'", 'cc_s0')
 + mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'h2' AND kind = 'pending'", 'cc_s1'), 40,
   'one pending transfer each');
is(mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'h2' AND kind <> 'pending' AND kind <> 'fund'", 'cc_s0')
 + mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = 'h2' AND kind <> 'pending' AND kind <> 'fund'", 'cc_s1'), 0,
   'nothing posted');
my $sim2 = sim_start(statement => $st2);
$h2 = http_campaign_file('h2', $sim2->{url});
($rc, $out, $err) = payout_run([ '--once' ], $h2);
is($rc, 0, 'the wallet back: exit 0') or diag $err;
like($err, qr/done: 40 credited/, 'the 40 credited');
is_deeply([ check_paid_http('h2', \%a2, $st2) ], [], 'each once at the wallet, pending then posted');
is_deeply(ledger_pending_sums(qr/^(pool:h2|clearing:h2)$/), {}, 'nothing pending now');
sim_stop($sim2);

# ---- 409 and 401: refused for good, an alert, nothing posted ---------------------

my %a3 = map { ($_ => 70) } 2001 .. 2010;
seed_awards('h3', \%a3);
my ($s409) = sim_post($sim, 'h3:2001', 2001, 71, 'CNY');
is($s409, 201, 'someone else applied h3:2001 at the wallet with 71 cents');
my $alert3 = wallet_dir() . '/alert-h3.json';
my $h3 = http_campaign_file('h3', $sim->{url}, extra => "alert cat > $alert3\n");
($rc, $out, $err) = payout_run([ '--once' ], $h3);
is($rc, 1, 'a 409: exit 1');
like($err, qr/award h3:2001: wallet MISMATCH: HTTP 409: the key holds another credit: .*"amount_cents":71.*stays crediting, alert/,
     'named, with the amount the wallet holds');
like($err, qr/done: 9 credited/, 'the other nine credited');
my $doc = do { local $/; open my $f, '<', $alert3 or die "no alert: $!"; <$f> };
like($doc, qr/^\{"campaign":"h3","source":"cc-payout wallet http","ok":false,"breaks":\[\{"class":"wallet_amount_mismatch","award_id":"h3:2001","uid":"2001","amount_cents":70,"found":"HTTP 409/,
     'the alert command got the break as JSON');
my $db2001 = shard_db(2001);
is_deeply(mysql_query("SELECT status FROM awards WHERE award_id = 'h3:2001'", $db2001), [ ['crediting'] ], 'h3:2001 stays crediting');
is_deeply(mysql_query("SELECT kind FROM ledger_transfers WHERE award_id = 'h3:2001'", $db2001), [ ['pending'] ],
          'its pending transfer keeps the money reserved, nothing posted');

my $other = wallet_dir() . '/other.secret';
{ open my $f, '>', $other or die; print $f 'z' x 40; close $f; chmod 0600, $other }
my %a4 = map { ($_ => 80) } 3001 .. 3005;
seed_awards('h4', \%a4);
my $alert4 = wallet_dir() . '/alert-h4.json';
# the calls signed with another secret, the answers checked with the
# wallet's answer key (the sim signs with its secret): a signed 401
my $h4 = http_campaign_file('h4', $sim->{url}, secret => $other, answer_secret => wallet_secret(),
                            extra => "alert (cat; echo) >> $alert4\n");
($rc, $out, $err) = payout_run([ '--once' ], $h4);
is($rc, 1, 'signed with another secret: exit 1');
like($err, qr/award h4:3001: wallet REFUSED it: HTTP 401: \{"error":"bad_signature"\}; stays crediting, alert/, 'refused: 401');
like($err, qr/done: 0 credited/, 'nothing credited');
$doc = do { local $/; open my $f, '<', $alert4 or die "no alert: $!"; <$f> };
is(() = $doc =~ /"class":"wallet_rejected"/g, 5, 'alerts (one a shard\'s batch) of the five refusals');
# the two shards' batches run in threads of their own: their alert
# commands may append at once, so a document need not start a line.  The
# rings are over the servers' addresses (free ports), so the five users
# may all land in one shard (1 run in 16): one document a shard holding any
my $m4 = shard_map(3001 .. 3005);
my $n4 = keys %{ { map { ($m4->{$_}[1] => 1) } 3001 .. 3005 } };
is(() = $doc =~ /\{"campaign":"h4"/g, $n4, "$n4: one per MySQL shard's batch");
is_deeply(award_states('h4'), { 'crediting/0' => 5 }, 'all five crediting');
ok(!grep({ /^h4:/ } map { $_->[0] } @{ statement_lines($sim->{statement}) }), 'none at the wallet');

# ---- an alert command that hangs is killed at --alert-timeout -------------------------

my %a7 = map { ($_ => 80) } 7001 .. 7002;
seed_awards('h7', \%a7);
my $t0 = time;
($rc, $out, $err) = payout_run([ '--once', '--alert-timeout', 1 ],
                               http_campaign_file('h7', $sim->{url}, secret => $other, answer_secret => wallet_secret(),
                                                  extra => "alert sleep 30\n"));
my $took = time - $t0;
is($rc, 1, 'refused credits, the alert command hangs: exit 1');
like($err, qr/alert sleep 30: still running after 1 s, killed/, 'the alert command is killed after --alert-timeout 1, said');
ok($took < 20, sprintf('the payout did not wait for it (%.0f s, the command sleeps 30)', $took));
is_deeply(award_states('h7'), { 'crediting/0' => 2 }, 'both crediting, the money reserved');
($rc, undef, $err) = payout_run([ '--alert-timeout', 0 ], http_campaign_file('h7', $sim->{url}));
is($rc, 2, '--alert-timeout 0: exit 2');
like($err, qr/--alert-timeout must be an integer in 1\.\.3600, not "0"/, 'and why');

# ---- an answer that echoes another amount: a mismatch, not posted -------------------

my $liar = sim_start(echo => 100);
my %a6 = map { ($_ => 60) } 6001 .. 6003;
seed_awards('h6', \%a6);
my $alert6 = wallet_dir() . '/alert-h6.json';
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('h6', $liar->{url}, extra => "alert (cat; echo) >> $alert6\n"));
is($rc, 1, 'the wallet echoes 61 for 60: exit 1');
like($err, qr/award h6:6001: wallet MISMATCH: HTTP 201: applied with 61 cents, not 60; stays crediting, alert/, 'named, with both amounts');
$doc = do { local $/; open my $f, '<', $alert6 or die "no alert: $!"; <$f> };
is(() = $doc =~ /"class":"wallet_amount_mismatch"/g, 3, 'each in an alert');
is_deeply(award_states('h6'), { 'crediting/0' => 3 }, 'all three crediting, none posted');
sim_stop($liar);

# ---- a timeout is unknown, not failed --------------------------------------------

my $slow = sim_start(delay => 1500);
my %a5 = map { ($_ => 90) } 4001 .. 4003;
seed_awards('h5', \%a5);
my $h5 = http_campaign_file('h5', $slow->{url}, timeout => 200);
my $w = spawn_payout([ '--once' ], $h5);
is(wait_worker($w, 120), 1, 'every call times out (200 ms against 1500): exit 1');
like(worker_stderr($w), qr/award h5:4001: no answer after 10 calls \(Timeout was reached\)/, 'unknown after its tries');
is_deeply(award_states('h5'), { 'crediting/0' => 3 }, 'crediting: the wallet may have applied them');
# the slow wallet applies each call 1.5 s after it came: the last one's
# application may follow cc-payout's exit
wait_until(sub { my $k = statement_keys($slow->{statement}); 3 == grep { $k->{"h5:$_"} } 4001 .. 4003 }, 5);
my $k5 = statement_keys($slow->{statement});
is_deeply([ map { $k5->{"h5:$_"} } 4001 .. 4003 ], [ 1, 1, 1 ],
          'the slow wallet applied each once, however many calls timed out (same key)');
sim_stop($slow);
my $fast = sim_start(statement => $slow->{statement});
($rc, undef, $err) = payout_run([ '--once' ], http_campaign_file('h5', $fast->{url}));
is($rc, 0, 'a later pass, the wallet fast: exit 0') or diag $err;
is_deeply([ check_paid_http('h5', \%a5, $slow->{statement}) ], [], 'posted; each still once at the wallet');
sim_stop($fast);

sim_stop($sim);
done_testing();
