/**
 * A generated sub2api database (the test fixture's DDL, rows made in SQL with generate_series) and
 * a measured sub2api:import of it into a ledger database of its own, checked exactly against the
 * source: used by `npm run bench:sub2api` and by `npm run bench` (its import figure beside COPY).
 */
import pg from "pg";
import { sql } from "kysely";
import { IMPORT_BATCH, importSub2api, usdToNanos } from "../../server/sources/sub2api/importer";
import { accountIdOf, crsAccountIdOf } from "../../server/sources/sub2api/mapping";
import { Sub2apiReader } from "../../server/sources/sub2api/reader";
import { createSub2apiDatabase, type Sub2apiDatabase } from "../../server/sources/sub2api/sub2api.fixtures";
import { createTestRuntime, type TestRuntime } from "../../server/testing/runtime";
import { backendsCpu, backendsDelta, sampleCpu } from "./cpu";

export const SUB2API_SOURCE = "sub2api";
const ACCOUNTS = 24;
const GROUPS = 3;

/** How many users and API keys sub2api holds (every key synced on import); a smoke run takes fewer. */
export interface Sub2apiShape {
  users: number;
  keys: number;
}
export const FULL_SHAPE: Sub2apiShape = { users: 300, keys: 1200 };
const DAY_MS = 86_400_000;
const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "gpt-5", "gpt-5-codex", "gemini-2.5-pro"];

/** Accounts (1 in 4 synced from CRS: `extra.crs_account_id`), users, groups and keys, with explicit ids 1…n. */
async function loadDirectory(pool: pg.Pool, { users: USERS, keys: KEYS }: Sub2apiShape): Promise<void> {
  await pool.query(`
    INSERT INTO groups (id, name, rate_multiplier) SELECT i, 'group ' || i, 1 + i * 0.25 FROM generate_series(1, ${GROUPS}) i;
    INSERT INTO users (id, email, username)
      SELECT i, 'user' || i || '@example.com', CASE WHEN i % 3 = 0 THEN '' ELSE 'user' || i END FROM generate_series(1, ${USERS}) i;
    INSERT INTO accounts (id, name, platform, type, status, priority, extra, credentials)
      SELECT i, 'Account ' || i, (ARRAY['anthropic', 'openai', 'gemini', 'antigravity'])[1 + i % 4], (ARRAY['oauth', 'apikey', 'setup-token'])[1 + i % 3],
             CASE WHEN i % 11 = 0 THEN 'error' ELSE 'active' END, 10 * (i % 5),
             CASE WHEN i % 4 = 1 THEN jsonb_build_object('crs_account_id', md5('crs' || i)::uuid::text, 'crs_kind', 'claude') ELSE '{}'::jsonb END,
             '{"access_token":"secret-token"}'
        FROM generate_series(1, ${ACCOUNTS}) i;
    INSERT INTO api_keys (id, user_id, key, name, group_id, status)
      SELECT i, 1 + (i - 1) % ${USERS}, 'sk-bench-' || md5('key' || i), 'key ' || i, CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % ${GROUPS} END, 'active'
        FROM generate_series(1, ${KEYS}) i;
    SELECT setval('groups_id_seq', ${GROUPS}), setval('users_id_seq', ${USERS}), setval('accounts_id_seq', ${ACCOUNTS}), setval('api_keys_id_seq', ${KEYS});`);
}

/**
 * `n` usage_logs rows in one statement, created_at rising with the id from `fromMs` to `toMs`:
 * skewed keys and accounts, costs of 10 decimals (list price, actual = list × a rate of 4
 * decimals rounded to 10, on 30 % an account_stats_cost, on 40 % an account rate multiplier),
 * 80 % with a request id. `seed` makes it reproducible.
 */
