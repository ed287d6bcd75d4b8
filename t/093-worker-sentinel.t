# Issue 18, Redis: the workers follow a Sentinel-managed shard.  With
# --sentinel host:port (repeated) each --redis is a master name; every
# connect asks the Sentinels in turn (one that is down is skipped), checks
# ROLE on what it reaches, and a worker that loses its master finds the
# promoted replica by itself: cc-payout's notices go on across a kill -9,
# cc-reconcile drains the new master's log.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use CcTest::Sentinel;
use IO::Socket::INET;
use POSIX ();
use PayoutTest;

payout_setup();
my $g = sentinel_group(name => 'cc0', shard => 0);
my $dead = free_port();
my @sent = ('--sentinel', "127.0.0.1:$dead", map { ('--sentinel', $_) } split ' ', $g->sentinels);
my @mysql = map { ('--mysql', $_) } mysql_shards();
my @via = (@sent, '--redis', 'cc0', @mysql);

# ---- options -----------------------------------------------------------------------

my ($rc, $out, $err) = run_worker([ 'cc-payout', '--campaign', campaign_file('s1'), @via, '--shard-of', 7 ],
                                  timeout => 10);
is($rc, 0, 'cc-payout --shard-of with --sentinel: exit 0');
like($out, qr{^7 cc0 127\.0\.0\.1:\d+/cc_s[01]$}, 'the Redis shard is the master name, not an address');
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', @sent, '--redis', '127.0.0.1:6379', @mysql ], timeout => 10);
is($rc, 2, 'with --sentinel, an address for --redis: exit 2');
like($err, qr/bad --redis "127\.0\.0\.1:6379", expected a Sentinel master name \(\[A-Za-z0-9._-\], 1\.\.64\)/,
     'and why');

# ---- -READONLY: the connection dropped, the shard asked for again ----------------------

# (the address form: the connection to shard 1 stays open while it
# becomes a replica, as a demoted master's clients can)
{
    my $w = spawn_payout([ '--idle-ms', 5, '--interval', 1, '--claims-idle-ms', 20 ], campaign_file('ro'));
    redis_cmd(1, 'REPLICAOF', '127.0.0.1', redis_port(0));
    my $p1 = redis_port(1);
    ok(wait_until(sub { worker_stderr($w) =~ /redis 127\.0\.0\.1:$p1: READONLY .*; retrying in \d+ ms/ }, 20),
       'a -READONLY answer: cc-payout drops the connection and retries (its reconnect asks again)')
        or diag worker_stderr($w);
    redis_cmd(1, 'REPLICAOF', 'NO', 'ONE');
    ok(worker_alive($w), 'without dying');
    is(stop_worker($w, 'TERM', 20), 0, 'SIGTERM: exit 0');
}

# ---- cc-payout across a failover ---------------------------------------------------------

my $C = 's1';
my $file = campaign_file($C);
sub notices {
    my ($port, @uids) = @_;
    return scalar grep { ($g->cmd($port, 'HGET', user_key($_), 'w') // '') =~ /^c:/ } @uids;
}

my $old = $g->primary;
my %a = map { ($_ => 5) } 1 .. 100;
my %b = map { ($_ => 6) } 101 .. 200;
my %later;                                   # the pool funds B too: one funding a campaign
my $bmap = shard_map(keys %b);
$later{ $bmap->{$_}[1] } += $b{$_} for keys %b;
seed_awards($C, \%a, redis => 0, extra_fund => \%later);
my $w = spawn_payout([ @via, '--idle-ms', 5, '--interval', 1, '--progress', 1, '--campaign', $file ]);
ok(wait_until(sub { notices($old, 1 .. 100) == 100 }, 30), 'cc-payout through Sentinel: 100 notices on the master')
    or diag worker_stderr($w);
ok(wait_until(sub { notices(($g->replicas)[0], 1 .. 100) == 100 }, 10), 'replicated');

$g->kill($old);
my $new = $g->wait_promotion($old, 30);
ok($new, "the master killed (kill -9), the replica promoted ($old -> " . ($new // 'none') . ')');

seed_awards($C, \%b, redis => 0, fund => 0);
ok(wait_until(sub { notices($new, 101 .. 200) == 100 }, 40),
   'cc-payout, on its own, notifies the next 100 on the new master')
    or diag worker_stderr($w);
like(worker_stderr($w), qr/redis cc0: .*retrying in/, 'it said the master was lost, and retried');
ok(worker_alive($w), 'without dying');
is(stop_worker($w, 'TERM', 20), 0, 'SIGTERM: exit 0');
is_deeply([ check_paid($C, { %a, %b }) ], [], 'each award credited exactly once');

# ---- cc-reconcile drains the new master's draw log -----------------------------------

my $ms = int(Time::HiRes::time() * 1000);
$g->cmd($new, 'XADD', log_key(), '*', 'd', "9101:1:2:$ms:after");
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, @via ], timeout => 30);
is($rc, 0, 'cc-reconcile --once through Sentinel: exit 0') or diag $err;
like($err, qr/pass done: 1 draws checked, 1 written/, 'it read the new master\'s log');
is(mysql_value('SELECT COUNT(*) FROM draws WHERE uid = 9101', shard_map(9101)->{9101}[1]), 1, 'the draw is in MySQL');

# ---- what a connect refuses ----------------------------------------------------------

($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--sentinel', "127.0.0.1:$dead", '--redis', 'cc0', @mysql ],
                                timeout => 30);
is($rc, 1, 'no Sentinel answers: the pass fails');
like($err, qr/redis cc0: sentinel 127\.0\.0\.1:$dead: Connection refused/, 'naming the Sentinel and why');
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', @sent, '--redis', 'nosuch', @mysql ], timeout => 30);
is($rc, 1, 'a name no Sentinel knows: the pass fails');
like($err, qr/redis nosuch: sentinel 127\.0\.0\.1:\d+: no such master/, 'and says so');

# a Sentinel whose answer is a replica (a stale one, mid-failover): ROLE says
# slave, the connect is refused
redis_cmd(1, 'REPLICAOF', '127.0.0.1', $new);
my $port1 = redis_port(1);
my $fake = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 5, ReuseAddr => 1)
    or die "listen: $!";
my $fport = $fake->sockport;
my $child = fork // die "fork: $!";
if ($child == 0) {
    while (my $c = $fake->accept) {
        my $buf;
        $c->sysread($buf, 4096);
        $c->syswrite("*2\r\n\$9\r\n127.0.0.1\r\n\$" . length($port1) . "\r\n$port1\r\n");
        $c->close;
    }
    POSIX::_exit(0);
}
($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--sentinel', "127.0.0.1:$fport", '--redis', 'cc0', @mysql ],
                                timeout => 30);
kill 'KILL', $child;
waitpid($child, 0);
redis_cmd(1, 'REPLICAOF', 'NO', 'ONE');
is($rc, 1, 'a Sentinel that names a replica: the pass fails');
like($err, qr/redis cc0: 127\.0\.0\.1:$port1 \(from sentinel 127\.0\.0\.1:$fport\) is not master: ROLE: slave/,
     'ROLE is checked before the master is trusted');

done_testing();
