import { FIGURES } from "../../server/usage-stats/schemas";
import pg from "pg";
import { sql } from "kysely";
import { loadMigrations, migrate } from "../../db/migrator";
import { createApiToken } from "../../server/auth/token.service";
import { parseConfig } from "../../server/config";
import { createRedis, type RedisClient } from "../../server/redis";
import { createRuntime, type Runtime } from "../../server/runtime";
import { parseCsvRecords } from "../../server/testing/csv";
import { outboxStats } from "../../server/usage/hot-outbox";
import { expectedFigures, localDate, nanosOf, pgFigures, redisFigures, rng, withoutModelTotals, type Expected, type Sums } from "../../server/usage/usage.fixtures";
import type { UsageEvent } from "../../server/usage/schemas";
import { startApp, startWorker, type AppEnv, type AppProcess } from "./infra";
import { waitFor, type OwnCluster, type OwnPostgres, type OwnRedis } from "../../server/testing/servers";

/**
 * One scenario's world: its own database on the suite's cluster, its own Redis key prefix, the app
 * started against them, tokens, a client that records what was acknowledged, and the final audit
 * comparing every store and read endpoint with the acknowledged events.
 */

export const TZ = "Asia/Shanghai";
export const ADMIN_PASSWORD = "faults-admin-password-0123";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface Servers {
  pg: OwnPostgres;
  redis: OwnRedis;
  /** A 3-master Redis Cluster with AOF (fsync always), started for the scenarios that use it. */
  cluster?: () => Promise<OwnCluster>;
  logDir: string;
}

export interface WorldOptions {
  accounts?: number;
  keysPerAccount?: number;
  /** Another Redis than the suite's redis-server (e.g. `redis-cluster://…`). */
  redisUrl?: string;
  /**
   * App processes started together on the empty database (they race the migrations), each taking
   * a share of the ingest. Default 1 (migrated by the suite first).
   */
  nodes?: number;
  /** Also a separate `npm run worker` process (the drainer without HTTP), started with the nodes. */
  worker?: boolean;
}

export class Latencies {
  private readonly values: number[] = [];
  add(ms: number) {
    this.values.push(ms);
  }
  get count() {
    return this.values.length;
  }
  p(q: number): number | null {
    if (!this.values.length) return null;
    const s = [...this.values].sort((a, b) => a - b);
    return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
  }
}

export interface Counts {
  sent: number;
  acknowledged: number;
  /** 5xx other than the documented 503 + Retry-After of "both stores down". */
  unexpected5xx: number;
  /** 503 with Retry-After while both stores were down (by design; the client retried). */
  refused503: number;
  /** Connection errors (the app was being killed); the client retried. */
  connectionErrors: number;
  ingestP99: Latencies;
  readP99: Latencies;
  reads: number;
  redisSourcedReads: number;
}

export interface AuditResult {
  stored: number;
  duplicates: number;
  lost: number;
  problems: string[];
}

let dbSeq = 0;

export class World {
  readonly events = new Map<string, UsageEvent>();
  readonly acked = new Set<string>();
  readonly counts: Counts = {
    sent: 0,
    acknowledged: 0,
    unexpected5xx: 0,
    refused503: 0,
    connectionErrors: 0,
    ingestP99: new Latencies(),
    readP99: new Latencies(),
    reads: 0,
    redisSourcedReads: 0,
  };
  readonly notes: string[] = [];
  readonly failures: string[] = [];
  /** Why a writer of a steady stream gave up, if one did: no wait on its events can succeed then. */
  writerStopped?: string;
  /** The app the reads and the audit go to. */
  app!: AppProcess;
  /** The apps taking the ingest, in turn (a killed one is taken out by the scenario). */
  apps: AppProcess[] = [];
  worker?: AppProcess;
  /** Every process started, to report any that died on its own. */
  private readonly processes: AppProcess[] = [];
  private turn = 0;
  runtime!: Runtime;
  writeToken!: string;
  readToken!: string;
  adminToken!: string;
  redisClient!: RedisClient;
  private appSeq = 0;
  accounts: string[] = [];
  keysOf = new Map<string, string[]>();

