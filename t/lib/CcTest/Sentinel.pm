package CcTest::Sentinel;

# CcTest::Sentinel - a replicated Redis shard watched by Redis Sentinel,
# for the failover tests: replicas of a harness shard, three redis-sentinel
# processes watching it under a master name, the faults (kill -9, SIGSTOP,
# SIGCONT, restart) on whichever node is the primary now, and waiting for
# the sentinels to agree and to promote.  Everything runs on 127.0.0.1 on
# free ports under the test file's temp dir, and is stopped at END (before
# the harness shards).
#
#   use lib 't/lib';
#   use CcTest;                  # first: the temp dir, the shards
#   use CcTest::Sentinel;
#
#   my $g = sentinel_group(name => 'cc0', shard => 0);   # + 1 replica, 3 sentinels
#   $g->sentinels;               # "127.0.0.1:P1 127.0.0.1:P2 127.0.0.1:P3"
#   my $old = $g->primary;       # port of the primary all sentinels name
#   $g->kill($old);              # SIGKILL (a harness shard: redis_stop)
#   my $new = $g->wait_promotion($old, 20);   # port of the promoted replica
#   $g->cmd($new, 'HGETALL', 'k');            # redis_cmd on any node's port
#
# API (a group $g; a "node" is a redis-server of the group, named by its
# port; the harness shard keeps its port across a restart):
#
#   sentinel_group(name => NAME, shard => I, replicas => 1, sentinels => 3,
#                  quorum => 2, down_after => 1000, failover_timeout => 3000)
#       start `replicas` replicas of harness shard I (redis-server
#       --replicaof, no persistence) and wait until each is in sync, then
#       `sentinels` redis-sentinel processes monitoring the shard as NAME,
#       and wait until every sentinel sees every replica and every other
#       sentinel (wait_agree).  Dies with the logs on a failure.
#       also => { NAME2 => I2, ... }: the sentinels watch these harness
#       shards too, under those names, each with `replicas` replicas of
#       its own (a module asks one list of sentinels for every shard);
#       the methods below are about NAME, the group's own, but kill,
#       stop, resume, start, pid and cmd take any node's port, and
#       $g->also_replicas(NAME2) lists those replicas' ports.
#   $g->name                     the master name
#   $g->sentinel_ports           the sentinels' ports (list)
#   $g->sentinels                "127.0.0.1:P ..." (a cc_redis_sentinels line)
#   $g->nodes                    every node's port, shard first (list)
#   $g->replicas                 the ports of the nodes that are not the
#                                primary the sentinels name now (list)
#   $g->master_addr($k)          what sentinel $k (0-based) answers to
#                                get-master-addr-by-name: "127.0.0.1:P" or
#                                undef (no answer, or it does not know)
#   $g->primary                  the port every sentinel names, undef while
#                                they disagree or one does not answer
#   $g->role($port)              ROLE's first field ("master", "slave"), or
#                                undef when it does not answer within 1 s
#   $g->wait_agree($timeout)     wait (default 15 s) until every sentinel
#                                knows every other one and every replica;
#                                returns true when they do
#   $g->wait_promotion($old, $timeout)   wait (default 20 s) until every
#                                sentinel names a primary other than port
#                                $old and ROLE on it says master; returns
#                                its port, or undef on timeout
#   $g->wait_replica($port, $timeout)    wait (default 30 s) until node
#                                $port is a replica of the current primary
#                                with its link up (an old primary that came
#                                back is reconfigured by the sentinels:
#                                that takes up to ~20 s); returns true
#   $g->kill($port)              SIGKILL node $port, reap it (a crash)
#   $g->stop($port)              SIGSTOP (a hang, a partition)
#   $g->resume($port)            SIGCONT
#   $g->start($port)             start a killed node again on its port with
#                                an empty dataset, as a primary (the
#                                sentinels demote it); waits for PING
#   $g->kill_sentinel($k)        SIGKILL sentinel $k (0-based), reap it
#   $g->stop_sentinel($k)        SIGSTOP sentinel $k: it accepts, answers nothing
#   $g->resume_sentinel($k)      SIGCONT
#   $g->pid($port)               the node's pid (undef when down)
#   $g->events                   what the sentinels' logs say about NAME's
#                                primary: every "+sdown master", "+odown
#                                master" and "+switch-master" line of
#                                every sentinel, by time ("HH:MM:SS.mmm
#                                sK EVENT ..."): when a test must tell a
#                                second failover (the promoted primary
#                                itself seen down) from its own fault
#   $g->cmd($port, @args)        redis_cmd on node or sentinel $port
#   $g->stop_all                 SIGTERM the sentinels and the replicas
#                                (SIGKILL after 2 s); the harness shard is
#                                left to the harness.  Done at END too.
#   sentinel_cmd($port, @args)   = CcTest::Redis::redis_cmd_at
#
# A group's harness shard must not be used by block tests (redis_reset
# restarts and flushes it as a primary): use it from Test::More style
# tests.  $CcTest::Sentinel::SentinelServer (env CC_REDIS_SENTINEL,
# default redis-sentinel) is the program; replicas run
# $CcTest::RedisServer.

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Time::HiRes ();
use CcTest::Util qw(topdir free_port wait_until _spawn _reap _slurp _spew _tail);
use CcTest::Redis qw(redis_port redis_stop redis_start redis_pause redis_resume redis_cmd_at);

