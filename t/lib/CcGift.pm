package CcGift;

# CcGift - what the gift tests (t/100 .. t/109) share: the locations of
# the gift endpoints, which shard holds a user (placed by a grant through
# nginx, so the module's ring decides), cards seeded and read, and the
# gift entries of a shard's draw log, its outbox (drained).

use strict;
use warnings;
use Exporter 'import';
use CcTest;
use CcKeys;

our @EXPORT = qw(gift_locations place_users shard_of seed_cards cards
                 log_gifts gift_req outbox outbox_members outbox_drained);

# every endpoint, the gift ones included, behind the tests' trusted header
sub gift_locations {
    return all_locations(
        'location = /cc/gift  { cc_gift; }',
        'location = /cc/ask   { cc_ask; }',
        'location = /cc/gifts { cc_gifts; }',
        'location = /cc/metrics { cc_metrics; }',
        @_);
}

my %SHARD;

# the shard (0, 1) of each uid: a grant of 0 chances... a grant of 1
# creates the user's hash where the ring puts it
sub place_users {
    for my $uid (@_) {
        next if defined $SHARD{$uid};
        my ($st) = http_request('POST', "/cc/grant?grant_id=place$uid&n=1",
                                { 'X-CC-Uid' => $uid });
        die "grant for $uid: " . ($st // $CcTest::error) unless ($st // 0) == 200;
        my @on = grep { redis_cmd($_, 'EXISTS', user_key($uid)) } 0, 1;
        die "user $uid on shards @on" unless @on == 1;
        $SHARD{$uid} = $on[0];
    }
}

sub shard_of { place_users($_[0]); $SHARD{ $_[0] } }

sub seed_cards {
    my ($uid, $kind, $n) = @_;
    redis_cmd(shard_of($uid), 'HSET', user_key($uid), "k$kind", $n);
}

sub cards {
    my ($uid, $kind) = @_;
    return redis_cmd(shard_of($uid), 'HGET', user_key($uid), "k$kind") // 0;
}

# the gift halves of a shard's log, each "go|gi g u p k" (t checked to be
# 13 digits, then left out), in log order: each line of a batch's entry
# (o = the giver's halves, i = the receiver's: "uid:peer:kind:ms:rid"
# lines, cc_log.h), and the one-gift entries y=go / y=gi older versions
# wrote
sub log_gifts {
    my ($shard) = @_;
    my @out;
    for my $e (@{ redis_cmd($shard, 'XRANGE', log_key(), '-', '+') }) {
        my %f = @{ $e->[1] };
        if (defined $f{y} && $f{y} =~ /^g[io]$/) {
            my $t = ($f{t} // '') =~ /^\d{13}$/ ? '' : " t=$f{t}";
            push @out, "$f{y} $f{g} $f{u} $f{p} $f{k}$t";
            next;
        }
        for my $side (grep { defined $f{$_} } 'o', 'i') {
            for my $l (split /\n/, $f{$side}, -1) {
                my ($u, $p, $k, $t, $rid) = split /:/, $l, 5;
                my $g = ($side eq 'o' ? $u : $p) . ":$rid";
                push @out, "g$side $g $u $p $k" . (($t // '') =~ /^\d{13}$/ ? '' : " t=$t");
            }
        }
    }
    return \@out;
}

# the outbox of a shard: { gift_id => "to:kind:ms" }, read from both of
# its shapes: a member "giver:request_id:to:kind" by its ms (this
# version's), or an old bare gift id with its value in cc:outbox:g (one
# planted by a test of the upgrade); dies on a member of neither shape, an
# old one without its value, or a value without its member
sub outbox {
    my ($shard) = @_;
    # both in one step: a gift_out or gift_done may run between two reads
    my $both = redis_cmd($shard, 'EVAL', "return {redis.call('HGETALL', KEYS[1]), "
                         . "redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}", 2,
                         outbox_gifts_key(), outbox_key());
    die "outbox: $both" unless ref $both;
    my %old = @{ $both->[0] };
    my %g;
    my @z = @{ $both->[1] };
    while (my ($m, $ms) = splice @z, 0, 2) {
        if ($m =~ /^(\d+:[\w-]+):(\d+):(\d+)$/) {
            $g{$1} = "$2:$3:$ms";
        } elsif ($m =~ /^\d+:[\w-]+$/ && defined $old{$m}) {
            $g{$m} = delete $old{$m};
        } else {
            die "outbox member $m: neither giver:request_id:to:kind nor an old gift id with its value";
        }
    }
    die 'outbox values with no member: ' . join(',', sort keys %old) if %old;
    return \%g;
}

# the members of a shard's outbox as Redis holds them: { member => ms }
sub outbox_members {
    my ($shard) = @_;
    return { @{ redis_cmd($shard, 'ZRANGE', outbox_key(), 0, -1, 'WITHSCORES') } };
}

# the outbox of a shard once it is empty, or after 2 s: a gift answered
# "delivered" leaves it when its detached gift_done's batch runs (10 ms
# later, ngx_http_cc_redis_batch.c), not before its answer
sub outbox_drained {
    my ($shard) = @_;
    wait_until(sub { !%{ outbox($shard) } }, 2);
    return outbox($shard);
}

# "status body" of a request as uid
sub gift_req {
    my ($method, $uri, $uid) = @_;
    my ($st, $body) = http_request($method, $uri, { 'X-CC-Uid' => $uid });
    return ($st // 'undef') . ' ' . ($body // $CcTest::error);
}

1;