export async function addGeneratedLogs(pool: pg.Pool, n: number, o: { fromMs: number; toMs: number; seed: number; shape?: Sub2apiShape }): Promise<void> {
  const { users: USERS, keys: KEYS } = o.shape ?? FULL_SHAPE;
  const models = `ARRAY[${MODELS.map((m) => `'${m}'`).join(", ")}]`;
  // One connection: setseed and the INSERT in one simple-query message.
  await pool.query(`
    SELECT setseed(${o.seed});
    WITH s AS (
      SELECT i, 1 + floor(${KEYS} * random() ^ 2)::int AS k, 1 + floor(${ACCOUNTS} * random() ^ 2)::int AS a,
             floor(random() * 50000000000)::int8 AS list_u, 5000 + floor(random() * 20000)::int AS rate_u,
             random() AS r_stats, random() AS r_acc, random() AS r_req, random() AS r_misc,
             floor(random() * 20000)::int AS inp, floor(random() * 8000)::int AS outp, floor(random() * 3000)::int AS cc,
             random() AS r5, floor(random() * 50000)::int AS cr, (${models})[1 + floor(${MODELS.length} * random() ^ 2)::int] AS model,
             floor(random() * 60000)::int AS duration, floor(random() * 30000000000)::int8 AS stats_u, 1000 + floor(random() * 30000)::int AS acc_rate_u
        FROM generate_series(1, ${n}) i
    )
    INSERT INTO usage_logs (user_id, api_key_id, account_id, request_id, model, group_id, input_tokens, output_tokens,
      cache_creation_tokens, cache_read_tokens, cache_creation_5m_tokens, cache_creation_1h_tokens, total_cost, actual_cost,
      rate_multiplier, account_rate_multiplier, account_stats_cost, stream, duration_ms, billing_mode, image_output_tokens, created_at)
    SELECT 1 + (k - 1) % ${USERS}, k, a, CASE WHEN r_req < 0.8 THEN 'req_' || md5(${o.seed} || ':' || i) END, model,
           CASE WHEN k % 4 = 0 THEN NULL ELSE 1 + k % ${GROUPS} END, inp, outp, cc, cr, floor(cc * r5)::int, cc - floor(cc * r5)::int,
           list_u::numeric / 10000000000, round(list_u::numeric * rate_u / 100000000000000, 10), rate_u::numeric / 10000,
           CASE WHEN r_acc < 0.4 THEN acc_rate_u::numeric / 10000 END,
           CASE WHEN r_stats < 0.3 THEN stats_u::numeric / 10000000000 END,
           r_misc < 0.5, duration, CASE WHEN r_misc > 0.9 THEN 'token' END, CASE WHEN r_misc > 0.98 THEN floor(r_misc * 1000)::int ELSE 0 END,
           to_timestamp((${o.fromMs} + (${o.toMs - o.fromMs}::float8 * i) / ${n}) / 1000)
      FROM s ORDER BY i`);
}

/** A sub2api-shaped database of its own with `rows` usage_logs over the 90 days before now (sub2api's default retention). */
export async function generateSub2api(rows: number, shape: Sub2apiShape = FULL_SHAPE, seed = 0.2207): Promise<Sub2apiDatabase> {
  const s2a = await createSub2apiDatabase();
  try {
    await loadDirectory(s2a.pool, shape);
    const toMs = Date.now() - 60_000;
    await addGeneratedLogs(s2a.pool, rows, { fromMs: toMs - 90 * DAY_MS, toMs, seed, shape });
    await s2a.pool.query(`VACUUM ANALYZE usage_logs`);
    return s2a;
  } catch (err) {
    await s2a.drop().catch(() => {});
    throw err;
  }
}

interface Sums {
  requests: bigint;
  inputTokens: bigint;
  outputTokens: bigint;
  cacheCreateTokens: bigint;
  cacheReadTokens: bigint;
  costNanos: bigint;
  ratedCostNanos: bigint;
}
const SUM_NAMES = ["requests", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "costNanos", "ratedCostNanos"] as const;

/**
 * The ledger's usage_account_totals against sub2api's usage_logs, per ledger account and exactly:
 * rows = requests, each token column, the real cost (account_stats_cost or total_cost × the account
 * rate, to 8 places) and the charged cost (actual_cost to 8 places). Returns the differences.
 */
