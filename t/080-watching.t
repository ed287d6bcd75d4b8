# Watching (README.md): the Prometheus rules and the Grafana dashboard read
# only metrics that exist.  Every cc_ name an expression of
# contrib/prometheus/cardcampaign.rules.yml or contrib/grafana/cardcampaign.json
# uses is in the /cc/metrics of a running module, or in the textfile a
# worker writes with --metrics-file: each worker is run here once, against
# the harness's servers (cc-ingest, cc-reconcile, cc-draw, cc-payout,
# cc-reconcile --money), so the names are what the programs write, not
# what their sources seem to say.  A histogram's
# _bucket, _sum and _count are its family's.  Every label value an
# expression selects (=, or =~ a list a|b) is one of those samples'.  A cc:
# name is one of the rules file's recording rules; any other name is one
# of the standard exporters' metrics the README names (redis_exporter's,
# mysqld_exporter's).
# The rules also: every alert has its for, a severity (page or ticket), a
# summary and a runbook that is a heading of the README; the README's
# watching table lists every alert, with its severity and runbook, and
# nothing else; every worker unit writes its textfile.  The dashboard's
# queries parse as PromQL (promtool).  make test-rules runs promtool on
# the rules and their unit tests.

use strict;
use warnings;
use utf8;
use lib 't/lib';
use CcTest;
use CcTest::NginxConf qw(app_locations);
use CcCampaign qw(shard_args mysql_shards);
use DrawTest;
use PayoutTest qw(payout_run);
use CPAN::Meta::YAML;
use JSON::PP;
use File::Temp qw(tempdir);

binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);

my $RULES = 'contrib/prometheus/cardcampaign.rules.yml';
my $DASH  = 'contrib/grafana/cardcampaign.json';

# the standard exporters' metrics the files may use: nothing of ours
# writes them (README, "Watching")
my %EXPORTER = map { ($_ => 1) }
    # oliver006/redis_exporter, one a Redis node: memory, the draw log, and
    # the replicas a primary lists (connected_slaves, slaveN offsets)
    qw(redis_memory_used_bytes redis_memory_max_bytes redis_stream_length
       redis_connected_slaves redis_instance_info redis_master_repl_offset
       redis_connected_slave_offset_bytes),
    # prometheus/mysqld_exporter, one a MariaDB server: semi-sync, read_only,
    # and SHOW SLAVE STATUS
    qw(mysql_global_status_rpl_semi_sync_master_status mysql_global_variables_read_only
       mysql_slave_status_seconds_behind_master);

sub slurp_utf8 {
    open my $fh, '<:encoding(UTF-8)', $_[0] or die "$_[0]: $!";
    local $/;
    return scalar <$fh>;
}

# ---- what is written: the module's page and every worker's textfile ---------

my (%family, %samples);    # name => { type, where }; sample name => [ { label => value } ]

