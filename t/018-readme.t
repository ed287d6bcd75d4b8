# The README is the operator's reference: every worker option it lists is
# the binary's own --help, its capacity example is what cc-estimate prints
# over bench/RESULTS.md (scripts/readme-gen.sh writes both), and every
# directive the module takes is in its directive table.

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure;    # a failure's diagnostics kept for the end of the run
use Test::More;
use File::Temp qw(tempdir);
use File::Path qw(make_path);
use File::Copy qw(copy);
use Cwd qw(getcwd);

my $top = getcwd();
my $readme = do { local (@ARGV, $/) = ('README.md'); <> };

# ---- worker options: the README holds each binary's --help ----------------

my $out = `scripts/readme-gen.sh --check 2>&1`;
is($?, 0, 'the README holds every worker\'s --help, and the capacity example, as the binaries print them') or diag $out;
like($readme, qr/^<!-- capacity:begin -->\n\n    \$ cc-estimate --capacity .+\n    planned load .+\n(.*\n)*      payout time .+\n\n<!-- capacity:end -->$/m,
     'the capacity example is between its markers, with its command and its answers');

my @bins = sort grep { -f $_ && -x _ && !/\.o$/ } glob('build/workers/cc-*');
ok(@bins >= 9, 'the workers are built: ' . scalar(@bins));
for my $b (@bins) {
    (my $name = $b) =~ s{.*/}{};
    like($readme, qr/^#### `\Q$name\E`$/m, "$name has its section in \"Every worker option\"");
}

# the check can fail: a README whose copy of one --help line differs
my $tmp = tempdir(CLEANUP => 1);
make_path("$tmp/scripts");
copy('scripts/readme-gen.sh', "$tmp/scripts/readme-gen.sh") or die "copy: $!";
chmod 0755, "$tmp/scripts/readme-gen.sh";
symlink("$top/build", "$tmp/build") or die "symlink: $!";
make_path("$tmp/bench");
copy('bench/RESULTS.md', "$tmp/bench/RESULTS.md") or die "copy: $!";
my ($head, $block) = split /^<!-- options:begin -->$/m, $readme, 2;
$block =~ s/\(default 5000\)/(default 4000)/ or die 'no default 5000 in the options';
my $changed = "$head<!-- options:begin -->$block";
open(my $fh, '>', "$tmp/README.md") or die; print $fh $changed; close $fh;
$out = `$tmp/scripts/readme-gen.sh --check 2>&1`;
is($? >> 8, 1, 'a README whose option text differs fails the check');
like($out, qr/^-.*\(default 4000\)/m, '... showing the line that differs');
system("$tmp/scripts/readme-gen.sh") == 0 or die 'rewrite failed';
is(do { local (@ARGV, $/) = ("$tmp/README.md"); <> }, $readme, 'rewriting it gives the README back');
# ... or whose capacity example is not what cc-estimate prints from RESULTS.md
($changed = $readme) =~ s/^(      app nodes +)\d+/${1}999/m or die 'no app nodes line';
open($fh, '>', "$tmp/README.md") or die; print $fh $changed; close $fh;
$out = `$tmp/scripts/readme-gen.sh --check 2>&1`;
is($? >> 8, 1, 'a README whose capacity example differs fails the check');
like($out, qr/^-      app nodes +999 /m, '... showing the line');
open($fh, '>', "$tmp/README.md") or die; print $fh "# no markers\n"; close $fh;
$out = `$tmp/scripts/readme-gen.sh 2>&1`;
is($? >> 8, 1, 'a README without the markers is refused');
like($out, qr/no options markers/, '... saying so');
is(do { local (@ARGV, $/) = ("$tmp/README.md"); <> }, "# no markers\n", '... and left as it was');
open($fh, '>', "$tmp/README.md") or die;
print $fh "# options only\n<!-- options:begin -->\n<!-- options:end -->\n"; close $fh;
$out = `$tmp/scripts/readme-gen.sh 2>&1`;
is($? >> 8, 1, 'a README without the capacity markers is refused');
like($out, qr/no capacity markers/, '... saying so');
like(do { local (@ARGV, $/) = ("$tmp/README.md"); <> }, qr/\A# options only\n<!-- options:begin -->\n<!-- options:end -->\n\z/,
     '... and left as it was');
$out = `scripts/readme-gen.sh --write 2>&1`;
is($? >> 8, 2, 'readme-gen.sh: an unknown argument exits 2');
like($out, qr/^usage: scripts\/readme-gen\.sh \[--check\]$/m, '... with its usage');

# the README's first command installs what is missing: a bad mode is refused
$out = `scripts/deps.sh everything 2>&1`;
is($? >> 8, 2, 'deps.sh: an unknown mode exits 2, installing nothing');
like($out, qr/^usage: scripts\/deps\.sh \[bench \| valgrind\]$/m, '... with its usage');

# ---- directives: each one the module takes is in the table -----------------

my %seen;
for my $f (glob('ngx_module/*.c')) {
    my $src = do { local (@ARGV, $/) = ($f); <> };
    $seen{$1} = 1 while $src =~ /\{\s*ngx_string\("(cc_[a-z_]+)"\),\s*NGX_HTTP_/g;
}
ok(keys(%seen) >= 20, 'the module\'s directives found: ' . scalar(keys %seen));
my ($table) = $readme =~ /^\| directive \| context \| default \| what \|\n((?:\|.*\n)+)/m;
ok($table, 'the README has the directive table');
for my $d (sort keys %seen) {
    like($table // '', qr/`\Q$d\E[` ]/, "$d is in the directive table");
}

done_testing();
