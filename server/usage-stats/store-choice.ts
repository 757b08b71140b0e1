import { ping, type DbKind } from "../../db/client";
import type { Db } from "../../db/types";
import { AppError } from "../errors";
import { logger } from "../logger";
import { isRedisReady, type RedisClient } from "../redis";
import type { Runtime } from "../runtime";
import type { Window } from "../usage/hot-keys";
import { metrics } from "../metrics/metrics";
import { isDatabaseUnavailable, isStatementTimeout } from "../../db/errors";
import { answerZone, type ResolvedRange } from "./range";
import { canonicalTimeZone, firstDayOf, localDate, monthOf } from "../calendar";

/**
 * Which store answers a usage question (stats.service.ts asks): PostgreSQL's rollups; when it is
 * disabled or unreachable, the live Redis counters, for what they hold exactly (today, this month,
 * all time of USAGE_TIMEZONE) — anything else is a 503 naming why. Each request tries PostgreSQL
 * again, after a pause of PG_RETRY_AFTER_MS once it was found down, so recovery needs no restart.
 */

export type Source = "postgres" | "redis";

export const PG_RETRY_AFTER_MS = 2_000;
const pgDownUntil = new WeakMap<object, number>();

export async function answer<T>(
  runtime: Runtime,
  fromPostgres: (db: Db, kind: DbKind) => Promise<T>,
  fromRedis: (redis: RedisClient, why: string) => Promise<T>,
): Promise<{ value: T; source: Source }> {
  const handle = runtime.db;
  const replica = runtime.readDb;
  if (handle && replica && (pgDownUntil.get(replica) ?? 0) <= runtime.clock.now()) {
    try {
      const value = await fromPostgres(replica.db, replica.kind);
      metrics().reads.inc({ source: "replica" });
      return { value, source: "postgres" };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isStatementTimeout(err)) throw tooSlow();
      // Down, or a query cancelled by the replay of the primary's WAL (40001): ask the primary.
      if (!(await ping(replica.db))) {
        pgDownUntil.set(replica, runtime.clock.now() + PG_RETRY_AFTER_MS);
        logger.warn(`[usage-stats] read replica unreachable (${(err as Error).message}); reading from the primary`);
      } else if (!isDatabaseUnavailable(err) && (err as { code?: unknown }).code !== "40001") throw err;
    }
  }
  if (handle && (pgDownUntil.get(handle) ?? 0) <= runtime.clock.now()) {
    try {
      const value = await fromPostgres(handle.db, handle.kind);
      metrics().reads.inc({ source: "postgres" });
      return { value, source: "postgres" };
    } catch (err) {
      if (err instanceof AppError) throw err;
      if (isStatementTimeout(err)) throw tooSlow();
      // A failing query on a database that still answers is a bug, not an outage: let it surface.
      if (await ping(handle.db)) throw err;
      pgDownUntil.set(handle, runtime.clock.now() + PG_RETRY_AFTER_MS);
      logger.warn(`[usage-stats] PostgreSQL unreachable (${(err as Error).message}); answering from Redis`);
    }
  }
  const why = handle ? "PostgreSQL is unreachable" : "PostgreSQL is disabled (POSTGRES_ENABLED=false)";
  const redis = runtime.redis;
  if (!redis) throw new AppError("UNAVAILABLE", `${why} and Redis is not configured`, { retryAfterSeconds: 5 });
  if (!isRedisReady(redis)) throw new AppError("UNAVAILABLE", `${why} and Redis is unavailable`, { retryAfterSeconds: 5 });
  try {
    const value = await fromRedis(redis, why);
    metrics().reads.inc({ source: "redis" });
    return { value, source: "redis" };
  } catch (err) {
    if (err instanceof AppError) throw err;
    logger.warn(`[usage-stats] Redis read failed: ${(err as Error).message}`);
    throw new AppError("UNAVAILABLE", `${why} and reading the Redis counters failed`, { retryAfterSeconds: 5 });
  }
}

function tooSlow(): AppError {
  return new AppError("UNAVAILABLE", "The query took longer than the database statement timeout; try again or ask for a shorter range", { retryAfterSeconds: 5 });
}

export function unavailable(why: string, what: string): AppError {
  return new AppError("UNAVAILABLE", `${why}; the live Redis counters cannot answer ${what} exactly, so it needs PostgreSQL`, {
    retryAfterSeconds: 30,
  });
}

/** Today and this month in the zone a request is answered in. */
export interface ZonedToday {
  timezone: string;
  today: string;
  month: string;
}

export function zonedToday(runtime: Runtime, tz: string | undefined, now: Date): ZonedToday {
  const timezone = answerZone(runtime.config.usageTimezone, tz);
  const today = localDate(now, timezone);
  return { timezone, today, month: monthOf(today) };
}

/** The counters are keyed by days of USAGE_TIMEZONE; another zone, even an equal one, needs PostgreSQL. */
export function assertConfiguredZone(runtime: Runtime, c: ZonedToday, why: string) {
  const configured = canonicalTimeZone(runtime.config.usageTimezone);
  if (c.timezone !== configured) throw unavailable(why, `tz=${c.timezone} (the counters are kept in ${configured})`);
}

/** The counter window that holds a range, or 503 when no window holds exactly that range. */
export function hotWindow(range: ResolvedRange, c: ZonedToday, why: string): Window {
  if (range.name === "total") return { kind: "t" };
  if (range.name === "daily" && range.start === c.today) return { kind: "d", date: c.today };
  if (range.name === "monthly" && range.start === firstDayOf(c.month)) return { kind: "m", month: c.month };
  const what = range.name === "custom" ? "a custom range" : range.name === "daily" ? `the past day ${range.start}` : `the past month ${monthOf(range.start!)}`;
  throw unavailable(why, what);
}

export function notFound(id: string): AppError {
  return new AppError("NOT_FOUND", `Account "${id}" does not exist`);
}
