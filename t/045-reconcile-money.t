# cc-reconcile --money against a real mariadbd (two shards) and the two
# Redis shards: a campaign whose draw and payout finished (seeded with SQL
# and HSETs that mimic what cc-draw and cc-payout write, so this file does
# not depend on them) passes; each break class injected by hand is found,
# classified, written in the JSON and handed to the alert command; --repair
# mends missing credits and nothing else; bad inputs are refused.
#
# ledger_transfers is append-only (triggers refuse UPDATE and DELETE); to
# inject a changed or deleted transfer the test drops the trigger, changes
# the row and creates the trigger again (inject_transfer_sql), as only a
# bug or an operator with DDL rights could.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign qw(campaign_conf);
use Cwd qw(abs_path);
use JSON::PP;
use File::Temp qw(tempdir);
use Time::HiRes qw(time);

mysql_start();

my $dir = tempdir('cc-money-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $port = $ENV{TEST_MYSQL_PORT};
my @dbs = ('cc_m0', 'cc_m1');
my @mysql = map { "127.0.0.1:$port/$_" } @dbs;
my @redis = split ' ', $ENV{TEST_NGINX_REDIS_SHARDS};
my $C = 't45';
my $cutoff = 1900000000;                       # the campaign's cutoff, s
my @eligible = (1 .. 12);                      # combined, awarded
my @others = (13, 14);                         # flipped, never combined
my %amount = map { ($_ => 100 * $_ + 1) } @eligible;
my $pool = 0;
$pool += $_ for values %amount;

# ---- where each user lives ----------------------------------------------------

# MySQL: the ring over the --mysql names (cc-ingest --shard-of)
my %mshard;
{
    my $w = spawn_worker('cc-ingest', '--shard-of', (map { ('--mysql', $_) } @mysql), @eligible, @others);
    is(wait_worker($w, 10), 0, 'cc-ingest --shard-of');
    for (split /\n/, worker_stdout($w)) {
        my ($uid, $name) = split ' ';
        $mshard{$uid} = ($name =~ m{/cc_m(\d)$})[0];
    }
}
ok((grep { $mshard{$_} == 0 } @eligible) && (grep { $mshard{$_} == 1 } @eligible),
   'the eligible users are on both MySQL shards');

# Redis: the module's ring; a grant through nginx creates the user's hash
# on its shard
start_nginx(undef, http_config => on_shards(),
            config => 'cc_identity trusted_header X-CC-Uid; location = /cc/grant { cc_grant; }');
my %rshard;
for my $uid (@eligible, @others) {
    my ($st) = http_request('POST', "/cc/grant?grant_id=g&n=1", { 'X-CC-Uid' => $uid });
    die "grant $uid: $st" unless $st == 200;
    for my $i (0, 1) { $rshard{$uid} = $i if redis_cmd($i, 'EXISTS', user_key($uid)) }
}
stop_nginx();
ok((grep { $rshard{$_} == 0 } @eligible) && (grep { $rshard{$_} == 1 } @eligible),
   'the users are on both Redis shards');

# ---- a finished campaign -------------------------------------------------------

sub sq { my ($uid_or_shard, $sql) = @_; mysql_query($sql, $dbs[$uid_or_shard]) }
sub on_user { my ($uid, $sql) = @_; mysql_query($sql, $dbs[ $mshard{$uid} ]) }
sub hset { my ($uid, @fv) = @_; redis_cmd($rshard{$uid}, 'HSET', user_key($uid), @fv) }
sub hdel { my ($uid, $f) = @_; redis_cmd($rshard{$uid}, 'HDEL', user_key($uid), $f) }

# %opt: skip_credit => [uids] awards credited but never paid (no transfer,
# no account moved); pending => { uid => age_s } awards still pending
# (no transfer, w "p", older than age_s)
sub seed {
    my (%opt) = @_;
    my %skip = map { ($_ => 1) } @{ $opt{skip_credit} // [] };
    my %pending = %{ $opt{pending} // {} };
    my $now = int(time * 1000);
    my $cut = $cutoff * 1000;

    for my $db (@dbs) { mysql_query("DROP DATABASE IF EXISTS $db") }
    run_worker([ 'cc-ingest', '--init-shards', map { ('--mysql', $_) } @mysql ], timeout => 30, ok => 1);
    redis_cmd($_, 'FLUSHALL') for 0, 1;

    for my $s (0, 1) {
        my @users = grep { $mshard{$_} == $s } @eligible;
        my $total = 0;
        $total += $amount{$_} for @users;
        my $paid = 0;
        my @sql = (
            "INSERT INTO draw_plans VALUES ('$C', $s, ${\ scalar @users}, $total, 0, $pool, 'random', 7, "
          . scalar(@users) . ", REPEAT('a', 64), $now)",
            "INSERT INTO ledger_transfers VALUES ('fund:$C:$s', 'sponsor:$C', 'pool:$C', $total, '$C', 'fund', NULL, $now, NULL)");
        for my $u (@users) {
            my $a = $amount{$u};
            push @sql, "INSERT INTO eligibility VALUES ($u, 'set$u', " . ($cut - 3600_000) . ')';
            if (exists $pending{$u}) {
                push @sql, "INSERT INTO awards VALUES ('$C:$u', '$C', $u, $a, 'pending', 0, "
                         . ($now - $pending{$u} * 1000) . ', 0)';
                next;
            }
            push @sql, "INSERT INTO awards VALUES ('$C:$u', '$C', $u, $a, 'credited', 1, "
                     . ($now - 60_000) . ", $now)";
            next if $skip{$u};
            push @sql, "INSERT INTO ledger_transfers VALUES ('$C:$u', 'pool:$C', 'wallet:$u', $a, '$C', 'credit', '$C:$u', $now, NULL)",
                       "INSERT INTO ledger_accounts VALUES ('wallet:$u', 0, $a, 1)";
            $paid += $a;
        }
        push @sql, "INSERT INTO ledger_accounts VALUES ('sponsor:$C', $total, 0, 0)",
                   "INSERT INTO ledger_accounts VALUES ('pool:$C', $paid, $total, 1)";
        sq($s, join ';', @sql);
    }

    for my $u (@eligible) {
        my $st = exists $pending{$u} ? 'p' : 'c';
        hset($u, 'c', 0, 'e', "set$u:" . ($cut - 3600_000), 'w', "$st:$amount{$u}:$C:$u");
    }
    hset($_, 'c', 0, 's', 1) for @others;
}

# a changed or deleted transfer: only past the append-only trigger
sub inject_transfer_sql {
    my ($uid, $sql) = @_;
    my ($trigger, $when) = $sql =~ /^\s*UPDATE/i ? ('ledger_transfers_no_update', 'UPDATE')
                                                 : ('ledger_transfers_no_delete', 'DELETE');
    on_user($uid, "DROP TRIGGER $trigger; $sql; "
        . "CREATE TRIGGER $trigger BEFORE $when ON ledger_transfers FOR EACH ROW "
        . "SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'ledger_transfers is append-only'");
}

# ---- running it ----------------------------------------------------------------

my $alert_out = "$dir/alert.json";
my $campaign = "$dir/campaign.conf";
my $json = "$dir/out.json";
my $metrics = "$dir/money.prom";

sub write_file { my ($f, $t) = @_; open my $fh, '>', $f or die "$f: $!"; print $fh $t; close $fh }

sub campaign_file {
    my (%o) = @_;
    my $alert = exists $o{alert} ? $o{alert} : "cat > $alert_out";
    campaign_conf(path => $campaign, campaign => $C, pool_cents => $o{pool} // $pool, split => 'random',
                  cap_cents => 100000, seed => 's1', cutoff => $cutoff, pending_max => 3600, alert => $alert);
}

# (exit code, stdout, stderr, the JSON document or undef)
sub reconcile {
    my (@extra) = @_;
    unlink $alert_out, $json;
    my ($rc, $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $campaign,
                                        (map { ('--redis', $_) } @redis), (map { ('--mysql', $_) } @mysql),
                                        '--json', $json, '--metrics-file', $metrics, @extra ], timeout => 60);
    my $doc = -e $json ? eval { decode_json(CcTest::_slurp($json)) } : undef;
    return ($rc, $out, $err, $doc);
}

# the classes of the document's breaks, sorted, one per break
sub classes { my ($doc) = @_; [ sort map { $_->{class} } @{ $doc->{breaks} // [] } ] }
sub breaks_of { my ($doc, $class) = @_; [ grep { $_->{class} eq $class } @{ $doc->{breaks} // [] } ] }

# the alert ran with exactly the document on its stdin
sub alerted {
    my ($doc, $name) = @_;
    ok(-e $alert_out, "$name: the alert command ran");
    my $got = -e $alert_out ? eval { decode_json(CcTest::_slurp($alert_out)) } : undef;
    is_deeply($got, $doc, "$name: its stdin is the JSON document");
}

sub checks_of { my ($doc) = @_; +{ map { ($_->{name} => $_->{breaks}) } @{ $doc->{checks} } } }

# ---- a clean campaign ------------------------------------------------------------

campaign_file();
seed();
my ($rc, $out, $err, $doc) = reconcile();
is($rc, 0, 'clean campaign: exit 0') or diag $err, $out;
is($doc->{campaign}, $C, 'clean: the JSON names the campaign');
ok($doc->{ok} && $doc->{ok} eq JSON::PP::true, 'clean: ok is true');
is_deeply($doc->{breaks}, [], 'clean: no break');
is_deeply([ map { $_->{name} } @{ $doc->{checks} } ],
          [ qw(missing_credit duplicate_credit amount_mismatch transfer_without_award stale_pending
               status_mismatch eligible_mismatch pool_sum ledger_unbalanced pool_not_empty) ],
          'clean: one check per class');
ok(!(grep { !$_->{ok} || $_->{breaks} != 0 } @{ $doc->{checks} }), 'clean: every check ok, 0 breaks');
ok(!-e $alert_out, 'clean: the alert command did not run');
unlike($out, qr/^break/m, 'clean: no break line');
like($err, qr/campaign $C: \d+ rows checked in [\d.]+ s, 0 break\(s\)/, 'clean: a summary line');
my $rows = ($err =~ /(\d+) rows checked in/)[0];
is($rows, 12 + 12 + 12, 'clean: 12 awards, 12 eligibility rows, 12 Redis users with e or w read');

# the Prometheus textfile
my $prom = CcTest::_slurp($metrics);
like($prom, qr/^cc_reconcile_money_rows_total 36$/m, 'metrics: rows');
like($prom, qr/^cc_reconcile_money_ok 1$/m, 'metrics: ok');
like($prom, qr/^cc_reconcile_money_pending_awards 0$/m, 'metrics: nothing pending in a paid campaign');
like($prom, qr/^cc_reconcile_money_breaks\{class="missing_credit"\} 0$/m, 'metrics: breaks by class');
my $t = ($prom =~ /^cc_reconcile_money_last_success_timestamp_seconds (\S+)$/m)[0] // 0;
ok(abs($t - time) < 120, 'metrics: the last success is now');
ok(!-e "$metrics.tmp", 'metrics: written through a temporary file, renamed');
sub promtool_ok {
    my ($file, $name) = @_;
    # promtool reads the text on stdin
    my ($prc, $pout, $perr) = run_worker([ '/bin/sh', '-c', "promtool check metrics < '$file'" ], timeout => 30);
    is($prc, 0, "$name passes promtool check metrics") or diag $pout, $perr;
}
promtool_ok($metrics, 'the money textfile');

# ---- each class, injected by hand ------------------------------------------------

# missing_credit (少发): a credited award never paid: no transfer, no
# account moved; its shard's pool still holds its amount (pool_not_empty)
my $u = 3;
seed(skip_credit => [$u]);
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'missing credit: exit 1');
is_deeply(classes($doc), [qw(missing_credit pool_not_empty)], 'missing credit: classified (and the pool not empty)');
my $br = breaks_of($doc, 'missing_credit')->[0];
is_deeply([ @$br{qw(shard award_id uid)} ], [ $mshard{$u}, "$C:$u", "$u" ], 'missing credit: shard, award, uid');
is($br->{expected}, "a credit of $amount{$u}", 'missing credit: expected the credit');
is($br->{found}, 'no transfer, credited', 'missing credit: found none');
is(breaks_of($doc, 'pool_not_empty')->[0]{shard}, $mshard{$u}, 'pool not empty: on that shard');
like(breaks_of($doc, 'pool_not_empty')->[0]{found}, qr/holds $amount{$u} with nothing pending/, 'pool not empty: by the amount');
like($out, qr/^break missing_credit shard $mshard{$u} award $C:$u uid $u: expected a credit of $amount{$u}, found no transfer, credited \(repair: re-drives it\)$/m,
     'missing credit: one line on stdout, saying --repair re-drives it');
is($br->{repair}, 'repair: re-drives it', 'missing credit: the JSON says so too');
like($out, qr/^break pool_not_empty shard $mshard{$u} .* \(repair: no; a correcting transfer returns it to the sponsor: see README "Correcting transfers"\)$/m,
     'pool not empty: its line says a correcting transfer is needed');
is(scalar(() = $out =~ /^break /mg), 2, 'one line per break');
ok(!$doc->{ok}, 'the JSON says not ok');
is(checks_of($doc)->{missing_credit}, 1, 'the check counts its break');
alerted($doc, 'missing credit');
like(CcTest::_slurp($metrics), qr/^cc_reconcile_money_breaks\{class="missing_credit"\} 1$/m, 'metrics: the break counted');
like(CcTest::_slurp($metrics), qr/^cc_reconcile_money_ok 0$/m, 'metrics: not ok');

# --repair: the credited award gets its one transfer by the ledger's path
($rc, $out, $err, $doc) = reconcile('--repair');
is($rc, 1, 'repair: exit 1, the breaks are still reported');
is(breaks_of($doc, 'missing_credit')->[0]{repaired}, JSON::PP::true, 'repair: the break says repaired');
is($doc->{repaired}, 1, 'repair: one repaired');
like($err, qr/repaired $C:$u \(uid $u, $amount{$u}\): credited now/, 'repair: logged');
is_deeply(on_user($u, "SELECT transfer_id, debit, credit, amount_cents, kind FROM ledger_transfers WHERE award_id = '$C:$u'"),
          [ [ "$C:$u", "pool:$C", "wallet:$u", $amount{$u}, 'credit' ] ], 'repair: exactly one transfer, of its amount');
is_deeply(on_user($u, "SELECT debits, credits FROM ledger_accounts WHERE account = 'wallet:$u'"),
          [ [ 0, $amount{$u} ] ], 'repair: the wallet credited');
is(on_user($u, "SELECT credits - debits FROM ledger_accounts WHERE account = 'pool:$C'")->[0][0], 0, 'repair: the pool empty');
is(on_user($u, "SELECT status FROM awards WHERE award_id = '$C:$u'")->[0][0], 'credited', 'repair: the status stays credited');
($rc, $out, $err, $doc) = reconcile('--repair');
is($rc, 0, 'repair: a second run passes') or diag $out;
ok($doc->{ok} && !-e $alert_out, 'repair: ok, no alert');
is(on_user($u, "SELECT COUNT(*) FROM ledger_transfers WHERE award_id = '$C:$u'")->[0][0], 1, 'repair: still one transfer');

# a pending award past pending_max with no transfer is a missing credit
# too; a fresh pending one is the payout's business
my ($stale, $fresh) = (4, 5);
seed(pending => { $stale => 7200, $fresh => 10 });
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'stale pending without a transfer: exit 1');
is_deeply(classes($doc), ['missing_credit'], 'stale pending without a transfer: a missing credit (pools not checked: pending)');
$br = breaks_of($doc, 'missing_credit')->[0];
is_deeply([ @$br{qw(award_id uid)} ], [ "$C:$stale", "$stale" ], 'the stale award, not the fresh one');
like($br->{found}, qr/^no transfer, pending for 72\d\d s$/, 'found: pending for its age');
alerted($doc, 'stale pending');
like(CcTest::_slurp($metrics), qr/^cc_reconcile_money_pending_awards 2$/m, 'metrics: the two pending awards');
($rc, $out, $err, $doc) = reconcile('--repair');
is($doc->{repaired}, 1, 'repair: the stale award');
is_deeply(on_user($stale, "SELECT a.status, COUNT(t.transfer_id), SUM(t.amount_cents) FROM awards a "
                        . "LEFT JOIN ledger_transfers t ON t.award_id = a.award_id WHERE a.award_id = '$C:$stale' GROUP BY a.status"),
          [ [ 'credited', 1, $amount{$stale} ] ], 'repair: credited, one transfer of its amount, in one transaction');
is_deeply(on_user($fresh, "SELECT a.status, COUNT(t.transfer_id) FROM awards a "
                        . "LEFT JOIN ledger_transfers t ON t.award_id = a.award_id WHERE a.award_id = '$C:$fresh' GROUP BY a.status"),
          [ [ 'pending', 0 ] ], 'repair: the fresh pending award untouched');
($rc, $out, $err, $doc) = reconcile();
like(CcTest::_slurp($metrics), qr/^cc_reconcile_money_pending_awards 1$/m, 'metrics: the fresh award still pending');
is($rc, 0, 'after the repair: passes (credited, not yet notified: "p" in Redis is fine)') or diag $out;

# duplicate_credit (多发): a second credit transfer for one award (its
# accounts not moved: the ledger does not balance either)
seed();
$u = 6;
on_user($u, "INSERT INTO ledger_transfers VALUES ('$C:$u:again', 'pool:$C', 'wallet:$u', $amount{$u}, '$C', 'credit', '$C:$u', 1, NULL)");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'duplicate credit: exit 1');
is_deeply(classes($doc), [qw(duplicate_credit ledger_unbalanced ledger_unbalanced)],
          'duplicate credit: classified; the pool and the wallet differ from their transfers');
$br = breaks_of($doc, 'duplicate_credit')->[0];
is_deeply([ @$br{qw(shard award_id uid expected found)} ],
          [ $mshard{$u}, "$C:$u", "$u", '1 transfer', "2 transfers of " . 2 * $amount{$u} . ' in all' ], 'duplicate credit: the break');
is_deeply([ sort map { ($_->{expected} =~ /^(\w+):/)[0] } @{ breaks_of($doc, 'ledger_unbalanced') } ],
          [ "pool", "wallet" ], 'ledger: the pool and the wallet named');
alerted($doc, 'duplicate credit');
like($out, qr/^break duplicate_credit .* \(repair: no; a correcting transfer is needed: see README "Correcting transfers"\)$/m,
     'duplicate credit: its line says a correcting transfer is needed');
($rc, $out, $err, $doc) = reconcile('--repair');
is_deeply(classes($doc), [qw(duplicate_credit ledger_unbalanced ledger_unbalanced)], 'repair leaves a duplicate reported');
is(on_user($u, "SELECT COUNT(*) FROM ledger_transfers WHERE award_id = '$C:$u'")->[0][0], 2, 'and untouched');
is($doc->{repaired}, 0, 'repair: nothing repaired');

# a duplicate that moved money, answered by README's correcting transfer:
# the books balance again, the duplicate stays reported
seed();
$u = 6;
on_user($u, "INSERT INTO ledger_transfers VALUES ('$C:$u:again', 'pool:$C', 'wallet:$u', $amount{$u}, '$C', 'credit', '$C:$u', 1, NULL);"
          . "UPDATE ledger_accounts SET debits = debits + $amount{$u} WHERE account = 'pool:$C';"
          . "UPDATE ledger_accounts SET credits = credits + $amount{$u} WHERE account = 'wallet:$u'");
($rc, $out, $err, $doc) = reconcile();
is_deeply(classes($doc), [qw(duplicate_credit ledger_unbalanced pool_not_empty)], 'a paid duplicate: reported (the pool below zero)');
on_user($u, "START TRANSACTION;"
          . "INSERT INTO ledger_transfers VALUES ('correct:$C:$u:1', 'wallet:$u', 'pool:$C', $amount{$u}, '$C', 'correct', NULL, UNIX_TIMESTAMP() * 1000, NULL);"
          . "UPDATE ledger_accounts SET debits = debits + $amount{$u} WHERE account = 'wallet:$u';"
          . "UPDATE ledger_accounts SET credits = credits + $amount{$u} WHERE account = 'pool:$C';"
          . "COMMIT");
($rc, $out, $err, $doc) = reconcile();
is_deeply(classes($doc), ['duplicate_credit'], "README's correcting transfer: the books balance, the duplicate stays reported");

# amount_mismatch: the transfer changed (past the trigger)
seed();
$u = 7;
inject_transfer_sql($u, "UPDATE ledger_transfers SET amount_cents = amount_cents + 5 WHERE transfer_id = '$C:$u'");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'amount mismatch: exit 1');
is_deeply(classes($doc), [qw(amount_mismatch ledger_unbalanced ledger_unbalanced)], 'amount mismatch: classified (the accounts differ too)');
$br = breaks_of($doc, 'amount_mismatch')->[0];
is_deeply([ @$br{qw(award_id expected found)} ], [ "$C:$u", $amount{$u}, $amount{$u} + 5 ], 'amount mismatch: both amounts');
alerted($doc, 'amount mismatch');
is(on_user($u, "SELECT COUNT(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() AND event_object_table = 'ledger_transfers'")->[0][0], 2,
   'the triggers are back');

# a deleted transfer: the award credited, no transfer, accounts moved
seed();
$u = 8;
inject_transfer_sql($u, "DELETE FROM ledger_transfers WHERE transfer_id = '$C:$u'");
($rc, $out, $err, $doc) = reconcile();
is_deeply(classes($doc), [qw(ledger_unbalanced ledger_unbalanced missing_credit)],
          'deleted transfer: a missing credit, and accounts that differ from their transfers');
alerted($doc, 'deleted transfer');
# the money moved (the wallet's account holds it): --repair must not pay
# it again, and every line says what mends it
like($out, qr/^break missing_credit shard $mshard{$u} award $C:$u uid $u: expected a credit of $amount{$u}, found no transfer, credited \(repair: no; its wallet account already holds a credit no transfer explains \(a deleted transfer\?\): re-driving would pay twice; see README "Correcting transfers"\)$/m,
     'deleted transfer: the missing credit says --repair will not re-drive it, and why');
is(scalar(() = $out =~ /^break ledger_unbalanced .* \(repair: no; a correcting transfer, or the lost transfer row put back, is needed: see README "Correcting transfers"\)$/mg), 2,
   'deleted transfer: each unbalanced account says what mends it');
{
    my $accounts = on_user($u, 'SELECT * FROM ledger_accounts ORDER BY account');
    my $transfers = on_user($u, 'SELECT * FROM ledger_transfers ORDER BY transfer_id');
    ($rc, $out, $err, $doc) = reconcile('--repair');
    is($rc, 1, 'deleted transfer, --repair: exit 1, still reported');
    is($doc->{repaired}, 0, '... nothing repaired');
    ok(!exists breaks_of($doc, 'missing_credit')->[0]{repaired}, '... the break not even tried');
    is_deeply([ on_user($u, 'SELECT * FROM ledger_accounts ORDER BY account'),
                on_user($u, 'SELECT * FROM ledger_transfers ORDER BY transfer_id') ],
              [ $accounts, $transfers ], '... and no account or transfer changed: not paid twice');
}
# README "Correcting transfers": the lost row put back as it was, an
# INSERT alone (the accounts already hold it), mends both breaks
on_user($u, "INSERT INTO ledger_transfers VALUES ('$C:$u', 'pool:$C', 'wallet:$u', $amount{$u}, '$C', 'credit', '$C:$u', 1, NULL)");
($rc, $out, $err, $doc) = reconcile();
is($rc, 0, 'deleted transfer put back as README says: the books pass') or diag $out;

# transfer_without_award
seed();
on_user(1, "INSERT INTO ledger_transfers VALUES ('$C:99', 'pool:$C', 'wallet:99', 50, '$C', 'credit', '$C:99', 1, NULL)");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'transfer without award: exit 1');
is_deeply(classes($doc), [qw(ledger_unbalanced ledger_unbalanced transfer_without_award)],
          'transfer without award: classified (the pool moved no money for it, wallet:99 has no account)');
$br = breaks_of($doc, 'transfer_without_award')->[0];
is_deeply([ @$br{qw(shard award_id uid)} ], [ $mshard{1}, "$C:99", '99' ], 'transfer without award: its shard, award id, uid');
alerted($doc, 'transfer without award');

# stale_pending: pending past pending_max although its transfer is there
seed();
$u = 9;
on_user($u, "UPDATE awards SET status = 'pending', notified = 0, created_at = created_at - 7200000 WHERE award_id = '$C:$u'");
hset($u, 'w', "p:$amount{$u}:$C:$u");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'stale pending: exit 1');
is_deeply(classes($doc), ['stale_pending'], 'stale pending: classified');
is(breaks_of($doc, 'stale_pending')->[0]{award_id}, "$C:$u", 'stale pending: the award');
alerted($doc, 'stale pending with a transfer');
($rc, $out, $err, $doc) = reconcile('--repair');
is_deeply(classes($doc), ['stale_pending'], 'repair leaves it reported');
is(on_user($u, "SELECT status FROM awards WHERE award_id = '$C:$u'")->[0][0], 'pending', 'and untouched');

# status_mismatch: "p" for a credited, notified award; no w for an award;
# a w without an award; "c" for a pending one; a w that is not one
# (cc_award_parse refuses a leading zero in the amount)
seed(pending => { 12 => 10 });
hset(9, 'w', "c:0$amount{9}:$C:9");
hset(10, 'w', "p:$amount{10}:$C:10");
hdel(11, 'w');
hset(13, 'w', "c:500:$C:13");
hset(12, 'w', "c:$amount{12}:$C:12");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'status mismatch: exit 1');
is_deeply(classes($doc), [ ('status_mismatch') x 5 ], 'status mismatch: five, classified');
my %sm = map { ($_->{uid} => $_) } @{ breaks_of($doc, 'status_mismatch') };
is_deeply([ @{ $sm{10} }{qw(expected found)} ], [ "c:$amount{10}:$C:10", "p:$amount{10}:$C:10" ], 'p for credited');
is_deeply([ @{ $sm{11} }{qw(expected found)} ], [ "c:$amount{11}:$C:11", 'none' ], 'no w for an award');
is_deeply([ @{ $sm{13} }{qw(award_id expected found)} ], [ "$C:13", 'none (no award in MySQL)', "c:500:$C:13" ],
          'w without an award (found by the SCAN)');
is_deeply([ @{ $sm{12} }{qw(expected found)} ], [ "p:$amount{12}:$C:12", "c:$amount{12}:$C:12" ], 'c for pending');
is_deeply([ @{ $sm{9} }{qw(expected found)} ], [ "c:$amount{9}:$C:9", "c:0$amount{9}:$C:9" ],
          'a w with a leading zero: as Redis holds it');
alerted($doc, 'status mismatch');

# eligible_mismatch: eligible in MySQL, no e in Redis; e in Redis, not
# eligible in MySQL
seed();
hdel(2, 'e');
hset(14, 'e', 'late:' . ($cutoff * 1000 - 5));
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'eligible mismatch: exit 1');
is_deeply(classes($doc), [ ('eligible_mismatch') x 2 ], 'eligible mismatch: both, classified');
my %em = map { ($_->{uid} => $_) } @{ breaks_of($doc, 'eligible_mismatch') };
is_deeply([ sort keys %em ], [ 14, 2 ], 'eligible mismatch: the two users');
is($em{2}{found}, 'none (eligible in MySQL)', 'no e for an eligible user');
is($em{14}{found}, 'e in Redis; no eligibility row', 'e for a user MySQL does not have');
is($em{14}{shard}, $mshard{14}, 'reported on the user\'s MySQL shard');
alerted($doc, 'eligible mismatch');

