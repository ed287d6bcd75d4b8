package CcTest::MySQL;

# CcTest::MySQL - one throw-away mariadbd per test file, started on demand
# (mysql_start: a datadir under the temp dir, a free loopback port, the
# TEST_MYSQL_ variables), its faults (stop, kill = crash, restart, pause,
# resume), and queries through the mariadb client (mysql_query,
# mysql_value).  Stopped at END (CcTest.pm).

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Path qw(make_path);
use IPC::Run ();
use POSIX qw(WNOHANG);
use Test::More ();
use CcTest::Util qw(topdir repo_root free_port wait_until _spawn _reap _slurp _spew _tail);

our @EXPORT = qw(mysql_start mysql_stop mysql_kill mysql_restart mysql_pause mysql_resume
                 mysql_query mysql_value);
our @EXPORT_OK = qw(mysql_cleanup);

our $MysqlInstallDb    = $ENV{CC_MYSQL_INSTALL_DB} || 'mariadb-install-db';
our $Mysqld            = $ENV{CC_MYSQLD}           || 'mariadbd';
our $MysqlClient       = $ENV{CC_MYSQL_CLIENT}     || 'mariadb';
our $MysqlStartTimeout = 30;   # seconds for mariadbd to accept queries
our $MysqlStopTimeout  = 30;   # seconds between SIGTERM and SIGKILL
our $MysqlTimeout      = 30;   # seconds for one mysql_query() client run
# the binary log's arguments: none by default; CcTest::MySQLReplica makes
# the server a semi-synchronous primary (log_bin, server_id, semi-sync)
our @MysqlLogArgs      = ('--skip-log-bin');
# the server mysql_query() talks to: the harness's, or after a failover
# the promoted replica's socket (CcTest::MySQLReplica sets it)
our $QuerySocket;

my %MYSQL;                     # the mariadbd: dir, datadir, socket, port, pid, ...

sub _mysql_init {
    return if %MYSQL;
    my $dir = topdir() . "/mysql";
    make_path($dir);
    make_path("$dir/tmp");
    my $socket = "$dir/mysql.sock";
    croak "mysql: socket path too long for a unix socket: $socket" if length $socket > 100;
    %MYSQL = (dir => $dir, datadir => "$dir/data", socket => $socket,
              port => free_port(), user => scalar(getpwuid($>)) // 'root',
              pid_file => "$dir/mariadbd.pid", error_log => "$dir/error.log",
              out => "$dir/mariadbd.out");
}

sub _mysql_running {
    my $pid = $MYSQL{pid} or return 0;
    local $?;
    return 1 if waitpid($pid, WNOHANG) == 0;
    delete $MYSQL{pid};    # died on its own
    $MYSQL{paused} = 0;
    return 0;
}

