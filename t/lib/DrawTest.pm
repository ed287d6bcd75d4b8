package DrawTest;

# DrawTest - cc-draw against the two Redis shards of CcTest and two MySQL
# shards (cc_s0, cc_s1) on one mariadbd, for t/050 and t/051: campaign
# files, eligible users written as cc-ingest writes them, a run of
# cc-draw, and what the draw left in MySQL.

use strict;
use warnings;
use Exporter 'import';
use File::Temp qw(tempdir);
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest qw(payout_setup shard_map redis_index);

our @EXPORT = qw(draw_setup draw_campaign make_eligible draw_run draw_args awards_of
                 money_rows digest_of reset_money redis_fresh unmake_eligible);

my $DIR = tempdir('cc-draw-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our @DBS = qw(cc_s0 cc_s1);
our $CUTOFF = 1700000000;

sub draw_setup { payout_setup() }

# a campaign file: draw_campaign('c1', pool => 5037, split => 'equal', ...)
# (campaign_conf, with the seed seed-1 unless given; a new file each time)
sub draw_campaign {
    my ($id, %o) = @_;
    return campaign_conf(dir => $DIR, campaign => $id, pool_cents => $o{pool},
                         split => $o{split} // 'equal', cap_cents => $o{cap},
                         seed => $o{seed} // 'seed-1', credit => $o{credit} // 'async',
                         cutoff => $o{cutoff} // $CUTOFF);
}

# the combine records (field e) make_eligible wrote: uid => [ shard, e ]
my %COMBINED;

# eligibility rows in each uid's MySQL shard, combined $before ms before
# the cutoff (negative: after it), and the combine record in its Redis
# shard (field e = "request_id:ms"), as the module's combine writes it:
# cc-draw checks the one against the other
sub make_eligible {
    my ($before, @uids) = @_;
    my $map = shard_map(@uids);
    my %by;
    push @{ $by{ $map->{$_}[1] } }, $_ for @uids;
    my $at = $CUTOFF * 1000 - $before;
    $COMBINED{$_} = [ redis_index($map->{$_}[0]), "set$_:$at" ] for @uids;
    _combines(@uids);
    for my $db (sort keys %by) {
        my @u = @{ $by{$db} };
        while (my @part = splice @u, 0, 1000) {
            mysql_query('INSERT INTO eligibility (uid, request_id, combined_at) VALUES '
                        . join(',', map { "($_,'set$_',$at)" } @part), $db);
        }
    }
    return $map;
}

sub _combines {
    my %by;
    push @{ $by{ $COMBINED{$_}[0] } }, $_ for @_;
    for my $r (sort keys %by) {
        my @u = @{ $by{$r} };
        while (my @part = splice @u, 0, 1000) {
            redis_cmd($r, 'EVAL', "for i = 1, #KEYS do redis.call('HSET', KEYS[i], 'e', ARGV[i]) end",
                      scalar @part, (map { user_key($_) } @part), map { $COMBINED{$_}[1] } @part);
        }
    }
}

# make_eligible undone: the rows and the combine records gone
sub unmake_eligible {
    my $map = shard_map(@_);
    for my $u (@_) {
        mysql_query("DELETE FROM eligibility WHERE uid = $u", $map->{$u}[1]);
        redis_cmd(redis_index($map->{$u}[0]), 'HDEL', user_key($u), 'e');
        delete $COMBINED{$u};
    }
}

# both Redis shards emptied, but for the combine records of make_eligible
sub redis_fresh {
    redis_cmd($_, 'FLUSHALL') for 0, 1;
    _combines(keys %COMBINED);
}

# the servers' arguments (CcCampaign's shard_args), for a test's own cc-draw
sub draw_args { shard_args() }

# runs cc-draw to its end: (exit code, stdout, stderr)
sub draw_run {
    my ($file, @extra) = @_;
    return run_worker([ 'cc-draw', '--campaign', $file, shard_args(), @extra ], timeout => 120);
}

# { uid => [ amount, status, db ] } of a campaign's awards
sub awards_of {
    my ($c) = @_;
    my %a;
    for my $db (@DBS) {
        for my $r (@{ mysql_query("SELECT uid, amount_cents, status FROM awards WHERE campaign = '$c'", $db) }) {
            die "uid $r->[0]: two award rows" if $a{ $r->[0] };
            $a{ $r->[0] } = [ $r->[1], $r->[2], $db ];
        }
    }
    return \%a;
}

# rows the campaign has in the draw's tables, both shards
sub money_rows {
    my ($c) = @_;
    my $n = 0;
    for my $db (@DBS) {
        $n += mysql_value("SELECT COUNT(*) FROM draw_plans WHERE campaign = '$c'", $db)
            + mysql_value("SELECT COUNT(*) FROM awards WHERE campaign = '$c'", $db)
            + mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = '$c'", $db)
            + mysql_value("SELECT COUNT(*) FROM ledger_accounts WHERE account LIKE '%:$c'", $db);
    }
    return $n;
}

sub digest_of { ($_[0] =~ /^digest: ([0-9a-f]{64})$/m)[0] }

# the money tables dropped and made again, Redis emptied: a campaign can
# be drawn afresh over the same eligible users (their combine records kept)
sub reset_money {
    mysql_query('DROP TABLE draw_plans, awards, ledger_transfers, ledger_accounts', $_) for @DBS;
    payout_setup();
    redis_fresh();
}

1;