# an eligible user without an award, and an award of a user combined after
# the cutoff
seed();
on_user(5, "DELETE FROM awards WHERE award_id = '$C:5'");
hdel(5, 'w');
on_user(6, "UPDATE eligibility SET combined_at = ${\ ($cutoff * 1000 + 1) } WHERE uid = 6");
($rc, $out, $err, $doc) = reconcile();
my @em = sort { $a->{uid} <=> $b->{uid} || $a->{found} cmp $b->{found} } @{ breaks_of($doc, 'eligible_mismatch') };
is_deeply([ map { "$_->{uid} $_->{found}" } @em ],
          [ '5 none (eligible before the cutoff)', "6 an award, combined at ${\ ($cutoff * 1000 + 1) } ms",
            '6 e in Redis; MySQL combined at ' . ($cutoff * 1000 + 1) . ' ms' ],
          'eligible without an award; awarded, combined after the cutoff (MySQL and Redis disagree too)');
ok(grep({ $_ eq 'pool_sum' } @{ classes($doc) }), 'and the shard\'s awards no longer sum to its plan');

# pool_sum: the plans do not sum to the campaign's pool
seed();
campaign_file(pool => $pool + 1);
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'pool sum: exit 1');
is_deeply(classes($doc), ['pool_sum'], 'pool sum: classified');
$br = breaks_of($doc, 'pool_sum')->[0];
is_deeply([ @$br{qw(shard expected found)} ], [ undef, 'plans of ' . ($pool + 1) . ' (the pool)', $pool ], 'pool sum: campaign-wide');
alerted($doc, 'pool sum');
campaign_file();

