import { ping } from "../../db/client";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import { outboxStats } from "../usage/hot-outbox";
import type { CrsFollowerHealth } from "../sources/crs/health";
import { sourcesHealth } from "../sources/health";
import type { SourceHealth } from "../sources/shared/health";

export interface StoreHealth {
  configured: boolean;
  ok: boolean;
  kind?: string;
  error?: string;
}

/** Events accepted into Redis and not yet committed to PostgreSQL. */
export interface OutboxHealth {
  /** False when there is no outbox (PostgreSQL disabled or Redis not configured). */
  enabled: boolean;
  /** Whether the figures below could be read (Redis reachable). */
  ok: boolean;
  /** Stream entries (one per recorded batch) waiting for the drainer. */
  length: number | null;
  oldestAgeSeconds: number | null;
  /** Entries handed to a drainer and not yet acknowledged. */
  pending: number | null;
  consumers: number | null;
  /** Entries PostgreSQL refused for good (see the dead-letter stream). */
  deadLetters: number | null;
}

export interface Health {
  status: "ok" | "degraded" | "down";
  postgres: StoreHealth;
  redis: StoreHealth;
  outbox: OutboxHealth;
  /** The CRS follower as before (kept for existing checks); `sources` has it too. */
  crsFollower: CrsFollowerHealth;
  /** Every relay source the ledger reads (CRS, sub2api …): lease, lag, rows, events, what it skipped. */
  sources: SourceHealth[];
  timezone: string;
}

/** A backlog older than this means the drainer is not keeping up (or not running). */
const STALE_BACKLOG_SECONDS = 300;

/** `nowMs`: the instant lags are measured at (tests inject the follower's clock). */
export async function health(runtime: Runtime, nowMs = Date.now()): Promise<Health> {
  const postgres: StoreHealth = runtime.db
    ? { configured: true, kind: runtime.db.kind, ok: await ping(runtime.db.db) }
    : { configured: false, ok: false };
  const redis: StoreHealth = runtime.redis
    ? { configured: true, ok: await runtime.redis.ping().then(() => true, () => false) }
    : { configured: false, ok: false };
  if (runtime.redis && !redis.ok) redis.error = `connection ${runtime.redis.status}`;
  if (runtime.db && !postgres.ok) postgres.error = "not answering";

  const outbox: OutboxHealth = { enabled: Boolean(runtime.db && runtime.redis), ok: false, length: null, oldestAgeSeconds: null, pending: null, consumers: null, deadLetters: null };
  if (outbox.enabled && isRedisReady(runtime.redis)) {
    try {
      const s = await outboxStats(runtime.redis, runtime.config.redisKeyPrefix);
      Object.assign(outbox, {
        ok: true,
        length: s.length,
        oldestAgeSeconds: s.oldestAgeMs === null ? null : Math.round(s.oldestAgeMs / 1000),
        pending: s.pending,
        consumers: s.consumers,
        deadLetters: s.deadLetters,
      });
    } catch {
      outbox.ok = false;
    }
  }

  const { sources, crsFollower } = await sourcesHealth(runtime, postgres.ok, nowMs);
  const up = [postgres, redis].filter((s) => s.configured && s.ok).length;
  const configured = [postgres, redis].filter((s) => s.configured).length;
  const stale = (outbox.oldestAgeSeconds ?? 0) > STALE_BACKLOG_SECONDS || (outbox.deadLetters ?? 0) > 0 || (crsFollower.configured && !crsFollower.ok) || sources.some((s) => !s.ok);
  return {
    status: up === 0 ? "down" : up < configured || stale ? "degraded" : "ok",
    postgres,
    redis,
    outbox,
    crsFollower,
    sources,
    timezone: runtime.config.usageTimezone,
  };
}