  constructor(
    readonly servers: Servers,
    readonly name: string,
    readonly databaseUrl: string,
    readonly prefix: string,
    readonly redisUrl: string = servers.redis.url,
  ) {}

  static async create(servers: Servers, name: string, opts: WorldOptions = {}): Promise<World> {
    const db = `faults_${name.replace(/[^a-z0-9]/g, "")}_${++dbSeq}`;
    const admin = new pg.Client({ connectionString: servers.pg.url });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${db}`);
    await admin.end();
    const url = new URL(servers.pg.url);
    url.pathname = `/${db}`;
    const w = new World(servers, name, url.toString(), `flt${dbSeq}${name.replace(/[^a-z0-9]/g, "").slice(0, 12)}:`, opts.redisUrl);
    const config = parseConfig({
      NODE_ENV: "test",
      DATABASE_URL: w.databaseUrl,
      REDIS_URL: w.redisUrl,
      REDIS_KEY_PREFIX: w.prefix,
      ADMIN_PASSWORD,
      USAGE_TIMEZONE: TZ,
      LOG_LEVEL: "error",
      DB_POOL_MAX: "3",
    });
    w.runtime = await createRuntime(config, { ownDatabase: true });
    const nodes = opts.nodes ?? 1;
    const several = nodes > 1 || opts.worker;
    // One node: migrated here first. Several: the processes start at once on the empty database
    // and race the migrations (the migrator's advisory lock lets one apply them, the others wait).
    let starting: Promise<AppProcess>[] = [];
    if (several) {
      starting = Array.from({ length: nodes }, (_, i) => startApp(w.appEnv(), servers.logDir, `${name}-node-${i + 1}`));
      if (opts.worker) starting.push(startWorker(w.appEnv(), servers.logDir, `${name}-worker`));
      const started = await Promise.all(starting);
      w.processes.push(...started);
      w.apps = started.slice(0, nodes);
      w.app = w.apps[0]!;
      if (opts.worker) w.worker = started[nodes];
      await w.waitMigrated();
    } else await migrate(w.runtime.db!);
    w.writeToken = (await createApiToken(w.runtime, { name: "faults writer", scope: "usage:write" })).token;
    w.readToken = (await createApiToken(w.runtime, { name: "faults reader", scope: "usage:read" })).token;
    w.adminToken = (await createApiToken(w.runtime, { name: "faults admin", scope: "admin" })).token;
    w.redisClient = createRedis(w.redisUrl, { name: "faults-audit" });
    await w.redisClient.connect();
    const nAcc = opts.accounts ?? 5;
    const nKeys = opts.keysPerAccount ?? 3;
    for (let a = 1; a <= nAcc; a++) {
      const acc = `${name}-acc-${a}`;
      w.accounts.push(acc);
      w.keysOf.set(acc, Array.from({ length: nKeys }, (_, k) => `${name}-key-${a}-${k + 1}`));
    }
    if (several) {
      await Promise.all(w.apps.map((app) => w.waitHealthy(app)));
      if (w.worker) await w.waitWorker(w.worker);
    } else await w.startApp();
    // Metadata through the REST routes, as the relay syncs it (PostgreSQL and the Redis index).
    for (const acc of w.accounts) {
      await w.must("PUT", `/admin/accounts/${acc}`, { name: `Account ${acc}`, platform: "claude", type: "oauth", status: "active", priority: 50 });
      for (const key of w.keysOf.get(acc)!) await w.must("PUT", `/admin/api-keys/${key}`, { name: `Key ${key}`, accountId: acc, status: "active" });
    }
    return w;
  }

  appEnv(): AppEnv {
    return { databaseUrl: this.databaseUrl, redisUrl: this.redisUrl, prefix: this.prefix, adminPassword: ADMIN_PASSWORD };
  }

  /** (Re)starts the one app of a single-node world and waits until it is healthy. */
  async startApp(): Promise<void> {
    this.app = await startApp(this.appEnv(), this.servers.logDir, `${this.name}-${++this.appSeq}`);
    this.apps = [this.app];
    this.processes.push(this.app);
    await this.waitHealthy(this.app);
  }

  async waitHealthy(app: AppProcess): Promise<void> {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const crashed = app.crashed();
      if (crashed) throw new Error(`the app exited during start-up (${crashed}):\n${app.logTail()}`);
      try {
        const res = await fetch(`${app.baseUrl}/admin/health`, { headers: { authorization: `Bearer ${this.readToken}` } });
        if (res.status === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`the app did not become healthy:\n${app.logTail()}`);
      await sleep(200);
    }
  }

  /** The worker says it drains once its runtime is up (scripts/worker.ts). */
  async waitWorker(worker: AppProcess): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (!worker.logTail(200).includes("[worker] draining")) {
      const crashed = worker.crashed();
      if (crashed) throw new Error(`the worker exited during start-up (${crashed}):\n${worker.logTail()}`);
      if (Date.now() > deadline) throw new Error(`the worker did not start:\n${worker.logTail()}`);
      await sleep(200);
    }
  }

  /** Every migration applied once (by whichever process won the lock), or a process died trying. */
  async waitMigrated(): Promise<void> {
    const want = loadMigrations().length;
    const deadline = Date.now() + 90_000;
    for (;;) {
      const dead = this.processes.find((p) => p.crashed());
      if (dead) throw new Error(`a process exited during start-up (${dead.crashed()}):\n${dead.logTail()}`);
      const n = await sql<{ n: number }>`select count(*)::int as n from schema_migrations`
        .execute(this.runtime.db!.db)
        .then((r) => r.rows[0]!.n)
        .catch(() => 0); // not created yet
      if (n >= want) return;
      if (Date.now() > deadline) throw new Error(`migrations not applied within 90 s (${n} of ${want})`);
      await sleep(200);
    }
  }

  /** The ingest target of the next attempt: the apps in turn. */
  private nextApp(): AppProcess {
    return this.apps[this.turn++ % this.apps.length] ?? this.app;
  }

  async close(): Promise<void> {
    for (const p of this.processes) await p.kill().catch(() => {});
    this.redisClient?.disconnect();
    await this.runtime?.close().catch(() => {});
  }

  /** A request that must succeed (set-up). */
  async must(method: string, path: string, body?: unknown, token = this.writeToken): Promise<unknown> {
    const res = await fetch(`${this.app.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { "content-type": "application/json" }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => undefined);
    if (!res.ok) throw new Error(`${method} ${path} → ${res.status} ${JSON.stringify(json)}`);
    return json;
  }