# pool_sum on a shard: an award changed after the draw
seed();
on_user(4, "UPDATE awards SET amount_cents = amount_cents + 1 WHERE award_id = '$C:4'");
hset(4, 'w', 'c:' . ($amount{4} + 1) . ":$C:4");
($rc, $out, $err, $doc) = reconcile();
is_deeply(classes($doc), [qw(amount_mismatch pool_sum)], 'a changed award: its transfer and its shard\'s sum disagree');
is(breaks_of($doc, 'pool_sum')->[0]{shard}, $mshard{4}, 'pool sum: on its shard');

# ledger_unbalanced: a posted sum changed behind the transfers' back
seed();
on_user(2, "UPDATE ledger_accounts SET credits = credits + 1 WHERE account = 'wallet:2'");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'ledger: exit 1');
is_deeply(classes($doc), [qw(ledger_unbalanced ledger_unbalanced)], 'ledger: the totals and the account');
my @lu = map { "$_->{expected} | $_->{found}" } sort { $a->{expected} cmp $b->{expected} } @{ breaks_of($doc, 'ledger_unbalanced') };
like($lu[0], qr/^total debits = total credits \| debits \d+, credits \d+$/, 'ledger: totals differ');
is($lu[1], "wallet:2: debits 0, credits $amount{2} (its transfers) | debits 0, credits " . ($amount{2} + 1) . ' (posted)',
   'ledger: the account against its transfers');