# Does the server answer a query?
sub _mysql_ping {
    return 0 unless -S $MYSQL{socket};
    my ($out, $err) = ('', '');
    local $?;
    return eval {
        IPC::Run::run([$MysqlClient, '--no-defaults', '-S', $MYSQL{socket}, '-uroot',
                       '-e', 'select 1'],
                      '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(5));
    } ? 1 : 0;
}

# Start mariadbd (installing its datadir the first time) and wait until it
# accepts queries.  No-op while it runs; a restart keeps port and data.
# Returns the port.
sub mysql_start {
    _mysql_init();
    my $m = \%MYSQL;
    return $m->{port} if _mysql_running();

    unless ($m->{installed}) {
        my $log = '';
        local $?;
        my $ok = eval {
            IPC::Run::run([$MysqlInstallDb, '--no-defaults', "--datadir=$m->{datadir}",
                           "--user=$m->{user}", '--auth-root-authentication-method=normal',
                           '--skip-test-db', "--tmpdir=$m->{dir}/tmp"],
                          '<', \undef, '>&', \$log, IPC::Run::timeout(120));
        };
        _spew("$m->{dir}/install.log", $log);
        die "mysql_start: $MysqlInstallDb failed" . ($@ ? ": $@" : "\n") . $log unless $ok;
        $m->{installed} = 1;
    }

    $m->{pid} = _spawn($m->{out}, $Mysqld, '--no-defaults', "--datadir=$m->{datadir}",
        "--user=$m->{user}", "--port=$m->{port}", '--bind-address=127.0.0.1',
        "--socket=$m->{socket}", "--pid-file=$m->{pid_file}", "--log-error=$m->{error_log}",
        "--tmpdir=$m->{dir}/tmp", @MysqlLogArgs, '--innodb-buffer-pool-size=64M', '--skip-name-resolve',
        # what Debian's packaged config says (--no-defaults drops it)
        '--character-set-server=utf8mb4', '--collation-server=utf8mb4_general_ci');
    $m->{paused} = 0;
    my $ok = wait_until(sub { !_mysql_running() || _mysql_ping() }, $MysqlStartTimeout);
    unless ($ok && _mysql_running()) {
        my $why = _mysql_running() ? "does not answer after ${MysqlStartTimeout}s" : 'exited';
        mysql_kill();
        die "mysql_start: mariadbd (port $m->{port}) $why\n--- output:\n" . _slurp($m->{out})
          . "--- error log (tail):\n" . _tail(_slurp($m->{error_log}), 30);
    }
    # the workers' role users (sql/grants.sql): the workers run as them
    mysql_query(_slurp(repo_root() . '/sql/grants.sql')) unless $m->{granted}++;
    $ENV{TEST_MYSQL_HOST}   = '127.0.0.1';
    $ENV{TEST_MYSQL_PORT}   = $m->{port};
    $ENV{TEST_MYSQL_SOCKET} = $m->{socket};
    $ENV{TEST_MYSQL_USER}   = 'root';    # no password
    return $m->{port};
}

# Clean shutdown (SIGTERM, SIGKILL after $MysqlStopTimeout).
sub mysql_stop {
    return unless _mysql_running();
    my $pid = $MYSQL{pid};
    kill 'CONT', $pid if $MYSQL{paused};
    kill 'TERM', $pid;
    unless (_reap($pid, $MysqlStopTimeout)) {
        Test::More::diag("mysql_stop: mariadbd still running after ${MysqlStopTimeout}s, killed");
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    delete $MYSQL{pid};
    $MYSQL{paused} = 0;
}

# Crash it (SIGKILL); committed transactions survive a mysql_start().
sub mysql_kill {
    return unless _mysql_running();
    kill 'KILL', $MYSQL{pid};
    waitpid($MYSQL{pid}, 0);
    delete $MYSQL{pid};
    $MYSQL{paused} = 0;
}

sub mysql_restart { mysql_stop(); mysql_start() }

# Freeze / thaw it (SIGSTOP / SIGCONT): connections hang instead of failing.
sub mysql_pause  { return unless _mysql_running(); kill 'STOP', $MYSQL{pid}; $MYSQL{paused} = 1 }
sub mysql_resume { return unless _mysql_running(); kill 'CONT', $MYSQL{pid}; $MYSQL{paused} = 0 }

# mysql_query($sql, $db): run $sql (one or more statements) with the mariadb
# client over the unix socket as root.  Returns an array ref of rows (all
# result sets in order), each an array ref of column values as byte
# strings, NULL as undef.  Dies with the client's stderr on errors, or after
# $MysqlTimeout seconds.
sub mysql_query {
    my ($sql, $db) = @_;
    croak "mysql_query: call mysql_start() first" unless $MYSQL{installed};
    croak "mysql_query: no SQL given" unless defined $sql;
    utf8::encode($sql) if utf8::is_utf8($sql);
    my @cmd = ($MysqlClient, '--no-defaults', '--default-character-set=utf8mb4',
               '-S', $QuerySocket // $MYSQL{socket}, '-uroot', '-N', '-B',
               (defined $db ? ('-D', $db) : ()));
    my $in;
    if (length $sql > 100_000) { $in = $sql }    # beyond what fits in one argv string
    else                       { push @cmd, '-e', $sql; $in = undef }
    my ($out, $err) = ('', '');
    local $?;
    my $ok = eval {
        IPC::Run::run(\@cmd, '<', \$in, '>', \$out, '2>', \$err, IPC::Run::timeout($MysqlTimeout));
    };
    if (!$ok) {
        my $why = $@ ? ($@ =~ /timeout/i ? "timeout after ${MysqlTimeout}s" : $@ =~ s/\s+\z//r)
                     : $err =~ s/\s+\z//r || 'client exit status ' . ($? >> 8);
        my $shown = length $sql > 300 ? substr($sql, 0, 300) . '...' : $sql;
        croak "mysql_query: $why\n  SQL: $shown\n  called";
    }
    # batch output: rows by \n, columns by \t, with \0 \t \n \\ escaped
    my %esc = ('0' => "\0", t => "\t", n => "\n", '\\' => '\\');
    my @rows;
    for my $line ($out =~ /([^\n]*)\n/g) {
        my @f = split /\t/, $line, -1;
        @f = ('') unless @f;
        push @rows, [ map { $_ eq 'NULL' ? undef : s/\\([0tn\\])/$esc{$1}/gr } @f ];
    }
    return \@rows;
}

# The first column of the first row, or undef.
sub mysql_value {
    my $rows = mysql_query(@_);
    return @$rows ? $rows->[0][0] : undef;
}

# At END: SIGTERM (resumed first if paused), SIGKILL after
# $MysqlStopTimeout.
sub mysql_cleanup {
    my $pid = $MYSQL{pid} or return;
    kill 'CONT', $pid if $MYSQL{paused};
    kill 'TERM', $pid;
    _reap($pid, $MysqlStopTimeout) or do { kill 'KILL', $pid; waitpid($pid, 0) };
}

1;
