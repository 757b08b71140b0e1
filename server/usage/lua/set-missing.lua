-- HSETNX of each (field, value) pair of ARGV on the hash KEYS[1]: the metadata index's placeholders
-- (hot-index.ts) in one command instead of one per field. Returns how many fields were added.
local added = 0
for i = 1, #ARGV, 2 do added = added + redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[i + 1]) end
return added