sub exposition {
    my ($where, $text) = @_;
    ok(length($text // ''), "$where: written") or return;
    for (split /\n/, $text) {
        if (/^# TYPE (\S+) (\S+)$/) {
            $family{$1} = { type => $2, where => $where };
            next;
        }
        next if /^#/ || !/\S/;
        /^([A-Za-z_:][\w:]*)(?:\{(.*)\})? \S+$/ or die "$where: a line that is no sample: $_";
        my ($name, $labels) = ($1, $2 // '');
        push @{ $samples{$name} }, { $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g };
    }
}

my $dir = tempdir('cc-watch-XXXXXX', TMPDIR => 1, CLEANUP => 1);

draw_setup();                                  # mariadbd, the shards' schema
kafka_start(partitions => 1);

start_nginx(undef, http_config => on_shards(), config => app_locations());
my ($st, $page) = http_request('GET', '/cc/metrics');
is($st, 200, 'GET /cc/metrics');
exposition('/cc/metrics', $page);
stop_nginx();

my $w = spawn_worker('cc-ingest', '--brokers', $ENV{TEST_KAFKA_BROKERS}, '--assign', '--progress', 1,
                     '--exit-idle', 3, (map { ('--mysql', $_) } mysql_shards()),
                     '--metrics-file', "$dir/ingest.prom");
is(wait_worker($w, 30), 0, 'cc-ingest --metrics-file');
exposition('cc-ingest', CcTest::_slurp("$dir/ingest.prom"));

my ($rc, $out, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, '--cards', shard_args(),
                                    '--metrics-file', "$dir/reconcile.prom" ], timeout => 30);
is($rc, 0, 'cc-reconcile --once --cards --metrics-file') or diag $err;
exposition('cc-reconcile', CcTest::_slurp("$dir/reconcile.prom"));

($rc, $out, $err) = run_worker([ 'cc-redrive', '--once', '--grace', 0,
                                 (map { ('--redis', $_) } split ' ', $ENV{TEST_NGINX_REDIS_SHARDS}),
                                 '--metrics-file', "$dir/redrive.prom" ], timeout => 30);
is($rc, 0, 'cc-redrive --once --metrics-file') or diag $err;
exposition('cc-redrive', CcTest::_slurp("$dir/redrive.prom"));

# a campaign of four eligible users: drawn, paid, its books checked
make_eligible(1000, 1 .. 4);
my $campaign = draw_campaign('w19', pool => 400);
($rc, $out, $err) = draw_run($campaign, '--metrics-file', "$dir/draw.prom");
is($rc, 0, 'cc-draw --metrics-file') or diag $err;
exposition('cc-draw', CcTest::_slurp("$dir/draw.prom"));

($rc, $out, $err) = payout_run([ '--once', '--metrics-file', "$dir/payout.prom" ], $campaign);
is($rc, 0, 'cc-payout --once --metrics-file') or diag $err;
exposition('cc-payout', CcTest::_slurp("$dir/payout.prom"));

# (exit 1 on a break: the users' Redis side was never seeded; the file is
# written either way)
($rc, $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $campaign, shard_args(),
                                 '--metrics-file', "$dir/books.prom" ], timeout => 60);
ok(defined $rc && ($rc == 0 || $rc == 1), 'cc-reconcile --money --metrics-file: ran to its end') or diag $err;
exposition('cc-reconcile --money', CcTest::_slurp("$dir/books.prom"));

ok(keys(%family) >= 40, 'metric families found: ' . scalar(keys %family));
is($family{cc_flip_latency_seconds}{type}, 'histogram', 'the flips\' latency is a histogram');

# ---- the names an expression reads ----------------------------------------------

# (group_left and group_right without a label list are keywords too)
my %KEYWORD = map { ($_ => 1) } qw(and or unless offset bool inf nan group_left group_right);

# [ name, { label => [ values selected ] } ] of each selector in $expr
sub selectors {
    my ($expr) = @_;
    my @str;
    (my $e = $expr) =~ s/"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/push @str, $1 \/\/ $2; "\x00$#str\x00"/ge;
    $e =~ s/\$\{?\w+\}?//g;                                        # Grafana's $__rate_interval
    $e =~ s/\[[^\]]*\]//g;                                         # ranges, subqueries
    $e =~ s/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)//g;
    my @sel;
    while ($e =~ /(?<![\w.:\x00])([A-Za-z_:][\w:]*)(\s*\{([^}]*)\})?(\s*\()?/g) {
        my ($name, $matchers, $call) = ($1, $3, $4);
        next if $call || $KEYWORD{$name};                            # a function, a keyword
        my %sel;
        for my $m (grep { /\S/ } split /,/, $matchers // '') {
            my ($label, $op, $i) = $m =~ /^\s*(\w+)\s*(=~|!=|!~|=)\s*\x00(\d+)\x00\s*$/
                or die "a matcher not understood: $m in $expr";
            my $v = $str[$i];
            push @{ $sel{$label} }, $op eq '=' ? ($v)
                : $op eq '=~' && $v =~ /^[\w.:+-]+(?:\|[\w.:+-]+)*$/ ? split(/\|/, $v) : ();
        }
        push @sel, [ $name, \%sel ];
    }
    return @sel;
}