  // ---------------------------------------------------------------- events

  private seq = 0;
  private readonly rand = rng(0x5eed ^ dbSeq);

  /** A batch of fresh, valid events (recorded as sent once posted). */
  makeBatch(size: number): UsageEvent[] {
    const r = this.rand;
    const now = Date.now();
    const out: UsageEvent[] = [];
    for (let i = 0; i < size; i++) {
      const n = ++this.seq;
      const acc = this.accounts[Math.floor(r() * this.accounts.length)]!;
      const keys = this.keysOf.get(acc)!;
      const cents = Math.floor(r() * 500_000_000); // up to 5 USD in 1e-8 steps
      const e: UsageEvent = {
        requestId: `${this.name}-${n}`,
        occurredAt: new Date(now - 1000 - Math.floor(r() * 600_000)).toISOString(),
        accountId: acc,
        apiKeyId: keys[Math.floor(r() * keys.length)]!,
        model: ["claude-sonnet-4", "claude-opus-4", "gpt-4.1"][Math.floor(r() * 3)]!,
        inputTokens: Math.floor(r() * 40_000),
        outputTokens: Math.floor(r() * 8_000),
        cacheCreateTokens: r() < 0.3 ? Math.floor(r() * 20_000) : 0,
        cacheReadTokens: r() < 0.5 ? Math.floor(r() * 90_000) : 0,
        cost: n % 3 === 0 ? cents / 1e8 : (cents / 1e8).toFixed(8),
      };
      if (n % 4 === 0) e.ephemeral5mTokens = Math.floor(r() * 1000);
      if (n % 7 === 0) e.requests = 1 + Math.floor(r() * 3);
      // Half the events are rated apart from their real cost (a relay's key rates).
      if (n % 2 === 0) e.ratedCost = (Math.floor(r() * 700_000_000) / 1e8).toFixed(8);
      out.push(e);
    }
    return out;
  }

