# cc-wallet-sim, the simulated external wallet: idempotent by key, the
# signature and timestamp checked, every answer with the statement behind
# it, each injected fault at its rate from a printed seed, a restart that
# keeps the keys, bad usage.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use WalletTest;
use Digest::SHA ();

# ---- usage ------------------------------------------------------------------

my $w = spawn_worker('cc-wallet-sim');
is(wait_worker($w), 2, 'no arguments: exit 2');
like(worker_stderr($w), qr/--listen, --secret-file and --statement are required/, 'and says what is missing');
$w = spawn_worker('cc-wallet-sim', '--help');
is(wait_worker($w), 0, '--help: exit 0');
like(worker_stdout($w), qr/^usage: cc-wallet-sim .*key,uid,amount_cents,currency,applied_at_ms.*Exit status/s, 'the usage text');
my @base = ('--secret-file', wallet_secret(), '--statement', wallet_dir() . '/u.csv');
# a wallet secret its group or others may read is refused
my $open_secret = wallet_dir() . '/open.secret';
{ open my $f, '>', $open_secret or die $!; print $f 'o' x 40, "\n"; close $f; chmod 0644, $open_secret }
for my $case ([ [ '--listen', 'nohost', @base ], qr/bad --listen "nohost"/ ],
              [ [ '--listen', '::1:0', @base ], qr/bad --listen "::1:0": IPv6 address not in brackets/ ],
              [ [ '--listen', 'localhost:0', @base ], qr/bad --listen "localhost:0": not an IPv4 address or an IPv6 one in brackets/ ],
              [ [ '--listen', '127.0.0.1:65536', @base ], qr/bad --listen "127\.0\.0\.1:65536": bad port/ ],
              [ [ '--listen', '[::1:0', @base ], qr/bad --listen "\[::1:0": unclosed bracket/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--fail-pct', 101 ], qr/--fail-pct must be an integer in 0\.\.100/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--drop-pct', -1 ], qr/--drop-pct must be/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--dup-pct', 'x' ], qr/--dup-pct must be/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--delay-ms', 60001 ], qr/--delay-ms must be/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--echo-off-pct', 200 ], qr/--echo-off-pct must be/ ],
              [ [ '--listen', '127.0.0.1:0', '--secret-file', '/nonexistent', '--statement', '/tmp/x' ],
                qr/--secret-file: .*nonexistent/ ],
              [ [ '--listen', '127.0.0.1:0', '--secret-file', $open_secret, '--statement', '/tmp/x' ],
                qr/--secret-file: secret file ".*" is open to its group or others \(mode 0644\)/ ],
              [ [ '--listen', '127.0.0.1:0', '--secret-file', wallet_secret(), '--statement', '/nonexistent/dir/x' ],
                qr/--statement \/nonexistent\/dir\/x: No such file/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--forge-pct', 101 ], qr/--forge-pct must be/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--tls-cert', '/x.pem' ], qr/--tls-cert and --tls-key go together/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--tls-cert', '/nonexistent.pem', '--tls-key', '/x' ],
                qr/\/nonexistent\.pem: No such file/ ],
              [ [ '--listen', '127.0.0.1:0', @base, '--answer-secret-file', '/nonexistent' ],
                qr/--answer-secret-file: .*nonexistent/ ],
              [ [ '--listen', '127.0.0.1:0', @base, 'stray' ], qr/unexpected argument "stray"/ ]) {
    $w = spawn_worker('cc-wallet-sim', @{ $case->[0] });
    is(wait_worker($w), 2, "bad usage (@{ $case->[0] }[0..1] ...): exit 2");
    like(worker_stderr($w), $case->[1], 'and why');
}
my $badst = wallet_dir() . '/bad.csv';
{ open my $f, '>', $badst or die; print $f "k,1,5,CNY,1\nnot a line\n"; close $f }
$w = spawn_worker('cc-wallet-sim', '--listen', '127.0.0.1:0', '--secret-file', wallet_secret(), '--statement', $badst);
is(wait_worker($w), 2, 'a statement file it cannot read back: exit 2');
like(worker_stderr($w), qr/line 2 is not key,uid,amount_cents,currency,applied_at_ms/, 'with the line');

