package CcTest;

# CcTest - a small, self-contained integration test harness for
# ngx_http_cc_module, in the spirit of Test::Nginx (but written from scratch
# on top of Test::Base).
#
# On import it starts two throw-away redis-server shards and picks free
# ports.  run_tests() then walks the __DATA__ blocks of the test file: for
# each block it flushes redis, seeds it, writes an nginx.conf, starts nginx,
# sends the request(s), checks the response, the error log and redis, and
# stops nginx again.  Helpers for plain Test::More style tests (raw HTTP,
# concurrency, redis fault injection, ad-hoc nginx instances) are exported
# too, as are, for the tests that need them, a throw-away MariaDB server
# (started on demand by mysql_start), the project's Kafka mock broker
# (kafka_start) and background worker processes (spawn_worker).  See the
# "API summary" comment at the end of this file.

use strict;
use warnings;

use Test::Base;        # blocks(), section filters, Test::More subset, diff-aware is()
use Test::More ();     # done_testing, note, explain, subtest, BAIL_OUT
use Test::Builder;
use Exporter ();
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use IO::Select;
use IPC::Run ();
use POSIX qw(WNOHANG);
use Time::HiRes ();

our @ISA = ('Exporter');

# Things from Test::More that Test::Base does not re-export.
BEGIN {
    no strict 'refs';
    *{"CcTest::$_"} = \&{"Test::More::$_"} for qw(done_testing note explain subtest BAIL_OUT);
}

our @EXPORT = (
    # re-exported test functions (is() is Test::Base's diff-aware version)
    qw(plan ok is isnt like unlike is_deeply cmp_ok pass fail diag note explain
       skip todo_skip can_ok isa_ok subtest done_testing BAIL_OUT
       blocks no_diff filters),
    # block runner, and the config blocks share (also Test::Base filters)
    qw(repeat_each run_tests planned_tests on_shard0 on_shards all_locations),
    # redis helpers
    qw(redis_cmd redis_text redis_port redis_stop redis_start redis_pause redis_resume
       redis_snapshot),
    # nginx and http helpers
    qw(start_nginx stop_nginx nginx_error_log nginx_pids http_request
       concurrent_requests free_port wait_until sanitizer_reports),
    # mysql (mariadb) helpers
    qw(mysql_start mysql_stop mysql_kill mysql_restart mysql_pause mysql_resume
       mysql_query mysql_value),
    # worker processes
    qw(spawn_worker worker_stdout worker_stderr stop_worker kill_worker
       worker_alive wait_worker),
    # kafka mock broker
    qw(kafka_start kafka_down kafka_up kafka_stop kafka_worker),
);

# ---------------------------------------------------------------------------
# Configuration and global state
# ---------------------------------------------------------------------------

our $NginxBinary  = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $RedisServer  = $ENV{CC_REDIS_SERVER}   || 'redis-server';
our $RedisTimeout = 5;    # seconds for one redis_cmd() round trip
our $StartTimeout = 5;    # seconds to wait for nginx / redis to come up
our $StopGrace    = 5;    # seconds between SIGQUIT and SIGKILL for nginx

our $MysqlInstallDb    = $ENV{CC_MYSQL_INSTALL_DB} || 'mariadb-install-db';
our $Mysqld            = $ENV{CC_MYSQLD}           || 'mariadbd';
our $MysqlClient       = $ENV{CC_MYSQL_CLIENT}     || 'mariadb';
our $MysqlStartTimeout = 30;   # seconds for mariadbd to accept queries
our $MysqlStopTimeout  = 30;   # seconds between SIGTERM and SIGKILL
our $MysqlTimeout      = 30;   # seconds for one mysql_query() client run
our $KafkaStartTimeout = 5;    # seconds for cc-mockbroker's bootstrap line

# Set while a block runs, for --- init / --- check code.
our ($status, $body, $headers, $block, $error);

my $N_SHARDS  = 2;
my $REPO_ROOT = abs_path(dirname(__FILE__) . '/../..');
our $WorkerDir = $ENV{CC_WORKER_DIR} || "$REPO_ROOT/build/workers";    # spawn_worker('cc-x')
our $TestToolDir = $ENV{CC_TEST_TOOL_DIR} || "$REPO_ROOT/build/test";  # cc-ledger-cli
my $TOPDIR;               # per test file temp dir (redis dirs, nginx prefixes)
my @REDIS;                # per shard: { port, dir, pid, paused }
my @LIVE_NGINX;           # running nginx instances, newest last
my $LAST_NGINX;           # most recently started instance (may be stopped)
my $NGINX_SEQ = 0;
my $REPEAT    = 1;
my $OWNER_PID;            # only this process cleans up (not forked children)
my %HANDED_OUT;           # ports returned by free_port() in this process
my %MYSQL;                # the mariadbd: dir, datadir, socket, port, pid, ...
my @WORKERS;              # spawn_worker() handles, for the END cleanup
my $WORKER_SEQ = 0;
my $KAFKA;                # the cc-mockbroker worker handle (kafka_start)
my @SANITIZER;            # sanitizer reports found in nginx logs, worker stderr
my $initialised = 0;

# Every section a block may use; anything else is reported as a typo.
my %KNOWN_SECTIONS = map { $_ => 1 } qw(
    ONLY SKIP LAST
    main_config http_config config raw_config workers log_level no_module
    must_die skip_nginx
    request more_headers timeout abort wait
    error_code response_body response_body_like response_headers response_headers_like
    error_log no_error_log
    redis_before redis_before_shard0 redis_before_shard1
    redis_after redis_after_shard0 redis_after_shard1
    init check check_tests
);

sub import {
    my $class = shift;
    _init() unless $initialised++;
    $class->export_to_level(1, $class, @_);
}

# One-time setup: temp dir, ports, redis shards, environment variables.
sub _init {
    $OWNER_PID = $$;
    $SIG{PIPE} = 'IGNORE';    # nginx may close on us mid-write
    my %signo = (HUP => 1, INT => 2, TERM => 15);
    for my $sig (keys %signo) {
        # make ^C and friends run the END block so servers get stopped
        $SIG{$sig} = sub { exit 128 + $signo{$sig} } if !$SIG{$sig} || $SIG{$sig} eq 'DEFAULT';
    }

    # these belong to mysql_start() / kafka_start(), never to the caller
    delete $ENV{$_} for grep { /^TEST_(?:MYSQL|KAFKA)_/ } keys %ENV;

    $TOPDIR = tempdir('cctest-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CC_TEST_KEEP});
    chmod 0755, $TOPDIR;      # nginx workers may run as "nobody" when we are root
    Test::More::diag("CcTest: temp dir $TOPDIR kept (CC_TEST_KEEP)") if $ENV{CC_TEST_KEEP};

    $ENV{TEST_NGINX_SERVER_PORT}  = free_port();
    $ENV{TEST_NGINX_SERVER_PORT1} = free_port();   # spare ports for multi-server configs
    $ENV{TEST_NGINX_SERVER_PORT2} = free_port();

    for my $i (0 .. $N_SHARDS - 1) {
        my $dir = "$TOPDIR/redis$i";
        make_path($dir);
        $REDIS[$i] = { port => free_port(), dir => $dir };
        _redis_spawn($i);
    }
    _redis_wait($_) for 0 .. $N_SHARDS - 1;

    $ENV{"TEST_NGINX_REDIS_PORT$_"}  = $REDIS[$_]{port} for 0 .. $N_SHARDS - 1;
    $ENV{"TEST_NGINX_REDIS_SHARD$_"} = "127.0.0.1:$REDIS[$_]{port}" for 0 .. $N_SHARDS - 1;
    $ENV{TEST_NGINX_REDIS_SHARDS} = join ' ', map { "127.0.0.1:$_->{port}" } @REDIS;
}

END {
    if (defined $OWNER_PID && $$ == $OWNER_PID) {
        local $?;    # keep the test's exit status
        _nginx_stop($_, 2) for reverse @LIVE_NGINX;
        _worker_kill($_) for grep { !exists $_->{status} } @WORKERS;
        if (my $pid = $MYSQL{pid}) {
            kill 'CONT', $pid if $MYSQL{paused};
            kill 'TERM', $pid;
            _reap($pid, $MysqlStopTimeout) or do { kill 'KILL', $pid; waitpid($pid, 0) };
        }
        for my $r (@REDIS) {
            next unless $r->{pid};
            kill 'CONT', $r->{pid} if $r->{paused};
            kill 'TERM', $r->{pid};
            _reap($r->{pid}, 2) or do { kill 'KILL', $r->{pid}; waitpid($r->{pid}, 0) };
        }
    }
    # a sanitizer report anywhere fails the file, whatever the tests said
    if (defined $OWNER_PID && $$ == $OWNER_PID && @SANITIZER) {
        print STDERR "# sanitizer report: $_\n" for @SANITIZER;
        $? = 1 unless $?;
    }
}

# ---------------------------------------------------------------------------
# Small process / socket utilities
# ---------------------------------------------------------------------------

sub _sleep { Time::HiRes::sleep($_[0]) }

# A free loopback TCP port: bind port 0, note the port, close.
sub free_port {
    for (1 .. 50) {
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                      Proto => 'tcp', Listen => 1)
            or croak "free_port: cannot bind: $@";
        my $port = $s->sockport;
        close $s;
        next if $HANDED_OUT{$port}++;
        return $port;
    }
    croak "free_port: no free port found";
}

