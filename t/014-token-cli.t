# cc-token: mints a signed user token and verifies it; a token signed with
# another secret, changed, expired or malformed is refused (exit 1 and the
# reason), and bad command lines or secret files exit 2 naming the option.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use File::Temp qw(tempdir);

my $SECRET = 'cardcampaign-known-answer-secret-0123456789';    # 43 bytes
my $OTHER  = 'cardcampaign-known-answer-secret-0123456788';

# the known answer of common/cc_token (t/unit/test_token.c): uid 7, exp
# 2000000000, key "0", computed over "cc1|0|7.2000000000" with openssl dgst
# -sha256 -hmac | basenc --base64url; and the same under key "k2"
my $KAT = '7.2000000000.0.rKduZuYVej1h0ghfVXphM_tuMeOYCinfxFpuhFPekrc';
my $KAT_K = '7.2000000000.key-2027_b.VTmnbzpNy49oMj9hWNwCObAA8P8E9ErkGTkHDNhvUAY';
# the secret's MAC of "7.2000000000" alone: the format before the domain
my $NODOMAIN = '82phtP4GFm-97kC9XcAu9S0XrFAjwOG7q1ThTZdMEeQ';

my $dir = tempdir('cc-token-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub secret_file {
    my ($name, $data) = @_;
    my $path = "$dir/$name";
    open my $fh, '>', $path or die "$path: $!";
    binmode $fh;
    print $fh $data;
    close $fh or die "$path: $!";
    chmod 0600, $path;
    return $path;
}

my $good  = secret_file('good', "$SECRET\n");
my $crlf  = secret_file('crlf', "$SECRET\r\n");
my $other = secret_file('other', "$OTHER\n");
my $short = secret_file('short', ('s' x 31) . "\n");
my $empty = secret_file('empty', '');
my $long  = secret_file('long', 'l' x 1025);

sub run_token { run_worker([ 'cc-token', @_ ]) }

my ($rc, $out, $err);

# ---- mint and verify ------------------------------------------------------------

my $t0 = time;
($rc, $out, $err) = run_token('--secret', $good, '--uid', 42, '--ttl', 600);
is($rc, 0, 'mint: exit 0');
is($err, '', '... nothing on stderr');
like($out, qr/^42\.\d+\.0\.[A-Za-z0-9_-]{43}\n\z/, '... "<uid>.<exp>.0.<sig>" and a newline');
my ($token, $exp) = $out =~ /^(42\.(\d+)\.\S+)\n/;
$token //= '';
$exp //= 0;
ok($exp >= $t0 + 600 && $exp <= time + 600, "... expiring 600 s from now ($exp)");

($rc, $out, $err) = run_token('--secret', $good, '--verify', $token);
is($rc, 0, 'verify: exit 0');
is($out, "uid=42 exp=$exp kid=0\n", '... "uid=42 exp=<exp> kid=0"');
is($err, '', '... nothing on stderr');

($rc, $out, $err) = run_token('--secret', $crlf, '--verify', $token);
is($rc, 0, 'a secret file ending in CRLF is the same secret');

$t0 = time;
($rc, $out) = run_token('--secret', $good, '--uid', '18446744073709551615');
is($rc, 0, 'mint with the default ttl: exit 0');
my ($dexp) = $out =~ /^18446744073709551615\.(\d+)\.0\.[A-Za-z0-9_-]{43}\n\z/;
ok(defined $dexp && $dexp >= $t0 + 3600 && $dexp <= time + 3600,
   '... the largest uid, expiring in 3600 s');

($rc, $out) = run_token('--secret', $good, '--uid', 7, '--exp', 2000000000);
is($rc, 0, 'mint with --exp: exit 0');
is($out, "$KAT\n", '... the known answer');
($rc, $out) = run_token('--secret', $crlf, '--uid', 7, '--exp', 2000000000);
is($out, "$KAT\n", '... with the CRLF secret file too');
($rc, $out) = run_token('--secret', $good, '--max-ttl', 0, '--verify', $KAT);
is($rc, 0, 'the known answer verifies with no bound on its lifetime');
is($out, "uid=7 exp=2000000000 kid=0\n", '... as uid 7 until 2000000000');
($rc, $out, $err) = run_token('--secret', $good, '--verify', $KAT);
is($rc, 1, '... and is too long lived under the default --max-ttl (1d)');
like($err, qr/^cc-token: too long lived$/m, '... "too long lived"');

