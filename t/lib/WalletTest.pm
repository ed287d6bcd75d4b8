package WalletTest;

# WalletTest - the simulated external wallet (build/workers/cc-wallet-sim)
# for t/070..t/073: start it with faults, call it signed as cc-payout
# does, read its statement, and write `wallet http` campaign files.

use strict;
use warnings;
use Exporter 'import';
use Digest::SHA qw(hmac_sha256_hex);
use File::Temp qw(tempdir);
use Time::HiRes ();
use File::Basename qw(dirname);
use CcTest;
use CcCampaign;
use CcKeys;
use JSON::PP;

our @EXPORT = qw(wallet_dir wallet_secret sim_start sim_stop sim_post sign_body answer_signed
                 sim_batch sim_query journal_lines
                 make_tls
                 statement_lines statement_keys http_campaign_file check_paid_http
                 ledger_pending_sums make_drawn reconcile_money $DETAILS);

# A batch's details, as the rows wallet_batch_details held before issue
# 20 folded them into the pending transfers (sql/money.sql): a derived
# table of (award_id, attempt, batch_no, uid, amount_cents), one row an
# attempt in a batch; "FROM $DETAILS d" in a test's SQL.
our $DETAILS = "(SELECT award_id, IF(LOCATE('#', transfer_id) > 0, "
             . "CAST(SUBSTRING_INDEX(transfer_id, '#', -1) AS UNSIGNED), 1) AS attempt, batch_no, "
             . "CAST(SUBSTRING_INDEX(award_id, ':', -1) AS UNSIGNED) AS uid, amount_cents "
             . "FROM ledger_transfers WHERE kind = 'pending' AND batch_no IS NOT NULL)";

my @DBS = qw(cc_s0 cc_s1);

