package CcTest::NginxConf;

# CcTest::NginxConf - every nginx.conf text the harness writes is made
# here: the shared parts a block or a test builds on (on_shard0,
# on_shards, all_locations, app_locations), the whole file around them
# (nginx_conf: load_module, error_log, pid, events, http, server) and the
# $TEST_NGINX_ / $TEST_MYSQL_ / $TEST_KAFKA_ substitution.  A change to
# what every generated config says (say, an explicit cc_identity line)
# belongs in this file only.  Writing the file and starting nginx is
# CcTest::Nginx's.

use strict;
use warnings;

use Exporter 'import';
use Cwd qw(abs_path);
use CcTest::Util qw(repo_root);

our @EXPORT = qw(on_shard0 on_shards all_locations);
our @EXPORT_OK = qw(app_locations nginx_conf _subst _module_so);

sub _module_so {
    return $ENV{CC_MODULE_SO} ? abs_path($ENV{CC_MODULE_SO}) // $ENV{CC_MODULE_SO}
                              : repo_root() . "/build/nginx/ngx_http_cc_module.so";
}

# Replace $TEST_NGINX_XXX, $TEST_MYSQL_XXX and $TEST_KAFKA_XXX with values
# from %ENV; unknown names are fatal.
sub _subst {
    my ($text) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_(NGINX|MYSQL|KAFKA)_[A-Za-z0-9_]+)}{
        defined $ENV{$1} ? $ENV{$1} : die "unknown variable \$$1 (not in %ENV"
            . ({ MYSQL => '; call mysql_start() before run_tests()',
                 KAFKA => '; call kafka_start() before run_tests()' }->{$2} // '') . ")\n"
    }ge;
    return $text;
}

# The part of nginx.conf most tests share, in one place, so that a block
# shows only what it varies.  Each is a Test::Base filter (Test::Base calls
# main::NAME, and these are exported there) and a plain function for
# start_nginx(); each takes the caller's own lines (nginx text) and returns
# them with the shared part around them:
#
#   --- http_config on_shard0         cc_redis_shards $TEST_NGINX_REDIS_SHARD0;
#       cc_cards 1 1000000;           then the block's own lines
#   --- config all_locations          the block's own lines (cc_identity ...),
#                                     then one location per handler (flip,
#                                     grant, combine, eligibility, award,
#                                     claim) that the own lines do not hold
#
# on_shards is on_shard0 on both shards.  The $TEST_NGINX_ names are left
# as they are: they are replaced when nginx.conf is written.  Own lines may
# come without their indent: on_shard0('cc_cards 1 1;', 'cc_request_ttl 1h;').
# A test outside blocks writes the same: start_nginx(undef, http_config =>
# on_shards('cc_redis_timeout 5s;'), config => all_locations(...)).
sub _own_lines {
    return join '', map { s/^(?=\S)/    /mgr =~ s/\n?\z/\n/r }
                    grep { defined && length } @_;
}

sub _shards_line { "    cc_redis_shards \$TEST_NGINX_REDIS_$_[0];\n" }

sub on_shard0 { _shards_line('SHARD0') . _own_lines(@_) }
sub on_shards { _shards_line('SHARDS') . _own_lines(@_) }

my @HANDLERS = qw(flip grant combine eligibility award claim);

sub all_locations {
    my $own = _own_lines(@_);
    # nginx trusts no identity by default: the tests' header, unless chosen
    $own = "    cc_identity trusted_header X-CC-Uid;\n$own" unless $own =~ /^\s*cc_identity\b/m;
    # a location the caller's lines hold already is theirs, not added twice
    my @add = grep { $own !~ m{\blocation\s*=\s*/cc/$_\s*\{} } @HANDLERS;
    # a grant is never behind a token (nginx refuses it): its location
    # names its identity, whatever the server's
    return $own . join '', map {
        $_ eq 'grant' ? "    location = /cc/grant       { cc_identity trusted_header X-CC-Uid; cc_grant; }\n"
                      : sprintf "    location = %-15s { cc_%s; }\n", "/cc/$_", $_
    } @add;
}

# Build nginx.conf text.  %o: prefix, port, workers, log_level, no_module,
# main_config, http_config, config, raw (http part, replaces the default).
sub nginx_conf {
    my (%o) = @_;
    my $p = $o{prefix};
    my $conf = '';
    $conf .= "load_module " . _module_so() . ";\n" unless $o{no_module};
    $conf .= "worker_processes " . ($o{workers} // 1) . ";\n"
           . "daemon off;\nmaster_process on;\n"
           . "error_log $p/logs/error.log " . ($o{log_level} // 'debug') . ";\n"
           . "pid $p/logs/nginx.pid;\n\n"
           . ($o{main_config} // '') . "\n"
           . "events {\n    worker_connections 1024;\n}\n\n";

    my $temps = join '', map { "    ${_}_temp_path $p/tmp/$_;\n" }
                         qw(client_body proxy fastcgi uwsgi scgi);
    if (defined $o{raw} && $o{raw} =~ /^\s*http\s*\{/m) {
        # a complete "http { ... }" (maybe plus stream etc.): only add temp paths
        (my $raw = $o{raw}) =~ s/^(\s*http\s*\{)/$1\n$temps/m;
        $conf .= $raw;
    }
    elsif (defined $o{raw}) {
        $conf .= "http {\n    access_log off;\n$temps\n$o{raw}\n}\n";
    }
    else {
        $conf .= "http {\n    access_log off;\n$temps\n"
               . ($o{http_config} // '') . "\n"
               . "    server {\n"
               . "        listen 127.0.0.1:$o{port};\n"
               . "        server_name localhost;\n\n"
               . ($o{config} // '') . "\n"
               . "    }\n}\n";
    }
    # $TEST_NGINX_SERVER_PORT means this instance's port
    local $ENV{TEST_NGINX_SERVER_PORT} = $o{port};
    return _subst($conf);
}

# The locations of the ingest pipeline's app nginx (CcCampaign's
# campaign_nginx): flip, grant, combine and metrics, on one line.
sub app_locations {
    return 'cc_identity trusted_header X-CC-Uid; location = /cc/flip { cc_flip; } location = /cc/grant { cc_grant; } '
         . 'location = /cc/combine { cc_combine; } location = /cc/metrics { cc_metrics; }';
}

1;