  /**
   * Posts a batch like the relay does: retries the same batch (same request ids) on a connection
   * error or a 503 until it is acknowledged (202). Returns the parsed 202 body.
   */
  async ingest(batch: UsageEvent[], opts: { maxWaitMs?: number; allow503?: boolean } = {}): Promise<{ accepted: number; duplicates: number; rejected: unknown[] }> {
    for (const e of batch) this.events.set(e.requestId, e);
    this.counts.sent += batch.length;
    const body = JSON.stringify({ events: batch });
    const deadline = Date.now() + (opts.maxWaitMs ?? 120_000);
    let delay = 100;
    for (;;) {
      const started = performance.now();
      try {
        const res = await fetch(`${this.nextApp().baseUrl}/admin/usage`, {
          method: "POST",
          headers: { authorization: `Bearer ${this.writeToken}`, "content-type": "application/json" },
          body,
          signal: AbortSignal.timeout(60_000),
        });
        const json = (await res.json().catch(() => undefined)) as { data?: { accepted: number; duplicates: number; rejected: unknown[] } } | undefined;
        if (res.status === 202 && json?.data) {
          this.counts.ingestP99.add(performance.now() - started);
          for (const e of batch) this.acked.add(e.requestId);
          this.counts.acknowledged = this.acked.size;
          return json.data;
        }
        if (res.status === 503 && res.headers.get("retry-after") && opts.allow503) {
          this.counts.refused503++;
        } else if (res.status >= 500) {
          this.counts.unexpected5xx++;
          this.fail(`POST /admin/usage → ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
        } else {
          throw new Error(`POST /admin/usage → ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
        }
      } catch (err) {
        if ((err as Error).message.startsWith("POST /admin/usage")) throw err;
        this.counts.connectionErrors++;
      }
      if (Date.now() > deadline) throw new Error(`a batch was not acknowledged within ${opts.maxWaitMs ?? 120_000} ms`);
      await sleep(delay);
      delay = Math.min(delay * 2, 1000);
    }
  }

  fail(msg: string) {
    if (this.failures.length < 50) this.failures.push(msg);
  }

  /** A GET with the read token; counts 5xx and latency. */
  async read(path: string): Promise<{ status: number; json: Record<string, unknown> | undefined }> {
    const started = performance.now();
    const res = await fetch(`${this.app.baseUrl}${path}`, { headers: { authorization: `Bearer ${this.readToken}` }, signal: AbortSignal.timeout(60_000) });
    const json = (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    this.counts.readP99.add(performance.now() - started);
    this.counts.reads++;
    if (json?.source === "redis") this.counts.redisSourcedReads++;
    if (res.status >= 500) {
      this.counts.unexpected5xx++;
      this.fail(`GET ${path} → ${res.status} ${JSON.stringify(json).slice(0, 300)}`);
    }
    return { status: res.status, json };
  }

  // ---------------------------------------------------------------- waiting

  /**
   * Waits until `done` holds (a phase's purpose: events acknowledged, a store seen down …), for at
   * most `timeoutMs`; fails at once when a writer gave up.
   */
  async until(what: string, done: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
    const started = Date.now();
    const ended = await waitFor(async () => (await done()) || this.writerStopped !== undefined, what, timeoutMs).catch(() => false);
    const state = `${((Date.now() - started) / 1000).toFixed(1)} s, ${this.counts.sent} events sent, ${this.acked.size} acknowledged`;
    if (this.writerStopped !== undefined) throw new Error(`a writer gave up while waiting for ${what} (${state}): ${this.writerStopped}`);
    if (!ended) throw new Error(`not reached within ${timeoutMs / 1000} s: ${what} (${state})`);
  }

  /** Waits until `n` more events than now are acknowledged. */
  async acknowledgedMore(n: number, what: string, timeoutMs?: number): Promise<void> {
    const target = this.acked.size + n;
    await this.until(`${n.toLocaleString("en")} events acknowledged ${what}`, () => this.acked.size >= target, timeoutMs);
  }

  /** The store health as the app reports it (GET /admin/health), undefined while it does not answer. */
  async health(): Promise<{ postgres: { ok: boolean }; redis: { ok: boolean } } | undefined> {
    try {
      const res = await fetch(`${this.app.baseUrl}/admin/health`, { headers: { authorization: `Bearer ${this.readToken}` }, signal: AbortSignal.timeout(10_000) });
      const json = (await res.json()) as { data?: { postgres: { ok: boolean }; redis: { ok: boolean } } };
      return json.data;
    } catch {
      return undefined;
    }
  }

  /** The request ids posted so far (to tell later ones apart). */
  posted(): Set<string> {
    return new Set(this.events.keys());
  }

  /** Ids first posted after `before` was taken, and acknowledged. */
  acknowledgedSince(before: Set<string>): string[] {
    return [...this.acked].filter((id) => !before.has(id));
  }

  /** How many of these request ids have a row in usage_records. */
  async storedCount(requestIds: string[]): Promise<number> {
    const r = await sql<{ n: number }>`select count(*)::int as n from usage_records where request_id = any(${requestIds}::text[])`.execute(this.runtime.db!.db);
    return r.rows[0]!.n;
  }

  async waitDrained(timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const s = await outboxStats(this.redisClient, this.prefix);
        if (s.length === 0 && s.pending === 0) {
          const rows = await this.pgRowCount();
          if (rows >= this.acked.size) return;
        }
      } catch {
        // a store is still coming back
      }
      if (Date.now() > deadline) throw new Error(`the outbox did not drain within ${timeoutMs} ms`);
      await sleep(250);
    }
  }

