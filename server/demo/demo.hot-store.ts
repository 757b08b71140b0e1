import { pipelineBySlot, scanKeys, type RedisClient } from "../redis";
import { hotKeys } from "../usage/hot-keys";

/** Redis side of the demo cleanup: the counters under demo accounts' hash tags and index entries. */

const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);

export interface DemoHotDeleted {
  keys: number;
  indexEntries: number;
}

/**
 * Deletes every key under the hash tag of an account whose id starts with `idPrefix` (counters,
 * rankings, dedupe markers) and the demo entries of the account / API key indexes. SCAN-based:
 * meant for the demo tool, not for a request path.
 */
export async function deleteDemoHotData(redis: RedisClient, keyPrefix: string, idPrefix: string): Promise<DemoHotDeleted> {
  const k = hotKeys(keyPrefix);
  // hotKeys tags an account as `${keyPrefix}{a:${encodeURIComponent(id)}}`.
  const pattern = `${globEscape(keyPrefix)}{a:${globEscape(encodeURIComponent(idPrefix))}*`;
  let keys = 0;
  // Per master on a cluster; one UNLINK per key, grouped per slot (a multi-key UNLINK must not span slots).
  for await (const found of scanKeys(redis, pattern)) {
    const replies = await pipelineBySlot(redis, found.map((key) => ({ key, add: (p) => void p.unlink(key) })));
    keys += replies.reduce((n, [err, v]) => n + (err ? 0 : Number(v)), 0);
  }

  let indexEntries = 0;
  for (const hash of [k.accountIndex(), k.apiKeyIndex()]) {
    let c = "0";
    do {
      const [next, flat] = await redis.hscan(hash, c, "MATCH", `${globEscape(idPrefix)}*`, "COUNT", 1000);
      c = next;
      const fields = flat.filter((_, i) => i % 2 === 0);
      if (fields.length) indexEntries += await redis.hdel(hash, ...fields);
    } while (c !== "0");
  }
  return { keys, indexEntries };
}
