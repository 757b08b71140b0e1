-- Releases a reconcile lock without a rebuild; held writers then count their events as usual.
-- KEYS[1] lock, KEYS[2] held set, ARGV[1] lock token.
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1], KEYS[2]) end
return 0