  async pgRowCount(): Promise<number> {
    const r = await sql<{ n: number }>`select count(*)::int as n from usage_records`.execute(this.runtime.db!.db);
    return r.rows[0]!.n;
  }

  expected(): Expected {
    return expectedFigures([...this.acked].map((id) => this.events.get(id)!), TZ);
  }

  // ---------------------------------------------------------------- the audit

  /**
   * PostgreSQL raw rows and every rollup, the Redis counters (retried while a reconcile may still
   * run) and every read endpoint, against the figures of the acknowledged events.
   */
  async audit(opts: { redisTimeoutMs?: number } = {}): Promise<AuditResult> {
    const problems: string[] = [];
    const expected = this.expected();
    const db = this.runtime.db!.db;

    const raw = await sql<{ request_id: string; n: number }>`select request_id, count(*)::int as n from usage_records group by request_id`.execute(db);
    let stored = 0;
    let duplicates = 0;
    const storedIds = new Set<string>();
    for (const r of raw.rows) {
      stored += r.n;
      storedIds.add(r.request_id);
      if (r.n > 1) duplicates += r.n - 1;
      if (!this.acked.has(r.request_id)) {
        // Stored but never acknowledged: only a batch the client gave up on could do that.
        duplicates += 1;
        problems.push(`row ${r.request_id} is stored but was never acknowledged`);
      }
    }
    let lost = 0;
    for (const id of this.acked) if (!storedIds.has(id)) lost++;
    if (lost) problems.push(`${lost} acknowledged events are missing from usage_records`);
    if (duplicates) problems.push(`${duplicates} duplicate rows in usage_records`);

    const pgf = await pgFigures(db);
    if (pgf.rows !== expected.rows) problems.push(`usage_records has ${pgf.rows} rows, expected ${expected.rows}`);
    if (pgf.costNanos !== expected.costNanos) problems.push(`sum(total_cost) ${pgf.costNanos} nano-USD, expected ${expected.costNanos}`);
    if (pgf.ratedCostNanos !== expected.ratedCostNanos) problems.push(`sum(rated cost) ${pgf.ratedCostNanos} nano-USD, expected ${expected.ratedCostNanos}`);
    compareMaps("PostgreSQL account rollups", pgf.account, expected.account, problems);
    compareMaps("PostgreSQL key rollups", pgf.key, expected.key, problems);
    compareMaps("PostgreSQL model rollups", pgf.model, expected.model, problems);
    for (const [k, v] of expected.keyCostNanos) {
      if ((pgf.keyCostNanos.get(k) ?? 0n) !== v) problems.push(`api_keys.total_cost_accumulated of ${k}: ${pgf.keyCostNanos.get(k)} vs ${v}`);
    }

    // Redis: a reconcile may still be rebuilding after an outage; give it time, then report.
    const deadline = Date.now() + (opts.redisTimeoutMs ?? 45_000);
    let redisProblems: string[] = [];
    for (;;) {
      redisProblems = [];
      try {
        const { figures, layoutMismatches } = await redisFigures(this.redisClient, this.prefix, expected);
        compareMaps("Redis account counters", figures.account, expected.account, redisProblems);
        compareMaps("Redis key counters", figures.key, expected.key, redisProblems);
        compareMaps("Redis model counters", figures.model, withoutModelTotals(expected), redisProblems);
        redisProblems.push(...layoutMismatches);
      } catch (err) {
        redisProblems.push(`reading Redis failed: ${(err as Error).message}`);
      }
      if (!redisProblems.length || Date.now() > deadline) break;
      await sleep(500);
    }
    problems.push(...redisProblems);

    problems.push(...(await this.auditReads(expected)));
    for (const p of this.processes) {
      const crashed = p.crashed();
      if (crashed) problems.push(`a process (${p === this.worker ? "the worker" : `the app on :${p.port}`}) died on its own: ${crashed}`);
    }
    return { stored, duplicates, lost, problems };
  }

