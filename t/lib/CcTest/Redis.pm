package CcTest::Redis;

# CcTest::Redis - the two throw-away redis-server shards every test file
# gets (started by CcTest's import, stopped at END), fault injection on
# them (stop = crash, start, pause, resume), a tiny RESP client
# (redis_cmd), and whole-dataset snapshots.

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Path qw(make_path);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Time::HiRes ();
use CcTest::Util qw(topdir free_port wait_until _spawn _reap _slurp _write_all);

our @EXPORT = qw(redis_cmd redis_text redis_port redis_stop redis_start redis_pause redis_resume
                 redis_snapshot);
our @EXPORT_OK = qw(redis_init redis_cleanup redis_reset n_shards _split_cmd redis_cmd_at);

our $RedisServer  = $ENV{CC_REDIS_SERVER} || 'redis-server';
our $RedisTimeout = 5;    # seconds for one redis_cmd() round trip

my $N_SHARDS = 2;
my @REDIS;                # per shard: { port, dir, pid, paused }

sub n_shards { $N_SHARDS }

# Start every shard on a free port and wait until each answers; set the
# TEST_NGINX_REDIS_ variables.
sub redis_init {
    for my $i (0 .. $N_SHARDS - 1) {
        my $dir = topdir() . "/redis$i";
        make_path($dir);
        $REDIS[$i] = { port => free_port(), dir => $dir };
        _redis_spawn($i);
    }
    _redis_wait($_) for 0 .. $N_SHARDS - 1;

    $ENV{"TEST_NGINX_REDIS_PORT$_"}  = $REDIS[$_]{port} for 0 .. $N_SHARDS - 1;
    $ENV{"TEST_NGINX_REDIS_SHARD$_"} = "127.0.0.1:$REDIS[$_]{port}" for 0 .. $N_SHARDS - 1;
    $ENV{TEST_NGINX_REDIS_SHARDS} = join ' ', map { "127.0.0.1:$_->{port}" } @REDIS;
}

# At END: SIGTERM (a paused shard resumed first), SIGKILL after 2 s.
sub redis_cleanup {
    for my $r (@REDIS) {
        next unless $r->{pid};
        kill 'CONT', $r->{pid} if $r->{paused};
        kill 'TERM', $r->{pid};
        _reap($r->{pid}, 2) or do { kill 'KILL', $r->{pid}; waitpid($r->{pid}, 0) };
    }
}

# Fresh redis for a block: restart/resume shards left down by earlier
# tests, flush.
sub redis_reset {
    for my $i (0 .. $N_SHARDS - 1) {
        redis_resume($i) if $REDIS[$i]{paused};
        redis_start($i) unless $REDIS[$i]{pid};
        my $r = redis_cmd($i, 'FLUSHALL');
        die "FLUSHALL on shard $i: $r\n" unless $r eq 'OK';
    }
}

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
    }, $CcTest::Util::StartTimeout);
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
    return _resp("redis shard $i", _shard($i)->{port}, @args);
}

# redis_cmd_at($port, @args): the same on any redis (or sentinel) on
# 127.0.0.1:$port, e.g. a replica or a sentinel of CcTest::Sentinel.
sub redis_cmd_at {
    my ($port, @args) = @_;
    return _resp("redis on port $port", $port, @args);
}

sub _resp {
    my ($i, $port, @args) = @_;
    my $deadline = Time::HiRes::time() + $RedisTimeout;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                     Proto => 'tcp', Timeout => $RedisTimeout)
        or die "$i (port $port): connect failed: $@\n";

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
        die "$i: read timeout\n" if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($sock, $buf, 65536, length $buf);
        die "$i: connection closed\n" if defined $n && $n == 0;
        die "$i: read error: $!\n" if !defined $n && !$!{EINTR};
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
        die "$i: unexpected reply line: $l\n";
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

1;
