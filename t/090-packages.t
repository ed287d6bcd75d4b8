# The packages (issue 21, README "Install from packages"): make deb's
# .debs installed on this machine with dpkg; the stock nginx loading the
# module the way Debian's modules are loaded (/etc/nginx/modules-enabled)
# and answering a flip; the workers run as their installed units say
# (ExecStart, EnvironmentFile=, LoadCredential=, User=: emulated, no
# systemd runs here): cc-ingest --init-shards and cc-payout --once against
# the harness's mariadbd and Redis; then dpkg -r and --purge, and nothing
# left behind but what Debian's policy leaves.
#
# Skipped when not root (dpkg -i); in the ASan pass (make test-asan sets
# CC_MODULE_SO under build/asan) and the valgrind one (CC_WORKER_DIR under
# build/valgrind), since the packages hold the plain build, tested by the
# plain pass; and when the packages are installed here already (an
# operator's install is not the test's to purge).  It builds the packages
# (make deb, about 30 s) unless build/deb holds them newer than every file
# but the tests; with them built it takes about 7 s.  While installed the
# module is enabled for this machine's nginx too, and dpkg's nginx-reload
# trigger reloads a running system nginx: a CI box or a container is the
# place for it.  A failure half-way still purges.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use CcCampaign;
use PayoutTest;
use CcTest::Util qw(topdir repo_root);
use File::Path qw(make_path remove_tree);
use File::Temp qw(tempdir);
use IPC::Run ();
use Time::HiRes ();

my $T0 = Time::HiRes::time();
my @PKGS = qw(libnginx-mod-http-cc cardcampaign-workers cardcampaign-sim);
my $ETC = '/etc/cardcampaign';

sub which { my ($p) = @_; grep { -x "$_/$p" } split /:/, $ENV{PATH} }