alerted($doc, 'ledger');

# pool_not_empty alone: a correcting top-up left in a pool, booked right
seed();
on_user(1, "INSERT INTO ledger_transfers VALUES ('correct:1', 'sponsor:$C', 'pool:$C', 40, '$C', 'correct', NULL, 1, NULL);"
         . "UPDATE ledger_accounts SET debits = debits + 40 WHERE account = 'sponsor:$C';"
         . "UPDATE ledger_accounts SET credits = credits + 40 WHERE account = 'pool:$C'");
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'pool not empty: exit 1');
is_deeply(classes($doc), ['pool_not_empty'], 'pool not empty: classified, the books balance');
is_deeply([ @{ breaks_of($doc, 'pool_not_empty')->[0] }{qw(shard expected)} ], [ $mshard{1}, '0' ], 'pool not empty: its shard');
alerted($doc, 'pool not empty');

# ---- the alert command ----------------------------------------------------------

seed(skip_credit => [3]);
campaign_file(alert => "cat > $alert_out; exit 3");
($rc, $out, $err) = reconcile();
is($rc, 1, 'a failing alert: still exit 1');
like($err, qr/alert cat > \S+; exit 3: failed, exit status 3/, 'a failing alert is logged');
ok(-s $alert_out, 'and it got the document');

