import { MEASURES, counterField } from "../../db/measures";
import type { Db } from "../../db/types";
import { localDate, monthOf } from "../calendar";
import { logger } from "../logger";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import type { Window } from "../usage/hot-keys";
import { readAccountCounters } from "../usage-stats/hot-reader";
import { accountIdsOf, type AlertSubject, type Values } from "./figures.repository";
import type { WindowSpec } from "./windows";

/**
 * The freshest figure of today and this month for the subjects the live Redis counters hold (an
 * account, each account, a platform, everything): Redis is written first and PostgreSQL's rollups
 * follow through the outbox, while an event written past Redis (down, bypassed) reaches only
 * PostgreSQL until the counters are rebuilt. Neither store counts an event twice, so each lags and
 * never leads: the larger of the two is the freshest. Keys and models (and rolling windows) are
 * answered by PostgreSQL alone.
 */

const LIVE_KINDS = new Set<AlertSubject["kind"]>(["account", "each_account", "all", "platform"]);

export async function freshestValues(runtime: Runtime, db: Db, subject: AlertSubject, measure: string, w: WindowSpec, now: Date, fromPg: Values): Promise<Values> {
  const redis = runtime.redis;
  if ((w.kind !== "today" && w.kind !== "month") || !LIVE_KINDS.has(subject.kind) || !redis || !isRedisReady(redis)) return fromPg;
  const m = MEASURES.find((x) => x.name === measure);
  if (!m) return fromPg;
  try {
    const today = localDate(now, runtime.config.usageTimezone);
    const window: Window = w.kind === "today" ? { kind: "d", date: today } : { kind: "m", month: monthOf(today) };
    const ids = subject.kind === "account" ? [subject.id!] : await accountIdsOf(db, subject.kind === "platform" ? subject.id! : undefined);
    const field = counterField(m) as string;
    const counters = await readAccountCounters(redis, runtime.config.redisKeyPrefix, ids, [window]);
    const hot: Values = new Map();
    ids.forEach((id, i) => {
      const v = BigInt((counters[i]![0] as unknown as Record<string, number | bigint>)[field] ?? 0);
      const key = subject.kind === "each_account" ? id : "";
      if (v !== 0n || subject.kind !== "each_account") hot.set(key, (hot.get(key) ?? 0n) + v);
    });
    const out: Values = new Map(fromPg);
    for (const [k, v] of hot) if (v > (out.get(k) ?? 0n)) out.set(k, v);
    return out;
  } catch (err) {
    logger.debug(`[alerts] live counters unavailable, using PostgreSQL: ${(err as Error).message}`);
    return fromPg;
  }
}
