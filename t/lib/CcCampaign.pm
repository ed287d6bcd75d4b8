package CcCampaign;

# CcCampaign - the whole pipeline for the ingest tests: two Redis shards,
# an nginx with the module producing to the mock Kafka, two MySQL shards
# (two databases on one mariadbd), cc-ingest, cc-reconcile; and the check
# that MySQL holds exactly what Redis holds.

use strict;
use warnings;
use Exporter 'import';
use CcTest;
use CcKeys;

our @EXPORT = qw(campaign_up campaign_nginx mysql_shards start_ingest run_reconcile log_events
                 grant_users flip_users state_diff shard_of_uids);

sub mysql_shards {
    my $p = $ENV{TEST_MYSQL_PORT};
    return ("127.0.0.1:$p/cc_s0", "127.0.0.1:$p/cc_s1");
}

sub _mysql_args { map { ('--mysql', $_) } mysql_shards() }

# starts mariadbd, the mock broker, the schema and an nginx with the module
sub campaign_up {
    my (%opt) = @_;
    mysql_start();
    kafka_start(partitions => 4);

    my $init = spawn_worker('cc-ingest', '--init-shards', _mysql_args());
    my $rc = wait_worker($init, 20);
    die "cc-ingest --init-shards failed: " . worker_stderr($init) unless defined $rc && $rc == 0;

    campaign_nginx(%opt);
}

# (re)starts the app nginx with the module against the campaign's servers
sub campaign_nginx {
    my (%opt) = @_;
    return start_nginx(undef, workers => $opt{workers} // 1,
        http_config => on_shards('cc_kafka_brokers $TEST_KAFKA_BROKERS;', $opt{http_config}),
        config => 'cc_identity trusted_header X-CC-Uid; location = /cc/flip { cc_flip; } location = /cc/grant { cc_grant; } '
                . 'location = /cc/combine { cc_combine; } location = /cc/metrics { cc_metrics; }');
}

# cc-ingest on the mock; --assign unless the first argument is 'group'
# (a real consumer-group member: about 3 s to join on the mock)
sub start_ingest {
    my (@extra) = @_;
    my @mode = ('--assign');
    if (@extra && $extra[0] eq 'group') { shift @extra; @mode = () }
    return spawn_worker('cc-ingest', '--brokers', $ENV{TEST_KAFKA_BROKERS}, @mode,
                        '--batch', 500, '--batch-ms', 50, '--progress', 1,
                        _mysql_args(), @extra);
}

# one pass of cc-reconcile with no grace; returns (exit code, stderr)
sub run_reconcile {
    my $w = spawn_worker('cc-reconcile', '--once', '--grace', 0,
                         (map { ('--redis', $_) } split ' ', $ENV{TEST_NGINX_REDIS_SHARDS}),
                         _mysql_args());
    my $rc = wait_worker($w, 30);
    return ($rc, worker_stderr($w));
}

# the draws and combines in a Redis shard's draw log (an entry holds the
# new draws of one flip batch as lines of d, or one combine)
sub log_events {
    my ($shard) = @_;
    my $n = 0;
    for my $e (@{ redis_cmd($shard, 'XRANGE', log_key(), '-', '+') }) {
        my %f = @{ $e->[1] };
        $n += defined $f{d} ? scalar(split /\n/, $f{d}) : 1;
    }
    return $n;
}

sub grant_users {
    my ($from, $to, $n) = @_;
    for my $uid ($from .. $to) {
        my ($st, $body) = http_request('POST', "/cc/grant?grant_id=seed&n=$n", { 'X-CC-Uid' => $uid });
        die "grant $uid: $st $body" unless $st == 200;
    }
}

# $per flips for each user, 50 at a time; returns the number of 200s
sub flip_users {
    my ($from, $to, $per, $tag) = @_;
    my $ok = 0;
    for my $uid ($from .. $to) {
        my @r = concurrent_requests($per, 'POST', "/cc/flip?request_id=${tag}_%d", { 'X-CC-Uid' => $uid });
        $ok += grep { defined $_->[0] && $_->[0] == 200 } @r;
    }
    return $ok;
}

sub shard_of_uids {
    my (@uids) = @_;
    my $w = spawn_worker('cc-ingest', '--shard-of', _mysql_args(), @uids);
    wait_worker($w, 10);
    my %db;
    for (split /\n/, worker_stdout($w)) {
        my ($uid, $name) = split ' ';
        ($db{$uid}) = $name =~ m{/(\w+)$};
    }
    return \%db;
}

sub _redis_shard_of {
    my ($uid) = @_;
    for my $i (0, 1) {
        return $i if redis_cmd($i, 'EXISTS', user_key($uid));
    }
    return undef;
}

# what differs between Redis and MySQL for these users, as text lines;
# empty when MySQL holds exactly each user's draws 1..s, in the user's
# shard, an eligibility row exactly for the users who combined, and card
# counts that, less the set a combine consumed, equal Redis's k0..k4
sub state_diff {
    my (@uids) = @_;
    my @diff;
    my $where = shard_of_uids(@uids);
    my %rows;      # uid => { db => count }
    my %seqs;      # uid => "1,2,..."
    my %cards;     # uid => { card => n }
    my %elig;      # uid => db
    for my $db ('cc_s0', 'cc_s1') {
        for my $r (@{ mysql_query('SELECT uid, COUNT(*), GROUP_CONCAT(seq ORDER BY seq) FROM draws GROUP BY uid', $db) }) {
            $rows{ $r->[0] }{$db} = $r->[1];
            $seqs{ $r->[0] } = $r->[2];
        }
        for my $r (@{ mysql_query('SELECT uid, card, n FROM user_cards', $db) }) {
            $cards{ $r->[0] }{ $r->[1] } += $r->[2];
        }
        for my $r (@{ mysql_query('SELECT uid FROM eligibility', $db) }) {
            push @diff, "uid $r->[0]: eligibility rows in two shards" if $elig{ $r->[0] };
            $elig{ $r->[0] } = $db;
        }
    }
    for my $uid (@uids) {
        my $rs = _redis_shard_of($uid);
        my $s = defined $rs ? (redis_cmd($rs, 'HGET', user_key($uid), 's') // 0) : 0;
        my @in = sort keys %{ $rows{$uid} // {} };
        if ($s == 0) {
            push @diff, "uid $uid: no draws in Redis but rows in @in" if @in;
            next;
        }
        if (@in != 1 || $in[0] ne $where->{$uid}) {
            push @diff, "uid $uid: rows in (@in), its shard is $where->{$uid}";
        }
        my $want = join ',', 1 .. $s;
        my $got = $seqs{$uid} // '';
        push @diff, "uid $uid: MySQL seqs [$got], Redis has 1..$s" if $got ne $want;
        my $combined = defined redis_cmd($rs, 'HGET', user_key($uid), 'e') ? 1 : 0;
        if ($combined != ($elig{$uid} ? 1 : 0)) {
            push @diff, "uid $uid: combined in Redis $combined, eligibility row " . ($elig{$uid} // 'none');
        } elsif ($elig{$uid} && $elig{$uid} ne $where->{$uid}) {
            push @diff, "uid $uid: eligibility row in $elig{$uid}, its shard is $where->{$uid}";
        }
        for my $k (0 .. 4) {
            my $r = redis_cmd($rs, 'HGET', user_key($uid), "k$k") // 0;
            my $m = ($cards{$uid}{$k} // 0) - ($elig{$uid} ? 1 : 0);
            push @diff, "uid $uid card $k: MySQL $m held, Redis $r" if $r != $m;
        }
    }
    return @diff;
}

1;
