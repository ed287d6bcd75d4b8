package HostileTest;

# HostileTest - what t/060-hostile.t reads besides Redis: every row of the
# two MySQL shards (cc_s0, cc_s1) as text, what changed between two such
# texts, and the kernel's view of the TCP connections on a port (from
# /proc/net/tcp*, so that reading it opens no connection of its own).

use strict;
use warnings;
use Exporter 'import';
use CcTest;

our @EXPORT = qw(mysql_rows mysql_delta tcp_peers);

my @DBS = qw(cc_s0 cc_s1);

# every table of a shard, the draw leg's and the money's
my @TABLES = qw(draws user_cards eligibility dead_letters
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

# { peer port => TCP state } of the sockets whose local port is $port:
# the server's side of its clients' connections.  States as the kernel
# names them: ESTABLISHED until the server closes or shuts its side.
my %STATE = ('01' => 'ESTABLISHED', '02' => 'SYN_SENT', '03' => 'SYN_RECV', '04' => 'FIN_WAIT1',
             '05' => 'FIN_WAIT2', '06' => 'TIME_WAIT', '07' => 'CLOSE', '08' => 'CLOSE_WAIT',
             '09' => 'LAST_ACK', '0A' => 'LISTEN', '0B' => 'CLOSING');

sub tcp_peers {
    my ($port) = @_;
    my %peer;
    for my $file ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $h, '<', $file or next;
        <$h>;
        while (my $line = <$h>) {
            my (undef, undef, $local, $remote, $st) = split /\s+/, $line;
            next unless hex((split /:/, $local)[-1]) == $port;
            my $rport = hex((split /:/, $remote)[-1]);
            next if $rport == 0;
            # a TIME_WAIT of an earlier connection on the same pair may
            # linger: a live state wins
            $peer{$rport} = $STATE{$st} // $st
                unless defined $peer{$rport} && $peer{$rport} ne 'TIME_WAIT';
        }
        close $h;
    }
    return \%peer;
}

1;
