package CcTest::Failure;

# CcTest::Failure - a failed test file's diagnostics kept where the end of
# the run can show them.  CI keeps only the tail of what the suite
# printed, and prove prints a file's diagnostics when they happen, long
# before the summary: with CC_FAIL_DIR set, everything Test::More writes
# to its failure output (the "Failed test" lines and every diag) goes to
# stderr as before and to CC_FAIL_DIR/<test file>.diag too; a file that
# passes removes its .diag at exit.  scripts/test.sh prints the last
# lines of each one left after a failed pass.  Without CC_FAIL_DIR,
# nothing changes.  Loaded by CcTest.pm, and by the files that do not use
# it (the campaign and bench scripts' tests).

use strict;
use warnings;

use File::Basename qw(basename);
use Symbol qw(gensym);
use Test::More ();
use Exporter 'import';

our @EXPORT_OK = qw(stop_here);

my $PATH;

# stop_here OUTPUT: a script the test ran failed: its output as the
# file's last diagnostics, and no more checks (each would fail on what
# the run did not leave, and bury the output under their messages)
sub stop_here {
    Test::More::diag($_[0]);
    Test::More::done_testing();
    exit 1;
}

sub TIEHANDLE { my ($class, $fh, $copy) = @_; bless [ $fh, $copy ], $class }
sub PRINT     { my $s = shift; print { $s->[1] } @_; print { $s->[0] } @_ }
sub PRINTF    { my $s = shift; $s->PRINT(sprintf shift, @_) }
sub FILENO    { fileno $_[0][0] }
sub BINMODE   { my $s = shift; binmode($_, @_ ? $_[0] : ()) for @$s; 1 }
sub CLOSE     { 1 }

if (my $dir = $ENV{CC_FAIL_DIR}) {
    mkdir $dir;
    $PATH = "$dir/" . basename($0) . '.diag';
    if (open my $copy, '>', $PATH) {
        select((select($copy), $| = 1)[0]);
        open my $err, '>&', \*STDERR or die "CcTest::Failure: dup stderr: $!";
        select((select($err), $| = 1)[0]);
        my $tee = gensym;
        tie *$tee, __PACKAGE__, $err, $copy;
        my $tb = Test::More->builder;
        $tb->failure_output($tee);
        $tb->todo_output($tee);
        # a die outside an eval: its message too (prove shows it on stderr)
        $SIG{__DIE__} //= sub { print {$copy} $_[0] unless $^S };
    } else {
        undef $PATH;
    }
}

# (this END runs before Test::Builder's: $? is still the script's own
# exit, 255 after a die)
END {
    unlink $PATH if defined $PATH && $? == 0 && Test::More->builder->is_passing;
}

1;
