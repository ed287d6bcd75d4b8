package ClaimTest;

# ClaimTest - what the claim tests outside blocks (t/032-claim-wait.t,
# t/033-claim-waiters.t) share: a user's award and state on shard 0, the
# shard's claims queue, the award's answer body, and claims left waiting.
#
#   uid($uid)                  the trusted header: { 'X-CC-Uid' => $uid }
#   award_of($uid, $w)         sets the field w of the user hash
#   state($uid)                the user hash, { field => value }
#   queue()                    cc:claims, [uid, ...]
#   pending_body($amount, $id, $status = 'pending')
#                              the JSON body of a pending (or credited) award
#   log_problems()             nginx error log lines of an alert, crit, emerg
#                              or a process that exited on a signal
#   send_claim($uid)           POST /cc/claim sent and not read: (socket, time)
#   read_answer($sock, $t0)    its answer read to the end: (status or 'none',
#                              body or '', seconds since $t0)

use strict;
use warnings;
use Exporter 'import';
use Time::HiRes ();
use CcTest;
use CcKeys;

our @EXPORT = qw(uid award_of state queue pending_body log_problems send_claim read_answer);

sub uid { return { 'X-CC-Uid' => $_[0] } }

sub award_of { my ($uid, $w) = @_; redis_cmd(0, 'HSET', user_key($uid), 'w', $w) }
sub state { my ($uid) = @_; my %h = @{ redis_cmd(0, 'HGETALL', user_key($uid)) // [] }; \%h }
sub queue { redis_cmd(0, 'LRANGE', claims_key(), 0, -1) }

sub pending_body {
    my ($amount, $id, $status) = @_;
    return '{"status":"' . ($status // 'pending') . "\",\"amount_cents\":$amount,\"award_id\":\"$id\"}";
}

sub log_problems { return grep { /\[(alert|crit|emerg)\]|exited on signal/ } split /\n/, nginx_error_log() }

sub send_claim {
    my ($uid) = @_;
    my $s = send_request('POST', '/cc/claim', uid($uid));
    return ($s, Time::HiRes::time());
}

sub read_answer {
    my ($s, $t0) = @_;
    my ($st, $body) = read_response($s);
    return ($st // 'none', $body // '', defined $t0 ? Time::HiRes::time() - $t0 : undef);
}

1;