# fork + exec @cmd with stdout/stderr appended to $logfile; returns the pid.
sub _spawn {
    my ($logfile, @cmd) = @_;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    return $pid if $pid;
    open STDIN,  '<',  '/dev/null';
    open STDOUT, '>>', $logfile;
    open STDERR, '>&', \*STDOUT;
    { exec { $cmd[0] } @cmd }
    print STDERR "exec $cmd[0] failed: $!\n";
    POSIX::_exit(127);
}

# Wait up to $timeout seconds for child $pid to exit; true when reaped.
sub _reap {
    my ($pid, $timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        return 1 if $r == $pid || $r == -1;
        return 0 if Time::HiRes::time() >= $deadline;
        _sleep(0.01);
    }
}

# Poll $code every 20 ms until it returns true or $timeout (default 5) s pass.
sub wait_until {
    my ($code, $timeout) = @_;
    my $deadline = Time::HiRes::time() + ($timeout // 5);
    while (1) {
        my $r = $code->();
        return $r if $r;
        return undef if Time::HiRes::time() >= $deadline;
        _sleep(0.02);
    }
}

sub _slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    my $text = <$fh>;
    return $text // '';
}

sub _spew {
    my ($file, $text) = @_;
    open my $fh, '>', $file or croak "cannot write $file: $!";
    print $fh $text;
    close $fh or croak "cannot write $file: $!";
}

# Child pids of $pid, found by scanning /proc/*/stat.
sub _children {
    my ($pid) = @_;
    my @kids;
    opendir my $dh, '/proc' or return;
    for my $p (grep { /^\d+$/ } readdir $dh) {
        my $stat = _slurp("/proc/$p/stat");
        # the process may have exited since readdir: nothing to read
        next unless defined $stat && rindex($stat, ')') >= 0;
        # "pid (comm) state ppid ..." - comm may contain spaces or parens
        my $rest = substr($stat, rindex($stat, ')') + 2) // next;
        my (undef, $ppid) = split ' ', $rest;
        push @kids, $p if defined $ppid && $ppid == $pid;
    }
    @kids = sort { $a <=> $b } @kids;
    return @kids;    # (sort in scalar context is undefined)
}

# Is something LISTENing on TCP $port?  Reads /proc/net/tcp{,6} so that no
# probe connection shows up in nginx's error log.
sub _port_listening {
    my ($port) = @_;
    my $hex = sprintf '%04X', $port;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        for my $line (split /\n/, _slurp($f)) {
            my (undef, $local, undef, $state) = split ' ', $line;
            return 1 if defined $state && $state eq '0A' && $local =~ /:$hex$/;
        }
    }
    return 0;
}

# Write all of $data to a socket before $deadline.
sub _write_all {
    my ($sock, $data, $deadline) = @_;
    my $sel = IO::Select->new($sock);
    while (length $data) {
        my $left = $deadline - Time::HiRes::time();
        die "write timeout\n" if $left <= 0 || !$sel->can_write($left);
        my $n = syswrite($sock, $data);
        if (!defined $n) {
            next if $!{EINTR} || $!{EAGAIN};
            die "write error: $!\n";
        }
        substr($data, 0, $n, '');
    }
}

# ---------------------------------------------------------------------------
# Redis: processes and a tiny RESP client
# ---------------------------------------------------------------------------

sub _shard {
    my ($i) = @_;
    croak "no such redis shard: " . ($i // 'undef')
        unless defined $i && $i =~ /^\d+$/ && $REDIS[$i];
    return $REDIS[$i];
}

sub redis_port { _shard($_[0])->{port} }

sub _redis_spawn {
    my ($i) = @_;
    my $r = _shard($i);
    $r->{pid} = _spawn("$r->{dir}/redis.out", $RedisServer,
        '--port', $r->{port}, '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'no', '--daemonize', 'no', '--dir', $r->{dir},
        '--pidfile', "$r->{dir}/redis.pid", '--logfile', "$r->{dir}/redis.log");
    $r->{paused} = 0;
}

# Wait for shard $i to answer PING; dies with its log if it does not.
sub _redis_wait {
    my ($i) = @_;
    my $r = _shard($i);
    my $ok = wait_until(sub {
        if (waitpid($r->{pid}, WNOHANG) == $r->{pid}) {
            delete $r->{pid};
            return 1;
        }
        my $pong = eval { local $RedisTimeout = 1; redis_cmd($i, 'PING') };
        return defined $pong && $pong eq 'PONG';
    }, $StartTimeout);
    return if $ok && $r->{pid};
    die "redis shard $i (port $r->{port}) did not start:\n"
        . _slurp("$r->{dir}/redis.out") . _slurp("$r->{dir}/redis.log");
}

# Kill shard $i hard (SIGKILL), like a crash.
sub redis_stop {
    my ($i) = @_;
    my $r = _shard($i);
    return unless $r->{pid};
    kill 'KILL', $r->{pid};
    waitpid($r->{pid}, 0);
    delete $r->{pid};
    $r->{paused} = 0;
}

# (Re)start shard $i on its original port; empty dataset.
sub redis_start {
    my ($i) = @_;
    my $r = _shard($i);
    return if $r->{pid};
    _redis_spawn($i);
    _redis_wait($i);
}

sub redis_pause  { my $r = _shard($_[0]); kill 'STOP', $r->{pid} if $r->{pid}; $r->{paused} = 1 }
sub redis_resume { my $r = _shard($_[0]); kill 'CONT', $r->{pid} if $r->{pid}; $r->{paused} = 0 }

# redis_cmd($shard, @args): send one command on a fresh connection.
# Returns: status/bulk replies as strings, integers as numbers, nil as undef,
# arrays as array refs, error replies as the string "(error) MSG".
# Dies on connection errors and timeouts ($CcTest::RedisTimeout).
sub redis_cmd {
    my ($i, @args) = @_;
    my $r = _shard($i);
    my $deadline = Time::HiRes::time() + $RedisTimeout;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $r->{port},
                                     Proto => 'tcp', Timeout => $RedisTimeout)
        or die "redis shard $i (port $r->{port}): connect failed: $@\n";

    my $req = '*' . scalar(@args) . "\r\n";
    for my $arg (@args) {
        my $a = defined $arg ? "$arg" : '';
        utf8::encode($a) if utf8::is_utf8($a);
        $req .= '$' . length($a) . "\r\n$a\r\n";
    }
    _write_all($sock, $req, $deadline);

    # Buffered reader with a deadline.
    my $buf = '';
    my $sel = IO::Select->new($sock);
    my $fill = sub {
        my $left = $deadline - Time::HiRes::time();
        die "redis shard $i: read timeout\n" if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($sock, $buf, 65536, length $buf);
        die "redis shard $i: connection closed\n" if defined $n && $n == 0;
        die "redis shard $i: read error: $!\n" if !defined $n && !$!{EINTR};
    };
    my $line = sub {
        $fill->() until $buf =~ /\r\n/;
        $buf =~ s/^(.*?)\r\n//s;
        return $1;
    };
    my $parse;
    $parse = sub {
        my $l = $line->();
        my ($type, $rest) = (substr($l, 0, 1), substr($l, 1));
        return $rest                  if $type eq '+';
        return "(error) $rest"        if $type eq '-';
        return 0 + $rest              if $type eq ':';
        if ($type eq '$') {
            return undef if $rest < 0;
            $fill->() while length($buf) < $rest + 2;
            my $data = substr($buf, 0, $rest);
            substr($buf, 0, $rest + 2, '');
            return $data;
        }
        if ($type eq '*') {
            return undef if $rest < 0;
            return [ map { $parse->() } 1 .. $rest ];
        }
        die "redis shard $i: unexpected reply line: $l\n";
    };
    my $reply = $parse->();
    undef $parse;    # break the closure's self reference
    close $sock;
    return $reply;
}