# an IPv6 listen address, in brackets as cc_addr takes it: GET /statement
# over ::1 answers the statement read back at start
{
    my $st6 = wallet_dir() . '/v6.csv';
    { open my $f, '>', $st6 or die; print $f "v6:1,1,5,CNY,1\n"; close $f }
    $w = spawn_worker('cc-wallet-sim', '--listen', '[::1]:0', '--secret-file', wallet_secret(), '--statement', $st6);
    my $port6;
    ok(wait_until(sub { (worker_stdout($w) // '') =~ /^listening \[::1\]:(\d+) seed \d+$/m and $port6 = $1 }, 10),
       '--listen [::1]:0: listening on a port of ::1') or diag(worker_stderr($w));
    require IO::Socket::IP;
    my $s6 = IO::Socket::IP->new(PeerHost => '::1', PeerPort => $port6, Timeout => 5);
    ok($s6, 'a TCP connection over ::1');
    my $raw = '';
    if ($s6) {
        print $s6 "GET /statement HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        local $/;
        $raw = <$s6> // '';
    }
    like($raw, qr{^HTTP/1\.1 200 .*\r\n\r\nv6:1,1,5,CNY,1\n\z}s, 'GET /statement over ::1: 200, the statement');
    stop_worker($w);
    like(worker_stderr($w), qr/1 keys from \Q$st6\E/, 'the key read back at start');
}

# ---- the answers ------------------------------------------------------------

my $sim = sim_start();
like($sim->{seed}, qr/^\d+$/, 'it prints its seed');
my ($st, $b) = sim_post($sim, 'c1:7', 7, 100, 'CNY');
is($st, 201, 'a new credit: 201');
like($b, qr/^\{"award_id":"c1:7","uid":"7","amount_cents":100,"currency":"CNY","status":"applied"\}$/, 'the body echoes it');
($st, $b) = sim_post($sim, 'c1:7', 7, 100, 'CNY');
is($st, 200, 'the same key and credit again: 200');
like($b, qr/"amount_cents":100,.*"status":"replayed"/, 'replayed');
($st, $b) = sim_post($sim, 'c1:7', 7, 101, 'CNY');
is($st, 409, 'the same key, another amount: 409');
like($b, qr/"error":"conflict".*"amount_cents":100/, 'with the amount applied');
($st) = sim_post($sim, 'c1:7', 8, 100, 'CNY');
is($st, 409, 'the same key, another uid: 409');
($st) = sim_post($sim, 'c1:7', 7, 100, 'USD');
is($st, 409, 'the same key, another currency: 409');
($st, $b) = sim_post($sim, 'c1:8', 8, 100, 'CNY', secret => 'x' x 40);
is($st, 401, 'a wrong signature: 401');
like($b, qr/bad_signature/, 'bad_signature');
($st, $b) = sim_post($sim, 'c1:8', 8, 100, 'CNY', ts => int(time * 1000) - 600000);
is($st, 401, 'a timestamp 10 minutes old: 401');
like($b, qr/stale_timestamp/, 'stale_timestamp');
($st, $b) = sim_post($sim, 'c1:8', 8, 100, 'CNY', key_header => 'c1:9');
is($st, 400, 'Idempotency-Key not the award id: 400');
($st) = sim_post($sim, 'c1:8', 8, 0, 'CNY');
is($st, 400, 'amount 0: 400');
($st) = sim_post($sim, 'c1:8', 8, 1.5, 'CNY');
is($st, 400, 'amount 1.5: 400');
($st) = sim_post($sim, 'c1:8', 0, 5, 'CNY');
is($st, 400, 'uid 0: 400');
($st) = sim_post($sim, 'c1:8', 8, 5, 'cny');
is($st, 400, 'currency cny: 400');
($st) = sim_post($sim, 'c1:8', 8, 5, 'CNY', body => '{not json');
is($st, 400, 'not JSON: 400');
($st) = sim_post($sim, 'a,b', 8, 5, 'CNY');
is($st, 400, 'a key with a comma (the statement is CSV): 400');
($st, $b) = http_request('GET', "$sim->{url}/nope");
is($st, 404, 'another path: 404');
is_deeply(statement_lines($sim->{statement}),
          [ [ 'c1:7', 7, 100, 'CNY', statement_lines($sim->{statement})->[0][4] ] ],
          'the statement: one line, the one credit applied');
like(statement_lines($sim->{statement})->[0][4], qr/^\d{13}$/, 'applied_at in ms');
($st, $b) = http_request('GET', "$sim->{url}/statement");
is($st, 200, 'GET /statement: 200');
like($b, qr/^c1:7,7,100,CNY,\d{13}\n\z/, 'the same lines');

# a restart keeps the keys: the statement is read back
is(sim_stop($sim), 0, 'SIGTERM: exit 0');
like(worker_stderr($sim->{w}), qr/stopping: 1 applied \(0 written twice\), 1 replayed, 3 conflicts, 0 failed \(503\), 0 dropped, 2 rejected/,
     'its counts');
my $sim2 = sim_start(statement => $sim->{statement});
($st) = sim_post($sim2, 'c1:7', 7, 100, 'CNY');
is($st, 200, 'after a restart the key is known: 200');
($st) = sim_post($sim2, 'c1:7', 7, 99, 'CNY');
is($st, 409, 'and a conflict still 409');
is(scalar @{ statement_lines($sim->{statement}) }, 1, 'still one line');
sim_stop($sim2);

# ---- the signatures: of the call (method, path, key, ts, body), of every answer --

{
    my $s = sim_start();
    my $body = '{"award_id":"sg:1","uid":"1","amount_cents":5,"currency":"CNY"}';
    my $ts = int(time * 1000);
    my %h = ('Idempotency-Key' => 'sg:1', 'X-CC-Timestamp' => $ts, 'Content-Type' => 'application/json');
    # the old form, over the timestamp and the body only: refused
    my ($st, $b, $hd) = http_request('POST', "$s->{url}/credits",
        { %h, 'X-CC-Signature' => Digest::SHA::hmac_sha256_hex("$ts\n$body", $WalletTest::SECRET_TEXT) }, $body, 10);
    is($st, 401, 'a call signed over the timestamp and body only (the old form): 401');
    ok(answer_signed($st, $b, $hd, 'sg:1'), 'the 401 is signed by the wallet');
    # signed for another path, another key, another method: refused
    for my $c ([ path => '/statement' ], [ key => 'sg:2' ], [ method => 'PUT' ]) {
        my (undef, $sig) = sign_body($body, key => 'sg:1', ts => $ts, @$c);
        ($st) = http_request('POST', "$s->{url}/credits", { %h, 'X-CC-Signature' => $sig }, $body, 10);
        is($st, 401, "signed with another $c->[0] ($c->[1]): 401");
    }
    ($st, $b, $hd) = sim_post($s, 'sg:1', 1, 5, 'CNY');
    is($st, 201, 'the same call signed over method, path, key, ts and body: 201');
    ok(answer_signed($st, $b, $hd, 'sg:1'), 'the 201 signed over status, key, timestamp and body');
    ok(!answer_signed(200, $b, $hd, 'sg:1'), 'not a signature of another status');
    ok(!answer_signed($st, $b, $hd, 'sg:2'), 'nor of another key');
    ok(!answer_signed($st, "$b ", $hd, 'sg:1'), 'nor of another body');
    ($st, $b, $hd) = sim_post($s, 'sg:1', 1, 5, 'CNY');
    ok($st == 200 && answer_signed($st, $b, $hd, 'sg:1'), 'the replay (200) signed');
    ($st, $b, $hd) = sim_post($s, 'sg:1', 1, 6, 'CNY');
    ok($st == 409 && answer_signed($st, $b, $hd, 'sg:1'), 'the conflict (409) signed');
    ($st, $b, $hd) = sim_post($s, 'sg:3', 3, 0, 'CNY');
    ok($st == 400 && answer_signed($st, $b, $hd, 'sg:3'), 'a malformed call (400) answered signed');
    sim_stop($s);

    # a separate answer key
    my $akey = wallet_dir() . '/answer.secret';
    { open my $f, '>', $akey or die; print $f 'A' x 40, "\n"; close $f; chmod 0600, $akey }
    $s = sim_start(answer_secret => $akey);
    ($st, $b, $hd) = sim_post($s, 'sg:4', 4, 5, 'CNY');
    is($st, 201, '--answer-secret-file: the call still checked with --secret-file');
    ok(answer_signed($st, $b, $hd, 'sg:4', 'A' x 40), 'the answer signed with the answer key');
    ok(!answer_signed($st, $b, $hd, 'sg:4'), 'not with the call key');
    sim_stop($s);

    # a man in the middle: 201 "applied", nothing applied, unsigned then wrongly signed
    $s = sim_start(forge => 100);
    my @sig;
    for my $i (1 .. 4) {
        ($st, $b, $hd) = sim_post($s, "mm:$i", $i, 5, 'CNY');
        is($st, 201, "--forge-pct 100: call $i answered 201");
        like($b, qr/"award_id":"mm:$i".*"amount_cents":5.*"status":"applied"/, 'echoing the credit as applied');
        my %lc = map { (lc($_) => $hd->{$_}) } keys %$hd;
        push @sig, defined $lc{'x-cc-signature'} ? 'wrong' : 'none';
        ok(!answer_signed($st, $b, $hd, "mm:$i"), 'but not signed by the wallet');
    }
    is("@sig", 'none wrong none wrong', 'unsigned and wrongly signed in turn');
    is_deeply(statement_lines($s->{statement}), [], 'and nothing applied: the statement is empty');
    sim_stop($s);
    like(worker_stderr($s->{w}), qr/stopping: 0 applied .* 4 forged/, 'its counts');
}

# ---- https: --tls-cert and --tls-key ---------------------------------------------

{
    my $tls = make_tls();
    my $other = make_tls(name => 'other');
    my $s = sim_start(tls => $tls);
    like($s->{url}, qr{^https://127\.0\.0\.1:\d+$}, 'with a certificate: an https url');
    my $curl = sub { my $out = `curl -sS --max-time 10 @_ 2>&1`; return ($? >> 8, $out) };
    my ($rc, $out) = $curl->('--cacert', $tls->{ca}, "$s->{url}/statement");
    is($rc, 0, 'GET /statement over https, the certificate checked against our CA') or diag($out);
    ($rc, $out) = $curl->('--cacert', $other->{ca}, "$s->{url}/statement");
    isnt($rc, 0, 'against another CA: refused');
    like($out, qr/certificate|SSL/i, 'for its certificate');
    ($rc, $out) = $curl->('--cacert', $tls->{ca}, "https://localhost:$s->{port}/statement");
    is($rc, 0, 'by the name localhost too (in the certificate)') or diag($out);
    my ($st) = http_request('GET', "http://127.0.0.1:$s->{port}/statement", {}, undef, 5);
    ok(!defined $st || $st != 200, 'plain http to it: no statement');
    sim_stop($s);
}

# ---- faults, from a seed ------------------------------------------------------

my $seed = $ENV{CC_TEST_SEED} // int(rand 1e9);
diag("faults seed $seed (CC_TEST_SEED=$seed to repeat)");
my $f = sim_start(fail => 20, drop => 10, dup => 10, seed => $seed);
is($f->{seed}, $seed, 'it uses the seed given');
my %n = (201 => 0, 503 => 0, none => 0);
my @failed;
for my $i (1 .. 400) {
    my ($s) = sim_post($f, "f:$i", $i, 10 + $i, 'CNY');
    $n{ $s // 'none' }++;
    push @failed, "f:$i" if ($s // 0) == 503;
}
my $keys = statement_keys($f->{statement});
my $twice = grep { $_ == 2 } values %$keys;
diag("seed $seed: 201 $n{201}, 503 $n{503}, dropped $n{none}, written twice $twice");
ok($n{503} > 40 && $n{503} < 130, "about 20% answered 503 ($n{503} of 400)");
ok($n{none} > 10 && $n{none} < 70, "about 10% of the rest dropped, no answer ($n{none})");
is($n{201} + $n{503} + $n{none}, 400, 'nothing else');
is(scalar keys %$keys, $n{201} + $n{none}, 'the applied = answered 201 + dropped: a drop applies first');
is_deeply([ grep { $keys->{$_} } @failed ], [], 'no key answered 503 is in the statement');
ok($twice > 10 && $twice < 60, "about 10% of applied written twice ($twice)");
ok(!grep({ $_ > 2 } values %$keys), 'never more than twice');
# a retry of every key with no faults left: each applied once more at most
sim_stop($f);
my $g = sim_start(statement => $f->{statement});
my %again;
for my $i (1 .. 400) {
    my ($s) = sim_post($g, "f:$i", $i, 10 + $i, 'CNY');
    $again{$s}++;
}
is($again{200}, scalar keys %$keys, 'retried: the applied ones answer 200 (replayed)');
is($again{201}, 400 - keys %$keys, 'the 503 ones are applied now');
is(scalar keys %{ statement_keys($f->{statement}) }, 400, 'every key once in the statement now');
sim_stop($g);

# a body over CC_SIM_BODY_MAX (4096) on the credit, and over the batch's
# limit on a batch: 413 body_too_large (cc_sim_request_check), signed
# or not, and nothing applied
my $big = sim_start();
my $pad = 'x' x 5000;
my ($bs, $bb) = sim_post($big, 'big:1', 1, 10, 'CNY',
                         body => qq({"award_id":"big:1","uid":"1","amount_cents":10,"currency":"CNY","pad":"$pad"}));
is($bs, 413, 'a credit body over 4096 bytes: 413');
like($bb, qr/"error":"body_too_large"/, '... body_too_large');
my $huge = 'y' x (1024 * 1024 + 10);
($bs, $bb) = sim_batch($big, 'BIG', [], body => qq({"out_batch_no":"BIG","pad":"$huge"}));
is($bs, 413, 'a batch body over 1 MiB: 413');
like($bb, qr/"error":"body_too_large"/, '... body_too_large');
is(scalar keys %{ statement_keys($big->{statement}) }, 0, 'nothing applied');
sim_stop($big);

done_testing();