# (exit code, stdout and stderr together)
sub cmd {
    my ($c, $timeout) = @_;
    my $out = '';
    local $?;
    my $ok = eval { IPC::Run::run($c, '<', \undef, '>&', \$out, IPC::Run::timeout($timeout // 60)) };
    return (($ok ? 0 : $? >> 8 || 1), $out . ($@ // ''));
}

# dpkg, waiting while another dpkg or apt holds the lock
sub dpkg {
    my @args = @_;
    my ($rc, $out);
    for (1 .. 60) {
        ($rc, $out) = cmd([ 'dpkg', @args ], 120);
        last unless $rc && $out =~ /\block\b/i;
        sleep 2;
    }
    return ($rc, $out);
}

# a package's dpkg status word: installed, config-files, not-installed, ...
sub status {
    my ($rc, $out) = cmd([ 'dpkg-query', '-W', '-f=${db:Status-Status}', $_[0] ]);
    return $rc || $out eq '' ? 'not-installed' : $out;
}

plan skip_all => 'installs packages with dpkg -i: root only' if $> != 0;
plan skip_all => 'the ASan (or valgrind) pass: the packages hold the plain build, tested in the plain pass'
    if grep { ($ENV{$_} // '') =~ m{(^|/)(asan|valgrind)/} } qw(CC_MODULE_SO CC_WORKER_DIR);
for (qw(dpkg-buildpackage dh dh_nginx setpriv)) {
    plan skip_all => "$_ is not installed (scripts/deps.sh)" unless which($_);
}
if (my @here = grep { status($_) ne 'not-installed' } @PKGS) {
    plan skip_all => "@here already installed here: this test installs and purges them "
                   . "(dpkg --purge @PKGS first)";
}
plan skip_all => "$ETC exists: this test installs and purges it" if -e $ETC;

my $top = repo_root();

# ---- the packages: build/deb, built by make deb ------------------------------

chomp(my $version = `dpkg-parsechangelog -l $top/debian/changelog -S Version`);
chomp(my $arch = `dpkg --print-architecture`);
my %deb = map { ($_ => "$top/build/deb/${_}_${version}_$arch.deb") } @PKGS;

# fresh: every .deb there, and none older than a file of the tree (the
# files git knows but the tests, which no package holds; without git,
# always rebuilt)
my @src = grep { -f } map { "$top/$_" } grep { !m{^t/} }
          split /\n/, `cd $top && git ls-files -c -o --exclude-standard 2>/dev/null`;
my ($newest) = sort { $b <=> $a } map { (stat)[9] } @src;
my ($oldest) = sort { $a <=> $b } map { -f $_ ? (stat $_)[9] : 0 } values %deb;
if (!@src || !$oldest || $oldest < $newest) {
    my $t = Time::HiRes::time();
    my ($rc, $out) = cmd([ 'make', '-C', $top, 'deb' ], 600);
    is($rc, 0, 'make deb builds the packages') or BAIL_OUT("make deb failed:\n" . substr($out, -3000));
    diag sprintf 'make deb: %.1fs', Time::HiRes::time() - $t;
}
else {
    note 'build/deb is newer than the tree: its packages are installed';
}
ok(-f $deb{$_}, "build/deb holds $_") for @PKGS;

# ---- install -----------------------------------------------------------------

my $installed = 0;
my %operator;          # files this test puts in /etc/cardcampaign as an operator would

END {
    # a failure half-way leaves nothing installed (purged), nor the
    # operator's files this test wrote
    return unless $installed;
    dpkg('--purge', @PKGS) if grep { status($_) ne 'not-installed' } @PKGS;
    unlink keys %operator;
    rmdir "$ETC/secrets"; rmdir $ETC;
}

my ($rc, $out) = dpkg('-i', map { $deb{$_} } @PKGS);
$installed = 1;
is($rc, 0, 'dpkg -i installs the three packages') or diag $out;
is(status($_), 'installed', "$_ is installed") for @PKGS;

my %files;             # package => [ dpkg -L ]
for my $p (@PKGS) {
    (undef, $out) = cmd([ 'dpkg', '-L', $p ]);
    $files{$p} = [ grep { m{^/} && $_ ne '/.' } split /\n/, $out ];
}

# the module: Debian's layout, and the ABI of the nginx it was built for
my ($abi) = `cat /usr/share/nginx/src/debian/libnginx-mod.abisubstvars` =~ /^nginx:abi=(\S+)$/m;
ok($abi, "nginx-dev names the nginx ABI: $abi");
chomp(my $depends = `dpkg-query -W -f='\${Depends}' libnginx-mod-http-cc`);
like($depends, qr/(^|, )\Q$abi\E(,|$)/, 'the module depends on that exact ABI');
chomp(my $nginx_pkg = `dpkg-query -S /usr/sbin/nginx 2>/dev/null`);
$nginx_pkg =~ s/:.*//;
chomp(my $provides = `dpkg-query -W -f='\${Provides}' $nginx_pkg`);
like($provides, qr/(^|, )\Q$abi\E(,|$)/, "which the installed nginx ($nginx_pkg) provides");
ok(-f '/usr/lib/nginx/modules/ngx_http_cc_module.so', 'the .so in /usr/lib/nginx/modules');
my $snippet = '/usr/share/nginx/modules-available/mod-http-cc.conf';
is(`cat $snippet`, "load_module modules/ngx_http_cc_module.so;\n", "$snippet loads it");
my $link = '/etc/nginx/modules-enabled/50-mod-http-cc.conf';
is(readlink($link), $snippet, "enabled: $link links to it");

# the workers: programs, units, settings, the user
ok(-x "/usr/bin/$_", "/usr/bin/$_") for qw(cc-ingest cc-reconcile cc-draw cc-payout cc-estimate cc-token);
ok(-x "/usr/bin/$_", "/usr/bin/$_ (cardcampaign-sim)") for qw(cc-mockbroker cc-produce cc-wallet-sim cc-load);
ok(-f "/usr/share/man/man1/$_.1.gz", "man $_") for qw(cc-ingest cc-reconcile cc-draw cc-payout cc-estimate cc-token
                                                   cc-mockbroker cc-produce cc-wallet-sim cc-load);
ok(-f "/usr/share/cardcampaign/sql/$_.sql", "/usr/share/cardcampaign/sql/$_.sql")
    for qw(shard money grants shard_grants);
ok(-f '/usr/share/doc/cardcampaign-workers/README.md.gz', 'the README in /usr/share/doc');
my @pw = getpwnam('cardcampaign');
ok(@pw, 'the system user cardcampaign exists');
cmp_ok($pw[2] // 1e9, '<', 1000, '... a system uid');
is($pw[8], '/usr/sbin/nologin', '... without a shell');
ok(defined getgrnam('cardcampaign'), '... and its group');
is(sprintf('%o', (stat "$ETC/secrets")[2] & 07777), '700', "$ETC/secrets: mode 0700");
is((stat "$ETC/secrets")[4], 0, '... owned by root');
chomp(my $conffiles = `dpkg-query -W -f='\${Conffiles}' cardcampaign-workers`);
like($conffiles, qr{^ \Q$ETC\E/workers\.env [0-9a-f]{32}$}m, 'workers.env is a conffile');
like($conffiles, qr{^ \Q$ETC\E/campaign\.conf\.example [0-9a-f]{32}$}m, 'the campaign example is a conffile');

my @units = qw(cc-ingest.service cc-reconcile.service cc-reconcile.timer cc-draw.service
               cc-draw.timer cc-payout.service cc-books.service cc-books.timer);
my %unit;              # name => text, continuation lines joined
for my $u (@units) {
    my $f = "/lib/systemd/system/$u";
    ok(-f $f, "$f installed");
    $unit{$u} = do { local $/; open my $h, '<', $f or die "$f: $!"; <$h> } =~ s/\\\n\s*/ /gr;
}
my @enabled = grep { /\/cc-[a-z]+\.(service|timer)$/ } glob('/etc/systemd/system/*.wants/* /etc/systemd/system/*/*.wants/*');
is("@enabled", '', 'no unit enabled by the install');
for my $u (grep { /\.service$/ } @units) {
    my ($exec) = $unit{$u} =~ /^ExecStart=(\S+)/m;
    like($exec, qr{^/usr/bin/cc-[a-z]+$}, "$u runs /usr/bin") and
        ok((grep { $_ eq $exec } @{ $files{'cardcampaign-workers'} }), "... $exec, of the package");
    like($unit{$u}, qr/^User=cardcampaign$/m, "$u runs as cardcampaign");
}
SKIP: {
    skip 'systemd-analyze is not installed', 1 unless which('systemd-analyze');
    ($rc, $out) = cmd([ 'systemd-analyze', 'verify', map { "/lib/systemd/system/$_" } @units ]);
    is("$rc $out", '0 ', 'systemd-analyze verify accepts the installed units');
}

# ---- the stock nginx, the module from modules-enabled: a flip -------------------

# a private prefix: "load_module modules/..." is relative to it, as it is
# to Debian's /usr/share/nginx, whose modules/ is the same link
my $prefix = topdir() . '/pkg-nginx';
make_path($prefix);
symlink('/usr/share/nginx/modules', "$prefix/modules") or die "symlink: $!";
{
    local $CcTest::Nginx::NginxBinary = '/usr/sbin/nginx';
    start_nginx(undef, no_module => 1, prefix => $prefix,
                main_config => 'include /etc/nginx/modules-enabled/*.conf;',
                http_config => on_shard0('cc_cards 1 1000000;'), config => all_locations());
}
like(do { local $/; open my $h, '<', "$prefix/conf/nginx.conf" or die; <$h> },
     qr{^include /etc/nginx/modules-enabled/\*\.conf;$}m, 'the config loads modules-enabled only');
redis_cmd(0, 'HSET', user_key(7), 'c', 3);
my ($st, $body) = http_request('POST', '/cc/flip?request_id=abc', { 'X-CC-Uid' => 7 });
is("$st $body", '200 {"draw_id":"7:1","card":1,"chances_left":2}', 'a flip: the packaged module answers');
is(redis_cmd(0, 'HGET', user_key(7), 'c'), 2, 'Redis: a chance spent');
like(redis_text(redis_cmd(0, 'XRANGE', 'cc:draws', '-', '+')), qr/^\d+-\d+,d,7:1:1:\d{13}:abc$/, 'Redis: the draw in the log');
is(stop_nginx(), '', 'nginx stops cleanly');

# ---- the workers, as their units run them ---------------------------------------

# the servers: the harness's mariadbd (the role users with passwords, as
# in production) and Redis shards (the ACL user cc of workers.env)
mysql_start();
my %pass = (cc_owner => 'owner-pw-1', cc_payout => 'payout-pw-1', redis => 'redis-pw-1');
mysql_query("ALTER USER $_ IDENTIFIED BY '$pass{$_}'") for qw(cc_owner cc_payout);
redis_cmd($_, 'ACL', 'SETUSER', 'cc', 'on', ">$pass{redis}", '~cc:*', '&*', '+@all', '-@dangerous') for 0, 1;

# the operator's part: the secrets, the campaign file, workers.env's
# servers (a conffile changed: it must survive dpkg -r)
sub spew { my ($f, $text, $mode) = @_; open my $h, '>', $f or die "$f: $!"; print $h $text; close $h; chmod $mode, $f }
for my $s (qw(cc_owner cc_payout)) { spew("$ETC/secrets/$s.mysql", "$pass{$s}\n", 0600); $operator{"$ETC/secrets/$s.mysql"} = 1 }
spew("$ETC/secrets/redis", "$pass{redis}\n", 0600);
$operator{"$ETC/secrets/redis"} = 1;
my $campaign = do { local $/; open my $h, '<', campaign_conf(campaign => 'pk') or die; <$h> };
spew("$ETC/campaign.conf", $campaign, 0644);
$operator{"$ETC/campaign.conf"} = 1;
my $run = tempdir('cc-pkg-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0711, $run;
make_path("$run/metrics");
chown $pw[2], $pw[3], "$run/metrics";
my @redis = split ' ', $ENV{TEST_NGINX_REDIS_SHARDS};
my @mysql = mysql_shards();
my $env = do { local $/; open my $h, '<', "$ETC/workers.env" or die; <$h> };
# (the harness's shards are plain primaries: no Sentinels)
my %set = (CC_REDIS_SENTINELS => '', CC_REDIS_0 => $redis[0], CC_REDIS_1 => $redis[1], CC_MYSQL_0 => $mysql[0],
           CC_MYSQL_1 => $mysql[1], CC_METRICS_DIR => "$run/metrics");
for my $k (sort keys %set) { $env =~ s/^$k=.*$/$k=$set{$k}/m or die "workers.env sets no $k" }
spew("$ETC/workers.env", $env, 0644);

# EnvironmentFile= as systemd reads it: KEY=VALUE lines, # and ; comments,
# quotes around a value dropped
sub env_file {
    my ($f) = @_;
    my $optional = $f =~ s/^-//;
    open my $h, '<', $f or do { return () if $optional; die "$f: $!" };
    my %e;
    while (<$h>) {
        next if /^\s*([#;]|$)/;
        /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/ or die "$f: bad line $_";
        my ($k, $v) = ($1, $2);
        $v = $1 if $v =~ /^"(.*)"$/ || $v =~ /^'(.*)'$/;
        $e{$k} = $v;
    }
    return %e;
}

# The command, user and environment of a unit's ExecStart=, as systemd
# runs it: the EnvironmentFile= variables, ${NAME} one word and $NAME
# split at blanks, LoadCredential= files copied to $CREDENTIALS_DIRECTORY
# (owned by the service's user, mode 0400; %cred overrides one as a
# drop-in would), User= by setpriv, and the environment cleared but for
# these (and PATH).  Returns the argv to run.
sub unit_argv {
    my ($u, $extra, %cred) = @_;
    my $text = $unit{$u};
    my %e = map { env_file($_) } $text =~ /^EnvironmentFile=(.*)$/mg;
    my ($exec) = $text =~ /^ExecStart=(.*)$/m;
    my @argv;
    for my $w (split ' ', $exec) {
        if ($w =~ /^\$([A-Za-z_]\w*)$/) { push @argv, split ' ', $e{$1} // ''; next }
        $w =~ s/\$\{(\w+)\}/$e{$1} \/\/ ''/ge;
        push @argv, $w;
    }
    my ($user) = $text =~ /^User=(\S+)$/m;
    my ($uid, $gid) = (getpwnam($user))[2, 3];
    my $creds = "$run/credentials/$u";
    remove_tree($creds);
    make_path($creds);
    for ($text =~ /^LoadCredential=(.*)$/mg) {
        my ($id, $path) = split /:/, $_, 2;
        $path = $cred{$id} if $cred{$id};
        my $v = do { local $/; open my $h, '<', $path or die "$u: $path: $!"; <$h> };
        spew("$creds/$id", $v, 0400);
        chown $uid, $gid, "$creds/$id";
    }
    chown $uid, $gid, $creds;
    chmod 0500, $creds;
    return ('/usr/bin/env', '-i', 'PATH=/usr/local/bin:/usr/bin:/bin', "CREDENTIALS_DIRECTORY=$creds",
            (map { "$_=$e{$_}" } sort keys %e),
            '/usr/bin/setpriv', "--reuid=$uid", "--regid=$gid", '--init-groups', '--', @argv, @$extra);
}

# cc-ingest --init-shards: the ingest unit's command and settings, as the
# schema owner (whose password a drop-in would hand over in place of
# cc_ingest's)
my ($wrc, $wout, $werr) = run_worker([ unit_argv('cc-ingest.service', ['--init-shards'],
                                                 'cc-mysql-password' => "$ETC/secrets/cc_owner.mysql") ],
                                     timeout => 60);
is($wrc, 0, 'cc-ingest.service\'s command with --init-shards: exit 0') or diag $werr;
for my $db (qw(cc_s0 cc_s1)) {
    is(mysql_value("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$db' "
                   . "AND table_name IN ('draws', 'awards', 'ledger_transfers')"), 3, "$db: the tables made");
}

# cc-payout --once: awards seeded as cc-draw writes them, paid by the
# payout unit's command, as cardcampaign, with its credentials
my %amount = map { ($_ => 100 + $_ % 7) } 1 .. 40;
seed_awards('pk', \%amount);
($wrc, $wout, $werr) = run_worker([ unit_argv('cc-payout.service', ['--once']) ], timeout => 60);
is($wrc, 0, 'cc-payout.service\'s command with --once: exit 0') or diag $werr;
like($werr, qr/done: 40 credited .* 40 notified/, 'it credited the 40 awards');
is_deeply([ check_paid('pk', \%amount) ], [], 'MySQL: one transfer per award, books balanced');
is_deeply([ check_redis('pk', \%amount, 'c') ], [], 'Redis: each award credited on its user\'s shard');
ok(-s "$run/metrics/cc-payout.prom", 'the metrics file, written as cardcampaign to CC_METRICS_DIR');

# ---- dpkg -r: the programs go, the settings stay ---------------------------------

($rc, $out) = dpkg('-r', @PKGS);
is($rc, 0, 'dpkg -r removes the packages') or diag $out;
# what has conffiles or a postrm waits for the purge; cardcampaign-sim has neither
is(status($_), 'config-files', "$_: config-files left") for qw(libnginx-mod-http-cc cardcampaign-workers);
is(status('cardcampaign-sim'), 'not-installed', 'cardcampaign-sim: gone whole');
my %conffile = map { ($_ => 1) } "$ETC/workers.env", "$ETC/campaign.conf.example";
my @gone = grep { !-d && !$conffile{$_} } map { @{ $files{$_} } } @PKGS;
is(join(' ', grep { -e || -l } @gone), '', 'every file of the packages gone but the conffiles');
is(do { local $/; open my $h, '<', "$ETC/workers.env" or die "workers.env: $!"; <$h> }, $env,
   'workers.env stays, with the operator\'s change');
ok(-f "$ETC/campaign.conf.example", 'the unchanged conffile stays too, until purge');
ok(!-e $link && -l "$link.removed", 'the module disabled: its link set aside (.removed), as dh_nginx does');

# ---- dpkg --purge: nothing left but the operator's own files and the user ---------

($rc, $out) = dpkg('--purge', @PKGS);
is($rc, 0, 'dpkg --purge purges them') or diag $out;
is(status($_), 'not-installed', "$_: purged") for @PKGS;
# what is left of every path the packages had: directories other packages
# own too (/usr/bin), and /etc/cardcampaign while it holds the operator's
my @left;
for my $p (map { @{ $files{$_} } } @PKGS) {
    next unless -e $p || -l $p;
    next if -d $p && (cmd([ 'dpkg-query', '-S', $p ]))[0] == 0;    # /lib: a link to usr/lib
    push @left, $p;
}
is("@left", "$ETC $ETC/secrets", 'nothing of the packages left but /etc/cardcampaign, holding the operator\'s files');
is(join(' ', sort grep { !-d } glob("$ETC/* $ETC/secrets/*")), join(' ', sort keys %operator),
   '... which are exactly the files the operator put there (conffiles gone, the changed one too)');
ok(!-e "$link.removed" && !-l "$link.removed", 'the module\'s link gone');
is(join(' ', grep { /\bcc-[a-z]+\.(service|timer)/ } glob('/var/lib/systemd/deb-systemd-helper-*/*')), '',
   'no unit state left with deb-systemd-helper');
ok(defined getpwnam('cardcampaign'), 'the user cardcampaign stays (the postrm says why)');
unlink keys %operator;
rmdir "$ETC/secrets"; rmdir $ETC;
ok(!-e $ETC, "$ETC gone once the operator's files are");
$installed = 0;

diag sprintf 't/090-packages.t: %.1fs', Time::HiRes::time() - $T0;
done_testing();
