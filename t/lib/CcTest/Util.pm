package CcTest::Util;

# CcTest::Util - what the other CcTest modules share: the per test file
# temp dir, the repository root, free loopback ports, fork+exec and reaping,
# polling, files, /proc lookups (children, listening ports), socket writes
# with a deadline, and the sanitizer report scan whose findings fail the
# test file at END (CcTest.pm).  Nothing here starts a server.

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Time::HiRes ();

our @EXPORT_OK = qw(topdir repo_root free_port wait_until sanitizer_reports sanitizer_found
                    _sleep _spawn _reap _slurp _spew _children _port_listening _write_all _tail);

our $StartTimeout = 5;    # seconds to wait for nginx / redis to come up

our $TOPDIR;              # per test file temp dir (set by CcTest's import)
my $REPO_ROOT = abs_path(dirname(__FILE__) . '/../../..');
my %HANDED_OUT;           # ports returned by free_port() in this process
my @SANITIZER;            # sanitizer reports found in nginx logs, worker stderr

sub topdir {
    croak "CcTest: no temp dir yet (use CcTest first)" unless defined $TOPDIR;
    return $TOPDIR;
}

sub repo_root { $REPO_ROOT }

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

sub _tail {
    my ($text, $n) = @_;
    my @l = split /\n/, $text;
    splice @l, 0, @l - $n if @l > $n;
    return join '', map { "$_\n" } @l;
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

# Every report sanitizer_reports() found so far (for the END check).
sub sanitizer_found { @SANITIZER }

1;
