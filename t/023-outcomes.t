# Every outcome of every endpoint is answered with its status and body and
# counted exactly once in /cc/metrics: +1 on its counter, +0 on every
# other request counter (the award's and the claim's too), and the user's
# Redis state as the outcome says.  Flips also add one observation to
# cc_flip_latency_seconds, whatever their outcome; the other endpoints add
# none, and none to cc_claim_wait_seconds.  outcome() and metrics() are
# t/lib/CcMetrics.pm's; t/032-claim-wait.t drives the award and the claim.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcMetrics;
use CcToken;

# every handler plain (/cc/) and behind a token (/t/), and the metrics
my $locs = token_locations(token_secret_file(), qw(flip grant combine eligibility))
         . ' location = /cc/metrics { cc_metrics; }';

sub uid { return { 'X-CC-Uid' => $_[0] } }

start_nginx(undef, workers => 2, http_config => on_shard0(), config => $locs);

my $m0 = metrics();
for my $n (qw(cc_eligibility_checks_total{result="ok"} cc_combines_total{result="bad_request"}
              cc_grants_total{result="replayed"} cc_flips_total{result="method_not_allowed"}
              cc_awards_total{result="none"} cc_claims_total{result="no_award"})) {
    is($m0->{$n}, 0, "a new counter starts at 0: $n");
}

# ---- grant ----------------------------------------------------------------

my ($s0, $s1) = outcome(name => 'grant ok', uid => 1, method => 'POST', path => '/cc/grant?grant_id=g1&n=3',
    headers => uid(1), answer => qr/^200 \{"chances":3\}$/, counter => 'cc_grants_total{result="ok"}');
is($s1->{c}, 3, 'grant ok: redis has 3 chances');
is_deeply(redis_cmd(0, 'SMEMBERS', grants_key(1)), ['g1'], 'grant ok: the grant id is recorded');

($s0, $s1) = outcome(name => 'grant replayed', uid => 1, method => 'POST', path => '/cc/grant?grant_id=g1&n=3',
    headers => uid(1), answer => qr/^200 \{"chances":3\}$/, counter => 'cc_grants_total{result="replayed"}');
is_deeply($s1, $s0, 'grant replayed: nothing changed');

for my $bad (['bad uid', '/cc/grant?grant_id=g2&n=1', uid('x'), qr/^400 \{"error":"bad_uid"\}$/],
             ['bad grant id', '/cc/grant?grant_id=a.b&n=1', uid(1), qr/^400 \{"error":"bad_grant_id"\}$/],
             ['bad n', '/cc/grant?grant_id=g2&n=0', uid(1), qr/^400 \{"error":"bad_n"\}$/]) {
    ($s0, $s1) = outcome(name => "grant $bad->[0]", uid => 1, method => 'POST', path => $bad->[1],
        headers => $bad->[2], answer => $bad->[3], counter => 'cc_grants_total{result="bad_request"}');
    is_deeply($s1, $s0, "grant $bad->[0]: nothing changed");
}
($s0, $s1) = outcome(name => 'grant method', uid => 1, method => 'GET', path => '/cc/grant?grant_id=g2&n=1',
    headers => uid(1), answer => qr/^405 \{"error":"method_not_allowed"\}$/,
    counter => 'cc_grants_total{result="method_not_allowed"}', allow => qr/^POST$/);
is_deeply($s1, $s0, 'grant method: nothing changed');

# ---- flip -----------------------------------------------------------------

($s0, $s1) = outcome(name => 'flip ok', uid => 1, method => 'POST', path => '/cc/flip?request_id=f1',
    headers => uid(1), answer => qr/^200 \{"draw_id":"1:1","card":\d,"chances_left":2\}$/,
    counter => 'cc_flips_total{result="ok"}');
is("$s1->{c} $s1->{s}", '2 1', 'flip ok: one chance spent, draw 1');

($s0, $s1) = outcome(name => 'flip replayed', uid => 1, method => 'POST', path => '/cc/flip?request_id=f1',
    headers => uid(1), answer => qr/^200 \{"draw_id":"1:1","card":\d,"chances_left":2\}$/,
    counter => 'cc_flips_total{result="replayed"}');
is_deeply($s1, $s0, 'flip replayed: nothing changed');

($s0, $s1) = outcome(name => 'flip by token', uid => 1, method => 'POST', path => '/t/flip?request_id=f2',
    headers => bearer(1), answer => qr/^200 \{"draw_id":"1:2",/, counter => 'cc_flips_total{result="ok"}');
is($s1->{s}, 2, 'flip by token: draw 2');

outcome(name => 'flip for no chances setup', uid => 1, method => 'POST', path => '/cc/flip?request_id=f3',
    headers => uid(1), answer => qr/^200 .*"chances_left":0\}$/, counter => 'cc_flips_total{result="ok"}');
