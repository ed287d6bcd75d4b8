# Every nginx configuration README.md shows passes `nginx -t` with the
# module loaded, so the operator's manual cannot drift from the module's
# directives again (issue 21: a README block put cc_grant behind a token).
#
# The rule.  A code block of README.md (indented four spaces or more after
# a blank line, or fenced with ```) is nginx configuration when a line of
# it opens `http {`, `server {` or `events {`, starts with `location `, or
# is a `cc_*` or `load_module` directive ending in `;`.  Each such block
# must be marked by the last non-blank line before it, an HTML comment
# saying what the block is:
#
#   <!-- nginx-t: main -->      a whole nginx.conf (events {} added if
#                               missing)
#   <!-- nginx-t: http -->      lines of the http block
#   <!-- nginx-t: server -->    lines of a server block
#   <!-- nginx-t: location -->  lines of a location block
#   <!-- nginx-t: skip: WHY --> not checked, and why
#
# An unmarked nginx block fails, and so does a marker with no block after
# it.  A fragment is wrapped in the context it names (with a
# cc_redis_shards line, the module's only required directive, when the
# fragment has none); a block with no load_module gets one.  Before the
# check: load_module's path becomes the module built here; every absolute
# path under /etc, /var, /run or /srv becomes a file of its own in a temp
# dir (a secret of 48 bytes, mode 0600, for a path that names a secret,
# password or key, else an empty one, whose directory exists); every
# IPv4 host:port becomes 127.0.0.1 with its port (the next one up when
# two addresses of a block share a port: the shards' names stay distinct).

use strict;
use warnings;
use lib 't/lib';
use CcTest::Failure;    # a failure's diagnostics kept for the end of the run
use Test::More;
use File::Temp qw(tempdir);
use File::Basename qw(basename);
use Cwd qw(abs_path);

my $top = abs_path('.');
my $so  = $ENV{CC_MODULE_SO} || "$top/build/nginx/ngx_http_cc_module.so";
my $bin = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
my $dir = tempdir('cc-readme-nginx-XXXXXX', TMPDIR => 1, CLEANUP => !$ENV{CC_TEST_KEEP});
chmod 0755, $dir;
mkdir "$dir/logs";
diag "kept: $dir" if $ENV{CC_TEST_KEEP};

sub spew { open my $h, '>', $_[0] or die "$_[0]: $!"; print $h $_[1]; close $h or die "$_[0]: $!" }

# ---- the blocks --------------------------------------------------------------

open my $rf, '<', "$top/README.md" or die "README.md: $!";
my @l = <$rf>;
close $rf;
chomp @l;

# [first line number (1-based), text, marker or undef]
my @blocks;
my $i = 0;
sub marker_before {
    my ($at) = @_;
    my $j = $at - 1;
    $j-- while $j >= 0 && $l[$j] =~ /^\s*$/;
    return $j >= 0 && $l[$j] =~ /^\s{0,3}<!-- nginx-t: (.*?) -->\s*$/ ? $1 : undef;
}
while ($i < @l) {
    if ($l[$i] =~ /^\s*```/) {
        my $s = $i++;
        my @b;
        push @b, $l[$i++] while $i < @l && $l[$i] !~ /^\s*```/;
        $i++;
        push @blocks, [ $s + 2, join("\n", @b), marker_before($s) ];
        next;
    }
    if ($l[$i] =~ /^ {4,}\S/ && ($i == 0 || $l[$i - 1] =~ /^\s*$/)) {
        my $s = $i;
        my @b;
        while ($i < @l && ($l[$i] =~ /^ {4,}\S/
                           || ($l[$i] =~ /^\s*$/ && $i + 1 < @l && $l[$i + 1] =~ /^ {4,}\S/))) {
            push @b, $l[$i++];
        }
        push @blocks, [ $s + 1, join("\n", @b), marker_before($s) ];
        next;
    }
    $i++;
}