# Reply as text: nil => "(nil)", arrays joined with ",", else as is.
sub redis_text {
    my ($reply) = @_;
    return '(nil)' unless defined $reply;
    return join ',', map { redis_text($_) } @$reply if ref $reply eq 'ARRAY';
    return "$reply";
}

# The whole dataset of every shard as one text, keys sorted, each key with
# its type and value (hash fields and set members sorted, lists and streams
# in order): two snapshots are equal when nothing changed.  Stream entries
# are compared without their ids, which carry a time.
sub redis_snapshot {
    my @out;
    for my $i (0 .. $N_SHARDS - 1) {
        my $keys = redis_cmd($i, 'KEYS', '*');
        for my $k (sort @$keys) {
            my $type = redis_cmd($i, 'TYPE', $k);
            my $v = $type eq 'string' ? redis_cmd($i, 'GET', $k)
                  : $type eq 'list'   ? join(',', @{ redis_cmd($i, 'LRANGE', $k, 0, -1) })
                  : $type eq 'set'    ? join(',', sort @{ redis_cmd($i, 'SMEMBERS', $k) })
                  : $type eq 'hash'   ? do { my %h = @{ redis_cmd($i, 'HGETALL', $k) };
                                             join(',', map { "$_=$h{$_}" } sort keys %h) }
                  : $type eq 'zset'   ? join(',', @{ redis_cmd($i, 'ZRANGE', $k, 0, -1, 'WITHSCORES') })
                  : $type eq 'stream' ? join(';', map { redis_text($_->[1]) }
                                                  @{ redis_cmd($i, 'XRANGE', $k, '-', '+') })
                  : '?';
            push @out, "shard$i $k ($type) $v";
        }
    }
    return join "\n", @out, '';
}

# Split a redis-cli like command line; supports "double" (with \n \t \r \\
# \" \xHH escapes) and 'single' quoted arguments.
sub _split_cmd {
    my ($s) = @_;
    my @args;
    while ($s =~ /\G\s*(?:"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+))/gc) {
        if (defined $1) {
            (my $a = $1) =~ s/\\(x[0-9a-fA-F]{2}|.)/_unescape($1)/ge;
            push @args, $a;
        }
        else {
            push @args, defined $2 ? $2 : $3;
        }
    }
    return @args;
}

sub _unescape {
    my ($e) = @_;
    return chr(hex substr($e, 1)) if $e =~ /^x/ && length $e == 3;
    return { n => "\n", r => "\r", t => "\t" }->{$e} // $e;
}

# ---------------------------------------------------------------------------
# nginx: config generation, start, stop
# ---------------------------------------------------------------------------

sub _module_so {
    return $ENV{CC_MODULE_SO} ? abs_path($ENV{CC_MODULE_SO}) // $ENV{CC_MODULE_SO}
                              : "$REPO_ROOT/build/nginx/ngx_http_cc_module.so";
}

# Replace $TEST_NGINX_XXX, $TEST_MYSQL_XXX and $TEST_KAFKA_XXX with values
# from %ENV; unknown names are fatal.
sub _subst {
    my ($text) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_(NGINX|MYSQL|KAFKA)_[A-Za-z0-9_]+)}{
        defined $ENV{$1} ? $ENV{$1} : die "unknown variable \$$1 (not in %ENV"
            . ({ MYSQL => '; call mysql_start() before run_tests()',
                 KAFKA => '; call kafka_start() before run_tests()' }->{$2} // '') . ")\n"
    }ge;
    return $text;
}

# The part of nginx.conf most tests share, in one place, so that a block
# shows only what it varies.  Each is a Test::Base filter (Test::Base calls
# main::NAME, and these are exported there) and a plain function for
# start_nginx(); each takes the caller's own lines (nginx text) and returns
# them with the shared part around them:
#
#   --- http_config on_shard0         cc_redis_shards $TEST_NGINX_REDIS_SHARD0;
#       cc_cards 1 1000000;           then the block's own lines
#   --- config all_locations          the block's own lines (cc_identity ...),
#                                     then one location per handler (flip,
#                                     grant, combine, eligibility, award,
#                                     claim) that the own lines do not hold
#
# on_shards is on_shard0 on both shards.  The $TEST_NGINX_ names are left
# as they are: they are replaced when nginx.conf is written.  Own lines may
# come without their indent: on_shard0('cc_cards 1 1;', 'cc_request_ttl 1h;').
# A test outside blocks writes the same: start_nginx(undef, http_config =>
# on_shards('cc_redis_timeout 5s;'), config => all_locations(...)).
sub _own_lines {
    return join '', map { s/^(?=\S)/    /mgr =~ s/\n?\z/\n/r }
                    grep { defined && length } @_;
}

sub _shards_line { "    cc_redis_shards \$TEST_NGINX_REDIS_$_[0];\n" }

sub on_shard0 { _shards_line('SHARD0') . _own_lines(@_) }
sub on_shards { _shards_line('SHARDS') . _own_lines(@_) }

my @HANDLERS = qw(flip grant combine eligibility award claim);