# key ids: --kid signs under it, and names the key --verify holds
($rc, $out) = run_token('--secret', $good, '--kid', 'key-2027_b', '--uid', 7, '--exp', 2000000000);
is($rc, 0, 'mint with --kid: exit 0');
is($out, "$KAT_K\n", '... the known answer of key "key-2027_b"');
($rc, $out) = run_token('--secret', $good, '--kid', 'key-2027_b', '--max-ttl', 0, '--verify', $KAT_K);
is($out, "uid=7 exp=2000000000 kid=key-2027_b\n", '... which verifies under that key id');
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 0, '--verify', $KAT_K);
is($rc, 1, '... and not under key "0"');
like($err, qr/^cc-token: unknown key$/m, '... "unknown key"');
(my $relabelled = $KAT_K) =~ s/\.key-2027_b\./.0./;
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 0, '--verify', $relabelled);
like($err, qr/^cc-token: bad signature$/m, 'its signature relabelled "0": "bad signature"');
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 0, '--verify', "7.2000000000.0.$NODOMAIN");
like($err, qr/^cc-token: bad signature$/m, 'the MAC of "uid.exp" without the "cc1|kid|" domain: "bad signature"');
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 0, '--verify', "7.2000000000.$NODOMAIN");
like($err, qr/^cc-token: malformed$/m, 'the old format "uid.exp.sig": "malformed"');
for my $v ('', 'a.b', 'a+b', '0123456789abcdefg', 'k 1') {
    ($rc, $out, $err) = run_token('--secret', $good, '--kid', $v, '--uid', 7);
    is($rc, 2, "--kid \"$v\": exit 2");
    like($err, qr/^cc-token: --kid must be 1\.\.16 of \[A-Za-z0-9_-\], not "\Q$v\E"$/m, '... naming --kid');
}
for my $v ('-1', '31536001', 'x') {
    ($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', $v, '--verify', $KAT);
    is($rc, 2, "--max-ttl \"$v\": exit 2");
    like($err, qr/^cc-token: --max-ttl must be an integer in 0\.\.31536000, not "\Q$v\E"$/m, '... naming --max-ttl');
}
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 60, '--uid', 7);
is($rc, 2, '--max-ttl without --verify: exit 2');
like($err, qr/--max-ttl is taken with --verify only/, '... saying so');
($rc, $out) = run_token('--secret', $good, '--uid', 7, '--ttl', 7200);
chomp(my $two_h = $out);
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 3600, '--verify', $two_h);
is($rc, 1, 'a 2-hour token under --max-ttl 3600: exit 1');
like($err, qr/^cc-token: too long lived$/m, '... "too long lived"');
($rc, $out, $err) = run_token('--secret', $good, '--max-ttl', 7300, '--verify', $two_h);
is($rc, 0, '... and under 7300 it verifies');

# ---- refused tokens ------------------------------------------------------------------

($rc, $out, $err) = run_token('--secret', $other, '--verify', $token);
is($rc, 1, 'verify with another secret: exit 1');
like($err, qr/^cc-token: bad signature$/m, '... "bad signature"');
is($out, '', '... nothing on stdout');

(my $as43 = $token) =~ s/^42\./43./;
($rc, $out, $err) = run_token('--secret', $good, '--verify', $as43);
is($rc, 1, 'another uid on a good signature: exit 1');
like($err, qr/bad signature/, '... "bad signature"');

(my $later = $KAT) =~ s/\.2000000000\./.2000000001./;
($rc, $out, $err) = run_token('--secret', $good, '--verify', $later);
is($rc, 1, 'another exp on a good signature: exit 1');
like($err, qr/bad signature/, '... "bad signature"');

my $past = time - 10;
($rc, $out) = run_token('--secret', $good, '--uid', 42, '--exp', $past);
is($rc, 0, 'mint with --exp in the past: exit 0');
like($out, qr/^42\.$past\./, '... with that exp');
chomp(my $expired = $out);
($rc, $out, $err) = run_token('--secret', $good, '--verify', $expired);
is($rc, 1, 'verify an expired token: exit 1');
like($err, qr/^cc-token: expired$/m, '... "expired"');
is($out, '', '... nothing on stdout');

($rc, $out) = run_token('--secret', $other, '--uid', 42, '--exp', $past);
chomp(my $forged = $out);
($rc, $out, $err) = run_token('--secret', $good, '--verify', $forged);
is($rc, 1, 'an expired token of another secret: exit 1');
like($err, qr/^cc-token: bad signature$/m, '... "bad signature", not "expired"');

for my $bad ('garbage', '', "$KAT=", "$KAT\n", " $KAT", '07.2000000000.' . substr($KAT, 13),
             substr($KAT, 0, -1), "$KAT.x")
{
    (my $show = $bad) =~ s/\n/\\n/g;
    ($rc, $out, $err) = run_token('--secret', $good, '--verify', $bad);
    is($rc, 1, "verify \"$show\": exit 1");
    like($err, qr/^cc-token: malformed$/m, '... "malformed"');
}

# ---- bad command lines and secret files ------------------------------------------------

