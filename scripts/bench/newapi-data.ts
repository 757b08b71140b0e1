/**
 * A generated new-api database on PostgreSQL (the test fixture's DDL, rows made in SQL with
 * generate_series) and a measured newapi:import of it into a ledger database of its own, checked
 * exactly against the source by SQL aggregates there: used by `npm run bench:newapi`.
 */
import pg from "pg";
import { sql } from "kysely";
import { getTestStores } from "../../server/config";
import { IMPORT_BATCH, importNewapi } from "../../server/sources/newapi/importer";
import { usdToNanos } from "../../server/sources/shared/table-importer";
import { accountIdOf } from "../../server/sources/newapi/mapping";
import { NewapiReader } from "../../server/sources/newapi/reader";
import { createNewapiDatabase, type NewapiDatabase } from "../../server/sources/newapi/newapi.fixtures";
import { createTestRuntime, type TestRuntime } from "../../server/testing/runtime";
import { backendsCpu, backendsDelta, sampleCpu } from "./cpu";

export const NEWAPI_SOURCE = "newapi";
/** Channels in the relay; the logs also name DELETED_CHANNELS more (deleted there: placeholders in the ledger). */
const CHANNELS = 40;
const DELETED_CHANNELS = 2;
const USERS = 300;
const TOKENS = 1200;
const QUOTA_PER_UNIT = "500000";
const DAY_MS = 86_400_000;
const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "claude-haiku-4-5", "gpt-5", "gpt-4o-mini", "gemini-2.5-pro", "deepseek-chat"];
/** new-api channel types: OpenAI, Anthropic, Gemini, Azure, Bedrock, Vertex, DeepSeek, OpenRouter, Codex, custom, Ali, xAI, one unknown. */
const CHANNEL_TYPES = [1, 14, 24, 3, 33, 41, 43, 20, 57, 8, 17, 48, 99];

/** The mix of `logs` rows (shares of all rows, by the same uniform draw). */
export const MIX = {
  negativeConsume: 0.005,
  channelTest: 0.01,
  consume: 0.84,
  refund: 0.02,
  error: 0.06,
  topUp: 0.03,
  // the rest (~3.5 %): manage (3) and system (4) rows
} as const;
const CUT = {
  neg: MIX.negativeConsume,
  test: MIX.negativeConsume + MIX.channelTest,
  consume: MIX.negativeConsume + MIX.channelTest + MIX.consume,
  refund: MIX.negativeConsume + MIX.channelTest + MIX.consume + MIX.refund,
  error: MIX.negativeConsume + MIX.channelTest + MIX.consume + MIX.refund + MIX.error,
  topUp: MIX.negativeConsume + MIX.channelTest + MIX.consume + MIX.refund + MIX.error + MIX.topUp,
};

/** The fixture's database as its owner (it hands out the read-only URL only). */
export function ownerUrlOf(na: NewapiDatabase): string {
  const u = new URL(getTestStores().databaseUrl);
  u.pathname = new URL(na.url).pathname;
  return u.toString();
}
export const databaseNameOf = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

/** Channels 1…40 (several types, a few disabled), users 1…300, tokens 1…1200 (1 in 60 soft-deleted), QuotaPerUnit. */
async function loadDirectory(pool: pg.Pool): Promise<void> {
  const types = `ARRAY[${CHANNEL_TYPES.join(", ")}]`;
  await pool.query(`
    INSERT INTO channels (id, type, key, status, name, created_time, models, "group", priority, channel_info)
      SELECT i, (${types})[1 + i % ${CHANNEL_TYPES.length}], 'sk-upstream-' || md5('ch' || i), CASE WHEN i % 13 = 0 THEN 3 WHEN i % 17 = 0 THEN 2 ELSE 1 END,
             'Channel ' || i, extract(epoch FROM now())::int8 - 200 * 86400, 'gpt-5,claude-sonnet-4-5', CASE WHEN i % 3 = 0 THEN 'default,vip' ELSE 'default' END,
             i % 5, '{}'
        FROM generate_series(1, ${CHANNELS}) i;
    INSERT INTO users (id, username, password, display_name, "group")
      SELECT i, 'user' || i, '$2a$10$x', 'User ' || i, (ARRAY['default', 'vip', 'svip'])[1 + i % 3] FROM generate_series(1, ${USERS}) i;
    INSERT INTO tokens (id, user_id, key, status, name, created_time, accessed_time, unlimited_quota, model_limits_enabled, cross_group_retry, deleted_at)
      SELECT i, 1 + (i - 1) % ${USERS}, md5('tok' || i) || substr(md5('k' || i), 1, 16), CASE WHEN i % 40 = 0 THEN 2 ELSE 1 END, 'key ' || i,
             extract(epoch FROM now())::int8 - 100 * 86400, extract(epoch FROM now())::int8, true, false, false,
             CASE WHEN i % 60 = 0 THEN now() END
        FROM generate_series(1, ${TOKENS}) i;
    SELECT setval('channels_id_seq', ${CHANNELS}), setval('users_id_seq', ${USERS}), setval('tokens_id_seq', ${TOKENS});
    INSERT INTO options (key, value) VALUES ('QuotaPerUnit', '${QUOTA_PER_UNIT}');`);
}