my $DIR = tempdir('cc-wallet-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $SECRET_FILE = "$DIR/wallet.secret";
my $SECRET = join '', map { ('a' .. 'z')[int rand 26] } 1 .. 40;
our $SECRET_TEXT = $SECRET;    # for a test that signs by hand
{
    open my $f, '>', $SECRET_FILE or die "$SECRET_FILE: $!";
    print $f "$SECRET\n";
    close $f;
    chmod 0600, $SECRET_FILE;       # cc_token_load_secret refuses more
}

# make_drawn's script, kept as Lua in t/lua/ (make test-lua checks it)
my $SET_DRAWN = do {
    my $file = dirname(__FILE__) . '/../lua/set_drawn.lua';
    open my $f, '<', $file or die "$file: $!";
    local $/;
    <$f>;
};

sub wallet_dir { $DIR }
sub wallet_secret { $SECRET_FILE }

# sim_start(statement => PATH, fail => P, drop => P, dup => P, echo => P, delay => MS,
# forge => P, seed => N, secret => FILE, answer_secret => FILE, tls => make_tls()'s,
# port => N (a restart on the same one), process => MS, batch_max => N, twice => P,
# stray => P, accept_max => N, fail_detail => [ 'KEY=N', ... ] (the batch
# API's)): { w, port, url (https:// with tls), seed, statement,
# journal (the batches' journal: the statement's path + ".batches") }
sub sim_start {
    my (%o) = @_;
    my $st = $o{statement} // "$DIR/statement-" . int(rand 1e9) . '.csv';
    my @a = ('--listen', '127.0.0.1:' . ($o{port} // 0), '--secret-file', $o{secret} // $SECRET_FILE,
             '--statement', $st);
    push @a, '--process-ms', $o{process} if defined $o{process};
    push @a, '--batch-max', $o{batch_max} if $o{batch_max};
    push @a, '--twice-pct', $o{twice} if $o{twice};
    push @a, '--stray-pct', $o{stray} if $o{stray};
    push @a, '--accept-max', $o{accept_max} if $o{accept_max};
    push @a, '--fail-detail', $_ for @{ $o{fail_detail} // [] };
    push @a, '--answer-secret-file', $o{answer_secret} if $o{answer_secret};
    push @a, '--forge-pct', $o{forge} if $o{forge};
    push @a, '--tls-cert', $o{tls}{cert}, '--tls-key', $o{tls}{key} if $o{tls};
    push @a, '--fail-pct', $o{fail} if $o{fail};
    push @a, '--drop-pct', $o{drop} if $o{drop};
    push @a, '--dup-pct', $o{dup} if $o{dup};
    push @a, '--delay-ms', $o{delay} if $o{delay};
    push @a, '--echo-off-pct', $o{echo} if $o{echo};
    push @a, '--seed', $o{seed} if defined $o{seed};
    my $w = spawn_worker('cc-wallet-sim', @a);
    my ($port, $seed);
    wait_until(sub { (worker_stdout($w) // '') =~ /^listening [\d.]+:(\d+) seed (\d+)$/m
                     and ($port, $seed) = ($1, $2) }, 10)
        or die 'cc-wallet-sim did not start: ' . worker_stderr($w);
    my $scheme = $o{tls} ? 'https' : 'http';
    return { w => $w, port => $port, url => "$scheme://127.0.0.1:$port", seed => $seed,
             statement => $st, journal => "$st.batches" };
}

sub sim_stop { stop_worker($_[0]{w}) }

# the headers of a signed call: (timestamp, signature) over method, path,
# key, timestamp and body (workers/money/cc_wallet_sign.h); %o: key (the
# Idempotency-Key, required), method (POST), path (/credits), ts, secret
sub sign_body {
    my ($body, %o) = @_;
    my $ts = $o{ts} // int(Time::HiRes::time() * 1000);
    my $msg = join "\n", $o{method} // 'POST', $o{path} // '/credits', $o{key} // '', $ts, $body;
    return ($ts, hmac_sha256_hex($msg, $o{secret} // $SECRET));
}

# 1 when an answer (status, body, headers as http_request gives them) to
# the call with key $key is signed by the wallet (the answer secret: ours
# unless given)
sub answer_signed {
    my ($st, $body, $h, $key, $secret) = @_;
    my %lc = map { (lc($_) => $h->{$_}) } keys %{ $h // {} };
    my ($ts, $sig) = @lc{qw(x-cc-timestamp x-cc-signature)};
    return 0 unless defined $ts && defined $sig;
    return hmac_sha256_hex(join("\n", $st, $key, $ts, $body), $secret // $SECRET) eq lc $sig ? 1 : 0;
}

# a throwaway CA and a server certificate for 127.0.0.1 and localhost it
# signed, made with the openssl command in the test's directory:
# { ca, cert, key } (PEM files); name => a prefix, so two CAs can be made
sub make_tls {
    my (%o) = @_;
    my $p = "$DIR/" . ($o{name} // 'tls');
    open my $ext, '>', "$p-ext.cnf" or die "$p-ext.cnf: $!";
    print $ext "subjectAltName = IP:127.0.0.1, DNS:localhost\nbasicConstraints = CA:FALSE\n"
             . "keyUsage = digitalSignature, keyEncipherment\nextendedKeyUsage = serverAuth\n";
    close $ext;
    for my $c ([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2',
                 '-subj', '/CN=cc test CA', '-keyout', "$p-ca.key", '-out', "$p-ca.pem",
                 '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign' ],
               [ 'openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
                 '-keyout', "$p-server.key", '-out', "$p-server.csr" ],
               [ 'openssl', 'x509', '-req', '-in', "$p-server.csr", '-CA', "$p-ca.pem", '-CAkey', "$p-ca.key",
                 '-CAcreateserial', '-days', '2', '-extfile', "$p-ext.cnf", '-out', "$p-server.pem" ]) {
        system("@{[ map { quotemeta } @$c ]} >/dev/null 2>&1") == 0 or die "@$c: failed";
    }
    return { ca => "$p-ca.pem", cert => "$p-server.pem", key => "$p-server.key" };
}

# sim_post($sim, key, uid, amount, currency, %o): (status, body, headers) of one
# signed POST /credits; %o: body => raw body, ts, secret, key_header
sub sim_post {
    my ($sim, $key, $uid, $amount, $cur, %o) = @_;
    my $body = $o{body}
        // qq({"award_id":"$key","uid":"$uid","amount_cents":$amount,"currency":"$cur"});
    my ($ts, $sig) = sign_body($body, key => $o{key_header} // $key, %o);
    my %h = ('Idempotency-Key' => $o{key_header} // $key, 'X-CC-Timestamp' => $ts,
             'X-CC-Signature' => $sig, 'Content-Type' => 'application/json');
    return http_request('POST', "$sim->{url}/credits", \%h, $body, 10);
}

# sim_batch($sim, no, [[key, uid, amount], ...], %o): (status, body, headers)
# of one signed POST /batches; %o: body => raw body, currency (CNY), ts,
# secret, key_header, total (total_amount as sent)
sub sim_batch {
    my ($sim, $no, $d, %o) = @_;
    my $total = 0;
    $total += $_->[2] for @$d;
    my $body = $o{body} // encode_json({
        out_batch_no => $no, currency => $o{currency} // 'CNY', total_num => scalar @$d,
        total_amount => $o{total} // $total,
        details => [ map { { out_detail_no => $_->[0], uid => "$_->[1]", amount_cents => $_->[2] + 0 } } @$d ] });
    my ($ts, $sig) = sign_body($body, key => $o{key_header} // $no, path => '/batches', %o);
    my %h = ('Idempotency-Key' => $o{key_header} // $no, 'X-CC-Timestamp' => $ts,
             'X-CC-Signature' => $sig, 'Content-Type' => 'application/json');
    return http_request('POST', "$sim->{url}/batches", \%h, $body, 10);
}

# sim_query($sim, no, %o): (status, body, headers) of one signed GET
# /batches/NO/details (%o: path => another path, key_header, secret)
sub sim_query {
    my ($sim, $no, %o) = @_;
    my $path = $o{path} // "/batches/$no/details";
    my ($ts, $sig) = sign_body('', key => $o{key_header} // $no, method => 'GET', path => $path, %o);
    my %h = ('Idempotency-Key' => $o{key_header} // $no, 'X-CC-Timestamp' => $ts,
             'X-CC-Signature' => $sig);
    return http_request('GET', "$sim->{url}$path", \%h, undef, 10);
}

# the batches' journal's lines, each split on its commas
sub journal_lines {
    my ($path) = @_;
    open my $f, '<', $path or return [];
    return [ map { chomp; [ split /,/ ] } <$f> ];
}

# the statement file's lines, each [key, uid, amount, currency, at]
sub statement_lines {
    my ($path) = @_;
    open my $f, '<', $path or return [];
    return [ map { chomp; [ split /,/ ] } <$f> ];
}

# key => number of lines
sub statement_keys {
    my %n;
    $n{ $_->[0] }++ for @{ statement_lines($_[0]) };
    return \%n;
}

# a `wallet http` campaign file for campaign $id at $url (campaign_conf's
# defaults; pool, timeout (ms, 2000), secret (our file), answer_secret, ca
# (wallet_ca_file), extra lines; a new file each time).  An http:// url
# (the simulator on 127.0.0.1) gets wallet_insecure_loopback yes.  mode:
# wallet_mode (per_credit unless given: the per-credit adapter's tests;
# undef writes none, the default, batch), batch_max: wallet_batch_max,
# batch_age: wallet_batch_age_ms, credit (async unless given).
sub http_campaign_file {
    my ($id, $url, %o) = @_;
    return campaign_conf(dir => $DIR, campaign => $id, pool_cents => $o{pool} // 100000000,
                         $o{credit} ? (credit => $o{credit}) : (),
                         wallet => 'http', wallet_url => $url,
                         wallet_timeout_ms => $o{timeout} // 2000,
                         wallet_secret_file => $o{secret} // $SECRET_FILE, currency => 'CNY',
                         wallet_answer_secret_file => $o{answer_secret},
                         wallet_ca_file => $o{ca},
                         wallet_insecure_loopback => $url =~ m{^http://} ? 'yes' : undef,
                         wallet_mode => exists $o{mode} ? $o{mode} : 'per_credit',
                         wallet_batch_max => $o{batch_max},
                         wallet_batch_age_ms => $o{batch_age},
                         extra => $o{extra});
}

# Makes the campaign's awards (already seeded with PayoutTest::seed_awards,
# funded per shard) look drawn to cc-reconcile --money: eligibility rows
# before the cutoff (1700000000, http_campaign_file's) on each uid's MySQL
# shard, fields e and w ("p:...", as cc-draw writes) on its Redis shard, a draw_plans row per shard with the
# shard's total, the awards' creation time now.  Only one campaign's users may be eligible at a time: the
# eligibility table and Redis are emptied first.  The pool (the sum).
sub make_drawn {
    my ($c, $amount, $map) = @_;
    my $pool = 0;
    $pool += $_ for values %$amount;
    redis_cmd($_, 'FLUSHALL') for 0, 1;
    my $cut = 1699999000000;
    my @all = split ' ', $ENV{TEST_NGINX_REDIS_SHARDS};
    for my $i (0 .. $#DBS) {
        my $db = $DBS[$i];
        mysql_query('DELETE FROM eligibility', $db);
        my @u = sort { $a <=> $b } grep { $map->{$_}[1] eq $db } keys %$amount;
        next unless @u;
        my $total = 0;
        $total += $amount->{$_} for @u;
        while (my @part = splice @u, 0, 2000) {
            mysql_query('INSERT INTO eligibility VALUES ' . join(',', map { "($_,'s$_',$cut)" } @part), $db);
        }
        mysql_query("INSERT INTO draw_plans VALUES ('$c', $i, 0, $total, 0, $pool, 'equal', 1, 0, REPEAT('a', 64), 1)", $db);
        # drawn now: not older than pending_max
        mysql_query("UPDATE awards SET created_at = " . int(Time::HiRes::time() * 1000) . " WHERE campaign = '$c'", $db);
    }
    for my $r (0 .. $#all) {
        my @u = grep { $map->{$_}[0] eq $all[$r] } keys %$amount;
        while (my @part = splice @u, 0, 2000) {
            redis_cmd($r, 'EVAL', $SET_DRAWN, scalar @part, (map { user_key($_) } @part), "s:$cut",
                      map { "p:$amount->{$_}:$c:$_" } @part);
        }
    }
    return $pool;
}

# cc-reconcile --money with the test's servers: (exit, stdout, stderr, the
# JSON document or undef)
sub reconcile_money {
    my ($file, @extra) = @_;
    my $json = "$DIR/reconcile-" . int(rand 1e9) . '.json';
    my ($rc, $out, $err) = run_worker([ 'cc-reconcile', '--money', '--campaign', $file, shard_args(),
                                        '--json', $json, @extra ], timeout => 300);
    my $doc = -e $json ? eval { decode_json(do { local $/; open my $f, '<', $json; <$f> }) } : undef;
    return ($rc, $out, $err, $doc);
}

# the pending sums of both shards: { "db account" => "debits/credits" },
# the accounts whose sums are not 0 only, and that match $re when given
sub ledger_pending_sums {
    my ($re) = @_;
    my %s;
    for my $db (@DBS) {
        $s{"$db $_->[0]"} = "$_->[1]/$_->[2]"
            for grep { !$re || $_->[0] =~ $re }
                @{ mysql_query('SELECT account, debits, credits FROM ledger_pending WHERE debits <> 0 OR credits <> 0', $db) };
    }
    return \%s;
}

# What is wrong with a campaign paid into the wallet (empty: nothing):
# every award credited in its shard with its pending transfers <id>,
# <id>#2, ... <id>#n (one an attempt: n > 1 after details the wallet
# failed), the voids void:<id> .. void:<id>#(n-1) of all but the last,
# each of its amount, pool -> clearing:<campaign> (the clearing account:
# no per-user wallet row), and its live pending posted: by post:<id> of
# its amount (a single call's) or by a batch's round post (bpost:<the
# pending id of the round's first award>, no award id), the posts' sum
# the sum paid and each round's first award one it posted; no
# credit transfer; nothing pending in ledger_pending; the pool empty and
# its posted debits the sum paid; the clearing account's posted credits
# that sum too; in the statement every award's key exactly once (dup =>
# 1: at least once) with its uid, amount and CNY, and no other key of
# the campaign.  voids => {}: filled with award id => its voids.
sub check_paid_http {
    my ($c, $amount, $statement, %o) = @_;
    my @bad;
    my %lines;
    push @{ $lines{ $_->[0] } }, $_ for @{ statement_lines($statement) };
    my %seen;
    for my $db (@DBS) {
        my $rows = mysql_query(
            "SELECT a.award_id, a.uid, a.amount_cents, a.status, "
          . "(SELECT COUNT(*) FROM ledger_accounts w WHERE w.account = CONCAT('wallet:', a.uid)) "
          . "FROM awards a WHERE a.campaign = '$c'", $db);
        my %xf;
        push @{ $xf{ $_->[0] } }, $_->[1]
            for @{ mysql_query("SELECT award_id, CONCAT(transfer_id, ' ', kind, ' ', debit, ' ', credit, ' ', amount_cents) "
                               . "FROM ledger_transfers WHERE campaign = '$c' AND award_id IS NOT NULL", $db) };
        my $paid = 0;
        my %round;      # the live pending ids a round post may lead
        for my $r (@$rows) {
            my ($id, $uid, $amt, $st, $wc) = @$r;
            $seen{$uid}++;
            push @bad, "$id: $st" if $st ne 'credited';
            push @bad, "$id: amount $amt, seeded " . ($amount->{$uid} // 'none') if ($amount->{$uid} // -1) != $amt;
            my @got = sort @{ $xf{$id} // [] };
            my $n = grep { / pending / } @got;
            my @p = map { $_ == 1 ? $id : "$id#$_" } 1 .. ($n || 1);
            my $call = grep { /^post:\Q$id\E post / } @got;
            my @want = sort((map { "$_ pending pool:$c clearing:$c $amt" } @p),
                            (map { "void:$_ void pool:$c clearing:$c $amt" } @p[0 .. $#p - 1]),
                            $call ? "post:$id post pool:$c clearing:$c $amt" : ());
            push @bad, "$id: transfers " . join(', ', @got) . '; want ' . join(', ', @want) if "@got" ne "@want";
            $round{ $p[-1] } = 1 unless $call;
            $o{voids}{$id} = $n - 1 if $o{voids} && $n;
            push @bad, "$id: a wallet:$uid account" if $wc;
            $paid += $amt;
            my $l = delete $lines{$id} // [];
            push @bad, "$id: " . scalar(@$l) . ' statement lines' if @$l == 0 || (@$l > 1 && !$o{dup});
            push @bad, "$id: statement @{ $_ }[0..3]" for grep { $_->[1] != $uid || $_->[2] != $amt || $_->[3] ne 'CNY' } @$l;
        }
        next unless @$rows;
        my $posts = mysql_value("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger_transfers WHERE campaign = '$c' "
                                . "AND kind = 'post' AND credit = 'clearing:$c' AND debit = 'pool:$c'", $db);
        push @bad, "$db: posts of $posts cents, paid $paid" if $posts != $paid;
        for my $r (@{ mysql_query("SELECT transfer_id, award_id FROM ledger_transfers WHERE campaign = '$c' "
                                  . "AND kind = 'post' AND transfer_id NOT LIKE 'post:%'", $db) }) {
            my ($lead) = $r->[0] =~ /^bpost:(.+)$/;
            push @bad, "$db: post $r->[0] (award " . ($r->[1] // 'none') . ') is no round of a posted pending'
                if defined $r->[1] || !defined $lead || !delete $round{$lead};
        }
        my $pool = mysql_query("SELECT debits, credits FROM ledger_accounts WHERE account = 'pool:$c'", $db)->[0];
        push @bad, "$db pool:$c debits $pool->[0] != $paid paid" if $pool->[0] != $paid;
        push @bad, "$db pool:$c not empty: $pool->[0]/$pool->[1]" if $pool->[0] != $pool->[1];
        my $clr = mysql_value("SELECT credits FROM ledger_accounts WHERE account = 'clearing:$c'", $db) // 0;
        push @bad, "$db clearing:$c credits $clr != $paid paid" if $clr != $paid;
        my $pend = mysql_query("SELECT debits, credits FROM ledger_pending WHERE account = 'pool:$c'", $db)->[0] // [ 0, 0 ];
        push @bad, "$db pool:$c pending $pend->[0]/$pend->[1]" if $pend->[0] || $pend->[1];
        push @bad, "$db: " . mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = '$c' AND kind = 'credit'", $db)
                 . ' credit transfers' if mysql_value("SELECT COUNT(*) FROM ledger_transfers WHERE campaign = '$c' AND kind = 'credit'", $db);
    }
    push @bad, "statement key $_ without an award" for sort grep { /^\Q$c\E:/ } keys %lines;
    push @bad, "uid $_: no award row" for grep { !$seen{$_} } sort keys %$amount;
    return @bad;
}

1;