for my $v ('0', '07', '-1', '+1', 'abc', '1.5', '18446744073709551616', '') {
    ($rc, $out, $err) = run_token('--secret', $good, '--uid', $v);
    is($rc, 2, "--uid \"$v\": exit 2");
    like($err, qr/^cc-token: --uid must be a positive 64-bit decimal .*, not "\Q$v\E"$/m,
         '... naming --uid');
    is($out, '', '... and no token');
}

for my $v ('0', '31536001', '-5', 'abc', '1e3', '') {
    ($rc, $out, $err) = run_token('--secret', $good, '--uid', 1, '--ttl', $v);
    is($rc, 2, "--ttl \"$v\": exit 2");
    like($err, qr/^cc-token: --ttl must be an integer in 1\.\.31536000, not "\Q$v\E"$/m,
         '... naming --ttl');
}

for my $v ('0', '100000000000', 'soon') {
    ($rc, $out, $err) = run_token('--secret', $good, '--uid', 1, '--exp', $v);
    is($rc, 2, "--exp \"$v\": exit 2");
    like($err, qr/^cc-token: --exp must be an integer in 1\.\.99999999999, not "\Q$v\E"$/m,
         '... naming --exp');
}

($rc, $out, $err) = run_token('--secret', $good, '--uid', 1, '--ttl', 5, '--exp', 2000000000);
is($rc, 2, '--ttl and --exp: exit 2');
like($err, qr/--ttl and --exp exclude each other/, '... saying so');

($rc, $out, $err) = run_token('--secret', $good, '--verify', $KAT, '--uid', 7);
is($rc, 2, '--verify with --uid: exit 2');
like($err, qr/--verify takes no --uid/, '... saying so');

($rc, $out, $err) = run_token('--uid', 1);
is($rc, 2, 'no --secret: exit 2');
like($err, qr/--secret FILE is needed/, '... naming --secret');

($rc, $out, $err) = run_token('--secret', $good);
is($rc, 2, 'neither --uid nor --verify: exit 2');
like($err, qr/--uid or --verify is needed/, '... naming them');

($rc, $out, $err) = run_token('--secret', "$dir/missing", '--uid', 1);
is($rc, 2, 'a missing secret file: exit 2');
like($err, qr/^cc-token: --secret: cannot open secret file "\Q$dir\E\/missing": No such file/m,
     '... naming --secret and the file');
is($out, '', '... and no token');

# a secret its group or others may read is refused (0600 or 0400 only)
my $open = secret_file('open', "$SECRET\n");
chmod 0644, $open;
($rc, $out, $err) = run_token('--secret', $open, '--uid', 1);
is($rc, 2, 'a secret file of mode 0644: exit 2');
like($err, qr/^cc-token: --secret: secret file "\Q$open\E" is open to its group or others \(mode 0644\): make it 0600 or 0400$/m,
     '... naming the file and its mode');
is($out, '', '... and no token');
chmod 0640, $open;
($rc, $out, $err) = run_token('--secret', $open, '--uid', 1);
is($rc, 2, '... 0640 too');
chmod 0400, $open;
($rc, $out, $err) = run_token('--secret', $open, '--uid', 1);
is($rc, 0, '... 0400 is read') or diag $err;

($rc, $out, $err) = run_token('--secret', $short, '--uid', 1);
is($rc, 2, 'a 31-byte secret: exit 2');
like($err, qr/^cc-token: --secret: secret file "\Q$short\E" holds 31 bytes, at least 32 are needed$/m,
     '... saying it is short');
is($out, '', '... and no token');

($rc, $out, $err) = run_token('--secret', $short, '--verify', $KAT);
is($rc, 2, 'verify with a 31-byte secret: exit 2');

($rc, $out, $err) = run_token('--secret', $empty, '--uid', 1);
is($rc, 2, 'an empty secret file: exit 2');
like($err, qr/holds 0 bytes/, '... saying it is short');

($rc, $out, $err) = run_token('--secret', $long, '--uid', 1);
is($rc, 2, 'a 1025-byte secret: exit 2');
like($err, qr/longer than 1024 bytes/, '... saying it is long');

($rc, $out, $err) = run_token('--secret', $good, '--uid', 1, '--bogus');
is($rc, 2, 'an unknown option: exit 2');
like($err, qr/unrecognized option '--bogus'/, '... saying which');

($rc, $out, $err) = run_token('--secret', $good, '--uid');
is($rc, 2, 'an option without its value: exit 2');
like($err, qr/option '--uid' requires an argument/, '... saying which');

($rc, $out, $err) = run_token('--secret', $good, '--uid', 1, 'extra');
is($rc, 2, 'a stray argument: exit 2');
like($err, qr/unexpected argument "extra"/, '... saying which');

($rc, $out, $err) = run_token('--help');
is($rc, 0, '--help exits 0');
like($out, qr/^usage: cc-token --secret FILE \[--kid KID\] --uid UID/, '... with the usage');
like($out, qr/--$_ /, "... listing --$_") for qw(secret kid uid ttl exp verify max-ttl help);

done_testing();
