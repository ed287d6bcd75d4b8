# cc-wallet-sim's batch API (issue 20): a signed batch accepted once per
# out_batch_no (the same batch again: its status; another under the same
# number: 409), processed after --process-ms, queried with its details;
# a detail number is a key across batches and credits (never applied
# twice), a failed detail comes again in a later batch and is applied
# then; every refusal (unsigned, malformed, too many details, a detail
# twice, a key not the batch's); the journal read back at a restart,
# nothing it accepted lost; the faults per batch and per detail.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use WalletTest;
use JSON::PP;

# ---- usage ------------------------------------------------------------------

my @base = ('--listen', '127.0.0.1:0', '--secret-file', wallet_secret(), '--statement', wallet_dir() . '/u.csv');
for my $case ([ [ @base, '--process-ms', 600001 ], qr/--process-ms must be an integer in 0\.\.600000/ ],
              [ [ @base, '--batch-max', 0 ], qr/--batch-max must be an integer in 1\.\.100000/ ],
              [ [ @base, '--twice-pct', 101 ], qr/--twice-pct must be/ ],
              [ [ @base, '--stray-pct', -1 ], qr/--stray-pct must be/ ],
              [ [ @base, '--batch-journal', '/nonexistent/dir/j' ], qr/--batch-journal \/nonexistent\/dir\/j: No such file/ ]) {
    my $w = spawn_worker('cc-wallet-sim', @{ $case->[0] });
    is(wait_worker($w), 2, "bad usage (@{ $case->[0] }[6..7]): exit 2");
    like(worker_stderr($w), $case->[1], 'and why');
}
my $badj = wallet_dir() . '/bad.batches';
{ open my $f, '>', $badj or die; print $f "B,b1,CNY,1,5,1,k|1|5\nnonsense\n"; close $f }
my $w = spawn_worker('cc-wallet-sim', @base, '--batch-journal', $badj);
is(wait_worker($w), 2, 'a journal it cannot read back: exit 2');
like(worker_stderr($w), qr/bad\.batches: line 2 is not a batch or a detail's result/, 'with the line');

# ---- a batch: accepted, processed, queried -------------------------------------------

my $sim = sim_start(process => 300);
my @d1 = map { [ "b:$_", $_, 100 + $_ ] } 1 .. 5;
my ($st, $body, $h) = sim_batch($sim, 'B1', \@d1);
is($st, 201, 'a new batch: 201');
ok(answer_signed($st, $body, $h, 'B1'), 'signed over its number');
my $j = decode_json($body);
is_deeply([ @$j{qw(out_batch_no status total_num total_amount)} ], [ 'B1', 'PROCESSING', 5, 515 ],
          'its number, PROCESSING, its counts');
my $jl = journal_lines($sim->{journal});
is(scalar(grep { $_->[0] eq 'B' && $_->[1] eq 'B1' } @$jl), 1, 'journalled before the answer');
is(scalar @{ statement_lines($sim->{statement}) }, 0, 'nothing applied yet (processed later)');
($st, $body, $h) = sim_query($sim, 'B1');
is($st, 200, 'queried at once: 200');
ok(answer_signed($st, $body, $h, 'B1'), 'signed');
$j = decode_json($body);
is($j->{status}, 'PROCESSING', 'still PROCESSING');
is_deeply([ map { $_->{status} } @{ $j->{details} } ], [ ('PROCESSING') x 5 ], 'each detail PROCESSING');
($st, $body) = sim_batch($sim, 'B1', \@d1);
is($st, 200, 'the same batch again: 200');
is(decode_json($body)->{out_batch_no}, 'B1', 'the same batch');
($st, $body) = sim_batch($sim, 'B1', [ @d1[0 .. 3], [ 'b:5', 5, 999 ] ]);
is($st, 409, 'another content under the same number: 409');
like($body, qr/"error":"batch_conflict"/, 'batch_conflict');
wait_until(sub { decode_json((sim_query($sim, 'B1'))[1])->{status} eq 'FINISHED' }, 10)
    or fail('B1 processed');
($st, $body) = sim_query($sim, 'B1');
$j = decode_json($body);
is_deeply([ @$j{qw(status success_num fail_num)} ], [ 'FINISHED', 5, 0 ], 'FINISHED: 5 succeeded');
is_deeply([ map { "$_->{out_detail_no} $_->{uid} $_->{amount_cents} $_->{status}" } @{ $j->{details} } ],
          [ map { "$_->[0] $_->[1] $_->[2] SUCCESS" } @d1 ], 'each detail with its uid, amount and SUCCESS');
is_deeply(statement_keys($sim->{statement}), { map { ($_->[0] => 1) } @d1 }, 'the statement: each detail once');
($st, $body) = sim_query($sim, 'B1', path => '/batches/B1');
is($st, 200, 'GET /batches/B1: the batch alone');
$j = decode_json($body);
ok(!exists $j->{details} && $j->{status} eq 'FINISHED', 'without its details');

# a detail number is a key: in a second batch, and as a credit
my ($cst) = sim_post($sim, 'b:6', 6, 106, 'CNY');
is($cst, 201, 'b:6 applied as a credit');
($st) = sim_batch($sim, 'B2', [ [ 'b:1', 1, 101 ], [ 'b:6', 6, 106 ], [ 'b:7', 7, 107 ], [ 'b:8', 8, 1 ] ]);
is($st, 201, 'B2 holds b:1 (paid in B1), b:6 (paid as a credit) and b:7');
($st) = sim_post($sim, 'b:8', 8, 2, 'CNY');
is($st, 201, 'b:8 applied as a credit of 2 before B2 is processed (B2 has 1)');
wait_until(sub { decode_json((sim_query($sim, 'B2'))[1])->{status} eq 'FINISHED' }, 10) or fail('B2 processed');
$j = decode_json((sim_query($sim, 'B2'))[1]);
is_deeply([ map { "$_->{out_detail_no} $_->{status}" . ($_->{fail_reason} ? " $_->{fail_reason}" : '') } @{ $j->{details} } ],
          [ 'b:1 SUCCESS', 'b:6 SUCCESS', 'b:7 SUCCESS', 'b:8 FAIL key_conflict' ],
          'the keys paid before SUCCESS, b:8 with another amount FAIL key_conflict');
my $k = statement_keys($sim->{statement});
is_deeply([ map { $k->{"b:$_"} } 1, 6, 7, 8 ], [ 1, 1, 1, 1 ], 'no key twice in the statement');

# ---- refusals ------------------------------------------------------------------------

($st, $body, $h) = sim_batch($sim, 'B3', \@d1, secret => 'x' x 40);
is($st, 401, 'signed with another secret: 401');
like($body, qr/bad_signature/, 'bad_signature');
ok(answer_signed($st, $body, $h, 'B3'), 'the refusal signed too');
($st, $body) = sim_batch($sim, 'B3', \@d1, key_header => 'B4');
is($st, 400, 'an Idempotency-Key that is not the body\'s out_batch_no: 400');
like($body, qr/bad_batch/, 'bad_batch');
($st, $body) = sim_batch($sim, 'B3', [ [ 'b:9', 9, 1 ], [ 'b:9', 9, 1 ] ]);
is($st, 400, 'a detail number twice: 400');
like($body, qr/detail_twice/, 'detail_twice');
($st, $body) = sim_batch($sim, 'B3', \@d1, total => 1);
is($st, 400, 'a total_amount that is not the details\' sum: 400');
($st, $body) = sim_batch($sim, 'B3', [ [ 'b,9', 9, 1 ] ]);
is($st, 400, 'a detail number with a comma: 400');
($st, $body) = sim_batch($sim, 'B3', [ [ 'b:9', 0, 1 ] ]);
is($st, 400, 'uid 0: 400');
($st, $body) = sim_batch($sim, 'B3', [ [ 'b:9', 9, 0 ] ]);
is($st, 400, 'amount 0: 400');
($st, $body) = sim_batch($sim, 'B3', [], body => '{"out_batch_no":"B3"');
is($st, 400, 'not JSON: 400');
($st, $body, $h) = sim_query($sim, 'NOPE');
is($st, 404, 'an unknown batch: 404');
like($body, qr/no_such_batch/, 'no_such_batch');
ok(answer_signed($st, $body, $h, 'NOPE'), 'signed: the payer may send it again');
($st, $body) = sim_query($sim, 'B1', key_header => 'B2');
is($st, 400, 'a query whose Idempotency-Key is another batch: 400');
like($body, qr/key_not_the_batch/, 'key_not_the_batch');
($st, $body) = sim_query($sim, 'B1', secret => 'y' x 40);
is($st, 401, 'a query signed with another secret: 401');
sim_stop($sim);

my $small = sim_start(batch_max => 3);
($st, $body) = sim_batch($small, 'B5', \@d1);
is($st, 400, '5 details over --batch-max 3: 400');
like($body, qr/too_many_details/, 'too_many_details');
sim_stop($small);

# ---- a restart keeps every accepted batch, processes what was not ------------------

my $slow = sim_start(process => 60000);
my @d6 = map { [ "r:$_", $_, 10 + $_ ] } 1 .. 50;
($st) = sim_batch($slow, 'B6', \@d6);
is($st, 201, 'B6 accepted by a wallet that processes after a minute');
kill 'KILL', $slow->{w}{pid};
wait_worker($slow->{w}, 10);
my $back = sim_start(statement => $slow->{statement}, process => 0);
# its log line comes after "listening" (which sim_start waits for)
ok(wait_until(sub { worker_stderr($back->{w}) =~ /1 batches from/ }, 10), 'restarted: the batch read back')
    or diag worker_stderr($back->{w});
wait_until(sub { decode_json((sim_query($back, 'B6'))[1])->{status} eq 'FINISHED' }, 10) or fail('B6 processed');
$k = statement_keys($back->{statement});
is_deeply([ map { $k->{"r:$_"} // 0 } 1 .. 50 ], [ (1) x 50 ], 'processed after the restart: each detail once');
($st) = sim_batch($back, 'B6', \@d6);
is($st, 200, 'B6 sent again: the same batch, 200');
sim_stop($back);
my $again = sim_start(statement => $slow->{statement}, process => 0);
$j = decode_json((sim_query($again, 'B6'))[1]);
is_deeply([ $j->{status}, $j->{success_num} ], [ 'FINISHED', 50 ], 'a second restart: B6 FINISHED, its results kept');
is(scalar @{ statement_lines($again->{statement}) }, 50, 'nothing applied again');
sim_stop($again);

# ---- faults per detail and per batch -------------------------------------------------

my $f = sim_start(fail => 50, twice => 50, stray => 100, seed => 7, process => 0);
my @d7 = map { [ "f:$_", $_, 5 ] } 1 .. 200;
($st) = sim_batch($f, 'B7', \@d7);
is($st, 201, 'B7 accepted');
wait_until(sub { decode_json((sim_query($f, 'B7'))[1])->{status} eq 'FINISHED' }, 10) or fail('B7 processed');
$j = decode_json((sim_query($f, 'B7'))[1]);
my %res;
$res{ $_->{out_detail_no} }{ $_->{status} }++ for @{ $j->{details} };
my @failed = grep { $res{$_}{FAIL} } sort keys %res;
ok(@failed > 60 && @failed < 140, scalar(@failed) . ' of 200 details failed (--fail-pct 50)');
ok(scalar(@{ $j->{details} }) > 240, scalar(@{ $j->{details} }) . ' listed: some twice (--twice-pct 50)');
ok(exists $res{'stray:B7'}, 'and one the batch never held (--stray-pct 100)');
is(scalar(grep { $res{$_}{FAIL} && $res{$_}{SUCCESS} } keys %res), 0, 'a detail listed twice has one status');
$k = statement_keys($f->{statement});
is(scalar(grep { $k->{$_} } @failed), 0, 'the failed ones not applied');
sim_stop($f);
my $ok = sim_start(statement => $f->{statement}, process => 0);
($st) = sim_batch($ok, 'B8', [ map { [ $_, substr($_, 2), 5 ] } @failed ]);
is($st, 201, 'the failed details in a later batch B8, under the same numbers');
wait_until(sub { decode_json((sim_query($ok, 'B8'))[1])->{status} eq 'FINISHED' }, 10) or fail('B8 processed');
$k = statement_keys($ok->{statement});
is_deeply([ grep { ($k->{$_} // 0) != 1 } map { "f:$_" } 1 .. 200 ], [], 'now every detail of B7 applied exactly once');
sim_stop($ok);

my $d = sim_start(drop => 100, process => 0);
($st) = sim_batch($d, 'B9', [ [ 'd:1', 1, 5 ] ]);
ok(!defined $st, 'a batch accepted, the connection dropped (--drop-pct 100): no answer');
wait_until(sub { (statement_keys($d->{statement})->{'d:1'} // 0) == 1 }, 10);
is(statement_keys($d->{statement})->{'d:1'}, 1, 'yet accepted and processed');
sim_stop($d);

my $m = sim_start(forge => 100, process => 0);
($st, $body, $h) = sim_batch($m, 'B10', [ [ 'm:1', 1, 5 ] ]);
is($st, 201, 'a man in the middle answers 201');
ok(!answer_signed($st, $body, $h, 'B10'), 'not signed by the wallet');
($st, $body, $h) = sim_batch($m, 'B10', [ [ 'm:1', 1, 5 ] ]);
ok(!answer_signed($st, $body, $h, 'B10'), 'nor the next (wrongly signed)');
sleep 1;
is(scalar @{ statement_lines($m->{statement}) }, 0, 'nothing accepted, nothing applied');
sim_stop($m);

done_testing();
