import { logger } from "../logger";
import { pipelineBySlot, type RedisClient } from "../redis";
import { DEDUPE_TTL_SECONDS, hotKeys } from "./hot-keys";
import { isNoScript, RedisScript } from "./redis-script";

/**
 * Request ids written straight to PostgreSQL while Redis was bypassed: they have no dedupe key in
 * Redis, so a resend after Redis is back would be counted there again (and answered accepted).
 * The recording path writes their dedupe keys (SET NX) before it counts anything in Redis again
 * (usage.service.ts writeHot). Kept in this process, bounded: past MAX_PENDING the oldest are
 * dropped (logged), and a resend of those is counted in Redis until the next rebuild; a process
 * that dies loses its list the same way. PostgreSQL keeps every event once in any case.
 */
export const MAX_PENDING = 250_000;

export class DedupeSeeds {
  private readonly pending = new Map<string, { accountId: string; requestId: string }>();
  private flushing: Promise<void> | undefined;
  private dropped = 0;

  get size(): number {
    return this.pending.size;
  }

  add(events: { accountId: string; requestId: string }[]): void {
    for (const e of events) {
      const id = `${e.accountId}\u0000${e.requestId}`;
      this.pending.delete(id);
      this.pending.set(id, { accountId: e.accountId, requestId: e.requestId });
    }
    for (const id of this.pending.keys()) {
      if (this.pending.size <= MAX_PENDING) break;
      this.pending.delete(id);
      if (this.dropped++ === 0) logger.warn(`[usage] more than ${MAX_PENDING} request ids bypassed Redis: the oldest will not be deduplicated there (PostgreSQL still is)`);
    }
  }

  /**
   * Writes every pending dedupe key; concurrent callers wait for the same write. Rejects (keeping
   * the ids) when Redis fails, so that the caller does not count in Redis either.
   */
  async flush(redis: RedisClient, prefix: string): Promise<void> {
    while (this.flushing || this.pending.size) {
      this.flushing ??= this.writeAll(redis, prefix).finally(() => (this.flushing = undefined));
      await this.flushing;
    }
  }

  private async writeAll(redis: RedisClient, prefix: string): Promise<void> {
    const k = hotKeys(prefix);
    const batch: [string, { accountId: string; requestId: string }][] = [];
    for (const entry of this.pending) {
      batch.push(entry);
      if (batch.length >= 10_000) break;
    }
    const replies = await pipelineBySlot(
      redis,
      batch.map(([, e]) => {
        const key = k.dedupe(e.accountId, e.requestId);
        return { key, add: (p) => void p.set(key, "1", "EX", DEDUPE_TTL_SECONDS, "NX") };
      }),
    );
    const failed = replies.find(([err]) => err)?.[0];
    if (failed) throw failed;
    for (const [id] of batch) this.pending.delete(id);
  }
}

const seedScript = new RedisScript("seed-dedupe.lua");
const KEYS_PER_CALL = 2_000;

/**
 * The dedupe keys of request ids written to PostgreSQL in bulk (server/sources/shared/bulk.ts),
 * at once: one script call per account and 2,000 ids instead of one command per id, which is what
 * the client would spend most of a bulk write's time on.
 */
export async function seedDedupeKeys(redis: RedisClient, prefix: string, events: { accountId: string; requestId: string }[]): Promise<void> {
  const k = hotKeys(prefix);
  const byAccount = new Map<string, string[]>();
  for (const e of events) {
    const keys = byAccount.get(e.accountId);
    if (keys) keys.push(k.dedupe(e.accountId, e.requestId));
    else byAccount.set(e.accountId, [k.dedupe(e.accountId, e.requestId)]);
  }
  const calls: string[][] = [];
  for (const keys of byAccount.values()) for (let i = 0; i < keys.length; i += KEYS_PER_CALL) calls.push(keys.slice(i, i + KEYS_PER_CALL));
  const replies = await pipelineBySlot(redis, calls.map((keys) => ({ key: keys[0]!, add: (p) => seedScript.queue(p, keys, [DEDUPE_TTL_SECONDS]) })));
  for (const [i, [err]] of replies.entries()) {
    if (err && isNoScript(err)) await seedScript.run(redis, calls[i]!, [DEDUPE_TTL_SECONDS]);
    else if (err) throw err;
  }
}
