#!/usr/bin/perl
# bench/failover-redis.pl PORT: bench/failover.sh's pipelined Redis client.
# Each line of stdin is one command, its words separated by spaces; each
# reply is one line of stdout, in order: an integer or a bulk string as
# is, nil as an empty line (a reply of several lines, an array or an
# error, is not what the bench sends: it stops).  1000 commands in flight
# at most; redis-cli waits for each reply, which over 100,000 users takes
# seconds.
use strict;
use warnings;
use IO::Socket::INET;

my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $ARGV[0] // die "PORT\n",
                              Proto => 'tcp', Timeout => 5) or die "redis :$ARGV[0]: $!\n";
binmode $s;
my $buf = '';
sub fill { my $n = sysread($s, $buf, 1 << 20, length $buf); die "redis: closed\n" unless $n }
sub line { while ((my $i = index($buf, "\r\n")) < 0) { fill() } my $i = index($buf, "\r\n");
           my $l = substr($buf, 0, $i); substr($buf, 0, $i + 2) = ''; return $l }
sub reply {
    my $l = line();
    my $t = substr($l, 0, 1, '');
    return $l if $t eq ':' || $t eq '+';
    die "redis: $l\n" unless $t eq '$';
    return '' if $l < 0;
    fill() while length($buf) < $l + 2;
    my $v = substr($buf, 0, $l); substr($buf, 0, $l + 2) = '';
    return $v;
}
my @cmds = map { chomp; [ split / / ] } <STDIN>;
for (my $i = 0; $i < @cmds; $i += 1000) {
    my $end = $i + 999 < $#cmds ? $i + 999 : $#cmds;
    my $out = '';
    for my $c (@cmds[$i .. $end]) {
        $out .= '*' . @$c . "\r\n" . join('', map { '$' . length($_) . "\r\n$_\r\n" } @$c);
    }
    print $s $out;
    print reply(), "\n" for $i .. $end;
}
