package CcToken;

# CcToken - signed user tokens for the tests, "<uid>.<exp>.<kid>.<sig>" as
# common/cc_token.h defines them (sig: the base64url, unpadded, of
# HMAC-SHA256(secret, "cc1|<kid>|<uid>.<exp>")), and the secret file that
# "cc_identity token FILE" (key "0") and "cc_token_key KID FILE" read.
#
#   token_secret_file(secret => $SECRET, dir => new temp dir, name => 'secret')
#                      writes "SECRET\n" to dir/name, mode 0600 (a secret
#                      open to group or others is refused; nginx reads it
#                      as root, before the workers start); returns the path
#   sign_token($uid, $exp, $secret = $SECRET, $kid = '0')
#                      the token, signed as given
#   bearer($uid, $exp = now + 1h, $secret = $SECRET)
#                      { Authorization => "Bearer TOKEN" }, for http_request
#   token_locations($file, @handlers)
#                      for each handler X, "location = /cc/X { cc_X; }" and
#                      the same at /t/X behind "cc_identity token $file"
#   with_token         a Test::Base filter ("--- config with_token"): the
#                      block's lines and all_locations behind
#                      "cc_identity token $TEST_NGINX_CC_SECRET", which the
#                      test sets, e.g. to token_secret_file()

use strict;
use warnings;
use Exporter ();
use Carp qw(croak);
use Digest::SHA qw(hmac_sha256);
use MIME::Base64 qw(encode_base64url);
use File::Temp qw(tempdir);
use CcTest ();

our @ISA    = ('Exporter');
our @EXPORT = qw(token_secret_file sign_token bearer token_locations with_token);

# the secret most tests sign with (at least 32 bytes, as cc_token needs)
our $SECRET = 'a-campaign-secret-of-at-least-32-bytes!';

sub token_secret_file {
    my (%o) = @_;
    my $dir = $o{dir};
    unless (defined $dir) {
        $dir = tempdir('cc-token-XXXXXX', TMPDIR => 1, CLEANUP => 1);
        chmod 0755, $dir;
    }
    my $file = "$dir/" . ($o{name} // 'secret');
    open my $h, '>', $file or croak "cannot write $file: $!";
    print $h ($o{secret} // $SECRET) . "\n";
    close $h or croak "cannot write $file: $!";
    chmod 0600, $file;
    return $file;
}

sub sign_token {
    my ($uid, $exp, $secret, $kid) = @_;
    $kid //= '0';
    return "$uid.$exp.$kid." . encode_base64url(hmac_sha256("cc1|$kid|$uid.$exp", $secret // $SECRET));
}

sub bearer {
    my ($uid, $exp, $secret) = @_;
    return { Authorization => 'Bearer ' . sign_token($uid, $exp // time + 3600, $secret) };
}

sub token_locations {
    my ($file, @handlers) = @_;
    # no /t/grant: nginx refuses a grant behind a token
    return join ' ', map {
        ("location = /cc/$_ { cc_identity trusted_header X-CC-Uid; cc_$_; }", $_ eq 'grant' ? () : "location = /t/$_ { cc_identity token $file; cc_$_; }")
    } @handlers;
}

sub with_token { CcTest::all_locations('cc_identity token $TEST_NGINX_CC_SECRET;', @_) }

1;
