package CcTest::Workers;

# CcTest::Workers - any program run by a test in the background (the
# project's workers build/workers/cc-*, tools, /bin/sh): spawn_worker()
# and its handle (class CcTest::Worker), its stdout and stderr files,
# waiting for it, stopping and killing it; run_worker() runs one to its
# end and returns its exit code and output.  Every worker's stderr is
# scanned for sanitizer reports when it is reaped; those still running at
# END are killed (CcTest.pm).

use strict;
use warnings;

use Exporter 'import';
use Carp qw(croak);
use File::Path qw(make_path);
use POSIX qw(WNOHANG);
use Test::More ();
use CcTest::Util qw(topdir repo_root wait_until sanitizer_reports _slurp);

our @EXPORT = qw(spawn_worker run_worker worker_stdout worker_stderr stop_worker kill_worker
                 worker_alive wait_worker);
our @EXPORT_OK = qw(workers_cleanup);

our $WorkerDir   = $ENV{CC_WORKER_DIR}    || repo_root() . '/build/workers';  # spawn_worker('cc-x')
our $TestToolDir = $ENV{CC_TEST_TOOL_DIR} || repo_root() . '/build/test';     # cc-ledger-cli

my @WORKERS;              # spawn_worker() handles, for the END cleanup
my $WORKER_SEQ = 0;

# A handle: { pid, name, path, args, stdout_file, stderr_file } and, once
# reaped, status ($?), exit_code and signal.  Methods mirror the functions.
{
    package CcTest::Worker;
    sub pid       { $_[0]{pid} }
    sub stdout    { CcTest::Workers::worker_stdout($_[0]) }
    sub stderr    { CcTest::Workers::worker_stderr($_[0]) }
    sub alive     { CcTest::Workers::worker_alive($_[0]) }
    sub stop      { CcTest::Workers::stop_worker(@_) }
    sub kill      { CcTest::Workers::kill_worker($_[0]) }
    sub wait      { CcTest::Workers::wait_worker(@_) }
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
    my $dir = topdir() . "/workers";
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

# run_worker([$name_or_path, @args], timeout => 10, ok => 0): run a program
# as spawn_worker() does and wait up to timeout seconds for its end;
# returns (exit code, stdout, stderr).  Still running then: SIGKILLed
# with its process group, exit code undef.  With ok => 1 it dies, naming
# the command, its exit code and stderr, unless the exit code is 0.
sub run_worker {
    my ($cmd, %o) = @_;
    croak "run_worker: want [program, args...]" unless ref $cmd eq 'ARRAY' && @$cmd;
    my @bad = grep { !/^(?:timeout|ok)$/ } keys %o;
    croak "run_worker: unknown option(s) @bad" if @bad;
    my $timeout = $o{timeout} // 10;
    my $h = spawn_worker(@$cmd);
    my $rc = wait_worker($h, $timeout);
    kill_worker($h) unless defined $rc;
    if ($o{ok} && !(defined $rc && $rc == 0)) {
        die "$h->{name} @$cmd[1 .. $#$cmd]: "
          . (defined $rc ? "exit $rc" : "still running after ${timeout}s, killed")
          . ': ' . worker_stderr($h);
    }
    return ($rc, worker_stdout($h), worker_stderr($h));
}

# At END: SIGKILL every worker not reaped yet.
sub workers_cleanup { _worker_kill($_) for grep { !exists $_->{status} } @WORKERS }

1;
