# cc-reconcile --money --statement (三方对账): a campaign paid into
# cc-wallet-sim is compared three ways (awards, the ledger's two phases,
# the wallet's statement).  Clean passes; awards left in flight (pending in
# the ledger) are short at the wallet, or long where the wallet applied
# them; --repair mends both with the same keys; each other class injected
# into a copy of the statement is found and classified (JSON, alert, exit
# 1); the sim's own duplicates (--dup-pct) are duplicate_at_wallet; 10,000
# awards paid through 20% failures and 5% drops reconcile clean; bad
# statements are refused.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use WalletTest;

payout_setup();
my $seed = $ENV{CC_TEST_SEED} // (time ^ $$) % 1000000;
diag("CC_TEST_SEED=$seed");

sub classes { my ($doc) = @_; [ sort map { $_->{class} } @{ $doc->{breaks} // [] } ] }
sub of { my ($doc, $class) = @_; [ grep { $_->{class} eq $class } @{ $doc->{breaks} // [] } ] }
sub write_lines { my ($path, @l) = @_; open my $f, '>', $path or die; print $f map { join(',', @$_) . "\n" } @l; close $f }

# ---- awards left in flight: short at the wallet, long where it applied -----------

my %a = map { ($_ => 200 + $_ % 11) } 5001 .. 5060;
seed_awards('tw', \%a);
my $map = shard_map(keys %a);
my $pool = make_drawn('tw', \%a, $map);
my $dead = free_port();
my $alert = wallet_dir() . '/alert-tw.json';
my ($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('tw', "http://127.0.0.1:$dead", pool => $pool, timeout => 200));
is($rc, 1, 'paid into a wallet that is down: exit 1');
is_deeply(award_states('tw'), { 'crediting/0' => 60 }, 'all 60 crediting, pending in the ledger');

my $sim = sim_start();
my $file = http_campaign_file('tw', $sim->{url}, pool => $pool, extra => "alert cat > $alert\n");
($rc, $out, $err, my $doc) = reconcile_money($file, '--statement', $sim->{statement});
is($rc, 1, 'in flight, an empty statement: exit 1') or diag $err;
is_deeply(classes($doc), [ ('short_at_wallet') x 60 ], 'each short at the wallet, nothing else (the books balance with money pending)');
like(of($doc, 'short_at_wallet')->[0]{found}, qr/^none; the ledger: pending, award crediting$/, 'found: pending in the ledger');
like($out, qr/^break short_at_wallet shard \d award tw:50\d\d uid 50\d\d: expected a statement line of \d+ CNY to uid 50\d\d, found none/m,
     'printed one a line');
ok(-s $alert, 'the alert ran');
is_deeply([ (map { $_->{name} } @{ $doc->{checks} })[-5 .. -1] ],
          [qw(long_at_wallet short_at_wallet wallet_amount_mismatch duplicate_at_wallet unknown_key)], 'the statement checks in the document');

# five applied at the wallet meanwhile (their answers lost): long at the wallet
for my $u (5001 .. 5005) {
    my ($s) = sim_post($sim, "tw:$u", $u, $a{$u}, 'CNY');
    die "sim_post $u: $s" unless $s == 201;
}
($rc, $out, $err, $doc) = reconcile_money($file, '--statement', $sim->{statement});
is($rc, 1, 'five applied at the wallet, pending in the ledger: exit 1');
is_deeply(classes($doc), [ ('long_at_wallet') x 5, ('short_at_wallet') x 55 ], '5 long (长款), 55 short (短款)');
is_deeply([ sort map { $_->{award_id} } @{ of($doc, 'long_at_wallet') } ], [ map { "tw:$_" } 5001 .. 5005 ], 'the long ones are those five');
like(of($doc, 'long_at_wallet')->[0]{found}, qr/^pending, not posted, award crediting$/, 'found: not posted');

($rc, $out, $err, $doc) = reconcile_money($file, '--statement', $sim->{statement}, '--repair');
is($rc, 1, '--repair: exit 1 (the breaks it found)');
like($err, qr/repair: 60 of 60 statement break\(s\) mended with their own keys/, 'all 60 mended') or diag $err;
is(scalar(grep { $_->{repaired} } @{ $doc->{breaks} }), 60, 'each break says repaired');
is_deeply([ check_paid_http('tw', \%a, $sim->{statement}) ], [],
          'now: each award posted, each key ONCE at the wallet (the five replayed, not applied again)');
is_deeply(award_states('tw'), { 'credited/0' => 60 }, 'credited; the notices are the payout\'s outbox');
($rc, undef, $err) = payout_run([ '--once' ], $file);
is($rc, 0, 'the payout notifies them') or diag $err;
unlink $alert;
($rc, $out, $err, $doc) = reconcile_money($file, '--statement', $sim->{statement});
is($rc, 0, 'three ways clean: exit 0') or diag "$out$err";
ok($doc->{ok}, 'ok: true');
is(scalar @{ $doc->{breaks} }, 0, 'no break');
ok(!-e $alert, 'no alert');

# ---- each class injected into a copy of the statement -------------------------------

my @lines = @{ statement_lines($sim->{statement}) };
is(scalar @lines, 60, 'the statement: 60 lines');
my $copy = wallet_dir() . '/injected.csv';
my @cases = (
    [ 'a line twice', [ @lines, $lines[3] ], { duplicate_at_wallet => [ $lines[3][0] ] } ],
    [ 'another amount', [ (map { [@$_] } @lines[0 .. 58]), [ @{ $lines[59] }[0, 1], $lines[59][2] + 1, @{ $lines[59] }[3, 4] ] ],
      { wallet_amount_mismatch => [ $lines[59][0] ] } ],
    [ 'another currency', [ (map { [@$_] } @lines[1 .. 59]), [ @{ $lines[0] }[0 .. 2], 'USD', $lines[0][4] ] ],
      { wallet_amount_mismatch => [ $lines[0][0] ] } ],
    [ 'a key no award has', [ @lines, [ 'tw:999999', 999999, 5, 'CNY', 1 ] ], { unknown_key => [ 'tw:999999' ] } ],
    [ 'a line missing (posted in the ledger)', [ @lines[1 .. 59] ], { short_at_wallet => [ $lines[0][0] ] } ],
    [ 'another campaign\'s line', [ @lines, [ 'zz:1', 1, 5, 'CNY', 1 ] ], {} ],
);
for my $case (@cases) {
    my ($name, $l, $want) = @$case;
    write_lines($copy, @$l);
    ($rc, $out, $err, $doc) = reconcile_money($file, '--statement', $copy);
    is($rc, %$want ? 1 : 0, "$name: exit " . (%$want ? 1 : 0)) or diag "$out$err";
    is_deeply({ map { my $c = $_; ($c => [ sort map { $_->{award_id} } @{ of($doc, $c) } ]) } keys %$want },
              $want, "$name: classified, the key named");
    is(scalar @{ $doc->{breaks} }, scalar(map { @$_ } values %$want), "$name: nothing else");
}
write_lines($copy, @lines[1 .. 59]);
($rc, undef, $err, $doc) = reconcile_money($file, '--statement', $copy, '--repair');
like($err, qr/repair: 0 of 0|repaired 0/, 'a posted credit absent at the wallet is only reported: a person decides');
ok(!exists of($doc, 'short_at_wallet')->[0]{repaired}, 'not marked repaired');

# ---- bad statements ----------------------------------------------------------------

($rc, undef, $err) = reconcile_money($file, '--statement', '/nonexistent.csv');
is($rc, 2, 'a statement that is not there: exit 2');
like($err, qr{--statement /nonexistent.csv: No such file}, 'and why');
# each a bad line, with the reason named; the old reader took the last
# six (strtoll read " 1", "+1" and "01", strlen stopped at the NUL)
my @bad = ([ "tw:1,1,5,CNY\n", 'not five comma-separated fields' ],
           [ "tw:1,x,5,CNY,1\n", 'bad uid' ],
           [ "tw:1,1,5,cny,1\n", 'bad currency' ],
           [ "tw:1,1,-5,CNY,1\n", 'bad amount_cents' ],
           [ "tw:1,1,5,CNY,1,extra\n", 'not five comma-separated fields' ],
           [ "tw:1,1,5,CNY, 1\n", 'bad applied_at_ms' ],
           [ "tw:1,1,5,CNY,+1\n", 'bad applied_at_ms' ],
           [ "tw:1,1,5,CNY,01\n", 'bad applied_at_ms' ],
           [ "tw:1,1,5,CNY,1\r\n", 'bad applied_at_ms' ],
           [ "tw:1,1,5,CNY,1\0,extra\n", 'a NUL byte in the line' ],
           [ "tw:1,1,5\0,CNY,1\n", 'a NUL byte in the line' ]);
for my $b (@bad) {
    my ($bad, $why) = @$b;
    open my $f, '>', $copy or die; print $f "tw:5001,5001,1,CNY,1\n$bad"; close $f;
    (my $name = substr($bad, 0, -1)) =~ s/([\0\r])/sprintf '\\x%02x', ord $1/ge;
    ($rc, undef, $err) = reconcile_money($file, '--statement', $copy);
    is($rc, 2, "statement line \"$name\": exit 2");
    like($err, qr/line 2 is not key,uid,amount_cents,currency,applied_at_ms: \Q$why\E/, "with the line and \"$why\"");
}
sim_stop($sim);

# ---- the wallet's own duplicates (--dup-pct 2): duplicate_at_wallet -----------------

my %d = map { ($_ => 10 + $_ % 5) } 7001 .. 7500;
seed_awards('dp', \%d);
$map = shard_map(keys %d);
$pool = make_drawn('dp', \%d, $map);
my $dsim = sim_start(dup => 2, seed => $seed);
my $dfile = http_campaign_file('dp', $dsim->{url}, pool => $pool);
($rc, undef, $err) = payout_run([ '--once' ], $dfile);
is($rc, 0, "500 awards, the wallet writes 2% twice (seed $seed): exit 0") or diag $err;
my $keys = statement_keys($dsim->{statement});
my @twice = sort grep { $keys->{$_} > 1 } keys %$keys;
diag("seed $seed: " . scalar(@twice) . ' keys written twice');
($rc, $out, $err, $doc) = reconcile_money($dfile, '--statement', $dsim->{statement});
is($rc, @twice ? 1 : 0, "the reconcile: exit 1 when the wallet wrote any twice (seed $seed)");
is_deeply([ sort map { $_->{award_id} } @{ of($doc, 'duplicate_at_wallet') } ], \@twice,
          'each key the wallet wrote twice is duplicate_at_wallet');
is_deeply(classes($doc), [ ('duplicate_at_wallet') x @twice ], 'and nothing else');
is_deeply([ check_paid_http('dp', \%d, $dsim->{statement}, dup => 1) ], [], 'the ledger paid each once');
sim_stop($dsim);

# ---- 10,000 awards: 20% of calls fail, 5% dropped after applying ------------------------
# (dup 0 here: exactly once at the wallet is asserted; the sim's duplicates
# are the section above)

my $faulty = sim_start(fail => 20, drop => 5, seed => $seed);
my %big = map { ($_ => 1 + $_ % 997) } 200001 .. 210000;
seed_awards('big', \%big, redis => 0);
$map = shard_map(keys %big);
$pool = make_drawn('big', \%big, $map);
my $bfile = http_campaign_file('big', $faulty->{url}, pool => $pool);
my $t0 = time;
($rc, $out, $err) = payout_run([ '--once', '--batch', 2000 ], $bfile, 900);
ok(worker_alive($faulty->{w}), 'the simulator is still up after the payout')
    or diag('cc-wallet-sim exited ' . ($faulty->{w}{exit_code} // '?') . ': ' . substr(worker_stderr($faulty->{w}), -2000));
is($rc, 0, "10,000 awards, fail 20% drop 5% (seed $seed): exit 0") or diag substr($err, -3000);
like($err, qr/done: 10000 credited/, 'all credited');
is_deeply([ check_paid_http('big', \%big, $faulty->{statement}) ], [],
          "each exactly once at the wallet and in the ledger (seed $seed)");
is_deeply(ledger_pending_sums(qr/^(pool:big|clearing:big)$/), {}, 'nothing pending');
($rc, $out, $err, $doc) = reconcile_money($bfile, '--statement', $faulty->{statement});
is($rc, 0, 'the three-way reconcile passes') or diag substr("$out$err", 0, 3000);
sim_stop($faulty);
like(worker_stderr($faulty->{w}), qr/stopping: 10000 applied \(0 written twice\), (\d+) replayed, 0 conflicts, [1-9]\d+ failed \(503\), [1-9]\d* dropped/,
     'the wallet saw failures, drops and replays');
my ($replayed, $dropped) = worker_stderr($faulty->{w}) =~ /(\d+) replayed.*?(\d+) dropped/;
cmp_ok($replayed, '>=', $dropped, 'each dropped credit came back with its key and was replayed, not applied again');
note('10,000 in ' . (time - $t0) . ' s');

done_testing();
