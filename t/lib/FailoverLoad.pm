package FailoverLoad;

# FailoverLoad - a steady flip load for the failover tests (t/080, t/081):
# forked clients, each flipping its own users in turn with fresh request
# ids, resending a request (the same id) after a 503 or a timeout until it
# gets a 200 or a 409, and writing every answer to a file.  Then what the
# answers say: the longest gap without a 200, and the acknowledged draws
# a Redis does not hold.
#
#   my $load = load_start(clients => 3, uids => [1, 2, 3], tag => 'a',
#                         base => 'http://127.0.0.1:PORT');   # default: the test's nginx
#   ...
#   my @ans = load_stop($load);   # { t, uid, rid, status, body, tries }
#   longest_gap(\@ans, $from, $to)          # seconds without a 200 in [from, to]
#   missing_draws(\@ans, sub { redis_cmd_at($port, @_) })
#       # the 200 answers whose draw the user hash behind the callback does
#       # not hold: (answer, ...)

use strict;
use warnings;
use Exporter 'import';
use POSIX ();
use Time::HiRes qw(time sleep);
use CcTest;
use CcKeys;

our @EXPORT = qw(load_start load_stop longest_gap missing_draws);

sub load_start {
    my (%o) = @_;
    my $dir = CcTest::Util::topdir();
    my @uids = @{ $o{uids} };
    my $n = $o{clients} // 3;
    my $load = { stop => "$dir/load-$o{tag}.stop", files => [], pids => [] };
    unlink $load->{stop};
    for my $c (0 .. $n - 1) {
        my $file = "$dir/load-$o{tag}-$c.txt";
        my @mine = @uids[grep { $_ % $n == $c } 0 .. $#uids];
        push @{ $load->{files} }, $file;
        my $pid = fork // die "fork: $!";
        if (!$pid) {
            open my $out, '>', $file or POSIX::_exit(1);
            $out->autoflush(1);
            my $k = 0;
            until (-e $load->{stop}) {
                my $uid = $mine[$k % @mine];
                my $rid = "$o{tag}$c-" . $k++;
                my ($st, $body, $tries) = (undef, undef, 0);
                while (!-e $load->{stop} || ($tries && $tries < 40)) {
                    $tries++;
                    ($st, $body) = http_request('POST', ($o{base} // '') . "/cc/flip?request_id=$rid",
                                                { 'X-CC-Uid' => $uid }, undef, 3);
                    printf $out "%.3f %d %s %s %d %s\n", time, $uid, $rid, $st // 0,
                           $tries, $body // '';
                    last if defined $st && ($st == 200 || $st == 409);
                    sleep 0.05;
                }
            }
            close $out;
            POSIX::_exit(0);
        }
        push @{ $load->{pids} }, $pid;
    }
    return $load;
}

sub load_stop {
    my ($load) = @_;
    open my $fh, '>', $load->{stop} or die;
    close $fh;
    waitpid($_, 0) for @{ $load->{pids} };
    my @ans;
    for my $f (@{ $load->{files} }) {
        open my $in, '<', $f or next;
        while (<$in>) {
            chomp;
            my ($t, $uid, $rid, $st, $tries, $body) = split / /, $_, 6;
            push @ans, { t => $t, uid => $uid, rid => $rid, status => $st,
                         tries => $tries, body => $body };
        }
    }
    return sort { $a->{t} <=> $b->{t} } @ans;
}

sub longest_gap {
    my ($ans, $from, $to) = @_;
    my @t = ($from, (map { $_->{t} } grep { $_->{status} == 200 && $_->{t} >= $from
                                             && $_->{t} <= $to } @$ans), $to);
    my $gap = 0;
    for my $i (1 .. $#t) { $gap = $t[$i] - $t[$i - 1] if $t[$i] - $t[$i - 1] > $gap }
    return $gap;
}

sub missing_draws {
    my ($ans, $cmd) = @_;
    my @missing;
    for my $a (grep { $_->{status} == 200 } @$ans) {
        my ($seq, $card) = $a->{body} =~ /"draw_id":"\d+:(\d+)","card":(\d+)/ or next;
        my $v = $cmd->('HGET', user_key($a->{uid}), ":$a->{rid}") // '';
        push @missing, $a unless $v =~ /^$seq:$card:/;
    }
    return @missing;
}

1;
