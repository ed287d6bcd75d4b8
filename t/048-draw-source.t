# cc-draw checks the eligible set at its source (issue 22): the
# eligibility table is filled from the Kafka topic, so whoever can write
# to the topic could make a uid eligible with a back-dated combine.  Each
# eligible row must match its user's combine record in Redis (field e of
# cc:{uid}:u, "request_id:ms"), and each combine in Redis before the
# cutoff must be eligible in MySQL.  Any mismatch refuses the draw, names
# the uids (at most 20, then a count) and writes nothing; a draw already
# planned resumes without the check.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest qw(shard_map redis_index);
use DrawTest;

draw_setup();

my @uids = (1 .. 30);
my $map = make_eligible(1000, @uids);
my $cut = $DrawTest::CUTOFF * 1000;

my $DIR = File::Temp::tempdir('cc-draw-source-XXXXXX', TMPDIR => 1, CLEANUP => 1);

# nothing of the campaign in the draw's tables, both shards
sub nothing_written {
    my ($c, $what) = @_;
    is(money_rows($c), 0, "$what: no plan, award, ledger transfer or account");
}

sub refused {
    my ($c, $what, @like) = @_;
    my $f = draw_campaign($c, pool => 10000);
    my $mf = "$DIR/$c.prom";
    my ($rc, $out, $err) = draw_run($f, '--metrics-file', $mf);
    is($rc, 2, "$what: exit 2") or diag $err;
    like($err, $_, "... $_") for @like;
    like($err, qr/source check: \d+ of the eligible users in MySQL and the combine records in Redis disagree .*; not drawing/,
         '... the summary line for ops');
    nothing_written($c, '...');
    open my $pf, '<', $mf or return ($err, '');
    local $/;
    return ($err, scalar <$pf>);
}

# ---- a back-dated combine injected straight into MySQL ---------------------------

# uid 5001 never combined (nothing in Redis); a row claims it did, early
my $db = shard_map(5001)->{5001}[1];
mysql_query("INSERT INTO eligibility VALUES (5001, 'forged', " . ($cut - 86400_000) . ')', $db);
my ($err, $prom) = refused('bd', 'a back-dated eligibility row of a uid that never combined',
    qr/source check: uid 5001: eligible in MySQL \(request "forged", combined at \d+ ms\), no combine in Redis/);
like($prom, qr/^cc_draw_source_mismatches 1$/m, '... the metric cc_draw_source_mismatches 1');
like($prom, qr/^cc_draw_source_checked 31$/m, '... cc_draw_source_checked 31');
mysql_query('DELETE FROM eligibility WHERE uid = 5001', $db);

# ---- the same through Kafka: a forged combine on the topic -------------------------

{
    my $brokers = kafka_start();
    my $ts = $cut - 3600_000;
    # cc-produce reads KEY\tVALUE lines: the combine event as the module sends it
    my $p = spawn_worker('/bin/sh', '-c',
        qq(printf '5002\\t{"type":"combine","uid":"5002","request_id":"viaKafka","ts":$ts}\\n' )
      . "| $CcTest::WorkerDir/cc-produce --brokers $brokers");
    is(wait_worker($p, 30), 0, 'a forged combine of uid 5002 produced to the topic');
    my $i = spawn_worker('cc-ingest', '--brokers', $brokers, '--assign', '--exit-idle', 2,
                         map { ('--mysql', $_) } mysql_shards());
    is(wait_worker($i, 60), 0, 'cc-ingest wrote it') or diag worker_stderr($i);
    my $db2 = shard_map(5002)->{5002}[1];
    is(mysql_value('SELECT request_id FROM eligibility WHERE uid = 5002', $db2), 'viaKafka',
       '... into the eligibility table');
    refused('kf', 'a forged combine through Kafka',
            qr/source check: uid 5002: eligible in MySQL \(request "viaKafka", combined at $ts ms\), no combine in Redis/);
    mysql_query('DELETE FROM eligibility WHERE uid = 5002', $db2);
}

# ---- a real user, its combine time moved back in MySQL ------------------------------

my $u = $uids[4];
my $udb = $map->{$u}[1];
mysql_query("UPDATE eligibility SET combined_at = combined_at - 5000 WHERE uid = $u", $udb);
refused('mv', 'a combine time that differs from Redis',
        qr/source check: uid $u: eligible in MySQL \(request "set$u", combined at @{[ $cut - 6000 ]} ms\), Redis says request "set$u" at @{[ $cut - 1000 ]} ms$/m);
mysql_query("UPDATE eligibility SET combined_at = combined_at + 5000 WHERE uid = $u", $udb);

