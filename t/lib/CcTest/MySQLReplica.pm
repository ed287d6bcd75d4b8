package CcTest::MySQLReplica;

# CcTest::MySQLReplica - the harness's mariadbd as a semi-synchronous
# primary with one replica, for issue 18's MySQL failover tests, and the
# promotion an orchestrator does.  MariaDB 10.11 has semi-sync built in.
#
#   use lib 't/lib';
#   use CcTest;
#   use CcTest::MySQLReplica;
#
#   mysql_with_replica();        # before anything calls mysql_start()
#   # the workers' shards are now "127.0.0.1:P,127.0.0.1:R/db"
#   # (TEST_MYSQL_CANDIDATES; CcCampaign's mysql_shards/shard_args)
#   replica_value('SELECT COUNT(*) FROM draws', 'cc_s0');
#   mysql_kill();                # the primary crashes (kill -9)
#   replica_promote();           # what an orchestrator does
#   # mysql_query() and TEST_MYSQL_PORT now reach the new primary
#
# API:
#   mysql_with_replica()   start the harness's mariadbd with log_bin,
#       server_id 1, GTID strict mode and rpl_semi_sync_master_enabled (wait
#       point AFTER_SYNC, timeout 10 s), make a replication user, then a
#       second mariadbd (server_id 2, log_bin, read_only = 1,
#       rpl_semi_sync_slave_enabled) replicating it from the start with
#       MASTER_USE_GTID = slave_pos; waits until the primary counts it as a
#       semi-sync client.  Sets TEST_MYSQL_CANDIDATES
#       ("127.0.0.1:P,127.0.0.1:R") and TEST_MYSQL_REPLICA_PORT.
#   replica_port()         its port
#   replica_query($sql, $db), replica_value($sql, $db)
#                          mysql_query / mysql_value on the replica
#   replica_caught_up($timeout)  wait until the replica executed every
#                          transaction the primary has (its gtid_binlog_pos)
#   primary_fence()        SET GLOBAL read_only = 1 on the old primary
#                          (the other fence is mysql_kill)
#   replica_promote()      the orchestrator's promotion: STOP SLAVE
#                          IO_THREAD, wait until the relay log is applied
#                          (MASTER_GTID_WAIT on what was received), STOP
#                          SLAVE, RESET SLAVE ALL, SET GLOBAL read_only = 0;
#                          then the harness's queries (mysql_query,
#                          TEST_MYSQL_PORT) go to it
#   semi_sync_status()     the primary's Rpl_semi_sync_master_* status, a
#                          hash (yes_tx, no_tx, clients, status)

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Path qw(make_path);
use IPC::Run ();
use POSIX qw(WNOHANG);
use CcTest::Util qw(topdir free_port wait_until _spawn _reap _slurp _tail);
use CcTest::MySQL ();

our @EXPORT = qw(mysql_with_replica replica_port replica_query replica_value replica_caught_up
                 primary_fence replica_promote semi_sync_status);

my %R;             # the replica: dir, datadir, socket, port, pid
my $OWNER = $$;

sub _client {
    my ($socket, $sql, $db) = @_;
    my @cmd = ($CcTest::MySQL::MysqlClient, '--no-defaults', '--default-character-set=utf8mb4',
               '-S', $socket, '-uroot', '-N', '-B', (defined $db ? ('-D', $db) : ()), '-e', $sql);
    my ($out, $err) = ('', '');
    local $?;
    my $ok = eval { IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(30)) };
    croak "replica query: " . ($@ || $err || "exit " . ($? >> 8)) . "\n  SQL: $sql\n  called" unless $ok;
    my %esc = ('0' => "\0", t => "\t", n => "\n", '\\' => '\\');
    return [ map { [ map { $_ eq 'NULL' ? undef : s/\\([0tn\\])/$esc{$1}/gr } split /\t/, $_, -1 ] }
             $out =~ /([^\n]*)\n/g ];
}

sub replica_query { _client($R{socket}, @_) }
sub replica_value { my $r = replica_query(@_); @$r ? $r->[0][0] : undef }
sub replica_port  { $R{port} }

