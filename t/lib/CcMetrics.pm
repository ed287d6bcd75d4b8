package CcMetrics;

# CcMetrics - /cc/metrics read by the tests, and outcome(): one request
# whose answer must be counted exactly once.
#
#   metrics()          GET /cc/metrics on the test's nginx: { name => value },
#                      names with their labels, comments left out
#   outcome(%c)        sends one request and checks that it was counted once:
#       name           the tests' name prefix
#       method, path, headers      the request (http_request)
#       answer         qr// on "STATUS BODY"
#       counter        the request counter that must grow by 1, e.g.
#                      'cc_flips_total{result="ok"}'; every other request
#                      counter (cc_*_total{result="..."} and cc_closed_total)
#                      must stay
#       allow          qr// on the Allow header (405 answers)
#       uid, shard     the user whose state is read (shard 0 unless given)
#   and checks that the endpoint's histogram (flip: cc_flip_latency_seconds,
#   claim: cc_claim_wait_seconds) got one observation and every other none,
#   and that a 401 says "WWW-Authenticate: Bearer".  Returns the user's
#   hash and the shard's claims queue before and after: (state0, state1,
#   queue0, queue1), all undef without a uid (Redis may be down then).

use strict;
use warnings;
use Exporter ();
use CcTest;
use CcKeys;

our @ISA    = ('Exporter');
our @EXPORT = qw(metrics outcome);

# which histogram a request of an endpoint observes
my %HISTOGRAM = (flip => 'cc_flip_latency_seconds', claim => 'cc_claim_wait_seconds');

sub metrics {
    my ($st, $body) = http_request('GET', '/cc/metrics');
    die "metrics: $st" unless defined $st && $st == 200;
    return { map { /^(\S+) (\S+)$/ ? ($1 => $2) : () } grep { !/^#/ } split /\n/, $body };
}

sub _request_counters {
    my ($m) = @_;
    return { map { ($_ => $m->{$_}) }
             grep { /^cc_\w+_total\{result="|^cc_closed_total$/ } keys %$m };
}

sub _state {
    my ($shard, $uid) = @_;
    my %h = @{ redis_cmd($shard, 'HGETALL', user_key($uid)) // [] };
    return \%h;
}

sub _queue { redis_cmd($_[0], 'LRANGE', claims_key(), 0, -1) }

sub outcome {
    my (%c) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    my $name = $c{name};
    my $shard = $c{shard} // 0;
    my $user = defined $c{uid};
    my $before = metrics();
    my ($s0, $q0) = $user ? (_state($shard, $c{uid}), _queue($shard)) : ();
    my ($st, $body, $h) = http_request($c{method}, $c{path}, $c{headers});
    my $after = metrics();
    like("$st $body", $c{answer}, "$name: answer") or diag(nginx_error_log());

    my ($b, $a) = (_request_counters($before), _request_counters($after));
    my %delta = map { ($_ => $a->{$_} - ($b->{$_} // 0)) } keys %$a;
    is($delta{$c{counter}}, 1, "$name: +1 on $c{counter}");
    my @others = grep { $_ ne $c{counter} && $delta{$_} != 0 } sort keys %delta;
    is_deeply(\@others, [], "$name: +0 on the other counters");

    my ($endpoint) = $c{path} =~ m{^/\w+/(\w+)};
    my $mine = $HISTOGRAM{$endpoint // ''} // '';
    for my $hist (sort values %HISTOGRAM) {
        my $want = $hist eq $mine ? 1 : 0;
        my ($x, $y) = map { $_->{"${hist}_count"} } $before, $after;
        is(defined $x && defined $y ? $y - $x : "no ${hist}_count", $want, "$name: $want in $hist");
    }
    like($h->{allow} // '', $c{allow}, "$name: Allow header") if $c{allow};
    is($h->{'www-authenticate'}, 'Bearer', "$name: WWW-Authenticate") if $st == 401;
    return $user ? ($s0, _state($shard, $c{uid}), $q0, _queue($shard)) : ();
}

1;
