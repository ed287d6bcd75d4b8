# t/lib/CcTest/Failure.pm: with CC_FAIL_DIR set, a failing test file's
# diagnostics (its "Failed test" lines, its diag, a die outside an eval)
# are kept in CC_FAIL_DIR/FILE.diag for scripts/test.sh to print at the
# end of the run; a file that passes leaves none; stop_here ends a file
# with a script's output as its last words.  Each case a small test file
# run by perl, as prove would.

use strict;
use warnings;
use lib 't/lib';
use Test::More;
use File::Temp qw(tempdir);

my $dir = tempdir(CLEANUP => 1);
my $fail = "$dir/failed";

sub slurp { open my $h, '<', $_[0] or return undef; local $/; my $t = <$h>; $t }

# run_case NAME BODY: (exit code, what the .diag holds or undef)
sub run_case {
    my ($name, $body) = @_;
    open my $h, '>', "$dir/$name.t" or die "$dir/$name.t: $!";
    print $h "use strict; use warnings; use lib 't/lib';\n"
           . "use CcTest::Failure qw(stop_here); use Test::More;\n$body\n";
    close $h;
    local $ENV{CC_FAIL_DIR} = $fail;
    system("$^X $dir/$name.t >/dev/null 2>&1");
    return ($? >> 8, slurp("$fail/$name.t.diag"));
}

my ($rc, $d) = run_case('passes', "ok(1, 'one'); diag('said while passing'); done_testing;");
is($rc, 0, 'a passing file: exit 0');
is($d, undef, '... leaves no .diag');

($rc, $d) = run_case('fails', "ok(1, 'one'); diag('a diag line'); is(1, 2, 'two'); done_testing;");
is($rc, 1, 'a failing file: exit 1');
like($d // '', qr/a diag line/, '... its .diag holds its diag');
like($d // '', qr/Failed test 'two'.*got: '1'.*expected: '2'/s, '... and the failure with got and expected');

($rc, $d) = run_case('dies', "ok(1, 'one'); die \"the reason it died\\n\";");
isnt($rc, 0, 'a file that dies: not 0');
like($d // '', qr/^the reason it died$/m, '... its .diag holds the die\'s message');

($rc, $d) = run_case('evals', "eval { die \"caught\\n\" }; ok(1, 'one'); done_testing;");
is($rc, 0, 'a die inside an eval: exit 0');
is($d, undef, '... nothing kept');

($rc, $d) = run_case('stops', "ok(0, 'the run'); stop_here(\"line 1\\nthe last line\"); ok(1, 'never');");
is($rc, 1, 'stop_here: exit 1');
like($d // '', qr/^# line 1\n# the last line\n(?:# Looks like[^\n]*\n)?\z/m, '... the output at the end of the .diag (Test::More\'s summary after it)');
unlike($d // '', qr/never/, '... and no check after it');

done_testing();
