package CcCampaign;

# CcCampaign - the whole pipeline for the ingest tests: two Redis shards,
# an nginx with the module producing to the mock Kafka, two MySQL shards
# (two databases on one mariadbd), cc-ingest, cc-reconcile; and the check
# that MySQL holds exactly what Redis holds.  Also, for the workers that
# read a campaign: the one writer of campaign files (campaign_conf), and
# the shards' --redis and --mysql arguments (shard_args).

use strict;
use warnings;
use Exporter 'import';
use Carp qw(croak);
use File::Temp qw(tempdir);
use CcTest;
use CcTest::NginxConf qw(app_locations);
use CcKeys;

our @EXPORT = qw(fake_draws campaign_up combine_took campaign_nginx mysql_shards shard_args campaign_conf start_ingest
                 run_reconcile log_events grant_users flip_users state_diff shard_of_uids);

sub mysql_shards {
    # with a replica (CcTest::MySQLReplica): the shards as their candidates
    my $at = $ENV{TEST_MYSQL_CANDIDATES} // "127.0.0.1:$ENV{TEST_MYSQL_PORT}";
    return ("$at/cc_s0", "$at/cc_s1");
}

sub _mysql_args { map { ('--mysql', $_) } mysql_shards() }

# --redis for each of CcTest's Redis shards, then --mysql for each MySQL
# shard: the servers of cc-draw, cc-payout, cc-reconcile
sub shard_args {
    return ((map { ('--redis', $_) } split ' ', $ENV{TEST_NGINX_REDIS_SHARDS}), _mysql_args());
}

# a campaign file's keys (common/cc_campaign.c), in the order written
my @CONF_KEYS = qw(campaign pool_cents split cap_cents seed credit cutoff pending_max
                   wallet wallet_url wallet_timeout_ms wallet_secret_file wallet_answer_secret_file
                   wallet_ca_file wallet_insecure_loopback wallet_mode wallet_batch_max
                   wallet_batch_age_ms
                   currency alert);
my %CONF_DEFAULT = (pool_cents => 100000000, split => 'equal', seed => 's33d',
                    credit => 'async', cutoff => 1700000000);
my $CONF_DIR;    # where campaign_conf writes when given no path or dir

# campaign_conf(campaign => ID, KEY => VALUE, ..., extra => TEXT,
#               path => FILE, dir => DIR)
# writes a campaign file (what cc-draw, cc-payout and cc-reconcile --money
# read) and returns its path: one "KEY VALUE" line per key, in the order
# of @CONF_KEYS: the keys given, and pool_cents 100000000, split equal,
# seed s33d, credit async, cutoff 1700000000 unless given (a key given as
# undef is left out); then extra as it is (more lines, a bad one).  The
# file is path, or DIR/ID-<random>.conf (DIR: dir, else a temp dir).
# Dies on a key it does not know: write such a line with extra.
sub campaign_conf {
    my (%o) = @_;
    my ($path, $dir, $extra) = delete @o{qw(path dir extra)};
    my %known = map { ($_ => 1) } @CONF_KEYS;
    my @bad = grep { !$known{$_} } sort keys %o;
    croak "campaign_conf: unknown key(s) @bad (a line of its own goes in extra)" if @bad;
    croak "campaign_conf: no campaign given" unless defined $o{campaign};
    my %v = (%CONF_DEFAULT, %o);
    $path //= ($dir // ($CONF_DIR //= tempdir('cc-campaign-XXXXXX', TMPDIR => 1, CLEANUP => 1)))
            . "/$o{campaign}-" . int(rand 1e9) . '.conf';
    open my $f, '>', $path or die "$path: $!";
    print $f map { "$_ $v{$_}\n" } grep { defined $v{$_} } @CONF_KEYS;
    print $f $extra if defined $extra;
    close $f or die "$path: $!";
    return $path;
}

# starts mariadbd, the mock broker, the schema and an nginx with the module
sub campaign_up {
    my (%opt) = @_;
    mysql_start();
    kafka_start(partitions => 4);

    run_worker([ 'cc-ingest', '--init-shards', _mysql_args() ], timeout => 20, ok => 1);

    campaign_nginx(%opt);
}