campaign_file(alert => 'sleep 30');
my $t0 = time;
($rc, $out, $err) = reconcile('--alert-timeout', 1);
is($rc, 1, 'a hanging alert: exit 1');
ok(time - $t0 < 15, 'a hanging alert is not waited for');
like($err, qr/alert sleep 30: still running after 1 s, killed/, 'it is killed, and that is logged');

campaign_file(alert => undef);
($rc, $out, $err, $doc) = reconcile();
is($rc, 1, 'no alert command: exit 1');
like($err, qr/the campaign file names no alert command/, 'no alert command: said');
ok($doc && !$doc->{ok}, 'the JSON is written');
campaign_file();

# ---- bad inputs ------------------------------------------------------------------

sub run_bad {
    my (@args) = @_;
    unlink $alert_out, $json;
    my ($rc, $out, $err) = run_worker([ 'cc-reconcile', @args ], timeout => 30);
    return ($rc, $err, $out);
}
my @stores = ((map { ('--redis', $_) } @redis), (map { ('--mysql', $_) } @mysql));

my ($brc, $berr) = run_bad('--money', '--campaign', "$dir/none.conf", @stores);
is($brc, 2, 'missing campaign file: exit 2');
like($berr, qr{campaign file \S+/none\.conf: No such file or directory}, 'missing campaign file: said');

