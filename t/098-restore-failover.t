# Issue 18, Redis: a real failover that loses acknowledged flips, then
# cc-reconcile --restore through Sentinel.  One Redis shard (the module's
# cc_redis_shards holds shard 0 alone, so the ring of one shard sends every
# user there whatever it is named), a replica and three Sentinels; the
# replica is frozen (SIGSTOP) and its link cut (CLIENT KILL TYPE replica) while users flip and
# combine, answered 200, into Kafka and MySQL; the master is killed, the
# replica resumed and promoted without those flips.  cc-reconcile --lost
# (asking the Sentinels for the master) finds exactly them, --restore puts
# them back, a retry of a lost request replays its original answer through
# nginx on the new master, a second --restore is a no-op.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use CcTest::Sentinel;

mysql_start();
kafka_start(partitions => 4);
run_worker([ 'cc-ingest', '--init-shards', map { ('--mysql', $_) } mysql_shards() ], timeout => 20, ok => 1);
sub app_nginx {
    my ($port) = @_;
    local $ENV{TEST_NGINX_REDIS_SHARD0} = "127.0.0.1:$port";
    start_nginx(undef, http_config => on_shard0('cc_kafka_brokers $TEST_KAFKA_BROKERS;', "    cc_cards 1 1 1 1 1;\n"),
                config => CcTest::NginxConf::app_locations());
}
app_nginx(redis_port(0));
my $ingest = start_ingest();
my $g = sentinel_group(name => 'cc0', shard => 0);
my @via = ((map { ('--sentinel', $_) } split ' ', $g->sentinels), '--redis', 'cc0',
           map { ('--mysql', $_) } mysql_shards());
my $old = $g->primary;
my ($replica) = $g->replicas;

my @users = (1 .. 10);
grant_users(1, 10, 6);
my %answer;
sub flip {
    my ($u, $k) = @_;
    my ($st, $body) = http_request('POST', "/cc/flip?request_id=f${u}_$k", { 'X-CC-Uid' => $u });
    die "flip $u $k: $st $body" unless $st == 200;
    $answer{"f${u}_$k"} = $body;
}
for my $u (@users) { flip($u, $_) for 1 .. 3 }
ok(wait_until(sub { ($g->cmd($replica, 'HGET', user_key(10), 's') // 0) == 3 }, 10), 'the replica has the first flips');

# ---- replication cut: flips and a combine answered 200 ------------------------------

# the replica frozen and its link dropped by the master: what follows
# stays in the master's backlog, never sent
$g->stop($replica);
$g->cmd($old, 'CLIENT', 'KILL', 'TYPE', 'replica');
for my $u (@users) { flip($u, $_) for 4 .. 6 }
# every user with a full set combines: the cards are random, so any
# number of them (0..10) may; each combine is lost with the flips
my @comb = grep {
    my ($st, $b) = http_request('POST', "/cc/combine?request_id=set$_", { 'X-CC-Uid' => $_ });
    $st == 200 && $b =~ /"combined":true/
} @users;
ok(wait_until(sub { !state_diff(@users) }, 20), 'every flip and the ' . scalar(@comb) . ' combines in MySQL (Kafka)');
my %before = map { ($_ => { @{ $g->cmd($old, 'HGETALL', user_key($_)) } }) } @users;

$g->kill($old);
$g->resume($replica);
my $new = $g->wait_promotion($old, 40);
is($new, $replica, 'the master killed, the replica that missed 30 flips promoted');
is($g->cmd($new, 'HGET', user_key(1), 's'), 3, 'it lacks them: s is 3, not 6');

# ---- found, restored ---------------------------------------------------------------

my $nc = @comb;
my ($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, '--lost', @via ], timeout => 30);
is($rc, 1, 'cc-reconcile --lost through Sentinel: exit 1') or diag $err;
like($err, qr/lost: 10 users compared; 30 draws and $nc combines in MySQL that their Redis shard lacks \(draws [\d: ]+\)/,
     "the 30 lost flips and the $nc combines, with a sample");
my @sample = split ' ', ($err =~ /\(draws ([\d: ]+)\)/)[0] // '';
is(scalar(grep { /^(\d+):([456])$/ && $1 >= 1 && $1 <= 10 } @sample), 8, "the sample: 8 of the lost draw ids (@sample)");
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, '--restore', @via ], timeout => 30);
is($rc, 0, 'cc-reconcile --restore: exit 0') or diag $err;
like($err, qr/restored: 30 draws, $nc combines; 0 chances over-issued/, 'all put back, no chance over-issued');
for my $u (@users) {
    my %h = @{ $g->cmd($new, 'HGETALL', user_key($u)) };
    is_deeply(\%h, $before{$u}, "uid $u: the hash as the old master had it");
}

stop_nginx();
app_nginx($new);
my ($st, $body) = http_request('POST', '/cc/flip?request_id=f4_6', { 'X-CC-Uid' => 4 });
is("$st $body", "200 $answer{f4_6}", 'a retry of a lost flip replays its original answer (nginx on the new master)');

($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, '--restore', @via ], timeout => 30);
is($rc, 0, 'a second --restore: exit 0');
like($err, qr/lost: 10 users compared; 0 draws and 0 combines/, 'Redis and MySQL agree: nothing lost');
like($err, qr/restored: 0 draws, 0 combines/, 'restores nothing');
is(stop_worker($ingest, 'TERM', 10), 0, 'cc-ingest: exit 0');

done_testing();