  /** The CSV exports and the tRPC procedures behind the console, against the same figures. */
  private async auditCsvAndTrpc(expected: Expected, win: { daily: string; monthly: string; total: string }): Promise<string[]> {
    const problems: string[] = [];
    const get = async (path: string) => {
      const res = await fetch(`${this.app.baseUrl}${path}`, { headers: { authorization: `Bearer ${this.readToken}` } });
      this.counts.reads++;
      if (res.status >= 500) this.counts.unexpected5xx++;
      return { status: res.status, text: await res.text() };
    };
    const list = await get("/admin/accounts/usage-stats?format=csv");
    if (list.status !== 200) problems.push(`accounts CSV → ${list.status}`);
    else {
      const rows = new Map(parseCsvRecords(list.text).map((r) => [r.id, r]));
      for (const acc of this.accounts) {
        for (const [w, suffix] of Object.entries(win)) {
          const want = figuresOf(expected.account.get(`${acc}|${suffix}`));
          for (const f of CSV_FIGURES) {
            const got = Number(rows.get(acc)?.[`${w}.${f}`]);
            if (got !== want[f]) problems.push(`accounts CSV ${acc} ${w}.${f}: got ${got}, expected ${want[f]}`);
          }
        }
      }
    }
    for (const acc of this.accounts) {
      const b = await get(`/admin/accounts/${acc}/usage-breakdown?format=csv&range=total`);
      if (b.status !== 200) {
        problems.push(`breakdown CSV ${acc} → ${b.status}`);
        continue;
      }
      const rows = new Map(parseCsvRecords(b.text).map((r) => [r.apiKeyId, r]));
      for (const key of this.keysOf.get(acc)!) {
        const wantSums = expected.key.get(`${acc}|${key}|t`);
        if (!wantSums && !rows.has(key)) continue;
        const want = figuresOf(wantSums);
        for (const f of CSV_FIGURES) if (Number(rows.get(key)?.[f]) !== want[f]) problems.push(`breakdown CSV ${acc}/${key}.${f}: got ${rows.get(key)?.[f]}, expected ${want[f]}`);
      }
    }
    const input = encodeURIComponent(JSON.stringify({ limit: 500 }));
    const t = await get(`/api/trpc/accounts.usageStats?input=${input}`);
    const data = (JSON.parse(t.text) as { result?: { data?: { data: { id: string; usage: Record<string, Record<string, number>> }[]; source: string } } }).result?.data;
    if (t.status !== 200 || !data) problems.push(`tRPC accounts.usageStats → ${t.status} ${t.text.slice(0, 200)}`);
    else {
      if (data.source !== "postgres") problems.push(`tRPC accounts.usageStats source ${data.source}`);
      for (const acc of this.accounts) {
        const row = data.data.find((r) => r.id === acc);
        const want = figuresOf(expected.account.get(`${acc}|t`));
        for (const f of CSV_FIGURES) if (row?.usage.total?.[f] !== want[f]) problems.push(`tRPC usageStats ${acc} total.${f}: got ${row?.usage.total?.[f]}, expected ${want[f]}`);
      }
    }
    return problems;
  }