write_file("$dir/bad.conf", "campaign $C\npool_cents lots\n");
($brc, $berr) = run_bad('--money', '--campaign', "$dir/bad.conf", @stores);
is($brc, 2, 'bad campaign file: exit 2');
like($berr, qr{campaign file \S+/bad\.conf: line 2: pool_cents}, 'bad campaign file: the line and the reason');

($brc, $berr) = run_bad('--money', @stores);
is($brc, 2, 'no --campaign: exit 2');
like($berr, qr/--money needs --campaign FILE/, 'no --campaign: said');

($brc, $berr) = run_bad('--money', '--campaign', $campaign, '--mysql', $mysql[0]);
is($brc, 2, 'no --redis: exit 2');
like($berr, qr/--money needs --redis and --mysql/, 'no --redis: said');

($brc, $berr) = run_bad('--money', '--campaign', $campaign, @stores, '--batch', 0);
is($brc, 2, 'bad --batch: exit 2');

($brc, $berr) = run_bad('--money', '--campaign', $campaign, '--redis', '127.0.0.1:' . free_port(), '--mysql', $mysql[0],
                        '--json', $json);
is($brc, 2, 'Redis down: exit 2');
like($berr, qr/redis 127\.0\.0\.1:\d+: /, 'Redis down: said');
ok(!-e $alert_out && !-e $json, 'Redis down: no alert, no document (nothing was checked)');

