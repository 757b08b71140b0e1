import { randomBytes } from "node:crypto";
import { AppError } from "../errors";
import { logger } from "../logger";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import { Drainer } from "./drainer";
import { COUNTER_FIELDS, windowSuffix, type Window } from "./hot-keys";
import { outboxLastId } from "./hot-outbox";
import {
  heldRequestIds,
  lockAccounts,
  replaceAccountCounters,
  setCountersRebuiltAt,
  unlockAccounts,
  type AccountCounters,
  type CounterValues,
} from "./hot-reconcile";
import { addDays } from "../calendar";
import { localCalendar } from "./local-time";
import { findAccountIdsWithUsage, findRecordedRequestIds, hotSnapshot, type SnapshotRow } from "./usage.repository";

/**
 * Rebuilds the Redis counters (recent days, their months, all time) from the PostgreSQL rollups:
 * after Redis was down (events went straight to PostgreSQL) or lost its data.
 *
 * Exact while events keep arriving: per group of accounts it takes each account's reconcile lock
 * (the recording script then counts nothing for it and remembers the request ids it held back),
 * drains the outbox up to the newest entry (so PostgreSQL has everything Redis counted before
 * the lock), reads the rollups in one REPEATABLE READ snapshot, and swaps the account's counters
 * in one script that also marks the held ids the snapshot already contains, so a writer's retry
 * after the lock does not count them twice.
 */
export interface ReconcileOptions {
  /** Local days to rebuild counting back from today (default 2: yesterday and today). */
  days?: number;
  /** Local months to rebuild counting back from this one (default: the months of those days). */
  months?: number;
  /** Only these accounts (default: every account with usage; the "rebuilt" mark is then left as it is). */
  accountIds?: string[];
  now?: number;
  accountsPerRound?: number;
  lockTtlMs?: number;
  drainTimeoutMs?: number;
  /** Test hook: runs while a round of accounts is locked, before the drain and the snapshot. */
  afterLock?: (accountIds: string[]) => void | Promise<void>;
}

export interface ReconcileResult {
  accounts: number;
  /** Accounts another reconciler held, or whose lock expired before the swap. */
  skipped: string[];
  dates: string[];
  months: string[];
  drainedEvents: number;
  durationMs: number;
}

export async function reconcileHotCounters(runtime: Runtime, opts: ReconcileOptions = {}): Promise<ReconcileResult> {
  const started = Date.now();
  const { db, redis, config } = runtime;
  if (!db) throw new AppError("UNAVAILABLE", "Reconciliation rebuilds Redis from PostgreSQL, which is disabled (POSTGRES_ENABLED=false)");
  if (!isRedisReady(redis)) throw new AppError("UNAVAILABLE", "Reconciliation needs Redis, which is not reachable", { retryAfterSeconds: 5 });
  const prefix = config.redisKeyPrefix;
  const today = localCalendar(config.usageTimezone).at(opts.now ?? Date.now()).date;
  const dates = Array.from({ length: Math.max(1, opts.days ?? 2) }, (_, i) => addDays(today, -i));
  const months = [...new Set([...dates.map((d) => d.slice(0, 7)), ...Array.from({ length: opts.months ?? 0 }, (_, i) => addMonths(today.slice(0, 7), -i))])];
  const windows: Window[] = [
    ...dates.map((date) => ({ kind: "d", date }) as const),
    ...months.map((month) => ({ kind: "m", month }) as const),
    { kind: "t" },
  ];
  const lockTtlMs = opts.lockTtlMs ?? 30_000;
  const drainTimeoutMs = opts.drainTimeoutMs ?? 20_000;
  const result: ReconcileResult = { accounts: 0, skipped: [], dates, months, drainedEvents: 0, durationMs: 0 };

  const drainer = new Drainer(config, db, { consumer: `reconcile-${randomBytes(4).toString("hex")}`, claimIdleMs: 5_000, claimIntervalMs: 500 });
  try {
    // Most of the backlog goes before any lock, so that writers wait as little as possible.
    result.drainedEvents += (await drainer.drainAll({ timeoutMs: 10 * drainTimeoutMs })).events;
    const accountIds = opts.accountIds ? [...new Set(opts.accountIds)] : await findAccountIdsWithUsage(db.db);
    const perRound = opts.accountsPerRound ?? 200;
    for (let i = 0; i < accountIds.length; i += perRound) {
      const round = accountIds.slice(i, i + perRound);
      const token = randomBytes(12).toString("hex");
      const locked = await lockAccounts(redis, prefix, round, token, lockTtlMs);
      result.skipped.push(...round.filter((id) => !locked.includes(id)));
      if (!locked.length) continue;
      try {
        await opts.afterLock?.(locked);
        const upTo = await outboxLastId(redis, prefix);
        if (upTo) result.drainedEvents += (await drainer.drainAll({ upToId: upTo, timeoutMs: drainTimeoutMs })).events;
        await db.db
          .transaction()
          .setIsolationLevel("repeatable read")
          .execute(async (trx) => {
            const snapshot = await hotSnapshot(trx, locked, dates, months);
            const byAccount = groupSnapshot(snapshot);
            for (const accountId of locked) {
              const counters = countersFor(windows, byAccount.get(accountId));
              let outcome: "done" | "lost" | "changed" = "changed";
              for (let attempt = 0; attempt < 50 && outcome === "changed"; attempt++) {
                const held = await heldRequestIds(redis, prefix, accountId);
                const inSnapshot = await findRecordedRequestIds(trx, held, accountId);
                outcome = await replaceAccountCounters(redis, prefix, accountId, token, counters, { seen: held.length, inSnapshot });
              }
              if (outcome === "done") result.accounts++;
              else result.skipped.push(accountId);
            }
          });
      } finally {
        // Accounts already swapped were released by the swap; this frees the rest.
        await unlockAccounts(redis, prefix, locked, token).catch(() => {});
      }
    }
    if (!result.skipped.length && !opts.accountIds) await setCountersRebuiltAt(redis, prefix, new Date());
  } finally {
    await drainer.stop({ forget: true });
  }
  result.durationMs = Date.now() - started;
  if (result.skipped.length) logger.warn(`[reconcile] ${result.skipped.length} account(s) not rebuilt (locked elsewhere or lock expired): ${result.skipped.slice(0, 10).join(", ")}`);
  return result;
}