sub is_nginx {
    $_[0] =~ /^\s*(?:http|server|events)\s*\{|^\s*location\s|^\s*(?:cc_[a-z_]+|load_module)\b[^;\n]*;/m;
}

# every marker must sit before an nginx block
my %marked = map { ($_->[0] => 1) } grep { defined $_->[2] } @blocks;
for my $n (0 .. $#l) {
    next unless $l[$n] =~ /<!-- nginx-t: /;
    my $next = $n + 1;
    $next++ while $next < @l && $l[$next] =~ /^\s*$/;
    my ($b) = grep { $_->[0] == $next + 1 || $_->[0] == $next + 2 } @blocks;
    ok($b && is_nginx($b->[1]), "README.md line " . ($n + 1) . ": its nginx-t marker is followed by an nginx block");
}

my @nginx = grep { is_nginx($_->[1]) } @blocks;
ok(@nginx >= 3, scalar(@nginx) . ' nginx blocks found in README.md');

# ---- each one through nginx -t -------------------------------------------------

my $nfile = 0;
my %files;
sub local_path {
    my ($path) = @_;
    return $files{$path} if $files{$path};
    my $local = "$dir/f" . ++$nfile . '-' . basename($path);
    if ($path =~ /secret|password|\.key$/i) {
        my @c = ('A' .. 'Z', 'a' .. 'z', 0 .. 9);
        spew($local, join('', map { $c[rand @c] } 1 .. 48) . "\n");
        chmod 0600, $local;
    } else {
        spew($local, '');
    }
    return $files{$path} = $local;
}

sub nginx_t {
    my ($text, $name) = @_;
    my $conf = "$dir/$name.conf";
    spew($conf, $text);
    my $pid = $text =~ /^\s*pid\s/m ? '' : qq(-g "pid $dir/nginx.pid;");
    my $msg = `$bin -p $dir $pid -e $dir/logs/error.log -t -q -c $conf 2>&1`;
    return ($? >> 8, $msg);
}

for my $blk (@nginx) {
    my ($line, $text, $mark) = @$blk;
    my $name = "README.md block at line $line";
    unless (defined $mark) {
        fail("$name looks like nginx configuration but has no <!-- nginx-t: ... --> marker before it");
        next;
    }
    if ($mark =~ /^skip: (.+)/) {
        note("$name: skipped: $1");
        next;
    }
    my ($ctx) = $mark =~ /^(main|http|server|location)$/;
    unless ($ctx) {
        fail("$name: unknown marker \"$mark\"");
        next;
    }

    # the install's paths and addresses, here
    my ($indent) = sort { $a <=> $b } map { length((/^( *)/)[0]) } grep { /\S/ } split /\n/, $text;
    (my $c = $text) =~ s/^ {0,$indent}//mg;
    $c =~ s{^(\s*load_module\s+)\S+;}{$1$so;}mg;
    $c =~ s{(?<![\w.])(/(?:etc|var|run|srv)/[^\s;"'{}]+)}{local_path($1)}ge;
    my (%addr, %used);
    $c =~ s{\b((?:\d{1,3}\.){3}\d{1,3}):(\d+)\b}{
        my ($h, $p) = ($1, $2);
        $addr{"$h:$p"} //= do { $p++ while $used{$p}++; "127.0.0.1:$p" };
    }ge;

    my $shards = $c =~ /^\s*cc_redis_shards\s/m ? '' : "cc_redis_shards 127.0.0.1:6379;\n";
    if ($ctx eq 'location') {
        $c = "http {\n$shards server {\n listen 127.0.0.1:8080;\n location /t {\n$c\n }\n }\n}\n";
    } elsif ($ctx eq 'server') {
        $c = "http {\n$shards server {\n listen 127.0.0.1:8080;\n$c\n }\n}\n";
    } elsif ($ctx eq 'http') {
        $c = "http {\n$shards$c\n}\n";
    }
    $c = "$c\nevents {}\n" unless $c =~ /^\s*events\s*\{/m;
    $c = "load_module $so;\n$c" unless $c =~ /^\s*load_module\s/m;

    my ($rc, $msg) = nginx_t($c, "block$line");
    is($rc, 0, "$name ($ctx) passes nginx -t") or diag "$msg\n--- the configuration tried:\n$c";
}

done_testing();
