# Issue 18, Redis: award fields a failover lost.  A paid campaign (cc-draw,
# then cc-payout) whose users' field w is then lost (HDEL) or rolled back
# to pending ("p:...") as a promoted replica would have it:
# cc-reconcile --money finds them (status_mismatch), --repair writes them
# again from MySQL through award_set.lua (never backwards), and the next
# run is clean.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use DrawTest;
use JSON::PP;

draw_setup();
my $C = 'wf1';
my @users = (1 .. 40);
make_eligible(60000, @users);
my $file = draw_campaign($C, pool => 40 * 9 + 3, split => 'equal');
my ($rc, $out, $err) = draw_run($file);
is($rc, 0, 'drawn') or diag $err;
($rc, undef, $err) = payout_run([ '--once' ], $file);
is($rc, 0, 'paid') or diag $err;
my $awards = awards_of($C);
my %amount = map { ($_ => $awards->{$_}[0]) } keys %$awards;
is_deeply([ check_redis($C, \%amount, 'c') ], [], 'every field w is c:...');

my $json = CcTest::Util::topdir() . '/money.json';
sub money {
    my (@extra) = @_;
    unlink $json;
    my ($rc, $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $file, shard_args(),
                                        '--json', $json, @extra ], timeout => 120);
    my $doc = -e $json ? eval { decode_json(CcTest::Util::_slurp($json)) } : undef;
    return ($rc, $out, $err, $doc // {});
}
($rc, $out, $err, my $doc) = money();
is($rc, 0, 'the paid campaign is clean') or diag $err, $out;

# ---- the loss ------------------------------------------------------------------------

my $map = shard_map(@users);
my ($gone, $behind) = (3, 7);
my $rg = redis_index($map->{$gone}[0]);
my $rb = redis_index($map->{$behind}[0]);
redis_cmd($rg, 'HDEL', user_key($gone), 'w');
redis_cmd($rb, 'HSET', user_key($behind), 'w', "p:$amount{$behind}:$C:$behind");

($rc, $out, $err, $doc) = money();
is($rc, 1, 'cc-reconcile --money: exit 1');
is_deeply([ sort map { "$_->{class} $_->{uid} $_->{found}" } @{ $doc->{breaks} } ],
          [ sort "status_mismatch $gone none", "status_mismatch $behind p:$amount{$behind}:$C:$behind" ],
          'two status_mismatch breaks: the field gone, the field behind MySQL');

($rc, $out, $err, $doc) = money('--repair');
is($rc, 1, '--repair: exit 1 (the breaks were found)');
like($err, qr/repaired 2 of 2 award field\(s\) w in Redis/, 'and both fields written again');
is(redis_cmd($rg, 'HGET', user_key($gone), 'w'), "c:$amount{$gone}:$C:$gone", 'the lost field is c:... again');
is(redis_cmd($rb, 'HGET', user_key($behind), 'w'), "c:$amount{$behind}:$C:$behind", 'the field behind is c:...');
is_deeply([ check_redis($C, \%amount, 'c') ], [], 'every field w as MySQL says');
is_deeply([ check_paid($C, \%amount) ], [], 'the money untouched: each award credited once');

($rc, $out, $err, $doc) = money('--repair');
is($rc, 0, 'a second --repair: clean, exit 0') or diag $err;
like($err, qr/repaired 0 of 0 award field\(s\) w in Redis/, 'nothing to write');
is_deeply($doc->{breaks}, [], 'no break');

done_testing();