($s0, $s1) = outcome(name => 'flip no chances', uid => 1, method => 'POST', path => '/cc/flip?request_id=f4',
    headers => uid(1), answer => qr/^409 \{"error":"no_chances"\}$/, counter => 'cc_flips_total{result="no_chances"}');
is_deeply($s1, $s0, 'flip no chances: nothing changed');

for my $bad (['bad uid', '/cc/flip?request_id=f5', uid('0'), qr/^400 \{"error":"bad_uid"\}$/],
             ['unauthorized', '/t/flip?request_id=f5', uid(1), qr/^401 \{"error":"unauthorized"\}$/],
             ['bad request id', '/cc/flip?request_id=', uid(1), qr/^400 \{"error":"bad_request_id"\}$/]) {
    ($s0, $s1) = outcome(name => "flip $bad->[0]", uid => 1, method => 'POST', path => $bad->[1],
        headers => $bad->[2], answer => $bad->[3], counter => 'cc_flips_total{result="bad_request"}');
    is_deeply($s1, $s0, "flip $bad->[0]: nothing changed");
}
($s0, $s1) = outcome(name => 'flip method', uid => 1, method => 'GET', path => '/cc/flip?request_id=f5',
    headers => uid(1), answer => qr/^405 \{"error":"method_not_allowed"\}$/,
    counter => 'cc_flips_total{result="method_not_allowed"}', allow => qr/^POST$/);
is_deeply($s1, $s0, 'flip method: nothing changed');

# ---- eligibility and combine ---------------------------------------------

redis_cmd(0, 'HSET', user_key(2), map { ("k$_", 1) } 0 .. 4);

($s0, $s1) = outcome(name => 'eligibility ok', uid => 2, method => 'GET', path => '/cc/eligibility',
    headers => uid(2), answer => qr/^200 \{"cards":\[1,1,1,1,1\],"kinds":5,"combined":false,"eligible":false\}$/,
    counter => 'cc_eligibility_checks_total{result="ok"}');