interface AccountRows {
  accounts: SnapshotRow[];
  keys: SnapshotRow[];
  models: SnapshotRow[];
}

/** 'YYYY-MM' plus n months. */
function addMonths(month: string, n: number): string {
  const [y, m] = month.split("-").map(Number) as [number, number];
  const d = new Date(Date.UTC(y, m - 1 + n, 1));
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`;
}

function groupSnapshot(s: { accounts: SnapshotRow[]; keys: SnapshotRow[]; models: SnapshotRow[] }): Map<string, AccountRows> {
  const out = new Map<string, AccountRows>();
  const get = (id: string) => {
    let v = out.get(id);
    if (!v) out.set(id, (v = { accounts: [], keys: [], models: [] }));
    return v;
  };
  for (const r of s.accounts) get(r.accountId).accounts.push(r);
  for (const r of s.keys) get(r.accountId).keys.push(r);
  for (const r of s.models) get(r.accountId).models.push(r);
  return out;
}

function values(r: SnapshotRow): CounterValues {
  const v = { lastUsedAt: r.lastUsedAtMs, lastModel: r.lastModel ?? null } as CounterValues;
  for (const f of COUNTER_FIELDS) v[f] = r[f];
  return v;
}

function countersFor(windows: Window[], rows: AccountRows | undefined): AccountCounters[] {
  // Each row to its window once (an account has up to ~50 windows × its keys and models).
  const bySuffix = new Map<string, { account?: SnapshotRow; keys: [string, CounterValues][]; models: [string, CounterValues][] }>();
  const of = (r: SnapshotRow) => {
    const suffix = windowSuffix(r.window);
    let w = bySuffix.get(suffix);
    if (!w) bySuffix.set(suffix, (w = { keys: [], models: [] }));
    return w;
  };
  for (const r of rows?.accounts ?? []) of(r).account ??= r;
  for (const r of rows?.keys ?? []) of(r).keys.push([r.apiKeyId!, values(r)]);
  for (const r of rows?.models ?? []) of(r).models.push([r.model!, values(r)]);
  return windows.map((window) => {
    const w = bySuffix.get(windowSuffix(window));
    return {
      window,
      account: w?.account ? values(w.account) : undefined,
      keys: new Map(w?.keys ?? []),
      models: new Map(w?.models ?? []),
    };
  });
}
