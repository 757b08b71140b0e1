import { upsertAccount, upsertApiKey } from "../accounts/accounts.service";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import { Drainer } from "../usage/drainer";
import { outboxStats } from "../usage/hot-outbox";
import { recordUsage } from "../usage/usage.service";
import { buildDemoPlan, DEMO_PREFIX, type DemoFigures, type DemoOptions } from "./demo-plan";
import { deleteDemoData, type DemoDeleted } from "./demo.repository";
import { deleteDemoHotData, type DemoHotDeleted } from "./demo.hot-store";

/**
 * Demo data through the same services the relay uses: accounts and keys through the accounts
 * service, usage through recordUsage (Redis counters + outbox → PostgreSQL, or PostgreSQL
 * directly), so both stores hold it exactly as they would hold real traffic.
 */

export const DEMO_BATCH_SIZE = 500;

export interface DemoCleanResult {
  db: DemoDeleted | null;
  redis: DemoHotDeleted | null;
}

/**
 * Waits until everything recorded so far has reached PostgreSQL, helping with a drainer of its
 * own (a running server's drainer may take part too). Returns the events this process moved.
 */
async function drainOutbox(runtime: Runtime): Promise<number> {
  if (!runtime.db || !isRedisReady(runtime.redis)) return 0;
  const { lastId } = await outboxStats(runtime.redis, runtime.config.redisKeyPrefix);
  if (!lastId) return 0;
  const drainer = new Drainer(runtime.config, runtime.db);
  try {
    return (await drainer.drainAll({ upToId: lastId, timeoutMs: 120_000 })).inserted;
  } finally {
    await drainer.stop({ forget: true });
  }
}

/**
 * Removes every demo id (accounts, keys, usage, rollups, Redis counters) and nothing else. Demo
 * events still in the Redis outbox (an interrupted run) are written first, so that a drainer
 * cannot bring them back after the cleanup.
 */
export async function cleanDemoData(runtime: Runtime): Promise<DemoCleanResult> {
  await drainOutbox(runtime);
  const db = runtime.db ? await runtime.db.db.transaction().execute((tx) => deleteDemoData(tx, DEMO_PREFIX)) : null;
  const redis = isRedisReady(runtime.redis) ? await deleteDemoHotData(runtime.redis, runtime.config.redisKeyPrefix, DEMO_PREFIX) : null;
  return { db, redis };
}

export interface GenerateProgress {
  phase: "clean" | "accounts" | "events" | "drain";
  done: number;
  total: number;
}

export interface GenerateResult {
  figures: DemoFigures;
  cleaned: DemoCleanResult;
  accepted: number;
  duplicates: number;
  /** Events the generator itself moved from the outbox into PostgreSQL (others may have been moved by a running server). */
  drained: number;
}

/**
 * Replaces the demo data set with the one for `options` (clean first, so that a re-run with the
 * same seed gives the same figures) and returns the figures it wrote. With Redis in front of
 * PostgreSQL, waits until the outbox has reached PostgreSQL, so that both stores agree when it
 * returns.
 */
export async function generateDemoData(
  runtime: Runtime,
  options: DemoOptions,
  onProgress: (p: GenerateProgress) => void = () => {},
  now = new Date(),
): Promise<GenerateResult> {
  onProgress({ phase: "clean", done: 0, total: 1 });
  const cleaned = await cleanDemoData(runtime);
  onProgress({ phase: "clean", done: 1, total: 1 });

  const plan = buildDemoPlan(options, runtime.config.usageTimezone, now);
  const metaTotal = plan.accounts.length + plan.keys.length;
  let metaDone = 0;
  for (const a of plan.accounts) {
    await upsertAccount(runtime, { ...a, metadata: { demo: true } });
    onProgress({ phase: "accounts", done: ++metaDone, total: metaTotal });
  }
  for (const k of plan.keys) {
    await upsertApiKey(runtime, { id: k.id, name: k.name, accountId: k.accountId, status: "active", metadata: { demo: true } });
    onProgress({ phase: "accounts", done: ++metaDone, total: metaTotal });
  }

  let accepted = 0;
  let duplicates = 0;
  for (let i = 0; i < plan.events.length; i += DEMO_BATCH_SIZE) {
    const batch = plan.events.slice(i, i + DEMO_BATCH_SIZE);
    const r = await recordUsage(runtime, { events: batch });
    if (r.rejected.length) {
      const first = r.rejected[0]!;
      throw new Error(`recordUsage rejected ${r.rejected.length} demo event(s); first: #${i + first.index} ${first.code} ${first.message}`);
    }
    accepted += r.accepted;
    duplicates += r.duplicates;
    onProgress({ phase: "events", done: Math.min(i + batch.length, plan.events.length), total: plan.events.length });
  }

  onProgress({ phase: "drain", done: 0, total: 1 });
  const drained = await drainOutbox(runtime);
  onProgress({ phase: "drain", done: 1, total: 1 });
  return { figures: plan.figures, cleaned, accepted, duplicates, drained };
}