# Redis says after the cutoff (a combine the module would have refused)
my $hr = redis_index($map->{$u}[0]);
redis_cmd($hr, 'HSET', user_key($u), 'e', "set$u:" . ($cut + 10));
refused('late', 'a combine in Redis after the cutoff',
        qr/source check: uid $u: .* Redis says request "set$u" at @{[ $cut + 10 ]} ms, after the cutoff/);
redis_cmd($hr, 'HSET', user_key($u), 'e', "set$u:" . ($cut - 1000));

# ---- field e is outside text: logged escaped, never a line of its own --------------

# a request id holding a newline, a forged line and a terminal escape
redis_cmd($hr, 'HSET', user_key($u), 'e', "set$u\nsource check: uid 999: forged\e[2J:" . ($cut - 1000));
($err) = refused('fe', 'a request id in Redis with a newline and an escape',
    qr/source check: uid $u: eligible in MySQL \(request "set$u", combined at @{[ $cut - 1000 ]} ms\), Redis says request "set$u\\nsource check: uid 999: forged\\x1b\[2J" at @{[ $cut - 1000 ]} ms$/m);
unlike($err, qr/^source check: uid 999/m, '... no log line of its own');
unlike($err, qr/\e/, '... no raw escape');

# a combine that is not one, with the same
redis_cmd($hr, 'HSET', user_key($u), 'e', "bad\nsource check: uid 998: forged\e[2J");
($err) = refused('fu', 'an unreadable combine with a newline and an escape',
    qr/source check: uid $u: eligible in MySQL \(request "set$u", combined at @{[ $cut - 1000 ]} ms\), Redis holds an unreadable combine "bad\\nsource check: uid 998: forged\\x1b\[2J"$/m);
unlike($err, qr/^source check: uid 998/m, '... no log line of its own');
unlike($err, qr/\e/, '... no raw escape');
redis_cmd($hr, 'HSET', user_key($u), 'e', "set$u:" . ($cut - 1000));

# ---- combined in Redis, missing in MySQL: left out, reported too --------------------

my $lost = 6001;
my $lr = redis_index(shard_map($lost)->{$lost}[0]);
redis_cmd($lr, 'HSET', user_key($lost), 'e', "lost:" . ($cut - 77));
refused('lo', 'a combine in Redis the eligibility table lacks',
        qr/source check: uid $lost: combined in Redis at @{[ $cut - 77 ]} ms, before the cutoff, but not eligible in MySQL \(\S+\): left out/);
redis_cmd($lr, 'DEL', user_key($lost));

# ---- many: 20 named, then a count ----------------------------------------------------

my @forged = map { 7000 + $_ } 1 .. 25;
my $fm = shard_map(@forged);
for my $d (@DrawTest::DBS) {
    my @mine = grep { $fm->{$_}[1] eq $d } @forged;
    next unless @mine;
    mysql_query('INSERT INTO eligibility VALUES ' . join(',', map { "($_, 'f$_', " . ($cut - 10) . ')' } @mine), $d);
}
($err) = refused('many', '25 forged rows', qr/source check: \.\.\. and 5 more$/m);
my @named = $err =~ /source check: uid (\d+):/g;
is(scalar @named, 20, '... 20 uids named');
like($err, qr/source check: 25 of the eligible users/, '... and all 25 counted');
for my $d (@DrawTest::DBS) {
    mysql_query('DELETE FROM eligibility WHERE uid BETWEEN 7001 AND 7025', $d);
}

# ---- clean: drawn, the check logged; a re-run of a planned draw skips it --------------

my $f = draw_campaign('ok', pool => 3000);
my ($rc, $out);
($rc, $out, $err) = draw_run($f);
is($rc, 0, 'the true eligible set: drawn') or diag $err;
like($err, qr/source check: 30 eligible users in MySQL match the combine records in Redis \(30 combined before the cutoff\)/,
     '... the check logged');
is(scalar keys %{ awards_of('ok') }, 30, '... 30 awards');
my $digest = digest_of($out);

# after the draw a combine record is lost (a Redis failover): the draw
# planned already, so a re-run resumes instead of being blocked
my $gone = redis_cmd($hr, 'HGET', user_key($u), 'e');
redis_cmd($hr, 'HDEL', user_key($u), 'e');
($rc, $out, $err) = draw_run($f);
is($rc, 0, 'a re-run of the planned draw, a combine record gone since: exit 0') or diag $err;
like($err, qr/source check: skipped, every shard to draw was planned by an earlier run/, '... the check skipped, said');
is(digest_of($out), $digest, '... the same digest');
redis_cmd($hr, 'HSET', user_key($u), 'e', $gone);

done_testing();
