package CcTest::HTTP;

# CcTest::HTTP - a raw HTTP/1.x client for the tests: one request
# (http_request, and _http with a protocol for the block runner), a
# request sent now and its answer read later or never (send_request,
# read_response; _abort_request), N requests in flight at once
# (concurrent_requests).  Requests go to $TEST_NGINX_SERVER_PORT unless the
# URI names host and port.  $CcTest::error says why a request failed.

use strict;
use warnings;

use Exporter 'import';
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();
use CcTest::Util qw(_write_all);

our @EXPORT = qw(http_request concurrent_requests send_request read_response);
our @EXPORT_OK = qw(_http _abort_request _parse_response);

our $error;    # why the last http_request() failed ($CcTest::error)

# "http://host:port/path" or "/path" (default server port).
sub _target {
    my ($uri) = @_;
    return ($1, $2 // 80, $3 eq '' ? '/' : $3) if $uri =~ m{^http://([^/:]+)(?::(\d+))?(.*)$};
    return ('127.0.0.1', $ENV{TEST_NGINX_SERVER_PORT}, $uri);
}

# Build the raw request text.  $hdrs: hash ref or array ref of pairs, which
# override the default Host / Connection / Content-Length headers.
sub _build_request {
    my ($method, $path, $hdrs, $body, $proto) = @_;
    my @pairs = ref $hdrs eq 'HASH'  ? map { [$_, $hdrs->{$_}] } sort keys %$hdrs
              : ref $hdrs eq 'ARRAY' ? @$hdrs : ();
    my %user = map { lc $_->[0] => 1 } @pairs;
    my @defaults = (['Host', 'localhost'], ['Connection', 'close']);
    if (defined $body && (length $body || $method =~ /^(POST|PUT|PATCH)$/i)) {
        push @defaults, ['Content-Length', length $body];
    }
    elsif ($method =~ /^(POST|PUT|PATCH)$/i) {
        push @defaults, ['Content-Length', 0];
    }
    my $req = "$method $path " . ($proto // 'HTTP/1.1') . "\r\n";
    $req .= "$_->[0]: $_->[1]\r\n" for (grep { !$user{lc $_->[0]} } @defaults), @pairs;
    return $req . "\r\n" . ($body // '');
}

# Parse a complete raw response: (status, body, \%headers) with lowercased
# header names (repeated headers joined with ", ").
sub _parse_response {
    my ($raw, $method) = @_;
    my $end = index($raw, "\r\n\r\n");
    return (undef, undef, {}, 'incomplete response head') if $end < 0;
    my @lines = split /\r\n/, substr($raw, 0, $end);
    my $rest  = substr($raw, $end + 4);
    my ($st)  = (shift(@lines) // '') =~ m{^HTTP/\d\.\d\s+(\d{3})}
        or return (undef, undef, {}, 'bad status line');
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*?)\s*$/ or next;
        $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}, $v" : $v;
    }
    my $b;
    if (($method // '') eq 'HEAD' || $st == 204 || $st == 304) {
        $b = '';
    }
    elsif (($h{'transfer-encoding'} // '') =~ /chunked/i) {
        $b = '';
        while ($rest =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            return ($st, $b, \%h, 'truncated chunked body') if length($rest) < $len + 2;
            $b .= substr($rest, 0, $len);
            substr($rest, 0, $len + 2, '');
        }
    }
    elsif (defined $h{'content-length'}) {
        $b = substr($rest, 0, $h{'content-length'});
        return ($st, $b, \%h, 'truncated body') if length($b) < $h{'content-length'};
    }
    else {
        $b = $rest;
    }
    return ($st, $b, \%h, undef);
}

sub _connect {
    my ($host, $port, $timeout) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port,
                                     Proto => 'tcp', Timeout => $timeout)
        or die "connect to $host:$port failed: $@\n";
    return $sock;
}

# Read until EOF or deadline; returns (data, timed_out).
sub _read_all {
    my ($sock, $deadline) = @_;
    my $sel = IO::Select->new($sock);
    my $data = '';
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        return ($data, 1) if $left <= 0 || !$sel->can_read($left);
        my $n = sysread($sock, $data, 65536, length $data);
        next if !defined $n && $!{EINTR};
        return ($data, 0) if !$n;    # EOF (or error such as ECONNRESET)
    }
}

# http_request($method, $uri, \%headers, $body, $timeout)
#   => ($status, $body, \%headers).  On failure status is undef and
#   $CcTest::error says why.
sub http_request { _http(@_[0 .. 4]) }

# The same, with an optional protocol for the request line (blocks).
sub _http {
    my ($method, $uri, $hdrs, $req_body, $timeout, $proto) = @_;
    $timeout //= 5;
    $error = undef;
    my ($host, $port, $path) = _target($uri);
    my $deadline = Time::HiRes::time() + $timeout;
    my ($raw, $timed_out) = eval {
        my $sock = _connect($host, $port, $timeout);
        _write_all($sock, _build_request($method, $path, $hdrs, $req_body, $proto), $deadline);
        _read_all($sock, $deadline);
    };
    if (!defined $raw) { $error = $@; return (undef, undef, {}) }
    my ($st, $b, $h, $err) = _parse_response($raw, $method);
    $error = $timed_out ? "timeout after ${timeout}s" . ($err ? " ($err)" : '') : $err;
    $error .= "; raw response: " . substr($raw, 0, 300) if $error && !defined $st;
    return ($st, $b, $h);
}

# send_request($method, $uri, \%headers, $body) => the socket, the request
# written and its answer not read: read_response($sock) reads it later, or
# close the socket to hang up while the server is still at it.
sub send_request {
    my ($method, $uri, $hdrs, $req_body) = @_;
    my ($host, $port, $path) = _target($uri);
    my $sock = _connect($host, $port, 5);
    _write_all($sock, _build_request($method, $path, $hdrs, $req_body), Time::HiRes::time() + 5);
    return $sock;
}

# read_response($sock, $timeout = 10) => ($status, $body, \%headers): the
# answer to a send_request, read to its end, and the socket closed.  Not
# whole within $timeout: status undef, and $CcTest::error says why.
sub read_response {
    my ($sock, $timeout) = @_;
    $timeout //= 10;
    my ($raw, $timed_out) = _read_all($sock, Time::HiRes::time() + $timeout);
    close $sock;
    my ($st, $b, $h, $err) = _parse_response($raw);
    $error = $timed_out ? "timeout after ${timeout}s" : $err;
    return ($timed_out ? undef : $st, $b, $h);
}

# Send a request and close immediately without reading the response.
sub _abort_request { my $sock = send_request(@_); close $sock }

# concurrent_requests($n, $method, $uri_template, \%headers, $body, $timeout)
# Opens $n connections, writes all $n requests, then reads all responses.
# "%d" in the template becomes the index 1..$n.  Returns a list of
# [status, body, \%headers] in index order (status undef on timeout/error).
sub concurrent_requests {
    my ($n, $method, $tmpl, $hdrs, $req_body, $timeout) = @_;
    $timeout //= 10;
    my $deadline = Time::HiRes::time() + $timeout;
    my (@socks, @bufs, %index);
    for my $i (1 .. $n) {
        (my $uri = $tmpl) =~ s/%d/$i/g;
        my ($host, $port, $path) = _target($uri);
        my $sock = _connect($host, $port, $timeout);
        _write_all($sock, _build_request($method, $path, $hdrs, $req_body), $deadline);
        ($socks[$i], $bufs[$i]) = ($sock, '');
        $index{fileno $sock} = $i;
    }
    my $sel = IO::Select->new(@socks[1 .. $n]);
    while ($sel->count) {
        my $left = $deadline - Time::HiRes::time();
        last if $left <= 0;
        for my $sock ($sel->can_read($left)) {
            my $i = $index{fileno $sock};
            my $r = sysread($sock, $bufs[$i], 65536, length $bufs[$i]);
            next if !defined $r && ($!{EINTR} || $!{EAGAIN});
            next if $r;
            $sel->remove($sock);    # EOF or error: this response is complete
        }
    }
    my @timed_out = map { $index{fileno $_} } $sel->handles;
    close $_ for @socks[1 .. $n];
    my %late = map { $_ => 1 } @timed_out;
    return map {
        my ($st, $b, $h) = _parse_response($bufs[$_], $method);
        [ $late{$_} ? undef : $st, $b, $h ];
    } 1 .. $n;
}

1;