  /** Every read endpoint must answer from PostgreSQL with exactly the expected figures. */
  async auditReads(expected: Expected, wantSource: "postgres" | "redis" = "postgres"): Promise<string[]> {
    const problems: string[] = [];
    const now = Date.now();
    const today = localDate(now, TZ);
    const month = today.slice(0, 7);
    const win = { daily: `d:${today}`, monthly: `m:${month}`, total: "t" } as const;
    const check = (what: string, got: Record<string, unknown> | undefined, want: Sums | undefined) => {
      const w = want ?? zeroSums();
      const g = got ?? {};
      const fields: [string, number][] = [
        ["requests", w.requests],
        ["inputTokens", w.inputTokens],
        ["outputTokens", w.outputTokens],
        ["cacheCreateTokens", w.cacheCreateTokens],
        ["cacheReadTokens", w.cacheReadTokens],
        ["allTokens", w.allTokens],
        ["cost", usd6(w.costNanos)],
        ["ratedCost", usd6(w.ratedCostNanos)],
      ];
      for (const [f, v] of fields) if (g[f] !== v) problems.push(`${what}.${f}: got ${String(g[f])}, expected ${v}`);
    };
    const list = await this.read(`/admin/accounts/usage-stats?limit=500`);
    if (list.status !== 200) problems.push(`accounts list → ${list.status}`);
    else {
      if (list.json?.source !== wantSource) problems.push(`accounts list source ${String(list.json?.source)}, expected ${wantSource}`);
      const rows = new Map(((list.json?.data as { id: string; usage: Record<string, Record<string, unknown>> }[]) ?? []).map((r) => [r.id, r]));
      const sum: Record<string, Sums> = { daily: zeroSums(), monthly: zeroSums(), total: zeroSums() };
      for (const acc of this.accounts) {
        const row = rows.get(acc);
        if (!row) {
          problems.push(`accounts list lacks ${acc}`);
          continue;
        }
        for (const [w, suffix] of Object.entries(win)) {
          const want = expected.account.get(`${acc}|${suffix}`);
          check(`list ${acc}.${w}`, row.usage[w], want);
          if (want) addSums(sum[w]!, want);
        }
      }
      const summary = list.json?.summary as Record<string, Record<string, unknown>> | undefined;
      for (const w of ["daily", "monthly", "total"]) check(`list summary.${w}`, summary?.[w], sum[w]);
    }
    for (const acc of this.accounts) {
      for (const range of ["total", "daily", "monthly"] as const) {
        const s = await this.read(`/admin/accounts/${acc}/usage-stats?range=${range}`);
        if (s.status !== 200) {
          problems.push(`summary ${acc} ${range} → ${s.status}`);
          continue;
        }
        if (s.json?.source !== wantSource) problems.push(`summary ${acc} source ${String(s.json?.source)}`);
        const data = s.json?.data as { usage: Record<string, unknown> } | undefined;
        check(`summary ${acc} ${range}`, data?.usage, expected.account.get(`${acc}|${win[range]}`));

        const b = await this.read(`/admin/accounts/${acc}/usage-breakdown?range=${range}&limit=100`);
        if (b.status !== 200) {
          problems.push(`breakdown ${acc} ${range} → ${b.status}`);
          continue;
        }
        if (b.json?.source !== wantSource) problems.push(`breakdown ${acc} source ${String(b.json?.source)}`);
        const bd = b.json?.data as { items: (Record<string, unknown> & { apiKeyId: string })[]; totals: Record<string, unknown> } | undefined;
        check(`breakdown ${acc} ${range} totals`, bd?.totals, expected.account.get(`${acc}|${win[range]}`));
        const items = new Map((bd?.items ?? []).map((i) => [i.apiKeyId, i]));
        for (const key of this.keysOf.get(acc)!) {
          const want = expected.key.get(`${acc}|${key}|${win[range]}`);
          if (!want && !items.has(key)) continue;
          check(`breakdown ${acc}/${key} ${range}`, items.get(key), want);
        }
      }
    }
    if (wantSource === "postgres") {
      problems.push(...(await this.auditCsvAndTrpc(expected, win)));
      const keys = await this.read(`/admin/api-keys?pageSize=200`);
      const items = (keys.json?.data as { id: string; totalCostAccumulated: string }[] | undefined) ?? [];
      for (const [k, v] of expected.keyCostNanos) {
        const got = items.find((i) => i.id === k)?.totalCostAccumulated;
        if (got === undefined || nanosOf(got) !== v) problems.push(`api-keys ${k}.totalCostAccumulated: got ${got}, expected ${v} nano-USD`);
      }
    }
    return problems;
  }
}

