# Least privilege (issue 22): one MySQL user per worker role with only its
# tables (sql/grants.sql, sql/shard_grants.sql), the workers' role users as
# their defaults, passwords from files or systemd credentials (never argv),
# and Redis AUTH as an ACL user.

use strict;
use warnings;
use lib 't/lib';
use CcTest;
use CcKeys;
use File::Temp qw(tempdir);
use IPC::Run ();

mysql_start();
my $port  = $ENV{TEST_MYSQL_PORT};
my $DB    = 'cc_p0';
my @MYSQL = ('--mysql', "127.0.0.1:$port/$DB");
my $dir   = tempdir('cc-priv-XXXXXX', TMPDIR => 1, CLEANUP => 1);

sub spew { my ($f, $text, $mode) = @_; open my $h, '>', $f or die "$f: $!"; print $h $text; close $h; chmod $mode, $f }

# a worker run to its end: (exit status, stderr)
sub run_w {
    log_draw() if $_[0] eq 'cc-reconcile';
    my $w = spawn_worker(@_);
    my $rc = wait_worker($w, 30);
    return ($rc // 'timeout', worker_stderr($w));
}

# the mariadb client as a role user over TCP, as the workers connect
sub as_user {
    my ($user, $sql, $pw) = @_;
    my ($out, $err) = ('', '');
    IPC::Run::run(['mariadb', '--no-defaults', '-h', '127.0.0.1', '-P', $port, "-u$user",
                   (defined $pw ? "-p$pw" : ()), '-D', $DB, '-N', '-B', '-e', $sql],
                  '<', \undef, '>', \$out, '2>', \$err, IPC::Run::timeout(30));
    return ($? >> 8, $out, $err);
}

# ---- the schema, made by its owner -----------------------------------------

my ($rc, $err) = run_w('cc-ingest', '--init-shards', @MYSQL);
is($rc, 0, 'cc-ingest --init-shards runs as the schema owner, cc_owner, by default') or diag $err;
is(mysql_value("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '$DB'"
               . " AND DEFINER LIKE 'cc\\_owner@%'"), 4,
   "the ledger's two guards and the batch details' two are the owner's");

# ---- each role's grants: exactly its tables --------------------------------

my %want = (
    cc_ingest    => { draws => 'INSERT SELECT', eligibility => 'INSERT SELECT',
                      user_cards => 'INSERT SELECT UPDATE', dead_letters => 'INSERT',
                      gift_moves => 'INSERT SELECT', gift_counts => 'INSERT SELECT UPDATE' },
    cc_reconcile => { draws => 'INSERT SELECT', eligibility => 'INSERT SELECT',
                      user_cards => 'INSERT SELECT UPDATE',
                      gift_moves => 'INSERT SELECT', gift_counts => 'INSERT SELECT UPDATE' },
    cc_draw      => { draws => 'INSERT SELECT', eligibility => 'INSERT SELECT',
                      user_cards => 'INSERT SELECT UPDATE', draw_plans => 'INSERT SELECT UPDATE',
                      gift_moves => 'INSERT SELECT', gift_counts => 'INSERT SELECT UPDATE',
                      awards => 'INSERT SELECT', ledger_transfers => 'INSERT SELECT',
                      ledger_accounts => 'INSERT SELECT UPDATE' },
    cc_payout    => { awards => 'SELECT UPDATE', ledger_transfers => 'INSERT SELECT',
                      ledger_accounts => 'INSERT SELECT UPDATE', ledger_pending => 'INSERT SELECT UPDATE',
                      award_notices => 'INSERT SELECT UPDATE',
                      wallet_batches => 'INSERT SELECT', wallet_batch_details => 'INSERT SELECT' },
    cc_repair    => { awards => 'SELECT UPDATE', ledger_transfers => 'INSERT SELECT',
                      ledger_accounts => 'INSERT SELECT UPDATE', ledger_pending => 'INSERT SELECT UPDATE',
                      wallet_batches => 'INSERT SELECT', wallet_batch_details => 'INSERT SELECT',
                      eligibility => 'SELECT', draw_plans => 'SELECT', award_notices => 'SELECT' },
    cc_books     => { map { ($_ => 'SELECT') }
                      qw(awards ledger_transfers ledger_accounts ledger_pending eligibility draw_plans
                         award_notices wallet_batches wallet_batch_details) },
);
for my $user (sort keys %want) {
    my %got;
    for my $g (map { $_->[0] } @{ mysql_query("SHOW GRANTS FOR $user") }) {
        next if $g =~ /^GRANT USAGE ON \*\.\*/;
        if ($g =~ /^GRANT (.+) ON `\Q$DB\E`\.`(\w+)` TO/) {
            $got{$2} = join ' ', sort split /, /, $1;
        } else {
            $got{"other: $g"} = 1;
        }
    }
    is_deeply(\%got, $want{$user}, "$user: only its tables, only its verbs");
}

# ---- only the owner may drop the ledger's guards ---------------------------

for my $user (sort keys %want) {
    my ($c, undef, $e) = as_user($user, 'DROP TRIGGER ledger_transfers_no_update');
    ok($c != 0 && $e =~ /ERROR 1142 .*TRIGGER command denied to user '\Q$user\E'/,
       "$user: DROP TRIGGER is denied") or diag $e;
}
my ($c, $o, $e) = as_user('cc_payout', "UPDATE ledger_transfers SET amount_cents = 1");
like($e, qr/ERROR 1142 .*UPDATE command denied to user 'cc_payout'/, 'cc_payout: UPDATE ledger_transfers denied');
($c, $o, $e) = as_user('cc_payout', "DELETE FROM ledger_transfers");
like($e, qr/ERROR 1142 .*DELETE command denied to user 'cc_payout'/, 'cc_payout: DELETE FROM ledger_transfers denied');
is(mysql_value("SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = '$DB'"), 4,
   'the four guards still there');
mysql_query("INSERT INTO ledger_transfers (transfer_id, debit, credit, amount_cents, campaign, kind, created_at)"
            . " VALUES ('t1', 'a', 'b', 5, 'c', 'fund', 0)", $DB);
like(eval { mysql_query("UPDATE ledger_transfers SET amount_cents = 1", $DB); '' } // $@,
     qr/append-only/, 'and even root cannot UPDATE the ledger: the trigger');
($c, $o, $e) = as_user('cc_ingest', 'SELECT COUNT(*) FROM ledger_accounts');
like($e, qr/SELECT command denied to user 'cc_ingest'/, 'cc_ingest cannot read the ledger');
($c, $o, $e) = as_user('cc_books', "UPDATE awards SET notified = 1");
like($e, qr/UPDATE command denied to user 'cc_books'/, 'cc_books (the money check) cannot write');

# ---- MySQL passwords: a file, a systemd credential, the environment --------

mysql_query("ALTER USER cc_reconcile IDENTIFIED BY 'pw-Reconcile-1'");
# a draw in shard 0's log before each pass, so that the pass writes to MySQL
my $seq = 0;
sub log_draw {
    my $ms = int(time * 1000) - 60_000;
    $seq++;
    redis_cmd(0, 'XADD', log_key(), '*', 'd', "7001:$seq:2:$ms:priv$seq");
}
my @RECON = ('cc-reconcile', '--once', '--grace', 0, '--redis', "127.0.0.1:" . redis_port(0), @MYSQL);
delete local $ENV{CC_MYSQL_PASSWORD};
delete local $ENV{CREDENTIALS_DIRECTORY};

# a store that refuses is retried with a backoff: watch the first refusal
log_draw();
my $w = spawn_worker(@RECON);
ok(wait_until(sub { worker_stderr($w) =~ /Access denied for user 'cc_reconcile'/ }, 10),
   'no password: refused, as cc_reconcile, its default user, not root') or diag worker_stderr($w);
stop_worker($w);

my $pwf = "$dir/mysql.pw";
spew($pwf, "pw-Reconcile-1\n", 0600);
($rc, $err) = run_w(@RECON, '--mysql-password-file', $pwf);
is($rc, 0, '--mysql-password-file (0600): connects') or diag $err;

chmod 0640, $pwf;
($rc, $err) = run_w(@RECON, '--mysql-password-file', $pwf);
is($rc, 2, 'a password file readable by its group: exit 2');
like($err, qr/^cc-reconcile: --mysql-password-file: \Q$pwf\E: group or others have access \(mode 0640\)/m,
     '... saying why');
chmod 0604, $pwf;
($rc, $err) = run_w(@RECON, '--mysql-password-file', $pwf);
is($rc, 2, '... and one readable by others: exit 2');
($rc, $err) = run_w(@RECON, '--mysql-password-file', "$dir/none");
is($rc, 2, 'a missing password file: exit 2');
like($err, qr/--mysql-password-file: \Q$dir\E\/none: No such file/, '... saying so');

my $cred = "$dir/cred";
mkdir $cred;
spew("$cred/cc-mysql-password", "pw-Reconcile-1", 0400);
{
    local $ENV{CREDENTIALS_DIRECTORY} = $cred;
    ($rc, $err) = run_w(@RECON);
    is($rc, 0, '$CREDENTIALS_DIRECTORY/cc-mysql-password (LoadCredential=): connects') or diag $err;
    chmod 0444, "$cred/cc-mysql-password";
    ($rc, $err) = run_w(@RECON);
    is($rc, 2, '... refused when others may read it');
    like($err, qr/credential: .*cc-mysql-password: group or others have access \(mode 0444\)/, '... saying why');
}
{
    local $ENV{CC_MYSQL_PASSWORD} = 'pw-Reconcile-1';
    ($rc, $err) = run_w(@RECON);
    is($rc, 0, '$CC_MYSQL_PASSWORD, the fallback: connects') or diag $err;
}

# ---- Redis: AUTH as an ACL user, the default user off ----------------------

my $rport = free_port();
spew("$dir/redis.conf", <<"CONF", 0600);
port $rport
bind 127.0.0.1
save ""
appendonly no
dir $dir
user default off
user cc on >s3cret-redis ~cc:* &* +\@all -\@dangerous
CONF
my $redis = spawn_worker('/usr/bin/redis-server', "$dir/redis.conf");
wait_until(sub { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$rport") }, 5) or die 'redis with ACL did not start';
my @RECON2 = ('cc-reconcile', '--once', '--grace', 0, '--redis', "127.0.0.1:$rport", @MYSQL,
              '--mysql-password-file', "$dir/mysql.ok");
spew("$dir/mysql.ok", "pw-Reconcile-1", 0600);

($rc, $err) = run_w(@RECON2);
isnt($rc, 0, 'a Redis with the default user off: refused without AUTH');
like($err, qr/NOAUTH|NOPERM|Authentication required/i, '... by Redis') or diag $err;

my $rpw = "$dir/redis.pw";
spew($rpw, "s3cret-redis\n", 0600);
($rc, $err) = run_w(@RECON2, '--redis-user', 'cc', '--redis-password-file', $rpw);
is($rc, 0, '--redis-user cc --redis-password-file: the pass runs') or diag $err;

spew("$dir/redis.bad", "wrong", 0600);
($rc, $err) = run_w(@RECON2, '--redis-user', 'cc', '--redis-password-file', "$dir/redis.bad");
isnt($rc, 0, 'a wrong Redis password: refused');
like($err, qr/AUTH as cc: WRONGPASS/, '... with Redis\'s reason');

chmod 0644, $rpw;
($rc, $err) = run_w(@RECON2, '--redis-user', 'cc', '--redis-password-file', $rpw);
is($rc, 2, 'a Redis password file others may read: exit 2');
($rc, $err) = run_w(@RECON2, '--redis-user', 'cc');
is($rc, 2, '--redis-user without a password: exit 2');
like($err, qr/--redis-user cc needs a password/, '... saying so');
chmod 0600, $rpw;
{
    local $ENV{CC_REDIS_USER} = 'cc';
    ($rc, $err) = run_w(@RECON2, '--redis-password-file', $rpw);
    is($rc, 0, '$CC_REDIS_USER (workers.env) names the ACL user') or diag $err;
}
{
    local $ENV{CC_REDIS_PASSWORD} = 's3cret-redis';
    ($rc, $err) = run_w(@RECON2, '--redis-user', 'cc');
    is($rc, 0, '$CC_REDIS_PASSWORD, the fallback: the pass runs') or diag $err;
}
stop_worker($redis);

done_testing();
