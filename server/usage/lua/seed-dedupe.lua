-- Dedupe keys of request ids already recorded in PostgreSQL (a bulk write): SET NX with the dedupe
-- TTL, as the recording script sets them, for KEYS (one account's: one slot). ARGV[1] TTL seconds.
for i = 1, #KEYS do redis.call('SET', KEYS[i], '1', 'EX', ARGV[1], 'NX') end
return #KEYS
