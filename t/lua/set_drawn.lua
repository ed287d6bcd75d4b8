-- set_drawn.lua: makes users look drawn, as cc-draw leaves them (for
-- t/lib/WalletTest.pm's make_drawn).
--
-- KEYS: the users' hashes cc:{uid}:u (t/lib/CcKeys.pm's user_key).
-- ARGV[1]: the combine field e, the same for every user; ARGV[i + 1]: the
-- award field w of KEYS[i] ("p:amount_cents:award_id").
-- Returns 1.

for i, k in ipairs(KEYS) do
    redis.call('HSET', k, 'e', ARGV[1], 'w', ARGV[i + 1])
end
return 1