export async function compareWithSource(s2a: Pick<pg.Pool, "query">, ledger: TestRuntime, source = SUB2API_SOURCE): Promise<{ comparisons: number; mismatches: string[] }> {
  const accounts = (await s2a.query<{ id: string; crs_account_id: string | null }>(`SELECT id::text, extra->>'crs_account_id' AS crs_account_id FROM accounts`)).rows;
  const ledgerIdOf = new Map(accounts.map((a) => [a.id, crsAccountIdOf(a) ?? accountIdOf(source, a.id)]));
  const src = await s2a.query<Record<string, string>>(`
    SELECT account_id::text AS id, count(*)::text AS requests, sum(input_tokens)::text AS input, sum(output_tokens)::text AS output,
           sum(cache_creation_tokens)::text AS cc, sum(cache_read_tokens)::text AS cr,
           sum(round(coalesce(account_stats_cost, total_cost) * coalesce(account_rate_multiplier, 1), 8))::text AS cost,
           sum(round(actual_cost, 8))::text AS rated
      FROM usage_logs GROUP BY 1`);
  const want = new Map<string, Sums>();
  for (const r of src.rows) {
    const id = ledgerIdOf.get(r.id!) ?? accountIdOf(source, r.id!);
    const s: Sums = { requests: BigInt(r.requests!), inputTokens: BigInt(r.input!), outputTokens: BigInt(r.output!), cacheCreateTokens: BigInt(r.cc!), cacheReadTokens: BigInt(r.cr!), costNanos: usdToNanos(r.cost!), ratedCostNanos: usdToNanos(r.rated!) };
    const had = want.get(id);
    want.set(id, had ? (Object.fromEntries(SUM_NAMES.map((k) => [k, had[k] + s[k]])) as unknown as Sums) : s);
  }
  const got = await sql<Record<string, string>>`
    SELECT account_id AS id, sum(requests)::text AS requests, sum(input_tokens)::text AS input, sum(output_tokens)::text AS output,
           sum(cache_create_tokens)::text AS cc, sum(cache_read_tokens)::text AS cr, sum(cost_nanos)::text AS cost, sum(rated_cost_nanos)::text AS rated
      FROM usage_account_totals GROUP BY 1`.execute(ledger.runtime.db!.db);
  const have = new Map(
    got.rows.map((r) => [r.id!, { requests: BigInt(r.requests!), inputTokens: BigInt(r.input!), outputTokens: BigInt(r.output!), cacheCreateTokens: BigInt(r.cc!), cacheReadTokens: BigInt(r.cr!), costNanos: BigInt(r.cost!), ratedCostNanos: BigInt(r.rated!) } as Sums]),
  );
  const mismatches: string[] = [];
  let comparisons = 0;
  const total = (m: Map<string, Sums>, k: (typeof SUM_NAMES)[number]) => [...m.values()].reduce((s, x) => s + x[k], 0n);
  for (const id of new Set([...want.keys(), ...have.keys()])) {
    for (const k of SUM_NAMES) {
      comparisons++;
      const w = want.get(id)?.[k] ?? 0n;
      const h = have.get(id)?.[k] ?? 0n;
      if (w !== h) mismatches.push(`sub2api import: account ${id} ${k}: sub2api ${w}, ledger ${h}`);
    }
  }
  for (const k of SUM_NAMES) {
    comparisons++;
    if (total(want, k) !== total(have, k)) mismatches.push(`sub2api import: total ${k}: sub2api ${total(want, k)}, ledger ${total(have, k)}`);
  }
  return { comparisons, mismatches };
}

export interface Sub2apiImportFigures {
  rows: number;
  accounts: number;
  linkedAccounts: number;
  apiKeys: number;
  events: number;
  generateS: number;
  seconds: number;
  /** The whole import: accounts and keys synced first, then the rows. */
  eventsPerSecond: number;
  /** Of `seconds`, before the first row: the schema check and the sync of accounts and keys. */
  syncS: number;
  /** Of `seconds`, after the last row: the Redis counters of the accounts written rebuilt from the ledger. */
  countersRebuildS?: number;
  /**
   * CPU per event over the rows (after the sync), µs: this process (reading, mapping, validation,
   * the COPY text of the batch, the Redis client), the ledger's PostgreSQL backends, sub2api's (the
   * reads) and redis-server (shared with other work: an upper bound).
   */
  cpuPerEventUs: { node: number; ledgerPostgres: number; sub2apiPostgres: number; redis: number; total: number };
  batch: number;
  /** Exact comparisons of the ledger's account totals with sub2api's usage_logs. */
  comparisons: number;
  mismatches: number;
}

export interface ImportedSub2api {
  s2a: Sub2apiDatabase;
  reader: Sub2apiReader;
  ledger: TestRuntime;
  figures: Sub2apiImportFigures;
  mismatches: string[];
  close(): Promise<void>;
}

