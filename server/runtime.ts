import { EventEmitter } from "node:events";
import { metrics } from "./metrics/metrics";
import { prepareDatabase, ensureUpcomingPartitions } from "../db";
import { createDatabase, type DbHandle, type DbOptions } from "../db/client";
import { getConfig, type AppConfig } from "./config";
import { connectWithin, createRedis, keepConnecting, type RedisClient } from "./redis";
import { DedupeSeeds } from "./usage/dedupe-seeds";
import { logger } from "./logger";

/**
 * The stores a process talks to. Routers and route handlers get it from getRuntime(); services
 * receive it as an argument, so tests build their own with createRuntime().
 */
export interface Runtime {
  config: AppConfig;
  /** undefined when POSTGRES_ENABLED=false. */
  db: DbHandle | undefined;
  /** DATABASE_READ_URL: a read replica for stats and CSV (store-choice.ts falls back to db). */
  readDb?: DbHandle;
  /** undefined when REDIS_URL is not set. */
  redis: RedisClient | undefined;
  /** Epoch ms for the runtime's own timers (how long a store counts as down); tests move it by hand. */
  clock: Clock;
  /** What the request path tells background work (server/usage/background.ts listens). */
  events: EventEmitter<RuntimeEvents>;
  /** Request ids written straight to PostgreSQL while Redis was bypassed, to dedupe in Redis later. */
  bypassedIds: DedupeSeeds;
  /** Closes connections (background work has its own stop(), see startUsageBackground). */
  close(): Promise<void>;
}

export interface RuntimeEvents {
  /**
   * A write had to bypass Redis (down, failing, or an account stayed locked): the counters miss
   * events until they are rebuilt from PostgreSQL.
   */
  redisBypassed: [];
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "StartupError";
  }
}

export interface CreateRuntimeOptions {
  /** Open a fresh database handle instead of the process-wide one (tests, scripts). */
  ownDatabase?: boolean;
  /** Apply migrations (and seed an empty embedded database). */
  prepare?: boolean;
  clock?: Clock;
}

export async function createRuntime(config: AppConfig, opts: CreateRuntimeOptions = {}): Promise<Runtime> {
  if (!config.postgresEnabled && !config.redisUrl) {
    throw new StartupError(
      "No store is configured: POSTGRES_ENABLED=false and REDIS_URL is unset. Enable PostgreSQL or set REDIS_URL.",
    );
  }
  let db: DbHandle | undefined;
  if (config.postgresEnabled) {
    db = opts.ownDatabase ? await createDatabase(dbOptions(config)) : await processDbHandle(config);
    if (opts.prepare) await prepareDatabase(db, config, (l) => logger.info(l));
  } else {
    logger.warn("[startup] DEGRADED MODE: POSTGRES_ENABLED=false — usage lives only in Redis counters; history, custom ranges and reports are unavailable.");
  }
  let readDb: DbHandle | undefined;
  if (db && config.databaseReadUrl) {
    if (db.kind !== "postgres") logger.warn("[startup] DATABASE_READ_URL is ignored: it needs DATABASE_URL (PostgreSQL) too");
    else {
      readDb = await createDatabase({ ...dbOptions(config), databaseUrl: config.databaseReadUrl, lazy: true });
      logger.info("[startup] reads (stats, CSV) go to the replica of DATABASE_READ_URL, writes to DATABASE_URL");
    }
  }
  let redis: RedisClient | undefined;
  let stopConnecting = () => {};
  if (config.redisUrl) {
    redis = createRedis(config.redisUrl, { name: "usage-breakdown" });
    // A Redis that is down at start-up is not fatal: ingest goes straight to PostgreSQL, and the
    // client keeps trying (a single Redis by itself, a Cluster through keepConnecting).
    await connectWithin(redis).catch((err: Error) => logger.warn(`[startup] Redis unavailable (${err.message}); continuing without it`));
    stopConnecting = keepConnecting(redis);
  } else {
    logger.info("[startup] REDIS_URL is not set: usage is written straight to PostgreSQL, no live counters.");
  }
  const closers: (() => Promise<void>)[] = [];
  const runtime: Runtime = {
    config,
    db,
    readDb,
    redis,
    clock: opts.clock ?? systemClock,
    events: new EventEmitter<RuntimeEvents>(),
    bypassedIds: new DedupeSeeds(),
    async close() {
      for (const c of closers.reverse()) await c().catch(() => {});
      stopConnecting();
      redis?.disconnect();
      if (readDb) await readDb.close().catch(() => {});
      if (db) await db.close().catch(() => {});
    },
  };
  runtime.events.on("redisBypassed", () => metrics().redisBypassed.inc());
  if (db) {
    const timer = setInterval(() => void ensureUpcomingPartitions(db).catch(() => {}), 6 * 3600_000);
    timer.unref();
    closers.push(async () => clearInterval(timer));
  }
  return runtime;
}

function dbOptions(config: AppConfig): DbOptions {
  return {
    databaseUrl: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    poolMax: config.dbPoolMax,
    statementTimeoutMs: config.dbStatementTimeoutMs,
  };
}

/**
 * Process-wide singletons on globalThis, because Next.js may evaluate this module more than once
 * in a process (instrumentation and route bundles), and the embedded database must be opened
 * exactly once.
 */
const g = globalThis as unknown as { __usageRuntime?: Promise<Runtime>; __usageDb?: Promise<DbHandle>; __usageRuntimeStatus?: () => RuntimeStatus };

function processDbHandle(config: AppConfig): Promise<DbHandle> {
  g.__usageDb ??= createDatabase(dbOptions(config)).then((handle) => {
    const shutdown = () => void handle.close().catch(() => {});
    process.once("SIGTERM", shutdown);
    process.once("SIGINT", shutdown);
    return handle;
  });
  g.__usageDb.catch(() => {
    g.__usageDb = undefined;
  });
  return g.__usageDb;
}

/**
 * The process-wide runtime, opened once (migrations applied). Its background work is started by
 * the process's start-up (server/startup.ts), not here.
 */
export function getRuntime(): Promise<Runtime> {
  if (!g.__usageRuntime) {
    g.__usageRuntime = createRuntime(getConfig(), { prepare: true });
    g.__usageRuntimeStatus = trackRuntime(g.__usageRuntime);
  }
  g.__usageRuntime.catch(() => {
    g.__usageRuntime = undefined;
  });
  return g.__usageRuntime;
}

/** Installs a runtime as the process-wide one (tests that call route handlers directly). */
export function setRuntime(runtime: Runtime | undefined): void {
  g.__usageRuntime = runtime ? Promise.resolve(runtime) : undefined;
  g.__usageRuntimeStatus = runtime ? () => ({ state: "ready", runtime }) : undefined;
}

/**
 * Where the process-wide runtime stands, without waiting for it (the readiness probe): "starting"
 * while the stores are opened and the migrations applied, "failed" when that last failed (the next
 * getRuntime() tries again), "idle" before anything asked for it.
 */
export type RuntimeStatus = { state: "idle" } | { state: "starting" } | { state: "failed" } | { state: "ready"; runtime: Runtime };

export function runtimeStatus(): RuntimeStatus {
  return g.__usageRuntimeStatus?.() ?? { state: "idle" };
}

/** The status of a runtime being created: "starting" until the promise settles. */
export function trackRuntime(pending: Promise<Runtime>): () => RuntimeStatus {
  let status: RuntimeStatus = { state: "starting" };
  pending.then(
    (runtime) => (status = { state: "ready", runtime }),
    () => (status = { state: "failed" }),
  );
  return () => status;
}
