package CcKeys;

# CcKeys - the Redis key names, for the tests.
#
# common/cc_keys.h owns the key names (the module, the workers and the Lua
# scripts use it); this file only mirrors it, so that a test builds a key
# the way the code does instead of spelling it out.  When cc_keys.h
# changes, change this file with it:
#
#   user_key($uid)     cc:{uid}:u   hash    cc_key_user()
#   grants_key($uid)   cc:{uid}:g   set     cc_key_grants()
#   stock_key($kind)   cc:stock:K   string  cc_key_stock()
#   log_key()          cc:draws     stream  CC_KEY_LOG
#   claims_key()       cc:claims    list    CC_KEY_CLAIMS
#   outbox_key()       cc:outbox    zset    CC_KEY_OUTBOX ("giver:request_id:
#                                           to:kind" by the ms)
#   outbox_gifts_key() cc:outbox:g  hash    CC_KEY_OUTBOX_GIFTS (the old
#                                           layout's, t/107, t/109)
#   gift_key($uid, S)  cc:{uid}:S   S one of gi ga gs gr ao ak al (ga, gs:
#                                           the old layout's, t/107):
#                                           cc_key_user_sub()
#
# Keys written out inside an expected Redis answer or a __DATA__ section
# stay literal where they are what the test asserts.

use strict;
use warnings;
use Exporter ();
use Carp qw(croak);

our @ISA    = ('Exporter');
our @EXPORT = qw(user_key grants_key stock_key log_key claims_key
                 outbox_key outbox_gifts_key gift_key);

# a uid as cc_keys.h prints it (PRIu64): digits only
sub _uid {
    my ($uid) = @_;
    croak 'CcKeys: a uid is digits, not ' . ($uid // 'undef')
        unless defined $uid && $uid =~ /^\d+$/;
    return $uid;
}

sub user_key   { 'cc:{' . _uid($_[0]) . '}:u' }
sub grants_key { 'cc:{' . _uid($_[0]) . '}:g' }

sub stock_key {
    my ($kind) = @_;
    croak 'CcKeys: a card kind is digits, not ' . ($kind // 'undef')
        unless defined $kind && $kind =~ /^\d+$/;
    return "cc:stock:$kind";
}

sub gift_key {
    my ($uid, $s) = @_;
    croak 'CcKeys: a gift key is one of gi ga gs gr ao ak al, not '
          . ($s // 'undef')
        unless defined $s && $s =~ /^(?:gi|ga|gs|gr|ao|ak|al)$/;
    return 'cc:{' . _uid($uid) . "}:$s";
}

sub outbox_key       { 'cc:outbox' }
sub outbox_gifts_key { 'cc:outbox:g' }
sub log_key    { 'cc:draws' }
sub claims_key { 'cc:claims' }

1;