/** Generates `rows` sub2api rows and imports them into a ledger database (and Redis prefix) of its own; checked exactly. */
export async function importGeneratedSub2api(rows: number, o: { batch?: number; shape?: Sub2apiShape; log?: (s: string) => void } = {}): Promise<ImportedSub2api> {
  const log = o.log ?? (() => {});
  const shape = o.shape ?? FULL_SHAPE;
  const t0 = performance.now();
  const s2a = await generateSub2api(rows, shape);
  const generateS = (performance.now() - t0) / 1000;
  log(`   generated ${rows.toLocaleString("en-US")} usage_logs rows (${ACCOUNTS} accounts, ${shape.keys} keys, ${shape.users} users) in ${generateS.toFixed(1)} s`);
  let ledger: TestRuntime | undefined;
  const reader = Sub2apiReader.connect(s2a.readUrl);
  const close = async () => {
    await reader.close();
    await ledger?.close().catch((e) => console.error(e));
    await s2a.drop().catch((e) => console.error(e));
  };
  try {
    ledger = await createTestRuntime({ USAGE_TIMEZONE: "Asia/Shanghai", LOG_LEVEL: "error", DB_STATEMENT_TIMEOUT_MS: "600000" });
    const statsPool = new pg.Pool({ connectionString: ledger.database.url, max: 1 });
    statsPool.on("error", () => {});
    const sample = async () => {
      const node = process.cpuUsage();
      const redis = (await sampleCpu(undefined, statsPool, "")).redisMs;
      const [ledgerPg, sub2apiPg] = await Promise.all([backendsCpu(statsPool, ledger!.database.name), backendsCpu(statsPool, s2a.name)]);
      return { nodeMs: (node.user + node.system) / 1000, redis, ledgerPg, sub2apiPg };
    };
    const started = performance.now();
    let syncedMs = 0;
    let cpuStart: ReturnType<typeof sample> | undefined;
    const onProgress = (done: number) => {
      if (done !== 0) return;
      syncedMs = performance.now() - started;
      cpuStart = sample();
    };
    const report = await importSub2api(ledger.runtime, reader, { source: SUB2API_SOURCE, onProgress, ...(o.batch ? { batch: o.batch } : {}) });
    const [c0, c1] = [await cpuStart!, await sample()];
    await statsPool.end().catch(() => {});
    const us = (ms: number) => Math.round((ms * 1000) / Math.max(1, report.events));
    const cpu = { node: us(c1.nodeMs - c0.nodeMs), ledgerPostgres: us(backendsDelta(c0.ledgerPg, c1.ledgerPg)), sub2apiPostgres: us(backendsDelta(c0.sub2apiPg, c1.sub2apiPg)), redis: us(c1.redis - c0.redis), total: 0 };
    cpu.total = cpu.node + cpu.ledgerPostgres + cpu.sub2apiPostgres + cpu.redis;
    log(`   import: ${report.events.toLocaleString("en-US")} events in ${(report.durationMs / 1000).toFixed(1)} s (accounts and keys synced in the first ${(syncedMs / 1000).toFixed(1)} s) = ${report.eventsPerSecond.toLocaleString("en-US")} events/s`);
    const check = await compareWithSource(s2a.pool, ledger);
    const mismatches = [...check.mismatches];
    if (report.events !== rows || report.inserted !== rows) mismatches.push(`sub2api import: ${rows} rows in sub2api, ${report.events} events read, ${report.inserted} inserted`);
    if (report.rejections.total) mismatches.push(`sub2api import: ${report.rejections.total} rows not taken: ${JSON.stringify(report.rejections.byReason)}`);
    log(`   CPU per event after the sync: ${JSON.stringify(cpu)} µs`);
    log(`   check: ${check.comparisons} exact comparisons with sub2api's usage_logs, ${mismatches.length} mismatches`);
    const figures: Sub2apiImportFigures = {
      rows,
      accounts: report.accounts,
      linkedAccounts: report.linkedAccounts,
      apiKeys: report.apiKeys,
      events: report.events,
      generateS: Math.round(generateS * 10) / 10,
      seconds: report.durationMs / 1000,
      eventsPerSecond: report.eventsPerSecond,
      syncS: Math.round(syncedMs / 100) / 10,
      countersRebuildS: Math.round(report.countersRebuildMs / 100) / 10,
      cpuPerEventUs: cpu,
      batch: o.batch ?? IMPORT_BATCH,
      comparisons: check.comparisons,
      mismatches: mismatches.length,
    };
    return { s2a, reader, ledger, figures, mismatches, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
