# cc-reconcile against a Redis shard on the IPv6 loopback, named as the
# module names it: --redis [::1]:PORT.  The harness's shards bind
# 127.0.0.1, so this file starts its own redis-server on ::1.  Also the
# addresses cc-reconcile must refuse at start, each with cc_addr's reason.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use File::Temp qw(tempdir);
use IO::Socket::IP;
use IPC::Run ();

# ::1 must take a listener, or there is nothing to test here
my $probe = IO::Socket::IP->new(LocalHost => '::1', LocalPort => 0, Listen => 1);
plan skip_all => "no IPv6 loopback here: $@" unless $probe;
my $port = $probe->sockport;
close $probe;

my $dir = tempdir('cc016-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $redis = spawn_worker('/usr/bin/redis-server', '--port', $port, '--bind', '::1',
                         '--save', '', '--appendonly', 'no', '--dir', $dir);

sub cli {
    my ($out, $err) = ('', '');
    IPC::Run::run([ 'redis-cli', '-h', '::1', '-p', $port, @_ ], '<', \undef,
                  '>', \$out, '2>', \$err, IPC::Run::timeout(10)) or die "redis-cli @_: $err";
    chomp $out;
    return $out;
}

ok(wait_until(sub { (eval { cli('PING') } // '') eq 'PONG' }, 5), "redis-server answers on [::1]:$port");

my $p = mysql_start();
my @mysql = ('--mysql', "127.0.0.1:$p/cc_v6");
my $init = spawn_worker('cc-ingest', '--init-shards', @mysql);
is(wait_worker($init, 20), 0, 'the MySQL shard is created') or diag(worker_stderr($init));

# a flip batch of two draws and a combine, as the flip script writes them
my $ms = int(time * 1000) - 5000;
cli('XADD', log_key(), '*', 'd', join "\n", "6001:1:2:$ms:v6-a", "6001:2:3:$ms:v6-b");
cli('XADD', log_key(), '*', 'y', 'c', 'u', 6001, 'r', 'v6-c', 't', $ms);
is(cli('XLEN', log_key()), 2, 'the log holds the two entries');

sub reconcile {
    my ($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, @_, @mysql ], timeout => 30);
    return ($rc, $err);
}

my ($rc, $err) = reconcile('--redis', "[::1]:$port");
is($rc, 0, 'cc-reconcile --redis [::1]:PORT exits 0') or diag($err);
like($err, qr/redis \[::1\]:$port: 3 draws checked, 3 were missing from MySQL/, 'it read the shard on ::1');
like($err, qr/pass done: 3 draws checked, 3 written, 0 unreadable, 0 shard\(s\) failed/, 'and wrote what it read');
is_deeply(mysql_query('SELECT uid, seq, card, request_id, drawn_at FROM draws ORDER BY seq', 'cc_v6'),
          [ [6001, 1, 2, 'v6-a', $ms], [6001, 2, 3, 'v6-b', $ms] ], 'MySQL: the two draws');
is_deeply(mysql_query('SELECT card, n FROM user_cards WHERE uid = 6001 ORDER BY card', 'cc_v6'),
          [ [2, 1], [3, 1] ], 'MySQL: the card counts');
is_deeply(mysql_query('SELECT uid, request_id, combined_at FROM eligibility', 'cc_v6'),
          [ [6001, 'v6-c', $ms] ], 'MySQL: the combine');
is(cli('XLEN', log_key()), 0, 'Redis: the log is trimmed');

# the same draws again insert nothing
cli('XADD', log_key(), '*', 'd', "6001:1:2:$ms:v6-a");
($rc, $err) = reconcile('--redis', "[::1]:$port");
is($rc, 0, 'a second pass exits 0');
like($err, qr/pass done: 1 draws checked, 0 written/, 'a draw MySQL has is checked, not written');
is(mysql_value('SELECT COUNT(*) FROM draws', 'cc_v6'), 2, 'MySQL: still two draws');

# MySQL away: the pass backs off and retries until it is back
cli('XADD', log_key(), '*', 'd', "6001:3:4:$ms:v6-d");
mysql_stop();
my $w = spawn_worker('cc-reconcile', '--once', '--grace', 0, '--redis', "[::1]:$port", @mysql);
ok(wait_until(sub { worker_stderr($w) =~ /retrying in 200 ms/ }, 10), 'MySQL down: cc-reconcile retries');
like(worker_stderr($w), qr/mysql: .*; retrying in 100 ms\n.*mysql: .*; retrying in 200 ms/s, '... backing off');
mysql_start();
is(wait_worker($w, 30), 0, 'and completes the pass once MySQL is back');
like(worker_stderr($w), qr/pass done: 1 draws checked, 1 written/, '... writing the draw');
is(mysql_value('SELECT request_id FROM draws WHERE seq = 3', 'cc_v6'), 'v6-d', 'MySQL: the draw');
is(cli('XLEN', log_key()), 0, 'Redis: trimmed');

# a stop while MySQL is away: the log is kept for the next pass
cli('XADD', log_key(), '*', 'd', "6001:4:4:$ms:v6-e");
mysql_stop();
$w = spawn_worker('cc-reconcile', '--once', '--grace', 0, '--redis', "[::1]:$port", @mysql);
ok(wait_until(sub { worker_stderr($w) =~ /retrying in/ }, 10), 'MySQL down again: retrying');
is(stop_worker($w), 1, 'SIGTERM while retrying: exit 1');
like(worker_stderr($w), qr/pass done: 0 draws checked, 0 written, 0 unreadable, 1 shard\(s\) failed/,
     '... the shard failed');
is(cli('XLEN', log_key()), 1, 'Redis: the entry stays in the log');
mysql_start();
($rc, $err) = reconcile('--redis', "[::1]:$port");
like($err, qr/pass done: 1 draws checked, 1 written/, 'the next pass writes it');
is(mysql_value('SELECT COUNT(*) FROM draws', 'cc_v6'), 4, 'MySQL: four draws');

# addresses refused at start, each with its reason (exit 2), before a
# pass: nothing read or trimmed, even with a good shard named first
cli('XADD', 'cc:draws', '*', 'd', "6002:1:2:$ms:v6-f");
for my $bad ([ "::1:$port", 'IPv6 address not in brackets' ],
             [ "[::1:$port", 'unclosed bracket' ],
             [ "[::1]", 'missing port' ],
             [ "[::1]:0", 'bad port' ],
             [ "[]:$port", 'empty host' ],
             [ "[::1]x:$port", 'bad IPv6 address' ]) {
    my ($addr, $why) = @$bad;
    ($rc, $err) = reconcile('--redis', "[::1]:$port", '--redis', $addr);
    is($rc, 2, "--redis $addr: refused at start, exit 2");
    like($err, qr/^cc-reconcile: bad --redis "\Q$addr\E", expected host:port \(\Q$why\E\)$/m, "... saying why: $why");
    unlike($err, qr/pass done/, '... before any pass');
}
is(cli('XLEN', 'cc:draws'), 1, 'the log is untouched by the refused runs');
is(mysql_value("SELECT COUNT(*) FROM draws WHERE request_id = 'v6-f'", 'cc_v6'), 0, '... and MySQL too');

# a daemon (no --once) refuses a bad address at start too, not on each pass
{
    my $w = spawn_worker('cc-reconcile', '--interval', 1, '--redis', "[::1]:$port", '--redis', 'nohost', @mysql);
    is(wait_worker($w, 10), 2, 'a daemon with a bad --redis: exit 2 at start');
    like(worker_stderr($w), qr/bad --redis "nohost", expected host:port \(missing port\)/, '... saying why');
}
($rc, $err) = reconcile('--redis', "[::1]:$port");
is($rc, 0, 'a good address again: the pass succeeds') or diag($err);
is(mysql_value("SELECT COUNT(*) FROM draws WHERE request_id = 'v6-f'", 'cc_v6'), 1, '... writing the draw');
is(cli('XLEN', 'cc:draws'), 0, '... and trimming the log');

# a shard named right that does not answer
stop_worker($redis);
($rc, $err) = reconcile('--redis', "[::1]:$port");
is($rc, 1, 'a shard on ::1 that is down fails the pass');
like($err, qr/redis \[::1\]:$port: .*refused/i, '... saying so');
is(mysql_value('SELECT COUNT(*) FROM draws', 'cc_v6'), 5, 'MySQL unchanged');

done_testing();