sub all_locations {
    my $own = _own_lines(@_);
    # a location the caller's lines hold already is theirs, not added twice
    my @add = grep { $own !~ m{\blocation\s*=\s*/cc/$_\s*\{} } @HANDLERS;
    # a grant is never behind a token (nginx refuses it): its location
    # names its identity, whatever the server's
    return $own . join '', map {
        $_ eq 'grant' ? "    location = /cc/grant       { cc_identity trusted_header X-CC-Uid; cc_grant; }\n"
                      : sprintf "    location = %-15s { cc_%s; }\n", "/cc/$_", $_
    } @add;
}

# Build nginx.conf text.  %o: prefix, port, workers, log_level, no_module,
# main_config, http_config, config, raw (http part, replaces the default).
sub _nginx_conf {
    my (%o) = @_;
    my $p = $o{prefix};
    my $conf = '';
    $conf .= "load_module " . _module_so() . ";\n" unless $o{no_module};
    $conf .= "worker_processes " . ($o{workers} // 1) . ";\n"
           . "daemon off;\nmaster_process on;\n"
           . "error_log $p/logs/error.log " . ($o{log_level} // 'debug') . ";\n"
           . "pid $p/logs/nginx.pid;\n\n"
           . ($o{main_config} // '') . "\n"
           . "events {\n    worker_connections 1024;\n}\n\n";

    my $temps = join '', map { "    ${_}_temp_path $p/tmp/$_;\n" }
                         qw(client_body proxy fastcgi uwsgi scgi);
    if (defined $o{raw} && $o{raw} =~ /^\s*http\s*\{/m) {
        # a complete "http { ... }" (maybe plus stream etc.): only add temp paths
        (my $raw = $o{raw}) =~ s/^(\s*http\s*\{)/$1\n$temps/m;
        $conf .= $raw;
    }
    elsif (defined $o{raw}) {
        $conf .= "http {\n    access_log off;\n$temps\n$o{raw}\n}\n";
    }
    else {
        $conf .= "http {\n    access_log off;\n$temps\n"
               . ($o{http_config} // '') . "\n"
               . "    server {\n"
               . "        listen 127.0.0.1:$o{port};\n"
               . "        server_name localhost;\n\n"
               . ($o{config} // '') . "\n"
               . "    }\n}\n";
    }
    # $TEST_NGINX_SERVER_PORT means this instance's port
    local $ENV{TEST_NGINX_SERVER_PORT} = $o{port};
    return _subst($conf);
}

sub _numbered { my $n = 0; join '', map { sprintf "%3d| %s\n", ++$n, $_ } split /\n/, $_[0] }

# Write the conf into a prefix dir; returns (prefix, conf file, conf text).
sub _prepare_prefix {
    my (%o) = @_;
    my $prefix = $o{prefix};
    unless ($prefix) {
        my $main = "$TOPDIR/nginx";
        $prefix = (grep { $_->{prefix} eq $main } @LIVE_NGINX)
                ? "$TOPDIR/nginx-" . ++$NGINX_SEQ : $main;
    }
    make_path("$prefix/conf", "$prefix/logs", "$prefix/tmp");
    unlink map { "$prefix/logs/$_" } qw(error.log nginx.pid stderr.log);
    my $conf = _nginx_conf(%o, prefix => $prefix, port => $o{port} // $ENV{TEST_NGINX_SERVER_PORT});
    _spew("$prefix/conf/nginx.conf", $conf);
    return ($prefix, "$prefix/conf/nginx.conf", $conf);
}

# Start nginx and wait until the pid file exists, every listen port is
# listening and the workers are forked.  Returns an instance hash ref.
sub _nginx_launch {
    my (%o) = @_;
    my ($prefix, $conf_file, $conf) = _prepare_prefix(%o);
    my $pid = _spawn("$prefix/logs/stderr.log", $NginxBinary, '-p', "$prefix/", '-c', $conf_file);
    my $inst = { pid => $pid, prefix => $prefix, conf => $conf,
                 port => $o{port} // $ENV{TEST_NGINX_SERVER_PORT},
                 error_log => "$prefix/logs/error.log" };
    push @LIVE_NGINX, $inst;
    $LAST_NGINX = $inst;

    my @ports = $conf =~ /^\s*listen\s+(?:[\d.]+:|\[[^\]]*\]:|localhost:)?(\d+)\b/mg;
    my ($workers) = $conf =~ /^\s*worker_processes\s+(\d+)\s*;/m;
    my $exited;
    my $ready = wait_until(sub {
        if (waitpid($pid, WNOHANG) == $pid) { $exited = $?; return 1 }
        return 0 unless -s "$prefix/logs/nginx.pid";
        return 0 if grep { !_port_listening($_) } @ports;
        my @kids = _children($pid);
        return @kids >= ($workers // 1);
    }, $StartTimeout);

    if (!$ready || defined $exited) {
        my $why = defined $exited ? "nginx exited with status " . ($exited >> 8)
                                  : "nginx not ready after ${StartTimeout}s";
        _nginx_stop($inst, 1) unless defined $exited;
        @LIVE_NGINX = grep { $_ != $inst } @LIVE_NGINX;
        die "$why\n--- stderr:\n" . _slurp("$prefix/logs/stderr.log")
          . "--- error.log (tail):\n" . _tail(_slurp($inst->{error_log}), 30)
          . "--- $conf_file:\n" . _numbered($conf);
    }
    return $inst;
}

sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join '', map { "$_\n" } @l;
}

# Graceful stop (SIGQUIT), SIGKILL after $grace seconds.  Returns a problem
# description (master died on its own, needed SIGKILL) or ''.
sub _nginx_stop {
    my ($inst, $grace) = @_;
    local $?;
    @LIVE_NGINX = grep { $_ != $inst } @LIVE_NGINX;
    return '' if $inst->{stopped}++;
    my $pid = $inst->{pid};
    my @workers = _children($pid);
    my $problem = '';
    if (waitpid($pid, WNOHANG) == $pid) {
        $problem = "nginx master exited unexpectedly (status " . ($? >> 8) . ", signal " . ($? & 127) . ")";
    }
    else {
        kill 'QUIT', $pid;
        unless (_reap($pid, $grace // $StopGrace)) {
            $problem = "nginx did not quit on SIGQUIT, killed";
            # workers first, so that the (quitting) master reaps them
            kill 'KILL', _children($pid);
            unless (_reap($pid, 1)) { kill 'KILL', $pid; waitpid($pid, 0) }
        }
    }
    kill 'KILL', grep { kill 0, $_ } @workers;    # orphaned workers, if any
    if (my @r = sanitizer_reports($inst->{error_log}, "$inst->{prefix}/logs/stderr.log")) {
        $problem .= ($problem ? '; ' : '') . "sanitizer report: $r[0]";
    }
    return $problem;
}

# Sanitizer reports (AddressSanitizer, LeakSanitizer, UBSan's "runtime
# error") in the given files: the first line of each, which is also kept
# for the END check, so that a report fails the test file.
sub sanitizer_reports {
    my @found;
    for my $f (grep { defined } @_) {
        for my $line (split /\n/, _slurp($f)) {
            push @found, "$f: $line"
                if $line =~ /ERROR: (?:Address|Leak)Sanitizer|runtime error:|UndefinedBehaviorSanitizer/;
        }
    }
    push @SANITIZER, @found;
    return @found;
}

# Public: start an nginx outside of blocks.  $http is the http part of the
# config (contents of http {}, or a complete "http { ... }"); if undef the
# standard layout is built from %opts http_config/config.  Other %opts:
# port, workers, main_config, log_level, no_module, prefix.
sub start_nginx {
    my ($http, %opts) = @_;
    return _nginx_launch(%opts, (defined $http ? (raw => $http) : ()));
}

# Stop one instance (default: all running ones).
sub stop_nginx {
    my ($inst) = @_;
    my @todo = $inst ? ($inst) : reverse @LIVE_NGINX;
    my @problems = grep { length } map { _nginx_stop($_) } @todo;
    return join "; ", @problems;
}

sub nginx_error_log {
    my $inst = shift // $LAST_NGINX or return '';
    return _slurp($inst->{error_log});
}

# (master pid, worker pids...) of an instance (default: newest).
sub nginx_pids {
    my $inst = shift // $LAST_NGINX or return;
    return ($inst->{pid}, _children($inst->{pid}));
}

# ---------------------------------------------------------------------------
# HTTP client
# ---------------------------------------------------------------------------

# "http://host:port/path" or "/path" (default server port).
sub _target {
    my ($uri) = @_;
    return ($1, $2 // 80, $3 eq '' ? '/' : $3) if $uri =~ m{^http://([^/:]+)(?::(\d+))?(.*)$};
    return ('127.0.0.1', $ENV{TEST_NGINX_SERVER_PORT}, $uri);
}

# Build the raw request text.  $hdrs: hash ref or array ref of pairs, which
# override the default Host / Connection / Content-Length headers.
sub _build_request {
    my ($method, $path, $hdrs, $body, $proto) = @_;
    my @pairs = ref $hdrs eq 'HASH'  ? map { [$_, $hdrs->{$_}] } sort keys %$hdrs
              : ref $hdrs eq 'ARRAY' ? @$hdrs : ();
    my %user = map { lc $_->[0] => 1 } @pairs;
    my @defaults = (['Host', 'localhost'], ['Connection', 'close']);
    if (defined $body && (length $body || $method =~ /^(POST|PUT|PATCH)$/i)) {
        push @defaults, ['Content-Length', length $body];
    }
    elsif ($method =~ /^(POST|PUT|PATCH)$/i) {
        push @defaults, ['Content-Length', 0];
    }
    my $req = "$method $path " . ($proto // 'HTTP/1.1') . "\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for (grep { !$user{lc $_->[0]} } @defaults), @pairs;
    return $req . "\r\n" . ($body // '');
}

# Parse a complete raw response: (status, body, \%headers) with lowercased
# header names (repeated headers joined with ", ").
sub _parse_response {
    my ($raw, $method) = @_;
    my $end = index($raw, "\r\n\r\n");
    return (undef, undef, {}, 'incomplete response head') if $end < 0;
    my @lines = split /\r\n/, substr($raw, 0, $end);
    my $rest  = substr($raw, $end + 4);
    my ($st)  = (shift(@lines) // '') =~ m{^HTTP/\d\.\d\s+(\d{3})}
        or return (undef, undef, {}, 'bad status line');
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    my $b;
    if (($method // '') eq 'HEAD' || $st == 204 || $st == 304) {
        $b = '';
    }
    elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $b = '';
        while ($rest =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            return ($st, $b, \%h, 'truncated chunked body') if length($rest) < $len + 2;
            $b .= substr($rest, 0, $len);
            substr($rest, 0, $len + 2, '');
        }
    }
    elsif (defined $h{'content-length'}) {
        $b = substr($rest, 0, $h{'content-length'});
        return ($st, $b, \%h, 'truncated body') if length($b) < $h{'content-length'};
    }
    else {
        $b = $rest;
    }
    return ($st, $b, \%h, undef);
}

sub _connect {
    my ($host, $port, $timeout) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                     Proto => 'tcp', Timeout => $timeout)
        or die "connect to $host:$port failed: $@\n";
    return $sock;
}

# Read until EOF or deadline; returns (data, timed_out).
sub _read_all {
    my ($sock, $deadline) = @_;
    my $sel = IO::Select->new($sock);
    my $data = '';
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        return ($data, 1) if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($sock, $data, 65536, length $data);
        next if !defined $n && $!{EINTR};
        return ($data, 0) if !$n;    # EOF (or error such as ECONNRESET)
    }
}

# http_request($method, $uri, \%headers, $body, $timeout)
#   => ($status, $body, \%headers).  On failure status is undef and
#   $CcTest::error says why.
sub http_request { _http(@_[0 .. 4]) }

# The same, with an optional protocol for the request line (blocks).
sub _http {
    my ($method, $uri, $hdrs, $req_body, $timeout, $proto) = @_;
    $timeout //= 5;
    $error = undef;
    my ($host, $port, $path) = _target($uri);
    my $deadline = Time::HiRes::time() + $timeout;
    my ($raw, $timed_out) = eval {
        my $sock = _connect($host, $port, $timeout);
        _write_all($sock, _build_request($method, $path, $hdrs, $req_body, $proto), $deadline);
        _read_all($sock, $deadline);
    };
    if (!defined $raw) { $error = $@; return (undef, undef, {}) }
    my ($st, $b, $h, $err) = _parse_response($raw, $method);
    $error = $timed_out ? "timeout after ${timeout}s" . ($err ? " ($err)" : '') : $err;
    $error .= "; raw response: " . substr($raw, 0, 300) if $error && !defined $st;
    return ($st, $b, $h);
}

# Send a request and close immediately without reading the response.
sub _abort_request {
    my ($method, $uri, $hdrs, $req_body) = @_;
    my ($host, $port, $path) = _target($uri);
    my $sock = _connect($host, $port, 5);
    _write_all($sock, _build_request($method, $path, $hdrs, $req_body), Time::HiRes::time() + 5);
    close $sock;
}

# concurrent_requests($n, $method, $uri_template, \%headers, $body, $timeout)
# Opens $n connections, writes all $n requests, then reads all responses.
# "%d" in the template becomes the index 1..$n.  Returns a list of
# [status, body, \%headers] in index order (status undef on timeout/error).
sub concurrent_requests {
    my ($n, $method, $tmpl, $hdrs, $req_body, $timeout) = @_;
    $timeout //= 10;
    my $deadline = Time::HiRes::time() + $timeout;
    my (@socks, @bufs, %index);
    for my $i (1 .. $n) {
        (my $uri = $tmpl) =~ s/%d/$i/g;
        my ($host, $port, $path) = _target($uri);
        my $sock = _connect($host, $port, $timeout);
        _write_all($sock, _build_request($method, $path, $hdrs, $req_body), $deadline);
        ($socks[$i], $bufs[$i]) = ($sock, '');
        $index{fileno $sock} = $i;
    }
    my $sel = IO::Select->new(@socks[1 .. $n]);
    while ($sel->count) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0;
        for my $sock ($sel->can_read($left)) {
            my $i = $index{fileno $sock};
            my $r = sysread($sock, $bufs[$i], 65536, length $bufs[$i]);
            next if !defined $r && ($!{EINTR} || $!{EAGAIN});
            next if $r;
            $sel->remove($sock);    # EOF or error: this response is complete
        }
    }
    my @timed_out = map { $index{fileno $_} } $sel->handles;
    close $_ for @socks[1 .. $n];
    my %late = map { $_ => 1 } @timed_out;
    return map {
        my ($st, $b, $h) = _parse_response($bufs[$_], $method);
        [ $late{$_} ? undef : $st, $b, $h ];
    } 1 .. $n;
}

# ---------------------------------------------------------------------------
# Worker processes
# ---------------------------------------------------------------------------

# A handle: { pid, name, path, args, stdout_file, stderr_file } and, once
# reaped, status ($?), exit_code and signal.  Methods mirror the functions.
{
    package CcTest::Worker;
    sub pid       { $_[0]{pid} }
    sub stdout    { CcTest::worker_stdout($_[0]) }
    sub stderr    { CcTest::worker_stderr($_[0]) }
    sub alive     { CcTest::worker_alive($_[0]) }
    sub stop      { CcTest::stop_worker(@_) }
    sub kill      { CcTest::kill_worker($_[0]) }
    sub wait      { CcTest::wait_worker(@_) }
    sub exit_code { $_[0]{exit_code} }
}

# spawn_worker($name_or_path, @args): run a program in the background, in a
# process group of its own, stdin /dev/null, stdout and stderr to files
# under the temp dir.  A name without '/' is $WorkerDir/<name>
# (build/workers).  Dies when the program cannot be executed.
sub spawn_worker {
    my ($prog, @args) = @_;
    croak "spawn_worker: no program given" unless defined $prog && length $prog;
    my $path = $prog =~ m{/} ? $prog : "$WorkerDir/$prog";
    unless (-f $path && -x _) {
        croak "spawn_worker: $path is not an executable file"
            . ($prog =~ m{/} ? '' : " (run `make workers`)");
    }
    my $dir = "$TOPDIR/workers";
    make_path($dir);
    (my $name = $path) =~ s{.*/}{};
    my $tag = sprintf '%s-%d', $name, ++$WORKER_SEQ;
    my $h = bless { name => $name, path => $path, args => [@args],
                    stdout_file => "$dir/$tag.out", stderr_file => "$dir/$tag.err" },
                  'CcTest::Worker';

    # $w is close-on-exec: EOF on $r means the exec succeeded
    pipe(my $r, my $w) or croak "spawn_worker: pipe: $!";
    my $pid = fork;
    croak "spawn_worker: fork: $!" unless defined $pid;
    if (!$pid) {
        close $r;
        POSIX::setpgid(0, 0);           # so that its own children can be killed too
        $SIG{$_} = 'DEFAULT' for qw(PIPE INT TERM HUP);    # ignored ones survive exec
        open STDIN,  '<', '/dev/null';
        open STDOUT, '>', $h->{stdout_file};
        open STDERR, '>', $h->{stderr_file};
        { exec { $path } $path, @args }
        print $w "exec $path failed: $!";
        close $w;
        POSIX::_exit(127);
    }
    close $w;
    my $err = do { local $/; <$r> } // '';
    close $r;
    if (length $err) {
        waitpid($pid, 0);
        croak "spawn_worker: $err";
    }
    $h->{pid} = $pid;
    push @WORKERS, $h;
    return $h;
}

sub _worker_check {
    my ($h, $what) = @_;
    croak "$what: not a spawn_worker() handle" unless ref $h && $h->{pid};
    return $h;
}

# Record a reaped worker's status; kill whatever is left in its group.
sub _worker_reaped {
    my ($h, $status) = @_;
    $h->{status} = $status;
    if (!defined $status) {               # reaped by someone else
        $h->{exit_code} = undef;
    }
    elsif ($status & 127) {
        $h->{signal} = $status & 127;
        $h->{exit_code} = 128 + $h->{signal};
    }
    else {
        $h->{exit_code} = $status >> 8;
    }
    kill 'KILL', -$h->{pid};
    sanitizer_reports($h->{stderr_file});
}

# True while running; reaps it (non-blocking) when it has exited.
sub worker_alive {
    my ($h) = @_;
    _worker_check($h, 'worker_alive');
    return 0 if exists $h->{status};
    local $?;
    my $r = waitpid($h->{pid}, WNOHANG);
    return 1 if $r == 0;
    _worker_reaped($h, $r == $h->{pid} ? $? : undef);
    return 0;
}

# Exit code (128 + N after signal N) once it exited, undef if it is still
# running after $timeout (default 10) seconds.
sub wait_worker {
    my ($h, $timeout) = @_;
    _worker_check($h, 'wait_worker');
    wait_until(sub { !worker_alive($h) }, $timeout // 10);
    return exists $h->{status} ? $h->{exit_code} : undef;
}

sub _worker_kill {
    my ($h) = @_;
    local $?;
    kill 'KILL', -$h->{pid}, $h->{pid};
    my $r = waitpid($h->{pid}, 0);
    _worker_reaped($h, $r == $h->{pid} ? $? : undef);
}

# Send $signal (default TERM), wait up to $timeout (default 10) seconds and
# return the exit code (128 + N for death by signal N).  If it is still
# running then, it is SIGKILLed and undef is returned (with a diag).  A
# worker that already exited is not signalled; its exit code is returned.
sub stop_worker {
    my ($h, $sig, $timeout) = @_;
    _worker_check($h, 'stop_worker');
    $sig //= 'TERM';
    return $h->{exit_code} unless worker_alive($h);
    kill $sig, $h->{pid} or croak "stop_worker: kill $sig $h->{pid}: $!";
    my $code = wait_worker($h, $timeout // 10);
    return $code if exists $h->{status};
    _worker_kill($h);
    $h->{stop_timed_out} = 1;
    Test::More::diag("stop_worker: $h->{name} (pid $h->{pid}) still running "
        . ($timeout // 10) . "s after SIG$sig, killed");
    return undef;
}

# SIGKILL (the worker and its process group), reap; returns the exit code.
sub kill_worker {
    my ($h) = @_;
    _worker_check($h, 'kill_worker');
    _worker_kill($h) if worker_alive($h);
    return $h->{exit_code};
}

sub worker_stdout { _slurp(_worker_check($_[0], 'worker_stdout')->{stdout_file}) }
sub worker_stderr { _slurp(_worker_check($_[0], 'worker_stderr')->{stderr_file}) }

# ---------------------------------------------------------------------------
# Kafka: the project's mock broker (build/workers/cc-mockbroker)
# ---------------------------------------------------------------------------

# kafka_start(partitions => 4, topics => ['cc.draws'], brokers => 1):
# spawn the mock, wait for its "bootstrap=..." line, set
# $ENV{TEST_KAFKA_BROKERS} and return the list.  While it runs, a no-op
# returning the current list (options are then ignored).
sub kafka_start {
    my (%o) = @_;
    my @bad = grep { !/^(?:partitions|topics|brokers)$/ } keys %o;
    croak "kafka_start: unknown option(s) @bad" if @bad;
    return $KAFKA->{bootstrap} if $KAFKA && worker_alive($KAFKA);

    my $topics = $o{topics} // ['cc.draws'];
    $topics = [$topics] unless ref $topics;
    my $h = spawn_worker('cc-mockbroker', '--brokers', $o{brokers} // 1,
                         '--partitions', $o{partitions} // 4,
                         map { ('--topic', $_) } @$topics);
    my $bootstrap;
    wait_until(sub {
        return 1 unless worker_alive($h);
        ($bootstrap) = worker_stdout($h) =~ /^bootstrap=(\S+)\n/;
        return defined $bootstrap;
    }, $KafkaStartTimeout);
    unless (defined $bootstrap) {
        my $why = worker_alive($h) ? "printed no bootstrap line in ${KafkaStartTimeout}s"
                                   : "exited with code $h->{exit_code}";
        kill_worker($h);
        die "kafka_start: cc-mockbroker $why\n--- stdout:\n" . worker_stdout($h)
          . "--- stderr:\n" . worker_stderr($h);
    }
    $h->{bootstrap} = $bootstrap;
    $KAFKA = $h;
    $ENV{TEST_KAFKA_BROKERS} = $bootstrap;
    return $bootstrap;
}

# Signal the mock and wait until it reports "brokers down|up" once more.
sub _kafka_signal {
    my ($sig, $state, $what) = @_;
    croak "$what: the mock broker is not running (kafka_start)"
        unless $KAFKA && worker_alive($KAFKA);
    my $count = sub { scalar(() = worker_stderr($KAFKA) =~ /^cc-mockbroker: brokers $state$/mg) };
    my $before = $count->();
    kill $sig, $KAFKA->{pid};
    wait_until(sub { $count->() > $before }, 5)
        or die "$what: cc-mockbroker did not report \"brokers $state\" within 5s\n";
    return 1;
}

# Every broker down (connections are accepted and closed at once) / up
# again; the topics' data is kept.  They return once the mock confirmed.
sub kafka_down { _kafka_signal('USR1', 'down', 'kafka_down') }
sub kafka_up   { _kafka_signal('USR2', 'up',   'kafka_up') }

# SIGTERM; returns its exit code.  A later kafka_start() starts a fresh,
# empty cluster on new ports.  $ENV{TEST_KAFKA_BROKERS} keeps the old list.
sub kafka_stop {
    return undef unless $KAFKA;
    my $h = $KAFKA;
    undef $KAFKA;
    return stop_worker($h, 'TERM', 5);
}

sub kafka_worker { $KAFKA }

# ---------------------------------------------------------------------------
# MySQL: one throw-away mariadbd per test file, started on demand
# ---------------------------------------------------------------------------

sub _mysql_init {
    return if %MYSQL;
    my $dir = "$TOPDIR/mysql";
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
        "--tmpdir=$m->{dir}/tmp", '--skip-log-bin', '--innodb-buffer-pool-size=64M', '--skip-name-resolve',
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
    mysql_query(_slurp("$REPO_ROOT/sql/grants.sql")) unless $m->{granted}++;
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
               '-S', $MYSQL{socket}, '-uroot', '-N', '-B',
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

# ---------------------------------------------------------------------------
# Block runner
# ---------------------------------------------------------------------------

sub repeat_each {
    $REPEAT = shift if @_;
    return $REPEAT;
}

# Raw section value: undef if absent; a string, or an array ref when a
# Test::Base filter (e.g. "eval") produced a list or references.
sub _raw {
    my ($blk, $name) = @_;
    return undef unless exists $blk->{$name};
    my @v = @{ $blk->{$name} };
    return $v[0] // '' if @v <= 1 && !ref $v[0];
    return $v[0] if @v == 1 && ref $v[0] eq 'ARRAY';    # eval filter: [ ... ]
    return \@v;
}

sub _sec { my $v = _raw(@_); ref $v ? [ map { _subst($_) } @$v ] : _subst($v) }

# A section as a list of non-empty lines (or items, for array refs).
sub _lines {
    my ($v) = @_;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return $v if ref $v;
    return grep { /\S/ } map { s/\s+$//r } split /\n/, $v;
}

sub _redis_section {
    my ($kind, $i) = @_;    # ("redis_before"|"redis_after", shard)
    return $i == 0 ? ($kind, "${kind}_shard0") : ("${kind}_shard$i");
}

# Number of tests one block emits (when nothing goes fatally wrong).
sub _block_test_count {
    my ($blk) = @_;
    my $n = sub { my @l = _lines(_raw($blk, $_[0])); scalar @l };
    my $has = sub { exists $blk->{$_[0]} ? 1 : 0 };
    return 1 + $n->('error_log') if $has->('must_die');

    my $nginx = !$has->('skip_nginx');
    my $per = 0;
    if ($nginx && $has->('request') && !$has->('abort')) {
        $per += 1 + $has->('response_body') + $has->('response_body_like')
              + $n->('response_headers') + $n->('response_headers_like');
    }
    $per += _raw($blk, 'check_tests') || 0;
    $per += $n->('error_log') + $n->('no_error_log') if $nginx;
    my $after = 0;
    for my $i (0 .. $N_SHARDS - 1) { $after += $n->($_) for _redis_section('redis_after', $i) }
    return $REPEAT * $per + $after;
}

# Total number of tests run_tests() will emit, for plan(tests => ...).
sub planned_tests {
    my $total = 0;
    $total += _block_test_count($_) for blocks();
    return $total;
}

sub run_tests {
    my $tb = Test::Builder->new;
    # Without a plan, use no_plan + done_testing.  (Going through plan()
    # also keeps Test::Base's END hook from trying to plan on its own.)
    my $no_plan = !$tb->has_plan;
    $tb->plan('no_plan') if $no_plan;
    _run_block($_) for blocks();
    done_testing() if $no_plan;
}

sub _run_block {
    my ($blk) = @_;
    my $tb = Test::Builder->new;
    my $name = $blk->name;
    my $start = $tb->current_test;
    my $expected = eval { _block_test_count($blk) } // 0;
    my $ctx = { name => $name };

    my $ok = eval { _run_block_inner($blk, $ctx); 1 };
    my $err = $@;

    # Always stop nginx; a crashed worker or master is a failure too.
    my @problems;
    if (my $inst = $ctx->{nginx}) {
        push @problems, _nginx_stop($inst);
        my @crash = grep { /exited on signal|worker process \d+ exited with fatal/ }
                    split /\n/, nginx_error_log($inst);
        push @problems, "nginx process crashed:\n" . join("\n", @crash) if @crash;
    }
    @problems = grep { length } @problems;

    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (!$ok) {
        # Report the failure as one test and skip what the block still owed,
        # so that a numeric plan stays valid.
        chomp $err;
        fail("$name - aborted");
        diag($err);
        my $owed = $expected - ($tb->current_test - $start);
        $tb->skip("$name: aborted after a fatal error") for 1 .. $owed;
    }
    if (@problems) {
        fail("$name - nginx health");
        diag($_) for @problems;
    }
}

sub _run_block_inner {
    my ($blk, $ctx) = @_;
    my $name = $ctx->{name};
    my @unknown = grep { !/^_/ && !$KNOWN_SECTIONS{$_} } @{ $blk->{_section_order}[0] || [] };
    die "unknown section(s): @unknown\n" if @unknown;

    local ($status, $body, $headers, $error) = (undef, undef, {}, undef);
    local $block = $blk;
    my $has = sub { exists $blk->{$_[0]} };

    my %nginx_opts = (
        main_config => _sec($blk, 'main_config'),
        http_config => _sec($blk, 'http_config'),
        config      => _sec($blk, 'config'),
        raw         => _sec($blk, 'raw_config'),
        workers     => _sec($blk, 'workers'),
        log_level   => _sec($blk, 'log_level'),
        no_module   => $has->('no_module'),
        prefix      => "$TOPDIR/nginx",
    );

    if ($has->('must_die')) {
        _must_die($blk, $name, %nginx_opts);
        return;
    }

    # Fresh redis: restart/resume shards left down by earlier tests, flush.
    for my $i (0 .. $N_SHARDS - 1) {
        redis_resume($i) if $REDIS[$i]{paused};
        redis_start($i) unless $REDIS[$i]{pid};
        my $r = redis_cmd($i, 'FLUSHALL');
        die "FLUSHALL on shard $i: $r\n" unless $r eq 'OK';
    }
    for my $i (0 .. $N_SHARDS - 1) {
        for my $line (map { _lines(_sec($blk, $_)) } _redis_section('redis_before', $i)) {
            next if $line =~ /^\s*#/;
            my $reply = redis_text(redis_cmd($i, _split_cmd($line)));
            die "redis_before (shard $i) `$line` failed: $reply\n" if $reply =~ /^\(error\)/;
        }
    }

    my $nginx = !$has->('skip_nginx');
    $ctx->{nginx} = _nginx_launch(%nginx_opts) if $nginx;

    _eval_code(_sec($blk, 'init'), 'init', $name) if $has->('init');

    # The request: "METHOD URI [PROTO]" then body lines.
    my ($method, $uri, $proto, $req_body);
    if (defined(my $req = _sec($blk, 'request'))) {
        my ($first, $rest) = split /\n/, $req, 2;
        my @p = split ' ', $first // '';
        die "empty --- request section\n" unless @p;
        ($method, $uri, $proto) = @p == 1 ? ('GET', $p[0]) : @p;
        $req_body = $rest;
        $req_body =~ s/\n\z// if defined $req_body;
        $req_body = undef if defined $req_body && $req_body eq '' && $method !~ /^(POST|PUT|PATCH)$/i;
    }
    my @hdrs = map { /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/ ? [$1, $2] : die "bad more_headers line: $_\n" }
               _lines(_sec($blk, 'more_headers'));
    my $timeout = _sec($blk, 'timeout') || 5;

    for my $rep (1 .. $REPEAT) {
        my $tag = $REPEAT > 1 ? "$name (repeat $rep)" : $name;
        ($status, $body, $headers, $error) = (undef, undef, {}, undef);

        if ($nginx && defined $method) {
            if ($has->('abort')) {
                _abort_request($method, $uri, \@hdrs, $req_body);
            }
            else {
                ($status, $body, $headers) = _http($method, $uri, \@hdrs, $req_body, $timeout, $proto);
                _check_response($blk, $tag);
            }
        }

        if ($nginx || $has->('wait')) {
            _sleep((_sec($blk, 'wait') || 0) + ($nginx ? 0.05 : 0));    # let the log flush
        }
        _eval_code(_sec($blk, 'check'), 'check', $tag) if $has->('check');
        _check_log($blk, $tag, $ctx->{nginx}) if $nginx;
    }

    for my $i (0 .. $N_SHARDS - 1) {
        for my $sec (_redis_section('redis_after', $i)) {
            for my $line (_lines(_sec($blk, $sec))) {
                my ($cmd, $op, $want) = $line =~ /^(.*?)\s+(=>|=~)\s*(.*?)\s*$/
                    or die "bad $sec line (want `CMD args => expected`): $line\n";
                my $got = eval { redis_text(redis_cmd($i, _split_cmd($cmd))) };
                $got = "(connection error) " . ($@ =~ s/\s+\z//r) unless defined $got;
                if ($op eq '=>') { is($got, $want, "$name - $sec: $cmd") }
                else             { like($got, qr/$want/, "$name - $sec: $cmd") }
            }
        }
    }
}

sub _check_response {
    my ($blk, $tag) = @_;
    my $want_code = _sec($blk, 'error_code');
    $want_code = 200 unless defined $want_code && $want_code =~ /\S/;
    $want_code =~ s/\s+//g;
    is($status, $want_code, "$tag - status code") or !defined $error or diag($error);

    if (exists $blk->{response_body}) {
        is($body, _sec($blk, 'response_body'), "$tag - response_body");
    }
    if (exists $blk->{response_body_like}) {
        my $re = _sec($blk, 'response_body_like');
        $re = $re->[0] if ref $re eq 'ARRAY';
        $re =~ s/\n\z// unless ref $re;
        like($body // '', (ref $re ? $re : qr/$re/s), "$tag - response_body_like");
    }
    for my $line (_lines(_sec($blk, 'response_headers'))) {
        my ($neg, $k, $v) = $line =~ /^\s*(!?)\s*([^:\s]+)\s*(?::\s?(.*))?$/
            or die "bad response_headers line: $line\n";
        if ($neg) { ok(!exists $headers->{lc $k}, "$tag - header $k absent") or diag("got: $headers->{lc $k}") }
        else      { is($headers->{lc $k}, $v // '', "$tag - header $k") }
    }
    for my $line (_lines(_sec($blk, 'response_headers_like'))) {
        my ($k, $v) = $line =~ /^\s*([^:\s]+)\s*:\s?(.*)$/
            or die "bad response_headers_like line: $line\n";
        like($headers->{lc $k} // '', qr/$v/, "$tag - header $k like");
    }
}

# --- error_log / --- no_error_log: substring (or qr// via "eval" filter).
sub _check_log {
    my ($blk, $tag, $inst) = @_;
    my $log = nginx_error_log($inst);
    my $found = sub {
        my ($pat) = @_;
        return ref $pat eq 'Regexp' ? grep({ $_ =~ $pat } split /\n/, $log)
                                    : grep({ index($_, $pat) >= 0 } split /\n/, $log);
    };
    for my $pat (_lines(_sec($blk, 'error_log'))) {
        ok(scalar($found->($pat)), "$tag - error_log: $pat")
            or diag("not found in $inst->{error_log} (" . ($log =~ tr/\n//) . " lines)");
    }
    for my $pat (_lines(_sec($blk, 'no_error_log'))) {
        my @hits = $found->($pat);
        ok(!@hits, "$tag - no_error_log: $pat")
            or diag(join "\n", 'unexpected log lines:', @hits[0 .. ($#hits < 4 ? $#hits : 4)]);
    }
}

# --- must_die: "nginx -t" must fail and print each --- error_log line.
sub _must_die {
    my ($blk, $name, %o) = @_;
    my ($prefix, $conf_file, $conf) = _prepare_prefix(%o);
    my ($out, $err) = ('', '');
    IPC::Run::run([$NginxBinary, '-t', '-p', "$prefix/", '-c', $conf_file],
                  '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(10));
    my $rc = $?;
    ok($rc != 0, "$name - nginx -t fails")
        or diag("nginx -t unexpectedly succeeded:\n$err$out");
    for my $line (_lines(_sec($blk, 'error_log'))) {
        my $hit = ref $line eq 'Regexp' ? $err =~ $line : index($err, $line) >= 0;
        ok($hit, "$name - nginx -t output: $line") or diag("nginx -t stderr:\n$err");
    }
}

# Evaluate --- init / --- check code in package main.  $status, $body,
# $headers and $block are available as lexicals (and as $CcTest::...).
sub _eval_code {
    my ($code, $what, $name) = @_;
    (my $label = "$what section of $name") =~ tr/"\n/' /;
    my $ok = eval "package main; no strict 'vars';\n"
        . 'my ($status, $body, $headers, $block) = '
        . '($CcTest::status, $CcTest::body, $CcTest::headers, $CcTest::block);' . "\n"
        . "{\n#line 1 \"$label\"\n$code\n;}\n1;";    # own scope: user code may say my $body
    die "$what code died: $@" unless $ok;
}

1;

__END__

API summary
===========

Block sections (Test::Base syntax; "--- name: value" or multi-line):

  nginx.conf       main_config, http_config, config, raw_config (replaces the
                   default http part; if it contains "http {" it is used as is
                   plus temp paths), workers (default 1), log_level (default
                   debug), no_module (no load_module line)
  config tests     must_die + error_log: "nginx -t" must fail and its stderr
                   must contain every error_log line
  request          request ("METHOD URI [PROTO]" then body lines, final newline
                   dropped), more_headers, timeout (default 5), abort,
                   skip_nginx, wait (extra seconds before log checks)
  response         error_code (default 200), response_body, response_body_like,
                   response_headers ("Name: value", "!Name" = absent),
                   response_headers_like
  logs             error_log, no_error_log (substring per line; qr// items with
                   the Test::Base "eval" filter)
  redis            redis_before[_shard1] (commands, run before nginx starts),
                   redis_after[_shard1] ("CMD args => text" exact, or
                   "CMD args =~ regex"); replies as text: integers as digits,
                   bulk raw, nil "(nil)", arrays joined by ",", errors
                   "(error) MSG"
  perl             init (once, after nginx started), check (per repetition,
                   after the response and the "wait"), check_tests: N
  shared config    filters on_shard0 / on_shards (http_config: the shard
                   line, then the block's lines) and all_locations (config:
                   the block's lines, then a location per handler they do
                   not locate themselves); also plain functions, e.g. for
                   start_nginx(http_config => on_shard0(...))
  beside it        t/lib/CcKeys.pm (Redis key names, mirroring
                   common/cc_keys.h), t/lib/CcToken.pm (signed tokens, the
                   secret file, the with_token filter), t/lib/CcMetrics.pm
                   (metrics(), outcome(): one request counted once)

Tests per block: per repetition 1 (status) + 1 per response_body(_like) +
1 per response_headers(_like) line + check_tests + 1 per error_log /
no_error_log line; plus once 1 per redis_after line.  must_die blocks:
1 + error_log lines.  planned_tests() computes the total.
A fatal problem in a block (nginx does not start, redis_before error, init or
check dies, unknown section or $TEST_NGINX_ variable) is one failed test, and
the block's remaining tests are skipped, so a numeric plan still holds.  A
worker that exited on a signal, or an nginx that needed SIGKILL, adds one
failed "nginx health" test.

Helpers: repeat_each, run_tests, planned_tests, redis_cmd, redis_text,
redis_port, redis_stop/start/pause/resume, redis_snapshot (every shard's
whole dataset as text, to compare before and after), start_nginx,
stop_nginx, nginx_error_log, nginx_pids, http_request, concurrent_requests,
free_port, wait_until, sanitizer_reports(FILES) (the ASan / UBSan report
lines in FILES).  Sanitizer builds (make test-asan): every nginx stopped
and every worker reaped has its logs scanned; any report is an "nginx
health" failure of its block and fails the test file at END.  Environment: TEST_NGINX_SERVER_PORT (+ spare PORT1, PORT2),
TEST_NGINX_REDIS_PORT0/1, TEST_NGINX_REDIS_SHARD0/1, TEST_NGINX_REDIS_SHARDS;
CC_MODULE_SO, TEST_NGINX_BINARY, CC_REDIS_SERVER, CC_TEST_KEEP are read.

MySQL (a throw-away mariadbd; nothing runs until a test file asks):
  mysql_start()        install a datadir under the temp dir (once), start
                       mariadbd on a free loopback port, wait until it answers
                       (up to $CcTest::MysqlStartTimeout = 30 s); returns the
                       port and sets TEST_MYSQL_HOST (127.0.0.1), TEST_MYSQL_PORT,
                       TEST_MYSQL_SOCKET, TEST_MYSQL_USER (root, no password;
                       over TCP as well).  No-op while running; after a
                       stop/kill it restarts on the same port and datadir.
                       Server charset utf8mb4.  Stopped (SIGTERM) at END.
  mysql_stop()         SIGTERM, wait for exit (SIGKILL after 30 s)
  mysql_kill()         SIGKILL, like a crash (committed data survives)
  mysql_restart()      mysql_stop + mysql_start
  mysql_pause()/mysql_resume()   SIGSTOP / SIGCONT
  mysql_query($sql, $db)  run $sql (";"-separated statements allowed) with
                       the mariadb client as root over the socket, optional
                       default database; returns [ [col, ...], ... ] (rows of
                       every result set, values as byte strings, NULL as
                       undef; a string 'NULL' reads as undef too).  Dies with
                       the client's error (and the SQL) on failure or after
                       $CcTest::MysqlTimeout (30) s.
  mysql_value($sql, $db)  first column of the first row, or undef
  Call mysql_start() before run_tests() when blocks use $TEST_MYSQL_ vars.

Workers (any program; the project's are build/workers/cc-*):
  spawn_worker($name_or_path, @args)  fork+exec in its own process group,
                       stdin /dev/null, stdout and stderr to files under the
                       temp dir; a name without '/' is build/workers/<name>
                       ($CcTest::WorkerDir, env CC_WORKER_DIR).  Dies if it
                       cannot be executed.  Returns a handle: $h->{pid},
                       $h->pid, and methods stdout, stderr, alive, stop, kill,
                       wait, exit_code.  (C programs fully buffer stdout into
                       a file: it shows up only after a flush or at exit.)
  worker_stdout($h), worker_stderr($h)   the files' contents so far
  worker_alive($h)     true while running (reaps it once it exited)
  wait_worker($h, $timeout = 10)  exit code, or undef if still running
  stop_worker($h, $signal = 'TERM', $timeout = 10)  signal it, wait, return
                       the exit code; on timeout SIGKILL it and return undef
                       (with a diag).  Already exited: just its exit code.
  kill_worker($h)      SIGKILL, reap, return the exit code
  Exit codes: exit status, or 128 + N after death by signal N (143 = TERM,
  137 = KILL).  When a worker is reaped, whatever is left in its process
  group is SIGKILLed.  Workers still running at END are SIGKILLed.

Kafka (build/workers/cc-mockbroker, librdkafka's mock cluster):
  kafka_start(partitions => 4, topics => ['cc.draws'], brokers => 1)
                       spawn it, wait for its bootstrap line (5 s), set
                       TEST_KAFKA_BROKERS ("127.0.0.1:PORT[,...]") and return
                       it.  No-op (same list) while it runs.
  kafka_down()         SIGUSR1: every broker down (connections are accepted,
                       then closed at once); returns when the mock confirmed
  kafka_up()           SIGUSR2: up again, data kept
  kafka_stop()         SIGTERM; returns its exit code.  A new kafka_start()
                       is a fresh, empty cluster on new ports.
  kafka_worker()       its spawn_worker handle (undef when not started)
  Killed at END.  Call kafka_start() before run_tests() when blocks use
  $TEST_KAFKA_BROKERS.

Block sections substitute $TEST_NGINX_XXX, $TEST_MYSQL_XXX and
$TEST_KAFKA_XXX from %ENV (unknown ones are a fatal block error).  Any
TEST_MYSQL_* / TEST_KAFKA_* inherited from the environment is dropped at
import.  Also read: CC_MYSQL_INSTALL_DB, CC_MYSQLD, CC_MYSQL_CLIENT (program
names), CC_WORKER_DIR.
