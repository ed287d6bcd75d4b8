package CcTest::Nginx;

# CcTest::Nginx - nginx instances: write a config (made by
# CcTest::NginxConf) into a prefix dir under the temp dir, start nginx and
# wait until it listens with all its workers, stop it (SIGQUIT, then
# SIGKILL) and report what went wrong, "nginx -t" a config, read an
# instance's error log and pids.  The block runner and start_nginx() both
# come through here.

use strict;
use warnings;

use Exporter 'import';
use File::Path qw(make_path);
use IPC::Run ();
use POSIX qw(WNOHANG);
use CcTest::Util qw(topdir wait_until sanitizer_reports _spawn _reap _slurp _spew
                    _children _port_listening _tail);
use CcTest::NginxConf qw(nginx_conf);

our @EXPORT = qw(start_nginx stop_nginx nginx_error_log nginx_pids);
our @EXPORT_OK = qw(nginx_launch nginx_stop nginx_test_config nginx_cleanup);

our $NginxBinary = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $StopGrace   = 5;    # seconds between SIGQUIT and SIGKILL for nginx

my @LIVE_NGINX;          # running nginx instances, newest last
my $LAST_NGINX;          # most recently started instance (may be stopped)
my $NGINX_SEQ = 0;

sub _numbered { my $n = 0; join '', map { sprintf "%3d| %s\n", ++$n, $_ } split /\n/, $_[0] }

# Write the conf into a prefix dir; returns (prefix, conf file, conf text).
sub _prepare_prefix {
    my (%o) = @_;
    my $prefix = $o{prefix};
    unless ($prefix) {
        my $main = topdir() . "/nginx";
        $prefix = (grep { $_->{prefix} eq $main } @LIVE_NGINX)
                ? topdir() . "/nginx-" . ++$NGINX_SEQ : $main;
    }
    make_path("$prefix/conf", "$prefix/logs", "$prefix/tmp");
    unlink map { "$prefix/logs/$_" } qw(error.log nginx.pid stderr.log);
    my $conf = nginx_conf(%o, prefix => $prefix, port => $o{port} // $ENV{TEST_NGINX_SERVER_PORT});
    _spew("$prefix/conf/nginx.conf", $conf);
    return ($prefix, "$prefix/conf/nginx.conf", $conf);
}

# Start nginx and wait until the pid file exists, every listen port is
# listening and the workers are forked.  Returns an instance hash ref.
sub nginx_launch {
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
    }, $CcTest::Util::StartTimeout);

    if (!$ready || defined $exited) {
        my $why = defined $exited ? "nginx exited with status " . ($exited >> 8)
                                  : "nginx not ready after ${CcTest::Util::StartTimeout}s";
        nginx_stop($inst, 1) unless defined $exited;
        @LIVE_NGINX = grep { $_ != $inst } @LIVE_NGINX;
        die "$why\n--- stderr:\n" . _slurp("$prefix/logs/stderr.log")
          . "--- error.log (tail):\n" . _tail(_slurp($inst->{error_log}), 30)
          . "--- $conf_file:\n" . _numbered($conf);
    }
    return $inst;
}

# Graceful stop (SIGQUIT), SIGKILL after $grace seconds.  Returns a problem
# description (master died on its own, needed SIGKILL) or ''.
sub nginx_stop {
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

# Public: start an nginx outside of blocks.  $http is the http part of the
# config (contents of http {}, or a complete "http { ... }"); if undef the
# standard layout is built from %opts http_config/config.  Other %opts:
# port, workers, main_config, log_level, no_module, prefix.
sub start_nginx {
    my ($http, %opts) = @_;
    return nginx_launch(%opts, (defined $http ? (raw => $http) : ()));
}

# Stop one instance (default: all running ones).
sub stop_nginx {
    my ($inst) = @_;
    my @todo = $inst ? ($inst) : reverse @LIVE_NGINX;
    my @problems = grep { length } map { nginx_stop($_) } @todo;
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

# "nginx -t" on a config written as for a start (%o as start_nginx's);
# returns (exit status $?, stdout, stderr).
sub nginx_test_config {
    my (%o) = @_;
    my ($prefix, $conf_file) = _prepare_prefix(%o);
    my ($out, $err) = ('', '');
    IPC::Run::run([$NginxBinary, '-t', '-p', "$prefix/", '-c', $conf_file],
                  '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(10));
    return ($?, $out, $err);
}

# At END: every running instance, newest first, 2 s to quit.
# (a copy: nginx_stop takes each out of @LIVE_NGINX while this loops)
sub nginx_cleanup { nginx_stop($_, 2) for reverse my @live = @LIVE_NGINX }

1;
