# The wallet's answers, from anyone on the path: cc-payout with `wallet
# http` believes only answers the wallet signed, over https checked
# against the campaign's CA.  A man in the middle answering "applied"
# (cc-wallet-sim --forge-pct: 201 echoing the credit, nothing applied,
# unsigned and wrongly signed in turn) leaves every award crediting, its
# money reserved, nothing posted, Redis unchanged and the statement
# without it; an honest pass later pays each exactly once.  A payout over
# https with wallet_ca_file; the wrong CA fails closed (nothing applied,
# the same keys paid later); a plain http:// wallet_url off the loopback
# is refused at parse; a wallet's hostile answer text reaches the log escaped.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcCampaign;
use PayoutTest;
use WalletTest;
use Time::HiRes ();

payout_setup();

my @DBS = qw(cc_s0 cc_s1);

# Σ debits = Σ credits over every account of each shard, posted and pending
sub ledger_balanced {
    my @bad;
    for my $db (@DBS) {
        for my $t (qw(ledger_accounts ledger_pending)) {
            my $r = mysql_query("SELECT COALESCE(SUM(debits), 0), COALESCE(SUM(credits), 0) FROM $t", $db)->[0];
            push @bad, "$db $t: debits $r->[0] != credits $r->[1]" if $r->[0] != $r->[1];
        }
    }
    return @bad;
}

# the transfers of a campaign's awards: { award_id => "kind,kind" }
sub transfers_of {
    my ($c) = @_;
    my %t;
    for my $db (@DBS) {
        $t{ $_->[0] } = $_->[1] for @{ mysql_query(
            "SELECT award_id, GROUP_CONCAT(kind ORDER BY kind) FROM ledger_transfers "
          . "WHERE campaign = '$c' AND award_id IS NOT NULL GROUP BY award_id", $db) };
    }
    return \%t;
}

sub lines_of {
    my ($c, $statement) = @_;
    return [ grep { $_->[0] =~ /^\Q$c\E:/ } @{ statement_lines($statement) } ];
}

# ---- plain http off the loopback: refused at parse ------------------------------

my $remote = campaign_conf(dir => wallet_dir(), campaign => 'm0', wallet => 'http',
                           wallet_url => 'http://10.0.3.1:8080', wallet_secret_file => wallet_secret());
my ($rc, $out, $err) = payout_run([ '--once' ], $remote);
is($rc, 2, 'wallet_url http:// to another host: exit 2');
like($err, qr/wallet_url: https:\/\/ expected \(http:\/\/ only to the loopback, with wallet_insecure_loopback yes\)/,
     'https:// expected, said');
$remote = campaign_conf(dir => wallet_dir(), campaign => 'm0', wallet => 'http',
                        wallet_url => 'http://10.0.3.1:8080', wallet_secret_file => wallet_secret(),
                        wallet_insecure_loopback => 'yes');
($rc, $out, $err) = payout_run([ '--once' ], $remote);
is($rc, 2, 'and with wallet_insecure_loopback yes: still exit 2');
like($err, qr/wallet_url: http:\/\/ only to 127\.0\.0\.1, \[::1\] or localhost/, 'only the loopback, said');

# ---- a man in the middle answers "applied" ------------------------------------------