our @EXPORT = qw(sentinel_group sentinel_cmd);

our $SentinelServer = $ENV{CC_REDIS_SENTINEL} || 'redis-sentinel';

my @GROUPS;                   # every group started, for END
my $OWNER_PID = $$;
my $SEQ = 0;

sub sentinel_cmd { redis_cmd_at(@_) }

sub sentinel_group {
    my (%o) = @_;
    croak "sentinel_group: name and shard are required"
        unless defined $o{name} && defined $o{shard};
    my $g = bless {
        name             => $o{name},
        shard            => $o{shard},
        n_replicas       => $o{replicas} // 1,
        n_sentinels      => $o{sentinels} // 3,
        quorum           => $o{quorum} // 2,
        down_after       => $o{down_after} // 1000,
        failover_timeout => $o{failover_timeout} // 3000,
        dir              => topdir() . '/sentinel-' . $o{name} . '-' . $SEQ++,
        nodes            => {},   # port => { port, pid, dir, shard (harness index) }
        order            => [],
        sentinel         => [],   # { port, pid, dir }
    }, __PACKAGE__;
    make_path($g->{dir});
    push @GROUPS, $g;

    my $mport = redis_port($o{shard});
    $g->{nodes}{$mport} = { port => $mport, shard => $o{shard} };
    push @{ $g->{order} }, $mport;

    for my $k (1 .. $g->{n_replicas}) {
        my $port = free_port();
        my $dir = "$g->{dir}/replica$k";
        make_path($dir);
        my $n = $g->{nodes}{$port} = { port => $port, dir => $dir,
                                       master => $mport };
        push @{ $g->{order} }, $port;
        $g->_spawn_node($n);
    }
    for my $an (sort keys %{ $o{also} || {} }) {
        my $aport = redis_port($o{also}{$an});
        $g->{nodes}{$aport} = { port => $aport, shard => $o{also}{$an} };
        for my $k (1 .. $g->{n_replicas}) {
            my $port = free_port();
            my $dir = "$g->{dir}/$an-replica$k";
            make_path($dir);
            my $n = $g->{nodes}{$port} = { port => $port, dir => $dir, master => $aport };
            push @{ $g->{also}{$an} }, $port;
            $g->_spawn_node($n);
        }
    }
    for my $port (@{ $g->{order} }[1 .. $#{ $g->{order} }], map { @$_ } values %{ $g->{also} || {} }) {
        wait_until(sub { _link_up($port) }, 10)
            or croak "replica on port $port did not sync with its primary:\n"
                     . _tail(_slurp("$g->{nodes}{$port}{dir}/redis.log"), 20);
    }

    for my $k (0 .. $g->{n_sentinels} - 1) {
        my $s = { port => free_port(), dir => "$g->{dir}/sentinel$k" };
        make_path($s->{dir});
        _spew("$s->{dir}/sentinel.conf", join '', map { "$_\n" }
            "port $s->{port}",
            "bind 127.0.0.1",
            "daemonize no",
            "dir $s->{dir}",
            "logfile $s->{dir}/sentinel.log",
            "sentinel monitor $g->{name} 127.0.0.1 $mport $g->{quorum}",
            "sentinel down-after-milliseconds $g->{name} $g->{down_after}",
            "sentinel failover-timeout $g->{name} $g->{failover_timeout}",
            "sentinel parallel-syncs $g->{name} 1",
            map { my $n = $_;
                  ("sentinel monitor $n 127.0.0.1 " . redis_port($o{also}{$n}) . " $g->{quorum}",
                   "sentinel down-after-milliseconds $n $g->{down_after}",
                   "sentinel failover-timeout $n $g->{failover_timeout}") }
                sort keys %{ $o{also} || {} });
        $s->{pid} = _spawn("$s->{dir}/sentinel.out", $SentinelServer, "$s->{dir}/sentinel.conf");
        push @{ $g->{sentinel} }, $s;
    }
    $g->wait_agree(20) or croak "sentinels of $g->{name} did not agree:\n" . $g->_logs;
    return $g;
}

sub _spawn_node {
    my ($g, $n) = @_;
    $n->{pid} = _spawn("$n->{dir}/redis.out", $CcTest::Redis::RedisServer,
        '--port', $n->{port}, '--bind', '127.0.0.1', '--save', '',
        '--appendonly', 'no', '--daemonize', 'no', '--dir', $n->{dir},
        '--logfile', "$n->{dir}/redis.log",
        ($n->{master} ? ('--replicaof', '127.0.0.1', $n->{master}) : ()));
    $n->{paused} = 0;
}

sub _link_up {
    my ($port) = @_;
    my $info = eval { local $CcTest::Redis::RedisTimeout = 1; redis_cmd_at($port, 'INFO', 'replication') };
    return defined $info && $info =~ /master_link_status:up/;
}

sub name           { $_[0]{name} }
sub also_replicas  { @{ $_[0]{also}{$_[1]} || [] } }
sub sentinel_ports { map { $_->{port} } @{ $_[0]{sentinel} } }
sub sentinels      { join ' ', map { "127.0.0.1:$_->{port}" } @{ $_[0]{sentinel} } }
sub nodes          { @{ $_[0]{order} } }
sub cmd            { my $g = shift; redis_cmd_at(@_) }

sub _node {
    my ($g, $port) = @_;
    my $n = $g->{nodes}{$port // ''};
    croak "no node on port " . ($port // 'undef') . " in group $g->{name}" unless $n;
    return $n;
}

sub pid {
    my ($g, $port) = @_;
    my $n = $g->_node($port);
    if (defined $n->{shard}) {
        my $pid = _slurp(topdir() . "/redis$n->{shard}/redis.pid");
        chomp $pid;
        return $pid =~ /^\d+$/ && CORE::kill(0, $pid) ? $pid : undef;
    }
    return $n->{pid};
}

sub master_addr {
    my ($g, $k) = @_;
    my $s = $g->{sentinel}[$k] or croak "no sentinel $k";
    my $r = eval { local $CcTest::Redis::RedisTimeout = 1;
                   redis_cmd_at($s->{port}, 'SENTINEL', 'get-master-addr-by-name', $g->{name}) };
    return undef unless ref $r eq 'ARRAY' && @$r == 2;
    return "$r->[0]:$r->[1]";
}

sub primary {
    my ($g) = @_;
    my %seen;
    for my $k (0 .. $#{ $g->{sentinel} }) {
        my $a = $g->master_addr($k) // return undef;
        $seen{$a} = 1;
    }
    return undef unless keys %seen == 1;
    my ($addr) = keys %seen;
    return (split /:/, $addr)[1];
}

sub replicas {
    my ($g) = @_;
    my $p = $g->primary // '';
    return grep { $_ ne $p } @{ $g->{order} };
}

sub role {
    my ($g, $port) = @_;
    my $r = eval { local $CcTest::Redis::RedisTimeout = 1; redis_cmd_at($port, 'ROLE') };
    return ref $r eq 'ARRAY' ? $r->[0] : undef;
}

sub wait_agree {
    my ($g, $timeout) = @_;
    my $want_s = $g->{n_sentinels} - 1;
    my $want_r = $g->{n_replicas};
    return wait_until(sub {
        for my $s (@{ $g->{sentinel} }) {
            my $m = eval { local $CcTest::Redis::RedisTimeout = 1;
                           redis_cmd_at($s->{port}, 'SENTINEL', 'master', $g->{name}) };
            return 0 unless ref $m eq 'ARRAY';
            my %m = @$m;
            return 0 unless ($m{'num-other-sentinels'} // -1) >= $want_s
                         && ($m{'num-slaves'} // -1) >= $want_r
                         && $m{flags} eq 'master';
            my $reps = eval { local $CcTest::Redis::RedisTimeout = 1;
                              redis_cmd_at($s->{port}, 'SENTINEL', 'replicas', $g->{name}) };
            return 0 unless ref $reps eq 'ARRAY';
            my $ok = grep { my %r = @$_; $r{flags} eq 'slave'
                            && ($r{'master-link-status'} // '') eq 'ok' } @$reps;
            return 0 unless $ok >= $want_r;
        }
        return 1;
    }, $timeout // 15);
}

sub wait_promotion {
    my ($g, $old, $timeout) = @_;
    return wait_until(sub {
        my $p = $g->primary;
        return undef unless defined $p && $p ne $old;
        return ($g->role($p) // '') eq 'master' ? $p : undef;
    }, $timeout // 20);
}

sub wait_replica {
    my ($g, $port, $timeout) = @_;
    return wait_until(sub {
        my $p = $g->primary // return 0;
        my $r = eval { local $CcTest::Redis::RedisTimeout = 1; redis_cmd_at($port, 'ROLE') };
        return ref $r eq 'ARRAY' && $r->[0] eq 'slave' && $r->[2] == $p
            && $r->[3] eq 'connected';
    }, $timeout // 30);
}

sub kill {
    my ($g, $port) = @_;
    my $n = $g->_node($port);
    if (defined $n->{shard}) { redis_stop($n->{shard}); return }
    return unless $n->{pid};
    CORE::kill('KILL', $n->{pid});
    waitpid($n->{pid}, 0);
    delete $n->{pid};
    $n->{paused} = 0;
}

sub kill_sentinel {
    my ($g, $k) = @_;
    my $s = $g->{sentinel}[$k] or croak "no sentinel $k";
    return unless $s->{pid};
    CORE::kill('KILL', $s->{pid});
    waitpid($s->{pid}, 0);
    delete $s->{pid};
}

# SIGSTOP / SIGCONT of sentinel K: it accepts connections and answers none
sub stop_sentinel {
    my ($g, $k) = @_;
    my $s = $g->{sentinel}[$k] or croak "no sentinel $k";
    CORE::kill('STOP', $s->{pid}) if $s->{pid};
}

sub resume_sentinel {
    my ($g, $k) = @_;
    my $s = $g->{sentinel}[$k] or croak "no sentinel $k";
    CORE::kill('CONT', $s->{pid}) if $s->{pid};
}

sub stop {
    my ($g, $port) = @_;
    my $n = $g->_node($port);
    if (defined $n->{shard}) { redis_pause($n->{shard}); return }
    CORE::kill('STOP', $n->{pid}) if $n->{pid};
    $n->{paused} = 1;
}

sub resume {
    my ($g, $port) = @_;
    my $n = $g->_node($port);
    if (defined $n->{shard}) { redis_resume($n->{shard}); return }
    CORE::kill('CONT', $n->{pid}) if $n->{pid};
    $n->{paused} = 0;
}

sub start {
    my ($g, $port) = @_;
    my $n = $g->_node($port);
    if (defined $n->{shard}) { redis_start($n->{shard}); return }
    return if $n->{pid};
    delete $n->{master};       # back as a primary: the sentinels demote it
    $g->_spawn_node($n);
    wait_until(sub { ($g->role($port) // '') ne '' }, 5)
        or croak "node $port did not start:\n" . _slurp("$n->{dir}/redis.log");
}

sub stop_all {
    my ($g) = @_;
    my @procs = (@{ $g->{sentinel} }, grep { !defined $_->{shard} } values %{ $g->{nodes} });
    for my $p (@procs) {
        next unless $p->{pid};
        CORE::kill('CONT', $p->{pid});
        CORE::kill('TERM', $p->{pid});
    }
    for my $p (@procs) {
        next unless $p->{pid};
        _reap($p->{pid}, 2) or do { CORE::kill('KILL', $p->{pid}); waitpid($p->{pid}, 0) };
        delete $p->{pid};
    }
}

sub events {
    my ($g) = @_;
    my @ev;
    for my $k (0 .. $#{ $g->{sentinel} }) {
        for (split /\n/, _slurp("$g->{sentinel}[$k]{dir}/sentinel.log") // '') {
            next unless /(\d\d:\d\d:\d\d\.\d+) [#*] ((?:\+sdown master|\+odown master|\+switch-master) \Q$g->{name}\E .*)/;
            push @ev, "$1 s$k $2";
        }
    }
    return sort @ev;
}

sub _logs {
    my ($g) = @_;
    return join '', map { "--- sentinel $_->{port}:\n" . _tail(_slurp("$_->{dir}/sentinel.log"), 15) }
                    @{ $g->{sentinel} };
}

END {
    if ($$ == $OWNER_PID) {
        local $?;
        $_->stop_all for @GROUPS;
    }
}

1;