/**
 * `n` logs rows in one statement, ids (the table's serial) and created_at rising together from
 * `fromMs` to `toMs`, as new-api writes them: skewed tokens and channels; consume rows with valid
 * `other` JSON (model/group/completion ratios, group ratio 1 / 0.8 / 1.5 / 2, cache read on 60 %,
 * cache creation on 40 %, usage_semantic "anthropic" on half, where prompt_tokens leaves the cache
 * out), channel tests (token 0), negative re-consume deltas, refunds (type 6; 30 % Midjourney ones
 * with token 0 and no group ratio), errors (5), top-ups (1), manage and system rows (3, 4).
 */
export async function addGeneratedLogs(pool: pg.Pool, n: number, o: { fromMs: number; toMs: number; seed: number }): Promise<void> {
  const models = `ARRAY[${MODELS.map((m) => `'${m}'`).join(", ")}]`;
  const channels = CHANNELS + DELETED_CHANNELS;
  // One connection: setseed and the INSERT in one simple-query message.
  await pool.query(`
    SELECT setseed(${o.seed});
    WITH s AS (
      SELECT i, random() AS p, 1 + floor(${TOKENS} * random() ^ 2)::int AS k, 1 + floor(${channels} * random() ^ 1.5)::int AS c,
             (${models})[1 + floor(${MODELS.length} * random() ^ 2)::int] AS model,
             floor(random() * 20000)::int AS fresh, floor(random() * 8000)::int AS completion,
             CASE WHEN random() < 0.6 THEN floor(random() * 40000)::int ELSE 0 END AS cr,
             CASE WHEN random() < 0.4 THEN floor(random() * 6000)::int ELSE 0 END AS cc,
             random() < 0.5 AS anthropic, random() < 0.5 AS stream, random() AS r_misc,
             (ARRAY[1, 0.8, 1.5, 2])[1 + floor(random() * 4)::int] AS g, (ARRAY[1.5, 2.5, 0.075, 15])[1 + floor(random() * 4)::int] AS mr,
             (ARRAY[4, 5, 8])[1 + floor(random() * 3)::int] AS compr, 1 + floor(random() * 200000)::int AS q_misc, floor(random() * 60)::int AS use_time,
             (ARRAY['default', 'vip', 'svip'])[1 + floor(random() * 3)::int] AS grp
        FROM generate_series(1, ${n}) i
    ), t AS (
      SELECT s.*, CASE WHEN p < ${CUT.neg} THEN 'neg' WHEN p < ${CUT.test} THEN 'test' WHEN p < ${CUT.consume} THEN 'consume'
                       WHEN p < ${CUT.refund} THEN CASE WHEN r_misc < 0.3 THEN 'mj' ELSE 'refund' END
                       WHEN p < ${CUT.error} THEN 'error' WHEN p < ${CUT.topUp} THEN 'topup' ELSE 'system' END AS kind,
             1 + (k - 1) % ${USERS} AS u,
             round((fresh + cr * 0.1 + cc * 1.25 + completion * compr) * mr * g)::int8 AS q_consume
        FROM s
    )
    INSERT INTO logs (user_id, created_at, type, content, username, token_name, model_name, quota, prompt_tokens, completion_tokens,
      use_time, is_stream, channel_id, channel_name, token_id, "group", ip, request_id, other)
    SELECT CASE WHEN kind = 'test' THEN 1 ELSE u END,
           floor((${o.fromMs} + (${o.toMs - o.fromMs}::float8 * i) / ${n}) / 1000)::int8,
           CASE kind WHEN 'refund' THEN 6 WHEN 'mj' THEN 6 WHEN 'error' THEN 5 WHEN 'topup' THEN 1 WHEN 'system' THEN 3 + (i % 2) ELSE 2 END,
           CASE kind WHEN 'neg' THEN '异步任务重算' WHEN 'test' THEN '模型测试' WHEN 'error' THEN 'upstream error: status 429'
                     WHEN 'topup' THEN '通过兑换码充值 $10' WHEN 'system' THEN '管理员操作' ELSE '' END,
           CASE WHEN kind = 'test' THEN 'root' ELSE 'user' || u END,
           CASE WHEN kind IN ('test') THEN '模型测试' WHEN kind IN ('mj', 'topup', 'system') THEN '' ELSE 'key ' || k END,
           CASE WHEN kind = 'mj' THEN 'mj_imagine' WHEN kind IN ('topup', 'system') THEN '' ELSE model END,
           CASE kind WHEN 'neg' THEN -(1 + q_misc % 100000) WHEN 'refund' THEN q_misc WHEN 'mj' THEN q_misc WHEN 'topup' THEN 500000 * (1 + q_misc % 20)
                     WHEN 'consume' THEN q_consume WHEN 'test' THEN q_consume ELSE 0 END,
           CASE WHEN kind IN ('consume', 'test') THEN CASE WHEN anthropic THEN fresh ELSE fresh + cr + cc END ELSE 0 END,
           CASE WHEN kind IN ('consume', 'test') THEN completion ELSE 0 END,
           CASE WHEN kind IN ('consume', 'test') THEN use_time ELSE 0 END,
           kind IN ('consume', 'test') AND stream,
           CASE WHEN kind IN ('topup', 'system') THEN 0 ELSE c END,
           CASE WHEN kind IN ('topup', 'system') THEN '' ELSE 'Channel ' || c END,
           CASE WHEN kind IN ('test', 'mj', 'topup', 'system') THEN 0 ELSE k END,
           CASE WHEN kind IN ('mj', 'topup', 'system') THEN '' ELSE grp END,
           '10.0.' || (u % 250) || '.' || (k % 250),
           CASE WHEN kind IN ('consume', 'test', 'neg', 'error') THEN 'req-' || md5(${o.seed} || ':' || i) ELSE '' END,
           CASE kind
             WHEN 'consume' THEN json_strip_nulls(json_build_object('model_ratio', mr, 'group_ratio', g, 'completion_ratio', compr, 'cache_tokens', cr,
               'cache_ratio', 0.1, 'cache_creation_tokens', cc, 'cache_creation_ratio', 1.25, 'model_price', -1, 'user_group_ratio', -1,
               'frt', CASE WHEN stream THEN floor(r_misc * 3000)::int ELSE -1000 END, 'usage_semantic', CASE WHEN anthropic THEN 'anthropic' END))::text
             WHEN 'test' THEN json_build_object('model_ratio', mr, 'group_ratio', g, 'completion_ratio', compr, 'cache_tokens', cr, 'cache_creation_tokens', cc)::text
             WHEN 'neg' THEN json_build_object('task_id', 'task_' || i, 'pre_consumed_quota', 100001, 'actual_quota', 100001 - (1 + q_misc % 100000),
               'group_ratio', g, 'model_price', 0.2)::text
             WHEN 'refund' THEN json_build_object('task_id', 'task_' || i, 'reason', 'task failed', 'model_price', 0.2, 'group_ratio', g)::text
             WHEN 'mj' THEN json_build_object('task_id', 'mj_' || i, 'reason', '构图失败')::text
             WHEN 'error' THEN json_build_object('request_path', '/v1/chat/completions', 'error_type', 'upstream_error', 'status_code', 429, 'channel_id', c)::text
           END
      FROM t ORDER BY i`);
}

