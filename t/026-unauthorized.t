# Every 401 is counted by its reason in /cc/metrics,
# cc_unauthorized_total{reason="..."}, and logged, at most one line a
# second a worker, however many come.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcToken;
use CcMetrics;
use Time::HiRes qw(time);

my $secret2 = 'the-second-key-secret-of-32-bytes-or-more!';
my $file = token_secret_file();
my $file2 = token_secret_file(secret => $secret2);

start_nginx(undef, workers => 1, http_config => on_shard0('cc_cards 1 1000000;'),
            config => "cc_identity token $file; cc_token_key k2 $file2;\n"
                    . "location = /cc/flip { cc_flip; }\n"
                    . "location = /cc/metrics { cc_metrics; }\n");

my @REASONS = qw(missing malformed bad_signature expired too_long_lived unknown_key);
sub reasons { my $m = metrics(); return { map { ($_ => $m->{"cc_unauthorized_total{reason=\"$_\"}"}) } @REASONS } }

my $r0 = reasons();
is($r0->{$_}, 0, "cc_unauthorized_total{reason=\"$_\"} starts at 0") for @REASONS;

my $later = int(time) + 3600;
my $forged = sign_token(8, $later) =~ s/^8\./7./r;
for my $case ([ 'no Authorization',     undef,                                         'missing' ],
              [ 'another scheme',       'Basic dXNlcjpwYXNz',                          'missing' ],
              [ 'an empty bearer',      'Bearer ',                                     'missing' ],
              [ 'garbage',              'Bearer garbage',                              'malformed' ],
              [ 'the old format',       'Bearer 7.' . $later . '.' . ('A' x 43),       'malformed' ],
              [ 'a forged uid',         "Bearer $forged",                              'bad_signature' ],
              [ 'another secret',       'Bearer ' . sign_token(7, $later, 'x' x 40),   'bad_signature' ],
              [ 'an expired token',     'Bearer ' . sign_token(7, int(time) - 5),      'expired' ],
              [ 'a two-day token',      'Bearer ' . sign_token(7, int(time) + 2 * 86400), 'too_long_lived' ],
              [ 'a key id not held',    'Bearer ' . sign_token(7, $later, $secret2, 'k3'), 'unknown_key' ],
              [ 'bearer in lower case', 'bearer ' . sign_token(7, $later, $secret2, 'k9'), 'unknown_key' ]) {
    my ($name, $auth, $reason) = @$case;
    my $b = reasons();
    my ($st, $body, $h) = http_request('POST', '/cc/flip?request_id=u', defined $auth ? { Authorization => $auth } : {});
    is("$st $body", '401 {"error":"unauthorized"}', "$name: 401");
    is($h->{'www-authenticate'}, 'Bearer', "$name: WWW-Authenticate");
    my $a = reasons();
    is_deeply({ map { ($_ => $a->{$_} - $b->{$_}) } @REASONS },
              { map { ($_ => $_ eq $reason ? 1 : 0) } @REASONS }, "$name: +1 on reason=\"$reason\" only");
}

# a good token is no 401: nothing counted
my $b = reasons();
my ($st, $body) = http_request('POST', '/cc/flip?request_id=good', bearer(7));
like("$st $body", qr/^409 /, 'a good token with no chances: 409, not 401');
is_deeply(reasons(), $b, '... and no reason counted');

my $m = metrics();
ok(exists $m->{'cc_unauthorized_total{reason="too_long_lived"}'}, 'the family is printed');
my ($st2, $text) = http_request('GET', '/cc/metrics');
like($text, qr/^# HELP cc_unauthorized_total 401 answers by reason \(cc_identity token\)\.\n# TYPE cc_unauthorized_total counter$/m,
     'with its HELP and TYPE');

# the log: each 401 says its reason; a flood is one line a second
like(nginx_error_log(), qr/\[warn\] .*cc: unauthorized, (missing|malformed|bad_signature|expired|too_long_lived|unknown_key) token/,
     'a 401 is logged with its reason');
sleep 1.1;
my $lines0 = () = nginx_error_log() =~ /cc: unauthorized,/g;
my $t0 = time;
my @flood = concurrent_requests(300, 'POST', '/cc/flip?request_id=flood%d', { Authorization => "Bearer $forged" });
my $secs = time - $t0;
is(scalar(grep { defined $_->[0] && $_->[0] == 401 } @flood), 300, '300 forged tokens: 300 answers 401');
is(reasons()->{bad_signature} - $m->{'cc_unauthorized_total{reason="bad_signature"}'}, 300, '... all counted');
my $lines = (() = nginx_error_log() =~ /cc: unauthorized,/g) - $lines0;
ok($lines >= 1 && $lines <= int($secs) + 2, sprintf('... and logged in %d lines over %.1f s (one a second at most)', $lines, $secs));
sleep 1.1;
http_request('POST', '/cc/flip?request_id=after', { Authorization => "Bearer $forged" });
like(nginx_error_log(), qr/cc: unauthorized, bad_signature token \((\d+) more 401s not logged before this one\)/,
     'the next line says how many were not logged');
my ($quiet) = (nginx_error_log() =~ /cc: unauthorized, bad_signature token \((\d+) more 401s not logged/g)[-1];
ok($quiet > 0, "... $quiet of the flood");

done_testing();
