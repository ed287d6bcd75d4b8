package CcTest::Blocks;

# CcTest::Blocks - the Test::Nginx style block runner: run_tests() walks
# the __DATA__ blocks of the test file; for each block it flushes redis,
# seeds it, starts nginx on the block's config, sends the request(s),
# checks the response, the error log and redis, runs the block's perl, and
# stops nginx again.  planned_tests() counts what it will emit.  The
# sections are listed in %KNOWN_SECTIONS and in CcTest.pm's API summary.

use strict;
use warnings;

use Exporter 'import';
use Test::Base;        # blocks(), diff-aware is(), the Test::More subset
use Test::Builder;
use CcTest::Util qw(topdir _sleep);
use CcTest::Redis qw(redis_cmd redis_text redis_reset n_shards _split_cmd);
use CcTest::NginxConf qw(_subst);
use CcTest::Nginx qw(nginx_launch nginx_stop nginx_error_log nginx_test_config);
use CcTest::HTTP qw(_http _abort_request);

our @EXPORT = qw(repeat_each run_tests planned_tests);

# Set while a block runs, for --- init / --- check code ($CcTest::status
# etc.; $error is CcTest::HTTP's, the one http_request() sets).
our ($status, $body, $headers, $block);
BEGIN { no warnings 'once'; *CcTest::Blocks::error = *CcTest::HTTP::error }
our $error;

my $REPEAT = 1;

# Every section a block may use; anything else is reported as a typo.
# Every section a block may use; anything else is reported as a typo.
my %KNOWN_SECTIONS = map { $_ => 1 } qw(
    ONLY SKIP LAST
    main_config http_config config raw_config workers log_level no_module
    must_die skip_nginx
    request more_headers timeout abort wait
    error_code response_body response_body_like response_headers response_headers_like
    error_log no_error_log
    redis_before redis_before_shard0 redis_before_shard1
    redis_after redis_after_shard0 redis_after_shard1
    init check check_tests
);

sub repeat_each {
    $REPEAT = shift if @_;
    return $REPEAT;
}

# Raw section value: undef if absent; a string, or an array ref when a
# Test::Base filter (e.g. "eval") produced a list or references.
sub _raw {
    my ($blk, $name) = @_;
    return undef unless exists $blk->{$name};
    my @v = @{ $blk->{$name} };
    return $v[0] // '' if @v <= 1 && !ref $v[0];
    return $v[0] if @v == 1 && ref $v[0] eq 'ARRAY';    # eval filter: [ ... ]
    return \@v;
}

sub _sec { my $v = _raw(@_); ref $v ? [ map { _subst($_) } @$v ] : _subst($v) }