/** Every figure the API answers (db/measures.ts). */
const CSV_FIGURES = FIGURES;

function figuresOf(s: Sums | undefined): Record<string, number> {
  const w = s ?? zeroSums();
  return { requests: w.requests, inputTokens: w.inputTokens, outputTokens: w.outputTokens, cacheCreateTokens: w.cacheCreateTokens, cacheReadTokens: w.cacheReadTokens, allTokens: w.allTokens, cost: usd6(w.costNanos), ratedCost: usd6(w.ratedCostNanos) };
}

function zeroSums(): Sums {
  return { requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, ephemeral5mTokens: 0, ephemeral1hTokens: 0, allTokens: 0, costNanos: 0n, ratedCostNanos: 0n };
}

function addSums(a: Sums, b: Sums) {
  a.requests += b.requests;
  a.inputTokens += b.inputTokens;
  a.outputTokens += b.outputTokens;
  a.cacheCreateTokens += b.cacheCreateTokens;
  a.cacheReadTokens += b.cacheReadTokens;
  a.ephemeral5mTokens += b.ephemeral5mTokens;
  a.ephemeral1hTokens += b.ephemeral1hTokens;
  a.allTokens += b.allTokens;
  a.costNanos += b.costNanos;
  a.ratedCostNanos += b.ratedCostNanos;
}

/** The API's rounding: nano-USD → USD half-up to 6 decimals. */
function usd6(nanos: bigint): number {
  return Number((nanos + 500n) / 1000n) / 1e6;
}

const fmt = (s: Sums | undefined) => (s ? JSON.stringify(s, (_, v) => (typeof v === "bigint" ? v.toString() : v)) : "absent");

function compareMaps(what: string, got: Map<string, Sums>, want: Map<string, Sums>, problems: string[]) {
  let n = 0;
  for (const k of new Set([...got.keys(), ...want.keys()])) {
    const a = got.get(k);
    const b = want.get(k);
    if (fmt(a) !== fmt(b)) {
      if (n++ < 5) problems.push(`${what} ${k}: got ${fmt(a)}, expected ${fmt(b)}`);
    }
  }
  if (n > 5) problems.push(`${what}: ${n - 5} more differences`);
}