($brc, $berr) = run_bad('--money', '--campaign', $campaign, '--redis', $redis[0],
                        '--mysql', '127.0.0.1:' . free_port() . '/cc_m0', '--json', $json);
is($brc, 2, 'MySQL down: exit 2');
like($berr, qr/mysql: /, 'MySQL down: said');
ok(!-e $alert_out, 'MySQL down: no alert');

mysql_query('DROP TABLE awards', 'cc_m1');
($brc, $berr) = run_bad('--money', '--campaign', $campaign, @stores, '--json', $json);
is($brc, 2, 'a shard without its awards table: exit 2');
like($berr, qr/mysql 127\.0\.0\.1:\d+\/cc_m1: Table 'cc_m1\.awards' doesn't exist/, 'the error is named');
like($berr, qr/stopped on shard 1, the check is not complete/, 'and the check said incomplete');
ok(!-e $alert_out && !-e $json, 'no alert, no document');

my ($hrc, undef, $hout) = run_bad('--money', '--help');
is($hrc, 0, '--money --help: exit 0');
like($hout, qr/--repair .*missing credit/s, '--money --help: says what --repair does');

# ---- the drain pass's and cc-ingest's textfiles ------------------------------------

seed();
my $w = spawn_worker('cc-reconcile', '--once', '--grace', 0, (map { ('--redis', $_) } @redis),
                     (map { ('--mysql', $_) } @mysql), '--metrics-file', "$dir/drain.prom");
is(wait_worker($w, 30), 0, 'cc-reconcile --once --metrics-file');
like(CcTest::_slurp("$dir/drain.prom"), qr/^cc_reconcile_last_success_timestamp_seconds \d/m, 'drain textfile: last success');
promtool_ok("$dir/drain.prom", 'the drain textfile');

kafka_start(partitions => 2);
$w = spawn_worker('cc-ingest', '--brokers', $ENV{TEST_KAFKA_BROKERS}, '--assign', '--progress', 1,
                  '--exit-idle', 3, (map { ('--mysql', $_) } @mysql), '--metrics-file', "$dir/ingest.prom");
is(wait_worker($w, 30), 0, 'cc-ingest --metrics-file');
like(CcTest::_slurp("$dir/ingest.prom") // '', qr/^cc_ingest_rows_total 0$/m, 'ingest textfile: rows');
promtool_ok("$dir/ingest.prom", 'the ingest textfile');

done_testing();