my $rules = CPAN::Meta::YAML->read($RULES) or die CPAN::Meta::YAML->errstr;
my @groups = @{ $rules->[0]{groups} };
my @rules = map { @{ $_->{rules} } } @groups;
my %recorded = map { ($_->{record} => 1) } grep { $_->{record} } @rules;

# what is wrong with the names and label values $expr reads: a list of words
sub problems {
    my ($expr) = @_;
    my @bad;
    for my $s (selectors($expr)) {
        my ($name, $sel) = @$s;
        if ($name =~ /^cc:/) {
            push @bad, "$name is no recording rule" unless $recorded{$name};
            next;
        }
        if ($name !~ /^cc_/) {
            push @bad, "$name is neither ours nor a known exporter's" unless $EXPORTER{$name};
            next;
        }
        my $known = $family{$name}
            || ($name =~ /^(\w+)_(?:bucket|sum|count)$/ && ($family{$1}{type} // '') eq 'histogram');
        unless ($known && $samples{$name}) {
            push @bad, "$name is not written";
            next;
        }
        for my $label (sort keys %$sel) {
            for my $v (@{ $sel->{$label} }) {
                push @bad, "$name has no $label=\"$v\""
                    unless grep { ($_->{$label} // '') eq $v } @{ $samples{$name} };
            }
        }
    }
    return \@bad;
}

# the check can fail
is_deeply(problems('sum(rate(cc_flip_latency_seconds_bucket{le="0.05"}[5m])) / sum(rate(cc_flips_total{result=~"ok|unavailable"}[$__rate_interval]))'),
          [], 'the checker: a histogram\'s bucket and label values that are written');
is_deeply(problems('rate(cc_flips_totals[5m]) + cc_flips_total{result="unavailabel"} + cc:nothing:rate5m'
                   . ' + redis_memory_usage_bytes + cc_flip_latency_seconds_bucketz'),
          [ 'cc_flips_totals is not written', 'cc_flips_total has no result="unavailabel"',
            'cc:nothing:rate5m is no recording rule', 'redis_memory_usage_bytes is neither ours nor a known exporter\'s',
            'cc_flip_latency_seconds_bucketz is not written' ],
          'the checker: a name not written, a label value, a recording rule, an exporter\'s name');
is_deeply([ map { $_->[0] } selectors('label_replace(time() - cc_a > 1e3, "w", "cc-x", "", "") or on () sum by (le) (cc_b offset 15m) and vector(0)') ],
          [ 'cc_a', 'cc_b' ], 'the checker: functions, keywords, strings, groupings and numbers are no names');

# ---- the rules ---------------------------------------------------------------------

my $readme = slurp_utf8('README.md');
my %anchor;
for ($readme =~ /^#+ (.+)$/mg) {
    (my $slug = lc $_) =~ s/[^\p{L}\p{N} _-]//g;
    $slug =~ s/ /-/g;
    $anchor{$slug} = 1;
}
ok($anchor{'what-to-watch-and-when-to-page'}, 'the README\'s headings as GitHub anchors');

my %alert;
for my $r (@rules) {
    my $name = $r->{alert} // $r->{record};
    is_deeply(problems($r->{expr}), [], "rule $name: every metric it reads is written");
    next unless $r->{alert};
    $alert{$name} = $r;
    like($r->{for} // '', qr/^\d+[smh]$/, "$name: its for");
    like($r->{labels}{severity} // '', qr/^(?:page|ticket)$/, "$name: severity page or ticket");
    ok(length($r->{annotations}{summary} // ''), "$name: a summary");
    my ($anchor) = ($r->{annotations}{runbook} // '') =~ /^README\.md#(.+)$/;
    ok($anchor && $anchor{$anchor}, "$name: its runbook is a README section") or diag $r->{annotations}{runbook};
}
ok(keys(%alert) >= 12, 'alerts: ' . scalar(keys %alert));
ok($recorded{'cc:flip_latency_seconds:p99_5m'} && $recorded{'cc:payout_credits:rate5m'},
   'the recording rules: the flips\' p99 and the payout rate');

# the README's table: alert, severity, what it means, runbook
my ($table) = $readme =~ /^\| alert \| severity \| what it means \| runbook \|\n\| --- .*\n((?:\|.*\n)+)/m;
ok($table, 'the README has the alerts\' table');
my %row;
for (split /\n/, $table // '') {
    my ($name, $sev, undef, $book) = map { s/^\s+|\s+$//gr } (split /\|/)[1 .. 4];
    $name =~ s/`//g;
    $row{$name} = [ $sev, $book ];
}
is_deeply([ sort keys %row ], [ sort keys %alert ], 'the table lists every alert of the rules, and no other');
for my $name (sort keys %alert) {
    my $r = $alert{$name};
    is($row{$name}[0], $r->{labels}{severity}, "$name: the table's severity is the rule's");
    my ($anchor) = $r->{annotations}{runbook} =~ /#(.+)$/;
    like($row{$name}[1] // '', qr/\]\(#\Q$anchor\E\)$/, "$name: the table's runbook is the rule's");
}
for my $name (sort keys %EXPORTER) {
    like($readme, qr/`\Q$name\E[`{]/, "the README names the exporter's metric $name");
}

# the rules read each worker's file: every unit writes one where the
# textfile collector looks
for my $u (sort glob('workers/systemd/*.service')) {
    my $text = do { open my $fh, '<', $u or die "$u: $!"; local $/; <$fh> };
    like($text, qr/^ExecStart=(?:.*\\\n)*.*--metrics-file \$\{CC_METRICS_DIR\}\/[\w-]+\.prom$/m,
         "$u writes its --metrics-file in CC_METRICS_DIR");
}

# ---- the dashboard -------------------------------------------------------------

my $dash = decode_json(do { open my $fh, '<', $DASH or die "$DASH: $!"; local $/; <$fh> });
my @panels = grep { $_->{type} ne 'row' } @{ $dash->{panels} };
my %ids;
$ids{ $_->{id} }++ for @{ $dash->{panels} };
ok(!grep({ $_ > 1 } values %ids), 'the dashboard\'s panel ids are unique');
ok(@panels >= 15, 'the dashboard\'s panels: ' . scalar(@panels));
my %shown;
for my $p (@panels) {
    ok(@{ $p->{targets} // [] }, "panel \"$p->{title}\": queries");
    for my $t (@{ $p->{targets} }) {
        is_deeply(problems($t->{expr}), [], "panel \"$p->{title}\" $t->{refId}: every metric it reads is written");
        $shown{ $_->[0] =~ s/_(?:bucket|sum|count)$//r } = 1 for selectors($t->{expr});
    }
}
# every query parses as PromQL: promtool checks them as recording rules
# (Grafana's $__rate_interval as 5m)
{
    my @exprs = map { map { $_->{expr} =~ s/\$__rate_interval/5m/gr } @{ $_->{targets} } } @panels;
    my $file = "$dir/dashboard.rules.yml";
    open my $fh, '>', $file or die "$file: $!";
    print $fh "groups:\n  - name: dashboard\n    rules:\n",
              map { "      - record: dashboard_query_$_\n        expr: '" . ($exprs[$_] =~ s/'/''/gr) . "'\n" } 0 .. $#exprs;
    close $fh;
    my $check = `promtool check rules $file 2>&1`;
    is($?, 0, 'promtool parses every query of the dashboard: ' . scalar(@exprs)) or diag $check;
}

my @unshown = grep { !$shown{$_} && /^cc_/ } sort keys %family;
note("written but not on the dashboard: @unshown") if @unshown;

done_testing();