my $mitm = sim_start(forge => 100);
my %a1 = map { ($_ => 200 + $_ % 17) } 1 .. 40;
seed_awards('m1', \%a1);
my $alert = wallet_dir() . '/alert-m1.json';
my $m1 = http_campaign_file('m1', $mitm->{url}, extra => "alert (cat; echo) >> $alert\n");
my $metrics = wallet_dir() . '/m1.prom';
($rc, $out, $err) = payout_run([ '--once', '--metrics-file', $metrics ], $m1);
is($rc, 1, 'every answer forged: exit 1');
like($err, qr/done: \d+ answers not signed by the wallet, taken as none/, 'counted at the end');
my $prom = do { local $/; open my $f, '<', $metrics or die "$metrics: $!"; <$f> };
like($prom, qr/^cc_payout_wallet_unsigned_answers_total (\d+)$/m, 'and in the metrics file');
ok($prom =~ /^cc_payout_wallet_unsigned_answers_total (\d+)$/m && $1 >= 400, "at least 10 calls of 40 awards ($1)");
like($err, qr/award m1:1: \d+ answers not signed by the wallet, not taken/, 'the forged answers named, per award');
like($err, qr/award m1:1: no answer after 10 calls \(HTTP 201 (unsigned|a wrong signature), not taken: \{"award_id":"m1:1"/,
     'and the award left as unknown, with the answer (escaped)');
like($err, qr/done: 0 credited/, 'nothing credited');
is_deeply(award_states('m1'), { 'crediting/0' => 40 }, 'every award stays crediting, not notified');
my $t = transfers_of('m1');
is_deeply([ grep { $t->{"m1:$_"} ne 'pending' } sort keys %a1 ], [], 'in the ledger each only its pending transfer: nothing posted');
my $pend = ledger_pending_sums(qr/^pool:m1$/);
my $sum = 0;
$sum += $_ for values %a1;
my $held = 0;
$held += (split m{/}, $_)[0] for values %$pend;
is($held, $sum, 'the money reserved in the pending sums, not paid');
is_deeply([ check_redis('m1', \%a1, 'p') ], [], 'Redis: every w still "p:..." (not credited)');
is_deeply(lines_of('m1', $mitm->{statement}), [], 'the wallet\'s statement: none of them');
my $doc = do { local $/; open my $f, '<', $alert or die "no alert: $!"; <$f> };
is(() = $doc =~ /"class":"wallet_unsigned_answer"/g, 40, 'each in an alert as wallet_unsigned_answer');
is_deeply([ ledger_balanced() ], [], 'Σ debits = Σ credits, posted and pending, on each shard');
sim_stop($mitm);
like(worker_stderr($mitm->{w}), qr/stopping: 0 applied .* (\d+) forged/, 'the wallet applied nothing');

# the honest wallet, later: the same keys, each paid once
my $honest = sim_start(statement => $mitm->{statement});
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('m1', $honest->{url}));
is($rc, 0, 'an honest pass later: exit 0') or diag $err;
like($err, qr/done: 40 credited/, 'all 40 credited');
is_deeply([ check_paid_http('m1', \%a1, $honest->{statement}) ], [],
          'each: one pending and one post transfer, its wallet credited once, the pool empty; the statement: each key once');
is_deeply([ check_redis('m1', \%a1, 'c') ], [], 'Redis: w = "c:..."');
is_deeply(ledger_pending_sums(qr/^pool:m1$/), {}, 'nothing left pending');
is_deeply([ ledger_balanced() ], [], 'Σ debits = Σ credits');
sim_stop($honest);

# ---- the wallet's words go into the log escaped ------------------------------------

# a tiny wallet of our own: every call answered 400, signed, with a body
# that would forge a log line and move the terminal if logged raw
{
    require IO::Socket::INET;
    require Digest::SHA;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Listen => 16, ReuseAddr => 1)
        or die "listen: $!";
    my $port = $srv->sockport;
    my $body = "bad\n2026-01-01 00:00:00 cc-payout: award m4:9 credited\e[2J\xe4\xb8\xad";
    my $pid = fork // die "fork: $!";
    if (!$pid) {
        while (my $c = $srv->accept) {
            my ($head, $len, $key) = ('', 0, '');
            while (defined(my $l = <$c>)) {
                last if $l eq "\r\n";
                $len = $1 if $l =~ /^Content-Length:\s*(\d+)/i;
                $key = $1 if $l =~ /^Idempotency-Key:\s*(\S+)/i;
            }
            read($c, my $req, $len) if $len;
            my $ts = int(Time::HiRes::time() * 1000);
            my $sig = Digest::SHA::hmac_sha256_hex(join("\n", 400, $key, $ts, $body), $WalletTest::SECRET_TEXT);
            print $c "HTTP/1.1 400 Bad Request\r\nContent-Length: " . length($body)
                   . "\r\nX-CC-Timestamp: $ts\r\nX-CC-Signature: $sig\r\nConnection: close\r\n\r\n$body";
            close $c;
        }
        exit 0;
    }
    close $srv;
    my %a4 = (9 => 50);
    seed_awards('m4', \%a4);
    ($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('m4', "http://127.0.0.1:$port"));
    kill 'TERM', $pid;
    waitpid $pid, 0;
    is($rc, 1, 'a wallet refusing with a hostile body: exit 1');
    like($err, qr/award m4:9: wallet REFUSED it: HTTP 400: bad\\n2026-01-01 00:00:00 cc-payout: award m4:9 credited\\x1b\[2J\\xe4\\xb8\\xad; stays crediting/,
         'its answer in the log escaped: the newline, the escape code, the non-ASCII bytes');
    unlike($err, qr/^2026-01-01 00:00:00 cc-payout: award m4:9 credited/m, 'no log line forged');
    unlike($err, qr/[\e\x80-\xff]/, 'no raw control or non-ASCII byte in the log');
    is_deeply(award_states('m4'), { 'crediting/0' => 1 }, 'the award stays crediting');
}

# ---- https, checked against the campaign's CA ---------------------------------------

my $tls = make_tls();
my $wrong = make_tls(name => 'wrong');
my $sec = sim_start(tls => $tls);
my %a2 = map { ($_ => 300 + $_ % 7) } 101 .. 130;
seed_awards('m2', \%a2);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('m2', $sec->{url}, ca => $tls->{ca}));
is($rc, 0, 'https with wallet_ca_file: exit 0') or diag $err;
like($err, qr/done: 30 credited/, 'all 30 credited');
is_deeply([ check_paid_http('m2', \%a2, $sec->{statement}) ], [], 'paid, each key once at the wallet');
is_deeply([ check_redis('m2', \%a2, 'c') ], [], 'Redis: credited');

($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('m2', $sec->{url}, ca => '/nonexistent/ca.pem'));
is($rc, 2, 'a wallet_ca_file it cannot read: exit 2');
like($err, qr{wallet_ca_file /nonexistent/ca\.pem: No such file}, 'and why');

# the wrong CA: fails closed
my %a3 = map { ($_ => 400 + $_ % 5) } 201 .. 210;
seed_awards('m3', \%a3);
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('m3', $sec->{url}, ca => $wrong->{ca}));
is($rc, 1, 'https, the certificate not of the campaign\'s CA: exit 1');
like($err, qr/award m3:\d+: no answer after 10 calls \([^)]*(SSL|certificate)[^)]*\)/i, 'no answer: the certificate refused');
is_deeply(award_states('m3'), { 'crediting/0' => 10 }, 'every award crediting, nothing paid');
is_deeply(lines_of('m3', $sec->{statement}), [], 'nothing reached the wallet');
is_deeply([ check_redis('m3', \%a3, 'p') ], [], 'Redis: still pending');
($rc, $out, $err) = payout_run([ '--once' ], http_campaign_file('m3', "https://localhost:$sec->{port}", ca => $tls->{ca}));
is($rc, 0, 'later, the right CA (the wallet by the name localhost): exit 0') or diag $err;
is_deeply([ check_paid_http('m3', \%a3, $sec->{statement}) ], [], 'each paid once');
is_deeply([ ledger_balanced() ], [], 'Σ debits = Σ credits');
sim_stop($sec);

done_testing();
