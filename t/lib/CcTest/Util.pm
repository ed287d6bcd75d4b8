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
use Fcntl ();
use Cwd qw(abs_path);
use File::Basename qw(dirname);
use IO::Socket::INET;
use IO::Select;
use POSIX qw(WNOHANG);
use Time::HiRes ();

our @EXPORT_OK = qw(topdir repo_root free_port free_block reserve_ports wait_until sanitizer_reports sanitizer_found
                    _sleep _spawn _reap _slurp _spew _children _port_listening _write_all _tail);

our $StartTimeout = 5;    # seconds to wait for nginx / redis to come up

our $TOPDIR;              # per test file temp dir (set by CcTest's import)
my $REPO_ROOT = abs_path(dirname(__FILE__) . '/../../..');
my @SANITIZER;            # sanitizer reports found in nginx logs, worker stderr

sub topdir {
    croak "CcTest: no temp dir yet (use CcTest first)" unless defined $TOPDIR;
    return $TOPDIR;
}

sub repo_root { $REPO_ROOT }

sub _sleep { Time::HiRes::sleep($_[0]) }

# Ports across processes.  prove runs two files at once, each picking
# ports for servers it starts later, and the benches some files run pick
# theirs too (bench/lib.sh's free_ports): a pick is reserved by an flock on
# $PORT_LOCKS/PORT, held by the picking process until it exits (the kernel
# drops it then, however it ends; servers it starts do not inherit it: the
# handle is close-on-exec).  Another picker skips a port whose lock it
# cannot take, and every pick binds the port once to see it free.  The
# pickers' ranges are below the kernel's ephemeral one (32768 up), where
# any outgoing connection may take a port as its source before the server
# binds it: tests' single ports 10000-19999, the campaign tests' and the
# benches' blocks 20000-31999.  The lock files stay (an empty file a
# port at most): removing one would let two pickers lock two files of one
# name.
our $PORT_LOCKS = ($ENV{TMPDIR} // '/tmp') . '/cc-test-ports';
my %HELD;                 # port => its lock's handle, for this process's life

sub _port_binds {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $_[0],
                                  Proto => 'tcp', Listen => 1)
        or return 0;
    close $s;
    return 1;
}

# reserve_ports(BASE, OFFSET...): the ports BASE+OFFSET, each locked and
# each binding; true if all, else none is kept
sub reserve_ports {
    my ($base, @off) = @_;
    mkdir $PORT_LOCKS;
    my %got;
    for my $p (map { $base + $_ } @off) {
        my $fh;
        my $ok = !$HELD{$p} && !$got{$p}
                 && open($fh, '>', "$PORT_LOCKS/$p")
                 && flock($fh, Fcntl::LOCK_EX() | Fcntl::LOCK_NB())
                 && _port_binds($p);
        unless ($ok) {
            close $fh if $fh;
            close $_ for values %got;
            return 0;
        }
        $got{$p} = $fh;
    }
    %HELD = (%HELD, %got);
    return 1;
}

# free_block(OFFSET...): a base in 20000-31999 with BASE+OFFSET reserved
sub free_block {
    my @off = @_;
    my $top = (sort { $b <=> $a } @off)[0];
    for (1 .. 500) {
        my $base = 20000 + int(rand(12000 - $top));
        return $base if reserve_ports($base, @off);
    }
    croak "free_block: no free range for offsets @off";
}

# A free loopback TCP port for a server this file starts: 10000-19999,
# reserved as above.
sub free_port {
    for (1 .. 500) {
        my $port = 10000 + int(rand(10000));
        return $port if reserve_ports($port, 0);
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
