#!/usr/bin/perl
# bench/failover-flips.pl: bench/failover.sh's flip client, one process.
#
#   failover-flips.pl PORT FIRST_UID RATE STOP_FILE OUT_FILE
#
# Each user of FIRST_UID, FIRST_UID + 1, ... is granted one chance
# (POST /cc/grant?grant_id=g&n=1) and flips it once (POST
# /cc/flip?request_id=f), X-CC-Uid: UID (trusted header), on one
# keep-alive connection to 127.0.0.1:PORT, at most RATE users a second,
# until STOP_FILE exists.  A request not answered 200 (or 409 for a flip)
# is sent again, the same id, after 50 ms (a new connection after an
# error or a 2 s timeout), up to 200 sends.  One flip a user keeps every
# draw restorable: a user never draws again on a promoted primary, so no
# later draw takes the sequence number of one a failover lost.
#
# Every flip answer is a line of OUT_FILE:
#   TIME_S UID STATUS TRIES BODY
# (STATUS 0: no answer: a connection error or the timeout).
use strict;
use warnings;
use IO::Socket::INET;
use IO::Select;
use Time::HiRes qw(time sleep);

my ($port, $uid, $rate, $stop, $outf) = @ARGV;
die "usage: failover-flips.pl PORT FIRST_UID RATE STOP_FILE OUT_FILE\n" unless defined $outf;
open my $out, '>', $outf or die "$outf: $!\n";
$out->autoflush(1);

my $sock;
sub req {
    my ($path, $uid) = @_;
    for my $fresh (0, 1) {
        $sock = undef if $fresh;
        $sock //= IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                        Proto => 'tcp', Timeout => 2) or return (0, '');
        my $msg = "POST $path HTTP/1.1\r\nHost: 127.0.0.1\r\nX-CC-Uid: $uid\r\n"
                . "Content-Length: 0\r\n\r\n";
        next unless defined syswrite($sock, $msg);
        my ($buf, $deadline) = ('', time + 2);
        my $sel = IO::Select->new($sock);
        while (1) {
            if ($buf =~ /\A HTTP\/1\.1 \s (\d+) [^\r]* \r\n (.*?) \r\n\r\n/xs) {
                my ($st, $hdr, $start) = ($1, $2, $+[0]);
                my ($len) = $hdr =~ /^content-length:\s*(\d+)/mi;
                if (defined $len && length($buf) >= $start + $len) {
                    $sock = undef if $hdr =~ /^connection:\s*close/mi;
                    return ($st, substr($buf, $start, $len));
                }
            }
            my $left = $deadline - time;
            if ($left <= 0 || !$sel->can_read($left)) { $sock = undef; return (0, '') }
            my $n = sysread($sock, $buf, 65536, length $buf);
            if (!$n) { $sock = undef; last }
        }
    }
    return (0, '');
}

my $t0 = time;
my $n = 0;
until (-e $stop) {
    my $due = $t0 + $n / $rate;
    my $now = time;
    sleep($due - $now) if $due > $now;
    $n++;
    for my $tries (1 .. 200) {
        my ($st) = req("/cc/grant?grant_id=g&n=1", $uid);
        last if $st == 200;
        sleep 0.05;
    }
    for my $tries (1 .. 200) {
        my ($st, $body) = req("/cc/flip?request_id=f", $uid);
        printf $out "%.3f %d %d %d %s\n", time, $uid, $st, $tries, $body;
        last if $st == 200 || $st == 409;
        sleep 0.05;
    }
    $uid++;
}
close $out;