# A section as a list of non-empty lines (or items, for array refs).
sub _lines {
    my ($v) = @_;
    return () unless defined $v;
    return @$v if ref $v eq 'ARRAY';
    return $v if ref $v;
    return grep { /\S/ } map { s/\s+$//r } split /\n/, $v;
}

sub _redis_section {
    my ($kind, $i) = @_;    # ("redis_before"|"redis_after", shard)
    return $i == 0 ? ($kind, "${kind}_shard0") : ("${kind}_shard$i");
}

# Number of tests one block emits (when nothing goes fatally wrong).
sub _block_test_count {
    my ($blk) = @_;
    my $n = sub { my @l = _lines(_raw($blk, $_[0])); scalar @l };
    my $has = sub { exists $blk->{$_[0]} ? 1 : 0 };
    return 1 + $n->('error_log') if $has->('must_die');

    my $nginx = !$has->('skip_nginx');
    my $per = 0;
    if ($nginx && $has->('request') && !$has->('abort')) {
        $per += 1 + $has->('response_body') + $has->('response_body_like')
              + $n->('response_headers') + $n->('response_headers_like');
    }
    $per += _raw($blk, 'check_tests') || 0;
    $per += $n->('error_log') + $n->('no_error_log') if $nginx;
    my $after = 0;
    for my $i (0 .. n_shards() - 1) { $after += $n->($_) for _redis_section('redis_after', $i) }
    return $REPEAT * $per + $after;
}

# Total number of tests run_tests() will emit, for plan(tests => ...).
sub planned_tests {
    my $total = 0;
    $total += _block_test_count($_) for blocks();
    return $total;
}

sub run_tests {
    my $tb = Test::Builder->new;
    # Without a plan, use no_plan + done_testing.  (Going through plan()
    # also keeps Test::Base's END hook from trying to plan on its own.)
    my $no_plan = !$tb->has_plan;
    $tb->plan('no_plan') if $no_plan;
    _run_block($_) for blocks();
    Test::More::done_testing() if $no_plan;
}

sub _run_block {
    my ($blk) = @_;
    my $tb = Test::Builder->new;
    my $name = $blk->name;
    my $start = $tb->current_test;
    my $expected = eval { _block_test_count($blk) } // 0;
    my $ctx = { name => $name };

    my $ok = eval { _run_block_inner($blk, $ctx); 1 };
    my $err = $@;

    # Always stop nginx; a crashed worker or master is a failure too.
    my @problems;
    if (my $inst = $ctx->{nginx}) {
        push @problems, nginx_stop($inst);
        my @crash = grep { /exited on signal|worker process \d+ exited with fatal/ }
                    split /\n/, nginx_error_log($inst);
        push @problems, "nginx process crashed:\n" . join("\n", @crash) if @crash;
    }
    @problems = grep { length } @problems;

    local $Test::Builder::Level = $Test::Builder::Level + 1;
    if (!$ok) {
        # Report the failure as one test and skip what the block still owed,
        # so that a numeric plan stays valid.
        chomp $err;
        fail("$name - aborted");
        diag($err);
        my $owed = $expected - ($tb->current_test - $start);
        $tb->skip("$name: aborted after a fatal error") for 1 .. $owed;
    }
    if (@problems) {
        fail("$name - nginx health");
        diag($_) for @problems;
    }
}

sub _run_block_inner {
    my ($blk, $ctx) = @_;
    my $name = $ctx->{name};
    my @unknown = grep { !/^_/ && !$KNOWN_SECTIONS{$_} } @{ $blk->{_section_order}[0] || [] };
    die "unknown section(s): @unknown\n" if @unknown;

    local ($status, $body, $headers, $error) = (undef, undef, {}, undef);
    local $block = $blk;
    my $has = sub { exists $blk->{$_[0]} };

    my %nginx_opts = (
        main_config => _sec($blk, 'main_config'),
        http_config => _sec($blk, 'http_config'),
        config      => _sec($blk, 'config'),
        raw         => _sec($blk, 'raw_config'),
        workers     => _sec($blk, 'workers'),
        log_level   => _sec($blk, 'log_level'),
        no_module   => $has->('no_module'),
        prefix      => topdir() . "/nginx",
    );

    if ($has->('must_die')) {
        _must_die($blk, $name, %nginx_opts);
        return;
    }

    # Fresh redis: restart/resume shards left down by earlier tests, flush.
    redis_reset();
    for my $i (0 .. n_shards() - 1) {
        for my $line (map { _lines(_sec($blk, $_)) } _redis_section('redis_before', $i)) {
            next if $line =~ /^\s*#/;
            my $reply = redis_text(redis_cmd($i, _split_cmd($line)));
            die "redis_before (shard $i) `$line` failed: $reply\n" if $reply =~ /^\(error\)/;
        }
    }

    my $nginx = !$has->('skip_nginx');
    $ctx->{nginx} = nginx_launch(%nginx_opts) if $nginx;

    _eval_code(_sec($blk, 'init'), 'init', $name) if $has->('init');

    # The request: "METHOD URI [PROTO]" then body lines.
    my ($method, $uri, $proto, $req_body);
    if (defined(my $req = _sec($blk, 'request'))) {
        my ($first, $rest) = split /\n/, $req, 2;
        my @p = split ' ', $first // '';
        die "empty --- request section\n" unless @p;
        ($method, $uri, $proto) = @p == 1 ? ('GET', $p[0]) : @p;
        $req_body = $rest;
        $req_body =~ s/\n\z// if defined $req_body;
        $req_body = undef if defined $req_body && $req_body eq '' && $method !~ /^(POST|PUT|PATCH)$/i;
    }
    my @hdrs = map { /^\s*([^:\s]+)\s*:\s*(.*?)\s*$/ ? [$1, $2] : die "bad more_headers line: $_\n" }
               _lines(_sec($blk, 'more_headers'));
    my $timeout = _sec($blk, 'timeout') || 5;

    for my $rep (1 .. $REPEAT) {
        my $tag = $REPEAT > 1 ? "$name (repeat $rep)" : $name;
        ($status, $body, $headers, $error) = (undef, undef, {}, undef);

        if ($nginx && defined $method) {
            if ($has->('abort')) {
                _abort_request($method, $uri, \@hdrs, $req_body);
            }
            else {
                ($status, $body, $headers) = _http($method, $uri, \@hdrs, $req_body, $timeout, $proto);
                _check_response($blk, $tag);
            }
        }

        if ($nginx || $has->('wait')) {
            _sleep((_sec($blk, 'wait') || 0) + ($nginx ? 0.05 : 0));    # let the log flush
        }
        _eval_code(_sec($blk, 'check'), 'check', $tag) if $has->('check');
        _check_log($blk, $tag, $ctx->{nginx}) if $nginx;
    }

    for my $i (0 .. n_shards() - 1) {
        for my $sec (_redis_section('redis_after', $i)) {
            for my $line (_lines(_sec($blk, $sec))) {
                my ($cmd, $op, $want) = $line =~ /^(.*?)\s+(=>|=~)\s*(.*?)\s*$/
                    or die "bad $sec line (want `CMD args => expected`): $line\n";
                my $got = eval { redis_text(redis_cmd($i, _split_cmd($cmd))) };
                $got = "(connection error) " . ($@ =~ s/\s+\z//r) unless defined $got;
                if ($op eq '=>') { is($got, $want, "$name - $sec: $cmd") }
                else             { like($got, qr/$want/, "$name - $sec: $cmd") }
            }
        }
    }
}

sub _check_response {
    my ($blk, $tag) = @_;
    my $want_code = _sec($blk, 'error_code');
    $want_code = 200 unless defined $want_code && $want_code =~ /\S/;
    $want_code =~ s/\s+//g;
    is($status, $want_code, "$tag - status code") or !defined $error or diag($error);

    if (exists $blk->{response_body}) {
        is($body, _sec($blk, 'response_body'), "$tag - response_body");
    }
    if (exists $blk->{response_body_like}) {
        my $re = _sec($blk, 'response_body_like');
        $re = $re->[0] if ref $re eq 'ARRAY';
        $re =~ s/\n\z// unless ref $re;
        like($body // '', (ref $re ? $re : qr/$re/s), "$tag - response_body_like");
    }
    for my $line (_lines(_sec($blk, 'response_headers'))) {
        my ($neg, $k, $v) = $line =~ /^\s*(!?)\s*([^:\s]+)\s*(?::\s?(.*))?$/
            or die "bad response_headers line: $line\n";
        if ($neg) { ok(!exists $headers->{lc $k}, "$tag - header $k absent") or diag("got: $headers->{lc $k}") }
        else      { is($headers->{lc $k}, $v // '', "$tag - header $k") }
    }
    for my $line (_lines(_sec($blk, 'response_headers_like'))) {
        my ($k, $v) = $line =~ /^\s*([^:\s]+)\s*:\s?(.*)$/
            or die "bad response_headers_like line: $line\n";
        like($headers->{lc $k} // '', qr/$v/, "$tag - header $k like");
    }
}

# --- error_log / --- no_error_log: substring (or qr// via "eval" filter).
sub _check_log {
    my ($blk, $tag, $inst) = @_;
    my $log = nginx_error_log($inst);
    my $found = sub {
        my ($pat) = @_;
        return ref $pat eq 'Regexp' ? grep({ $_ =~ $pat } split /\n/, $log)
                                    : grep({ index($_, $pat) >= 0 } split /\n/, $log);
    };
    for my $pat (_lines(_sec($blk, 'error_log'))) {
        ok(scalar($found->($pat)), "$tag - error_log: $pat")
            or diag("not found in $inst->{error_log} (" . ($log =~ tr/\n//) . " lines)");
    }
    for my $pat (_lines(_sec($blk, 'no_error_log'))) {
        my @hits = $found->($pat);
        ok(!@hits, "$tag - no_error_log: $pat")
            or diag(join "\n", 'unexpected log lines:', @hits[0 .. ($#hits < 4 ? $#hits : 4)]);
    }
}

# --- must_die: "nginx -t" must fail and print each --- error_log line.
sub _must_die {
    my ($blk, $name, %o) = @_;
    my ($rc, $out, $err) = nginx_test_config(%o);
    ok($rc != 0, "$name - nginx -t fails")
        or diag("nginx -t unexpectedly succeeded:\n$err$out");
    for my $line (_lines(_sec($blk, 'error_log'))) {
        my $hit = ref $line eq 'Regexp' ? $err =~ $line : index($err, $line) >= 0;
        ok($hit, "$name - nginx -t output: $line") or diag("nginx -t stderr:\n$err");
    }
}

# Evaluate --- init / --- check code in package main.  $status, $body,
# $headers and $block are available as lexicals (and as $CcTest::...).
sub _eval_code {
    my ($code, $what, $name) = @_;
    (my $label = "$what section of $name") =~ tr/"\n/' /;
    my $ok = eval "package main; no strict 'vars';\n"
        . 'my ($status, $body, $headers, $block) = '
        . '($CcTest::status, $CcTest::body, $CcTest::headers, $CcTest::block);' . "\n"
        . "{\n#line 1 \"$label\"\n$code\n;}\n1;";    # own scope: user code may say my $body
    die "$what code died: $@" unless $ok;
}

1;