/** A new-api database of its own on PostgreSQL with `rows` logs rows over the 90 days before now. */
export async function generateNewapi(rows: number, seed = 0.3141): Promise<{ na: NewapiDatabase; pool: pg.Pool; ownerUrl: string }> {
  const na = await createNewapiDatabase({ engine: "postgres" });
  const ownerUrl = ownerUrlOf(na);
  const pool = new pg.Pool({ connectionString: ownerUrl, max: 2 });
  pool.on("error", () => {});
  try {
    await loadDirectory(pool);
    const toMs = Date.now() - 60_000;
    await addGeneratedLogs(pool, rows, { fromMs: toMs - 90 * DAY_MS, toMs, seed });
    await pool.query(`VACUUM ANALYZE logs`);
    return { na, pool, ownerUrl };
  } catch (err) {
    await pool.end().catch(() => {});
    await na.drop().catch(() => {});
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
const zero = (): Sums => ({ requests: 0n, inputTokens: 0n, outputTokens: 0n, cacheCreateTokens: 0n, cacheReadTokens: 0n, costNanos: 0n, ratedCostNanos: 0n });
const add = (a: Sums, b: Sums) => {
  for (const k of SUM_NAMES) a[k] += b[k];
};

/** `other`'s key as mapping.ts reads a count: a JSON number that is a non-negative safe integer, else 0. */
const count = (key: string) =>
  `CASE WHEN jsonb_typeof(o->'${key}') = 'number' AND (o->>'${key}')::numeric BETWEEN 0 AND 9007199254740991
             AND (o->>'${key}')::numeric = trunc((o->>'${key}')::numeric) THEN (o->>'${key}')::numeric ELSE 0 END`;

/**
 * The source's truth, by SQL aggregates over its logs (README, "Connect new-api / one-api"; the
 * rules of mapping.ts and testing.ts' newapiRowFigures, restated in SQL): usage rows are type 2
 * (consume) and 6 (refund); requests = type 2 with quota >= 0; rated = signed quota × 10^8 /
 * QuotaPerUnit, real = that ÷ other.group_ratio (> 0), each rounded per row to 8 decimals half away
 * from zero (numeric round), × 10 in nanos; tokens as mapping.ts, zero on a refund. Per
 * (channel, token): the ledger's account and key totals are compared against these.
 */
export async function sourceTruth(pool: pg.Pool): Promise<{ pairs: Map<string, Sums>; qpu: string }> {
  const qpu = (await pool.query<{ value: string }>(`SELECT value FROM options WHERE key = 'QuotaPerUnit'`)).rows[0]?.value ?? "500000";
  if (!/^\d+(\.\d+)?$/.test(qpu)) throw new Error(`QuotaPerUnit ${qpu}: the bench's SQL truth takes a plain decimal`);
  const r = await pool.query<Record<string, string>>(`
    WITH l AS (
      SELECT channel_id, coalesce(token_id, 0) AS token_id, type, quota, prompt_tokens, completion_tokens,
             CASE WHEN type = 6 THEN -quota ELSE quota END::numeric AS signed,
             CASE WHEN other IS NULL OR other = '' THEN '{}'::jsonb ELSE other::jsonb END AS o
        FROM logs WHERE type IN (2, 6)
    ), m AS (
      SELECT channel_id, token_id, type, quota, signed,
             CASE WHEN jsonb_typeof(o->'group_ratio') = 'number' AND (o->>'group_ratio')::numeric > 0 THEN (o->>'group_ratio')::numeric ELSE 1 END AS g,
             ${count("cache_tokens")} AS cr, ${count("cache_creation_tokens")} AS cc,
             ${count("cache_creation_tokens_5m")} + ${count("cache_creation_tokens_1h")} AS cc_parts,
             (o->>'usage_semantic' = 'anthropic' OR o->'claude' = 'true'::jsonb) IS TRUE AS anthropic,
             greatest(0, prompt_tokens) AS prompt, greatest(0, completion_tokens) AS completion
        FROM l
    ), f AS (
      SELECT channel_id, token_id, (type = 2 AND quota >= 0)::int AS requests,
             CASE WHEN type = 6 THEN 0 ELSE cr END AS cr,
             CASE WHEN type = 6 THEN 0 WHEN cc > 0 THEN cc ELSE cc_parts END AS cc,
             CASE WHEN type = 6 THEN 0 WHEN anthropic THEN prompt ELSE greatest(0, prompt - cr - CASE WHEN cc > 0 THEN cc ELSE cc_parts END) END AS input,
             CASE WHEN type = 6 THEN 0 ELSE completion END AS output,
             round(signed * 100000000 / ${qpu}::numeric) AS rated_units,
             round(signed * 100000000 / (${qpu}::numeric * g)) AS real_units
        FROM m
    )
    SELECT channel_id::text AS channel, token_id::text AS token, sum(requests)::text AS requests, sum(input)::text AS input, sum(output)::text AS output,
           sum(cc)::text AS cc, sum(cr)::text AS cr, (sum(real_units) * 10)::text AS cost, (sum(rated_units) * 10)::text AS rated
      FROM f GROUP BY 1, 2`);
  const pairs = new Map<string, Sums>();
  for (const x of r.rows) {
    const key = `${accountIdOf(NEWAPI_SOURCE, x.channel!)}|${NEWAPI_SOURCE}-key-${x.token!}`;
    pairs.set(key, {
      requests: BigInt(x.requests!), inputTokens: BigInt(x.input!), outputTokens: BigInt(x.output!), cacheCreateTokens: BigInt(x.cc!),
      cacheReadTokens: BigInt(x.cr!), costNanos: BigInt(x.cost!), ratedCostNanos: BigInt(x.rated!),
    });
  }
  return { pairs, qpu };
}

export interface Check {
  comparisons: number;
  mismatches: string[];
  /** The source's totals (for the report's cross-check). */
  total: Sums;
}

/**
 * The ledger's usage_account_totals (per channel) and usage_key_totals (per channel and token)
 * against the source's logs, exactly, and the grand totals. Returns the differences.
 */
export async function compareWithSource(pool: pg.Pool, ledger: TestRuntime): Promise<Check> {
  const { pairs } = await sourceTruth(pool);
  const byChannel = new Map<string, Sums>();
  const total = zero();
  for (const [k, s] of pairs) {
    const ch = k.slice(0, k.indexOf("|"));
    if (!byChannel.has(ch)) byChannel.set(ch, zero());
    add(byChannel.get(ch)!, s);
    add(total, s);
  }
  const db = ledger.runtime.db!.db;
  const fromRow = (r: Record<string, string>): Sums => ({
    requests: BigInt(r.requests!), inputTokens: BigInt(r.input!), outputTokens: BigInt(r.output!), cacheCreateTokens: BigInt(r.cc!),
    cacheReadTokens: BigInt(r.cr!), costNanos: BigInt(r.cost!), ratedCostNanos: BigInt(r.rated!),
  });
  const cols = sql`sum(requests)::text AS requests, sum(input_tokens)::text AS input, sum(output_tokens)::text AS output, sum(cache_create_tokens)::text AS cc,
                   sum(cache_read_tokens)::text AS cr, sum(cost_nanos)::text AS cost, sum(rated_cost_nanos)::text AS rated`;
  const accounts = await sql<Record<string, string>>`SELECT account_id AS id, ${cols} FROM usage_account_totals GROUP BY 1`.execute(db);
  const keys = await sql<Record<string, string>>`SELECT account_id || '|' || api_key_id AS id, ${cols} FROM usage_key_totals GROUP BY 1`.execute(db);
  const haveChannels = new Map(accounts.rows.map((r) => [r.id!, fromRow(r)]));
  const havePairs = new Map(keys.rows.map((r) => [r.id!, fromRow(r)]));
  const haveTotal = zero();
  for (const s of haveChannels.values()) add(haveTotal, s);

  const mismatches: string[] = [];
  let comparisons = 0;
  const compare = (what: string, want: Map<string, Sums>, have: Map<string, Sums>) => {
    for (const id of new Set([...want.keys(), ...have.keys()])) {
      for (const k of SUM_NAMES) {
        comparisons++;
        const w = want.get(id)?.[k] ?? 0n;
        const h = have.get(id)?.[k] ?? 0n;
        if (w !== h) mismatches.push(`newapi import: ${what} ${id} ${k}: new-api ${w}, ledger ${h}`);
      }
    }
  };
  compare("channel", byChannel, haveChannels);
  compare("channel|token", pairs, havePairs);
  compare("total", new Map([["all", total]]), new Map([["all", haveTotal]]));
  return { comparisons, mismatches, total };
}

export interface NewapiImportFigures {
  /** logs rows in the source (every type). */
  rows: number;
  /** Of them: consume and refund rows (the import reads these). */
  usageRows: number;
  /** The source's rows per kind. */
  mix: { consume: number; negativeConsume: number; channelTests: number; refunds: number; errors: number; topUps: number; other: number };
  channels: number;
  deletedChannels: number;
  users: number;
  tokens: number;
  /** API keys synced: the tokens and the "no token" key. */
  apiKeys: number;
  events: number;
  requests: number;
  corrections: number;
  generateS: number;
  seconds: number;
  /** The whole import: channels and tokens synced first, then the rows. */
  eventsPerSecond: number;
  /** Of `seconds`, before the first row: the schema check, the counts and the sync of channels and tokens. */
  syncS: number;
  /** The Redis counters of the accounts touched rebuilt from the ledger, at the end. */
  countersRebuildS?: number;
  /**
   * CPU per event over the rows (after the sync), µs: this process (reading, mapping, validation,
   * the batch, the Redis client), the ledger's PostgreSQL backends, new-api's (the reads) and
   * redis-server (shared with other work: an upper bound).
   */
  cpuPerEventUs: { node: number; ledgerPostgres: number; newapiPostgres: number; redis: number; total: number };
  batch: number;
  quotaPerUnit: string;
  /** Exact comparisons of the ledger's account and key totals with new-api's logs. */
  comparisons: number;
  mismatches: number;
}

export interface ImportedNewapi {
  na: NewapiDatabase;
  /** The source as its owner (to write new rows, to read the truth). */
  pool: pg.Pool;
  reader: NewapiReader;
  ledger: TestRuntime;
  figures: NewapiImportFigures;
  mismatches: string[];
  close(): Promise<void>;
}

async function mixOf(pool: pg.Pool): Promise<NewapiImportFigures["mix"] & { rows: number; usage: number }> {
  const r = (
    await pool.query<Record<string, string>>(`
      SELECT count(*)::text AS rows, count(*) FILTER (WHERE type IN (2, 6))::text AS usage,
             count(*) FILTER (WHERE type = 2 AND quota >= 0 AND token_id <> 0)::text AS consume, count(*) FILTER (WHERE type = 2 AND quota < 0)::text AS neg,
             count(*) FILTER (WHERE type = 2 AND quota >= 0 AND token_id = 0)::text AS tests, count(*) FILTER (WHERE type = 6)::text AS refunds,
             count(*) FILTER (WHERE type = 5)::text AS errors, count(*) FILTER (WHERE type = 1)::text AS topups,
             count(*) FILTER (WHERE type NOT IN (1, 2, 5, 6))::text AS other
        FROM logs`)
  ).rows[0]!;
  const n = (k: string) => Number(r[k]);
  return { rows: n("rows"), usage: n("usage"), consume: n("consume"), negativeConsume: n("neg"), channelTests: n("tests"), refunds: n("refunds"), errors: n("errors"), topUps: n("topups"), other: n("other") };
}

/** Generates `rows` logs rows and imports them into a ledger database (and Redis prefix) of its own; checked exactly. */
export async function importGeneratedNewapi(rows: number, o: { batch?: number; log?: (s: string) => void } = {}): Promise<ImportedNewapi> {
  const log = o.log ?? (() => {});
  const f = (x: number) => x.toLocaleString("en-US");
  const t0 = performance.now();
  const { na, pool, ownerUrl } = await generateNewapi(rows);
  const generateS = (performance.now() - t0) / 1000;
  log(`   generated ${f(rows)} logs rows (${CHANNELS} channels + ${DELETED_CHANNELS} deleted, ${TOKENS} tokens, ${USERS} users) in ${generateS.toFixed(1)} s`);
  let ledger: TestRuntime | undefined;
  const reader = NewapiReader.connect(na.url, { statementTimeoutMs: 600_000 });
  const close = async () => {
    await reader.close();
    await ledger?.close().catch((e) => console.error(e));
    await pool.end().catch(() => {});
    await na.drop().catch((e) => console.error(e));
  };
  try {
    const mix = await mixOf(pool);
    ledger = await createTestRuntime({ USAGE_TIMEZONE: "Asia/Shanghai", LOG_LEVEL: "error", DB_STATEMENT_TIMEOUT_MS: "600000" });
    const statsPool = new pg.Pool({ connectionString: ledger.database.url, max: 1 });
    statsPool.on("error", () => {});
    const sourceDb = databaseNameOf(ownerUrl);
    const sample = async () => {
      const node = process.cpuUsage();
      const redis = (await sampleCpu(undefined, statsPool, "")).redisMs;
      const [ledgerPg, newapiPg] = await Promise.all([backendsCpu(statsPool, ledger!.database.name), backendsCpu(statsPool, sourceDb)]);
      return { nodeMs: (node.user + node.system) / 1000, redis, ledgerPg, newapiPg };
    };
    const started = performance.now();
    let syncedMs = 0;
    let cpuStart: ReturnType<typeof sample> | undefined;
    const onProgress = (done: number) => {
      if (done !== 0) return;
      syncedMs = performance.now() - started;
      cpuStart = sample();
    };
    const report = await importNewapi(ledger.runtime, reader, { source: NEWAPI_SOURCE, onProgress, ...(o.batch ? { batch: o.batch } : {}) });
    const [c0, c1] = [await cpuStart!, await sample()];
    await statsPool.end().catch(() => {});
    const us = (ms: number) => Math.round((ms * 1000) / Math.max(1, report.events));
    const cpu = { node: us(c1.nodeMs - c0.nodeMs), ledgerPostgres: us(backendsDelta(c0.ledgerPg, c1.ledgerPg)), newapiPostgres: us(backendsDelta(c0.newapiPg, c1.newapiPg)), redis: us(c1.redis - c0.redis), total: 0 };
    cpu.total = cpu.node + cpu.ledgerPostgres + cpu.newapiPostgres + cpu.redis;
    log(`   import: ${f(report.events)} events (${f(report.corrections)} corrections) from ${f(report.rowsRead)} usage rows in ${(report.durationMs / 1000).toFixed(1)} s (channels and tokens synced in the first ${(syncedMs / 1000).toFixed(1)} s) = ${f(report.eventsPerSecond)} events/s`);
    const check = await compareWithSource(pool, ledger);
    const mismatches = [...check.mismatches];
    if (report.events !== mix.usage || report.inserted !== mix.usage) mismatches.push(`newapi import: ${mix.usage} usage rows in new-api, ${report.events} events read, ${report.inserted} inserted`);
    if (report.rejections.total) mismatches.push(`newapi import: ${report.rejections.total} rows not taken: ${JSON.stringify(report.rejections.byReason)}`);
    // The importer's own sums (its report) against the source's.
    if (usdToNanos(report.cost) !== check.total.costNanos) mismatches.push(`newapi import: report cost ${report.cost} USD, new-api ${check.total.costNanos} nanos`);
    if (usdToNanos(report.ratedCost) !== check.total.ratedCostNanos) mismatches.push(`newapi import: report ratedCost ${report.ratedCost} USD, new-api ${check.total.ratedCostNanos} nanos`);
    if (BigInt(report.requests) !== check.total.requests) mismatches.push(`newapi import: report ${report.requests} requests, new-api ${check.total.requests}`);
    log(`   CPU per event after the sync: ${JSON.stringify(cpu)} µs`);
    log(`   check: ${f(check.comparisons)} exact comparisons with new-api's logs, ${mismatches.length} mismatches`);
    const figures: NewapiImportFigures = {
      rows: mix.rows,
      usageRows: mix.usage,
      mix: { consume: mix.consume, negativeConsume: mix.negativeConsume, channelTests: mix.channelTests, refunds: mix.refunds, errors: mix.errors, topUps: mix.topUps, other: mix.other },
      channels: CHANNELS,
      deletedChannels: DELETED_CHANNELS,
      users: USERS,
      tokens: TOKENS,
      apiKeys: report.apiKeys,
      events: report.events,
      requests: Number(check.total.requests),
      corrections: report.corrections,
      generateS: Math.round(generateS * 10) / 10,
      seconds: report.durationMs / 1000,
      eventsPerSecond: report.eventsPerSecond,
      syncS: Math.round(syncedMs / 100) / 10,
      countersRebuildS: Math.round(report.countersRebuildMs / 100) / 10,
      cpuPerEventUs: cpu,
      batch: o.batch ?? IMPORT_BATCH,
      quotaPerUnit: report.quotaPerUnit,
      comparisons: check.comparisons,
      mismatches: mismatches.length,
    };
    return { na, pool, reader, ledger, figures, mismatches, close };
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
}