is_deeply($s1, $s0, 'eligibility ok: nothing changed');
outcome(name => 'eligibility by token', uid => 2, method => 'GET', path => '/t/eligibility',
    headers => bearer(2), answer => qr/^200 \{"cards":\[1,1,1,1,1\]/,
    counter => 'cc_eligibility_checks_total{result="ok"}');
for my $bad (['bad uid', '/cc/eligibility', uid('-1'), qr/^400 \{"error":"bad_uid"\}$/],
             ['unauthorized', '/t/eligibility', { Authorization => 'Bearer x' }, qr/^401 \{"error":"unauthorized"\}$/]) {
    outcome(name => "eligibility $bad->[0]", uid => 2, method => 'GET', path => $bad->[1],
        headers => $bad->[2], answer => $bad->[3], counter => 'cc_eligibility_checks_total{result="bad_request"}');
}
outcome(name => 'eligibility method', uid => 2, method => 'POST', path => '/cc/eligibility',
    headers => uid(2), answer => qr/^405 \{"error":"method_not_allowed"\}$/,
    counter => 'cc_eligibility_checks_total{result="method_not_allowed"}', allow => qr/^GET$/);

($s0, $s1) = outcome(name => 'combine missing cards', uid => 1, method => 'POST', path => '/cc/combine?request_id=c0',
    headers => uid(1), answer => qr/^409 \{"error":"missing_cards"\}$/,
    counter => 'cc_combines_total{result="missing_cards"}');
is_deeply($s1, $s0, 'combine missing cards: nothing changed');

($s0, $s1) = outcome(name => 'combine ok', uid => 2, method => 'POST', path => '/cc/combine?request_id=c1',
    headers => uid(2), answer => qr/^200 \{"cards":\[0,0,0,0,0\],"kinds":5,"combined":true,"eligible":true\}$/,
    counter => 'cc_combines_total{result="ok"}');
like($s1->{e} // '', qr/^c1:\d+$/, 'combine ok: the combine is recorded');

($s0, $s1) = outcome(name => 'combine replayed', uid => 2, method => 'POST', path => '/t/combine?request_id=c2',
    headers => bearer(2), answer => qr/^200 \{"cards":\[0,0,0,0,0\],"kinds":5,"combined":true,"eligible":true\}$/,
    counter => 'cc_combines_total{result="replayed"}');
is_deeply($s1, $s0, 'combine replayed: nothing changed');

for my $bad (['bad uid', '/cc/combine?request_id=c3', {}, qr/^400 \{"error":"bad_uid"\}$/],
             ['unauthorized', '/t/combine?request_id=c3', uid(2), qr/^401 \{"error":"unauthorized"\}$/],
             ['bad request id', '/cc/combine?request_id=%41', uid(2), qr/^400 \{"error":"bad_request_id"\}$/]) {
    ($s0, $s1) = outcome(name => "combine $bad->[0]", uid => 2, method => 'POST', path => $bad->[1],
        headers => $bad->[2], answer => $bad->[3], counter => 'cc_combines_total{result="bad_request"}');
    is_deeply($s1, $s0, "combine $bad->[0]: nothing changed");
}
outcome(name => 'combine method', uid => 2, method => 'GET', path => '/cc/combine?request_id=c3',
    headers => uid(2), answer => qr/^405 \{"error":"method_not_allowed"\}$/,
    counter => 'cc_combines_total{result="method_not_allowed"}', allow => qr/^POST$/);

# ---- unavailable: an entry Redis fails (the user's key of another type) --

redis_cmd(0, 'SET', user_key(3), 'not a hash');
redis_cmd(0, 'SET', grants_key(3), 'not a set');
for my $try (['flip', 'POST', '/cc/flip?request_id=u1', 'cc_flips_total'],
             ['grant', 'POST', '/cc/grant?grant_id=u1&n=1', 'cc_grants_total'],
             ['combine', 'POST', '/cc/combine?request_id=u1', 'cc_combines_total'],
             ['eligibility', 'GET', '/cc/eligibility', 'cc_eligibility_checks_total']) {
    outcome(name => "$try->[0] failed in redis", method => $try->[1], path => $try->[2], headers => uid(3),
        answer => qr/^503 \{"error":"storage_unavailable"\}$/, counter => "$try->[3]\{result=\"unavailable\"}");
}
is(redis_cmd(0, 'GET', user_key(3)), 'not a hash', 'redis: the key of another type is untouched');

# ---- unavailable: the shard is down ---------------------------------------

redis_stop(0);
for my $try (['flip', 'POST', '/cc/flip?request_id=d1', 'cc_flips_total'],
             ['grant', 'POST', '/cc/grant?grant_id=d1&n=1', 'cc_grants_total'],
             ['combine', 'POST', '/cc/combine?request_id=d1', 'cc_combines_total'],
             ['eligibility', 'GET', '/cc/eligibility', 'cc_eligibility_checks_total']) {
    for my $n (1, 2) {    # the first finds the connection gone, the next the backoff
        outcome(name => "$try->[0] with redis down ($n)", method => $try->[1], path => $try->[2], headers => uid(4),
            answer => qr/^503 \{"error":"storage_unavailable"\}$/, counter => "$try->[3]\{result=\"unavailable\"}");
    }
}
redis_start(0);
ok(wait_until(sub { (http_request('POST', '/cc/grant?grant_id=back&n=1', uid(4)))[0] == 200 }, 5),
   'the shard is back');
stop_nginx();

# ---- closed: outside the campaign window, and a combine after the cutoff --

start_nginx(undef, http_config => on_shard0('cc_campaign_start 2020-01-01T00:00:00Z;',
                                          'cc_combine_cutoff 2021-01-01T00:00:00Z;'),
            config => $locs);
redis_cmd(0, 'HSET', user_key(5), 'c', 2, map { ("k$_", 1) } 0 .. 4);
($s0, $s1) = outcome(name => 'combine after the cutoff', uid => 5, method => 'POST',
    path => '/cc/combine?request_id=late', headers => uid(5),
    answer => qr/^403 \{"error":"campaign_closed"\}$/, counter => 'cc_closed_total');
is_deeply($s1, $s0, 'combine after the cutoff: nothing changed');
stop_nginx();

start_nginx(undef, http_config => on_shard0('cc_campaign_end 2021-01-01T00:00:00Z;'),
            config => $locs);
for my $try (['flip', '/cc/flip?request_id=x1'], ['grant', '/cc/grant?grant_id=x1&n=1'],
             ['combine', '/cc/combine?request_id=x1']) {
    ($s0, $s1) = outcome(name => "$try->[0] after the end", uid => 5, method => 'POST', path => $try->[1],
        headers => uid(5), answer => qr/^403 \{"error":"campaign_closed"\}$/, counter => 'cc_closed_total');
    is_deeply($s1, $s0, "$try->[0] after the end: nothing changed");
}
outcome(name => 'eligibility after the end', uid => 5, method => 'GET', path => '/cc/eligibility',
    headers => uid(5), answer => qr/^200 \{"cards":\[1,1,1,1,1\]/,
    counter => 'cc_eligibility_checks_total{result="ok"}');

unlike(nginx_error_log(), qr/\[(alert|crit)\]/, 'no alert in the log');
stop_nginx();

done_testing();
