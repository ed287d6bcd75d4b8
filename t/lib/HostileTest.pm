package HostileTest;

# HostileTest - what t/060-hostile.t reads besides Redis: every row of the
# two MySQL shards (cc_s0, cc_s1) as text, what changed between two such
# texts, and the state of a TCP connection, read without reading from it.

use strict;
use warnings;
use Exporter 'import';
use CcTest;
use Socket ();

our @EXPORT = qw(mysql_rows mysql_delta live_delta tcp_state);

my @DBS = qw(cc_s0 cc_s1);

# every table of a shard, the draw leg's and the money's
my @TABLES = qw(draws user_cards eligibility dead_letters gift_moves gift_counts
                awards draw_plans ledger_accounts ledger_transfers ledger_pending);

# Every row of both shards, one line each ("db table col\tcol..."), sorted:
# two texts are equal when nothing changed.
sub mysql_rows {
    my @lines;
    for my $db (@DBS) {
        my $sql = join ';', map { "SELECT '$_', t.* FROM $_ t" } @TABLES;
        for my $r (@{ mysql_query($sql, $db) }) {
            my ($table, @col) = @$r;
            push @lines, "$db $table " . join "\t", map { $_ // 'NULL' } @col;
        }
    }
    return join '', map { "$_\n" } sort @lines;
}

# What changed from $before to $after, as sorted lines:
#   "db draws uid seq card request_id"     a new draw (its time left out)
#   "db eligibility uid request_id"        a new combine
#   "db user_cards uid card +n"            a count that moved
#   "+ line" / "- line"                    any other row added or removed
sub mysql_delta {
    my ($before, $after) = @_;
    my (%b, %a, %cards, @out);
    $b{$_}++ for split /\n/, $before;
    $a{$_}++ for split /\n/, $after;
    for my $l (grep { !$b{$_} } sort keys %a) {
        if ($l =~ /^(\S+) draws (\d+)\t(\d+)\t(\d+)\t(.*)\t\d+$/) { push @out, "$1 draws $2 $3 $4 $5" }
        elsif ($l =~ /^(\S+) eligibility (\d+)\t(.*)\t\d+$/)  { push @out, "$1 eligibility $2 $3" }
        elsif ($l =~ /^(\S+) user_cards (\d+)\t(\d+)\t(\d+)$/) { $cards{"$1 user_cards $2 $3"} += $4 }
        else                                                    { push @out, "+ $l" }
    }
    for my $l (grep { !$a{$_} } sort keys %b) {
        if ($l =~ /^(\S+) user_cards (\d+)\t(\d+)\t(\d+)$/) { $cards{"$1 user_cards $2 $3"} -= $4 }
        else                                                 { push @out, "- $l" }
    }
    push @out, map { "$_ +$cards{$_}" } grep { $cards{$_} } keys %cards;
    return sort @out;
}

# The lines mysql_delta gives for these expected rows: a card counted
# once per draw ("db user_cards uid card +1") is summed per user and kind.
sub live_delta {
    my (%cards, @out);
    for (@_) {
        if (/^(.* user_cards \d+ \d+) \+(\d+)$/) { $cards{$1} += $2 }
        else                                       { push @out, $_ }
    }
    push @out, map { "$_ +$cards{$_}" } keys %cards;
    return sort @out;
}

# The TCP state of a socket as its own kernel sees it (TCP_INFO), without
# reading from it: ESTABLISHED while the peer keeps the connection,
# CLOSE_WAIT once the peer closed it (its FIN arrived), CLOSE once the
# peer reset it (a peer that closes with requests unread resets).
my @STATE = qw(? ESTABLISHED SYN_SENT SYN_RECV FIN_WAIT1 FIN_WAIT2 TIME_WAIT CLOSE CLOSE_WAIT
               LAST_ACK LISTEN CLOSING);

sub tcp_state {
    my ($sock) = @_;
    my $info = getsockopt($sock, Socket::IPPROTO_TCP(), Socket::TCP_INFO()) or return 'ERROR';
    return $STATE[ unpack 'C', $info ] // 'UNKNOWN';
}

1;