sub semi_sync_status {
    my %s = map { (lc($_->[0] =~ s/^Rpl_semi_sync_master_//r) => $_->[1]) }
        @{ CcTest::MySQL::mysql_query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'") };
    return \%s;
}

sub mysql_with_replica {
    croak "mysql_with_replica: called twice" if %R;
    @CcTest::MySQL::MysqlLogArgs = ('--log-bin=primary-bin', '--server-id=1', '--binlog-format=ROW',
        '--gtid-strict-mode=ON', '--log-slave-updates', '--log-bin-trust-function-creators=ON',
        '--rpl-semi-sync-master-enabled=ON', '--rpl-semi-sync-master-wait-point=AFTER_SYNC',
        '--rpl-semi-sync-master-timeout=10000');
    my $pport = CcTest::MySQL::mysql_start();
    CcTest::MySQL::mysql_query("CREATE USER IF NOT EXISTS cc_repl IDENTIFIED BY 'cc_repl'; "
                               . "GRANT REPLICATION SLAVE ON *.* TO cc_repl");

    my $dir = topdir() . '/mysql-replica';
    make_path("$dir/tmp");
    %R = (dir => $dir, datadir => "$dir/data", socket => "$dir/mysql.sock", port => free_port(),
          user => scalar(getpwuid($>)) // 'root');
    my $log = '';
    IPC::Run::run([$CcTest::MySQL::MysqlInstallDb, '--no-defaults', "--datadir=$R{datadir}",
                   "--user=$R{user}", '--auth-root-authentication-method=normal', '--skip-test-db',
                   "--tmpdir=$dir/tmp"], '<', \undef, '>&', \$log, IPC::Run::timeout(120))
        or croak "replica install failed:\n$log";
    $R{pid} = _spawn("$dir/mariadbd.out", $CcTest::MySQL::Mysqld, '--no-defaults',
        "--datadir=$R{datadir}", "--user=$R{user}", "--port=$R{port}", '--bind-address=127.0.0.1',
        "--socket=$R{socket}", "--pid-file=$dir/mariadbd.pid", "--log-error=$dir/error.log",
        "--tmpdir=$dir/tmp", '--innodb-buffer-pool-size=64M', '--skip-name-resolve',
        '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci',
        '--server-id=2', '--log-bin=replica-bin', '--binlog-format=ROW', '--log-slave-updates',
        '--gtid-strict-mode=ON', '--read-only=1', '--skip-slave-start', '--log-bin-trust-function-creators=ON',
        '--rpl-semi-sync-slave-enabled=ON', '--rpl-semi-sync-master-wait-point=AFTER_SYNC');
    wait_until(sub { -S $R{socket} && eval { replica_query('SELECT 1'); 1 } }, 30)
        or croak "replica did not start:\n" . _tail(_slurp("$dir/error.log"), 30);
    replica_query("CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = $pport, "
                  . "MASTER_USER = 'cc_repl', MASTER_PASSWORD = 'cc_repl', "
                  . "MASTER_CONNECT_RETRY = 1, MASTER_USE_GTID = slave_pos; START SLAVE");
    wait_until(sub { (semi_sync_status()->{clients} // 0) >= 1 }, 30)
        or croak "the replica is no semi-sync client of the primary:\n"
                 . _tail(_slurp("$dir/error.log"), 30);
    replica_caught_up(30) or croak "the replica did not catch up";

    $ENV{TEST_MYSQL_CANDIDATES} = "127.0.0.1:$pport,127.0.0.1:$R{port}";
    $ENV{TEST_MYSQL_REPLICA_PORT} = $R{port};
    return $R{port};
}

sub replica_caught_up {
    my ($timeout) = @_;
    my $want = CcTest::MySQL::mysql_value('SELECT @@gtid_binlog_pos');
    return wait_until(sub { (replica_value('SELECT @@gtid_slave_pos') // '') eq $want }, $timeout // 10);
}

sub primary_fence { CcTest::MySQL::mysql_query('SET GLOBAL read_only = 1') }

sub replica_promote {
    replica_query('STOP SLAVE IO_THREAD');
    my $pos = _gtid_io_pos();
    if (defined $pos && length $pos) {
        my $w = replica_value("SELECT MASTER_GTID_WAIT('$pos', 30)");
        croak "replica_promote: relay log not applied within 30 s" unless defined $w && $w == 0;
    }
    replica_query('STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only = 0');
    $CcTest::MySQL::QuerySocket = $R{socket};
    $ENV{TEST_MYSQL_PORT} = $R{port};
    $ENV{TEST_MYSQL_SOCKET} = $R{socket};
    return $R{port};
}

# Gtid_IO_Pos of SHOW SLAVE STATUS (what the IO thread received)
sub _gtid_io_pos {
    my @cmd = ($CcTest::MySQL::MysqlClient, '--no-defaults', '-S', $R{socket}, '-uroot', '-E',
               '-e', 'SHOW SLAVE STATUS');
    my ($out, $err) = ('', '');
    IPC::Run::run(\@cmd, '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(30)) or return undef;
    return $out =~ /^\s*Gtid_IO_Pos:\s*(\S*)\s*$/m ? $1 : undef;
}

END {
    if ($$ == $OWNER && $R{pid}) {
        local $?;
        kill 'TERM', $R{pid};
        _reap($R{pid}, 30) or do { kill 'KILL', $R{pid}; waitpid($R{pid}, 0) };
    }
}

1;
