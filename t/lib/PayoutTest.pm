package PayoutTest;

# PayoutTest - awards seeded as cc-draw writes them, cc-payout runs, and
# the checks of what a payout must leave behind, for t/041 and t/042: the
# two Redis shards of CcTest, two MySQL shards (cc_s0, cc_s1) on one
# mariadbd.

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use CcTest;
use CcKeys;
use CcCampaign;

our @EXPORT = qw(payout_setup campaign_file payout_run spawn_payout shard_map shard_db
                 redis_index seed_awards award_states notices_owed check_paid check_redis
                 ledger_snapshot prom_metric);

# a sample of a metrics file (cc-payout's --metrics-file, the textfile
# format): the value of the line "NAME VALUE", undef when absent
sub prom_metric {
    my ($file, $name) = @_;
    open my $f, '<', $file or return undef;
    while (<$f>) {
        return $1 if /^\Q$name\E (\S+)$/;
    }
    return undef;
}

my $DIR = tempdir('cc-payout-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $CLI = "$CcTest::TestToolDir/cc-ledger-cli";    # CC_TEST_TOOL_DIR
my @DBS = qw(cc_s0 cc_s1);
my %MAP;     # uid => [ redis addr, mysql db ]

sub payout_setup {
    mysql_start();
    run_worker([ 'cc-ingest', '--init-shards', map { ('--mysql', $_) } mysql_shards() ], timeout => 30, ok => 1);
}

# a campaign file for campaign $id: campaign_conf's defaults, credit async
# unless given, extra lines; one path per id, credit and extra or not, so
# that the same call rewrites the same file
sub campaign_file {
    my ($id, %o) = @_;
    my $credit = $o{credit} // 'async';
    return campaign_conf(path => "$DIR/$id-$credit" . (defined $o{extra} ? '-x' : '') . '.conf',
                         campaign => $id, credit => $credit, extra => $o{extra});
}

# the arguments of a run: the campaign and the servers when a file is
# given, then @$args
sub _args {
    my ($args, $file) = @_;
    return defined $file ? ('--campaign', $file, shard_args(), @$args) : @$args;
}

# runs cc-payout to its end; (exit code, stdout, stderr)
sub payout_run {
    my ($args, $file, $timeout) = @_;
    my @a = _args($args, $file);
    @a = (@a, shard_args()) if !defined $file && @a && $a[0] eq '--campaign';
    return run_worker([ 'cc-payout', @a ], timeout => $timeout // 120);
}

sub spawn_payout { spawn_worker('cc-payout', _args(@_)) }

# uid => [ its Redis shard's address, its MySQL shard's database ]
sub shard_map {
    my @want = grep { !$MAP{$_} } @_;
    while (my @part = splice @want, 0, 2000) {
        my (undef, $out) = run_worker([ 'cc-payout', '--campaign', campaign_file('map'), shard_args(),
                                        '--shard-of', @part ], timeout => 30, ok => 1);
        for (split /\n/, $out) {
            my ($uid, $redis, $mysql) = split ' ';
            $MAP{$uid} = [ $redis, ($mysql =~ m{/(\w+)$})[0] ];
        }
    }
    return { map { ($_ => $MAP{$_}) } @_ };
}

sub shard_db { shard_map($_[0])->{ $_[0] }[1] }

sub redis_index {
    my ($addr) = @_;
    my @all = split ' ', $ENV{TEST_NGINX_REDIS_SHARDS};
    for my $i (0 .. $#all) { return $i if $all[$i] eq $addr }
    die "no Redis shard $addr";
}

# Writes awards as cc-draw does: rows in each uid's MySQL shard, pending
# (or credited with its ledger credit, credited => 1), "p:..." in Redis
# (redis => 0 skips it), and funds each shard's pool with the sum of its
# awards plus extra_fund->{db} (fund => 0 skips it).
sub seed_awards {
    my ($c, $amount, %o) = @_;
    my $map = shard_map(keys %$amount);
    my %by;
    push @{ $by{ $map->{$_}[1] } }, $_ for sort { $a <=> $b } keys %$amount;
    my $status = $o{credited} ? 'credited' : 'pending';
    for my $i (0 .. $#DBS) {
        my $uids = $by{ $DBS[$i] } or next;
        mysql_query('INSERT INTO awards (award_id, campaign, uid, amount_cents, status, notified, created_at) VALUES '
                    . join(',', map { "('$c:$_','$c',$_,$amount->{$_},'$status',0,1700000000000)" } @$uids), $DBS[$i]);
        if ($o{fund} // 1) {
            my $sum = ($o{extra_fund} // {})->{ $DBS[$i] } // 0;
            $sum += $amount->{$_} for @$uids;
            _cli($DBS[$i], 'fund', $c, $i, $sum) =~ /^fund done/ or die "fund $c $i failed";
        }
        if ($o{credited}) {
            my $out = _cli($DBS[$i], 'credit', $c, map { "$c:$_:$_:$amount->{$_}" } @$uids);
            die "credit: $out" unless $out =~ /^added \d+$/m;
        }
    }
    if ($o{redis} // (keys %$amount <= 500)) {
        redis_cmd(redis_index($map->{$_}[0]), 'HSET', user_key($_), 'w', "p:$amount->{$_}:$c:$_") for keys %$amount;
    }
}

sub _cli {
    my ($db, @args) = @_;
    my (undef, $out) = run_worker([ $CLI, '--mysql', "127.0.0.1:$ENV{TEST_MYSQL_PORT}/$db", @args ],
                                  timeout => 30, ok => 1);
    return $out;
}

# { "status/notified" => count } of a campaign's awards, both shards;
# notified: the notice is sent, as cc-reconcile reads it (notified = 1 and
# no open row of award_notices covers the award: sql/money.sql)
sub award_states {
    my ($c) = @_;
    my %n;
    for my $db (@DBS) {
        $n{"$_->[0]/$_->[1]"} += $_->[2]
            for @{ mysql_query("SELECT status, a.notified AND NOT EXISTS (SELECT 1 FROM award_notices n "
                               . "WHERE n.campaign = a.campaign AND n.told_at = 0 AND n.first_id <= a.award_id "
                               . "AND n.last_id >= a.award_id), COUNT(*) FROM awards a WHERE campaign = '$c' "
                               . "GROUP BY 1, 2", $db) };
    }
    return \%n;
}

# the open notice rows of a campaign (told_at = 0), both shards
sub notices_owed {
    my ($c) = @_;
    my $n = 0;
    $n += mysql_value("SELECT COUNT(*) FROM award_notices WHERE campaign = '$c' AND told_at = 0", $_) for @DBS;
    return $n;
}

# What is wrong with a campaign's money, as lines (empty: nothing): every
# award in its uid's shard, credited, with exactly one transfer of its
# amount from the pool to its wallet; no other credit transfer; each pool
# empty and equal to its funding; each wallet's credits equal to the
# transfers to it; debits equal credits over the campaign's accounts.
sub check_paid {
    my ($c, $amount) = @_;
    my @bad;
    my $map = shard_map(keys %$amount);
    my %seen;
    for my $db (@DBS) {
        my %award = map { ($_->[0] => $_) }
            @{ mysql_query("SELECT award_id, uid, amount_cents, status FROM awards WHERE campaign = '$c'", $db) };
        my %xfer;
        for my $t (@{ mysql_query("SELECT transfer_id, debit, credit, amount_cents, award_id FROM ledger_transfers "
                                  . "WHERE campaign = '$c' AND kind = 'credit'", $db) }) {
            push @{ $xfer{ $t->[4] // "(none) $t->[0]" } }, $t;
        }
        my $paid = 0;
        for my $id (sort keys %award) {
            my ($uid, $amt, $st) = @{ $award{$id} }[1 .. 3];
            $seen{$uid}++;
            push @bad, "$id: in $db, its shard is $map->{$uid}[1]" if $map->{$uid}[1] ne $db;
            push @bad, "$id: $amt cents, seeded " . ($amount->{$uid} // 'none') if ($amount->{$uid} // -1) != $amt;
            push @bad, "$id: $st" if $st ne 'credited';
            my $ts = delete $xfer{$id} // [];
            if (@$ts != 1) { push @bad, "$id: " . scalar(@$ts) . ' transfers'; next }
            my $t = $ts->[0];
            push @bad, "$id: transfer $t->[1] -> $t->[2] $t->[3]"
                if $t->[1] ne "pool:$c" || $t->[2] ne "wallet:$uid" || $t->[3] != $amt || $t->[0] ne $id;
            $paid += $t->[3];
        }
        # the campaign's wallets: credits = the transfers to them (summed
        # once, grouped: ledger_transfers has no index on credit, and a
        # sum per wallet read the table once for each of them)
        my %wallet = map { ($_->[0] => $_) } @{ mysql_query(
            "SELECT a.account, a.credits, t.s FROM ledger_accounts a "
          . "JOIN awards w ON a.account = CONCAT('wallet:', w.uid) "
          . "LEFT JOIN (SELECT credit, SUM(amount_cents) AS s FROM ledger_transfers GROUP BY credit) t "
          . "ON t.credit = a.account WHERE w.campaign = '$c'", $db) };
        for my $id (sort keys %award) {
            my $w = $wallet{"wallet:$award{$id}[1]"};
            push @bad, "wallet:$award{$id}[1]: " . ($w ? "$w->[1], transfers $w->[2]" : 'no account')
                if !$w || $w->[1] != ($w->[2] // 0);
        }
        push @bad, "transfer without an award in $db: $_" for sort keys %xfer;
        next unless %award;
        my $pool = mysql_query("SELECT debits, credits FROM ledger_accounts WHERE account = 'pool:$c'", $db)->[0] // [ 0, 0 ];
        my $fund = mysql_value("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_transfers WHERE campaign = '$c' AND kind = 'fund'", $db);
        my $sponsor = mysql_value("SELECT debits FROM ledger_accounts WHERE account = 'sponsor:$c'", $db) // 0;
        push @bad, "$db pool:$c: debits $pool->[0] != the credits paid $paid" if $pool->[0] != $paid;
        push @bad, "$db pool:$c: credits $pool->[1] != funding $fund != sponsor's debits $sponsor"
            if $pool->[1] != $fund || $sponsor != $fund;
        push @bad, "$db pool:$c not empty: $pool->[0]/$pool->[1]" if $pool->[0] != $pool->[1];
    }
    push @bad, "uid $_: no award row" for grep { !$seen{$_} } sort keys %$amount;
    push @bad, "uid $_: $seen{$_} award rows" for grep { $seen{$_} > 1 } sort keys %seen;
    return @bad;
}

# what differs from w = "<st>:amount:award_id" on each uid's Redis shard
# and no w on the other
sub check_redis {
    my ($c, $amount, $st) = @_;
    my $map = shard_map(keys %$amount);
    my @bad;
    for my $uid (sort { $a <=> $b } keys %$amount) {
        my $home = redis_index($map->{$uid}[0]);
        my $want = "$st:$amount->{$uid}:$c:$uid";
        my $got = redis_cmd($home, 'HGET', user_key($uid), 'w') // 'none';
        push @bad, "uid $uid: w $got, want $want" if $got ne $want;
        my $other = redis_cmd(1 - $home, 'HGET', user_key($uid), 'w');
        push @bad, "uid $uid: w on the other shard too" if defined $other;
    }
    return @bad;
}

# every transfer and account of both shards
sub ledger_snapshot {
    return { map { ($_ => [ mysql_query('SELECT * FROM ledger_transfers ORDER BY transfer_id', $_),
                            mysql_query('SELECT * FROM ledger_accounts ORDER BY account', $_) ]) } @DBS };
}

1;
