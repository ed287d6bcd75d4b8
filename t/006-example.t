# nginx.conf.example is a real configuration: nginx -t accepts it with the
# built module, and refuses it when the module is not loaded.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use File::Temp qw(tempdir);
use Cwd qw(abs_path);

my $top = abs_path('.');
my $so  = $ENV{CC_MODULE_SO} || "$top/build/nginx/ngx_http_cc_module.so";
my $dir = tempdir(CLEANUP => 1);

open my $in, '<', "$top/nginx.conf.example" or die $!;
my $conf = do { local $/; <$in> };
close $in;

like($conf, qr/^load_module \S+ngx_http_cc_module\.so;/m, 'the example loads the module');
like($conf, qr/location = \/cc\/grant \{[^}]*deny all;[^}]*cc_grant;/s,
     'the grant location is closed to all but allowed addresses');

sub nginx_t {
    my ($text) = @_;
    open my $out, '>', "$dir/nginx.conf" or die $!;
    print $out $text;
    close $out;
    my $bin = $ENV{TEST_NGINX_BINARY} || "/usr/sbin/nginx";
    my $msg = `$bin -p $dir -g "error_log /dev/null; pid /dev/null;" -t -q -c $dir/nginx.conf 2>&1`;
    return ($? >> 8, $msg);
}

(my $ok = $conf) =~ s{^load_module \S+;}{load_module $so;}m;
$ok =~ s{error_log \S+}{error_log /dev/null}g;
my ($rc, $msg) = nginx_t($ok);
is($rc, 0, 'nginx -t accepts the example') or diag $msg;

(my $bad = $ok) =~ s{^load_module \S+;}{}m;
($rc, $msg) = nginx_t($bad);
isnt($rc, 0, 'without the module nginx -t refuses it');
like($msg, qr/unknown directive "cc_/, '... naming the unknown cc_ directive');

done_testing();