# (re)starts the app nginx with the module against the campaign's servers
sub campaign_nginx {
    my (%opt) = @_;
    return start_nginx(undef, workers => $opt{workers} // 1,
        http_config => on_shards('cc_kafka_brokers $TEST_KAFKA_BROKERS;', $opt{http_config}),
        config => app_locations());
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

# one pass of cc-reconcile with no grace, and the options given (say
# --cards); returns (exit code, stderr)
sub run_reconcile {
    my (@extra) = @_;
    my ($rc, undef, $err) = run_worker([ 'cc-reconcile', '--once', '--grace', 0, @extra, shard_args() ],
                                       timeout => 60);
    return ($rc, $err);
}

# what flip.lua leaves for uid's draws of the kinds given, written by
# hand on Redis shard (an index): each draw's s and its kind's count in
# the user hash, the draws in one log entry (d lines,
# uid:s:kind:ms:request_id); $seq (a hash ref) holds each uid's last s
sub fake_draws {
    my ($shard, $uid, $seq, $ms, @cards) = @_;
    my @lines;
    for my $k (@cards) {
        my $s = ++$seq->{$uid};
        redis_cmd($shard, 'HSET', user_key($uid), 's', $s);
        redis_cmd($shard, 'HINCRBY', user_key($uid), "k$k", 1);
        push @lines, "$uid:$s:$k:$ms:r$uid-$s";
    }
    redis_cmd($shard, 'XADD', log_key(), '*', 'd', join "\n", @lines);
}

# the events in a Redis shard's draw log (an entry holds the new draws of
# one flip batch as lines of d, the gift halves of one gift batch as lines
# of o or i, or one combine or, as older versions wrote, one gift half)
sub log_events {
    my ($shard) = @_;
    my $n = 0;
    for my $e (@{ redis_cmd($shard, 'XRANGE', log_key(), '-', '+') }) {
        my %f = @{ $e->[1] };
        my ($lines) = grep { defined } @f{qw(d o i)};
        $n += defined $lines ? scalar(split /\n/, $lines) : 1;
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
    my (undef, $out) = run_worker([ 'cc-ingest', '--shard-of', _mysql_args(), @uids ], timeout => 10);
    my %db;
    for (split /\n/, $out) {
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
# the cards of kind $k a combine took, by its eligibility row's wildcard
# columns [wildcard_kind, wildcards_used, replaced_kinds] (sql/shard.sql)
sub combine_took {
    my ($row, $k) = @_;
    my ($w, $used, $mask) = @$row;
    return 1 if !defined $w;
    return $used if $k == $w;
    return ($mask >> $k) & 1 ? 0 : 1;
}

sub state_diff {
    my (@uids) = @_;
    my @diff;
    my $where = shard_of_uids(@uids);
    my %rows;      # uid => { db => count }
    my %seqs;      # uid => "1,2,..."
    my %cards;     # uid => { card => n }
    my %elig;      # uid => db
    my %took;      # uid => [wildcard kind or undef, wildcards used, replaced mask]
    for my $db ('cc_s0', 'cc_s1') {
        for my $r (@{ mysql_query('SELECT uid, COUNT(*), GROUP_CONCAT(seq ORDER BY seq) FROM draws GROUP BY uid', $db) }) {
            $rows{ $r->[0] }{$db} = $r->[1];
            $seqs{ $r->[0] } = $r->[2];
        }
        # a gift moves a card: received less given, counted with the drawn
        for my $r (@{ mysql_query('SELECT uid, card, CAST(received AS SIGNED) - CAST(given AS SIGNED) FROM gift_counts', $db) }) {
            $cards{ $r->[0] }{ $r->[1] } += $r->[2];
        }
        for my $r (@{ mysql_query('SELECT uid, card, n FROM user_cards', $db) }) {
            $cards{ $r->[0] }{ $r->[1] } += $r->[2];
        }
        for my $r (@{ mysql_query('SELECT uid, wildcard_kind, wildcards_used, replaced_kinds FROM eligibility', $db) }) {
            push @diff, "uid $r->[0]: eligibility rows in two shards" if $elig{ $r->[0] };
            $elig{ $r->[0] } = $db;
            $took{ $r->[0] } = [ @$r[1 .. 3] ];
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
            my $m = ($cards{$uid}{$k} // 0) - ($elig{$uid} ? combine_took($took{$uid}, $k) : 0);
            push @diff, "uid $uid card $k: MySQL $m held, Redis $r" if $r != $m;
        }
    }
    return @diff;
}

1;
