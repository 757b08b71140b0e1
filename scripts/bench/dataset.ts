import cliProgress from "cli-progress";
import pg from "pg";
import type { DbHandle } from "../../db/client";
import { rebuildRollups } from "../../server/maintenance/rollups.service";

/**
 * The benchmark's history, generated inside PostgreSQL (INSERT … SELECT generate_series per
 * monthly partition, with the rollup trigger off and usage_request_ids filled alongside), then
 * the rollups built by rebuildRollups(), exactly as `npm run db:rebuild-rollups` builds them.
 *
 * Rows arrive in time order within a month, as a relay writes them (the baseline's scans of recent
 * days profit from that locality). Skew: API key k (0 … keys-1) is drawn as floor(keys · u²) and belongs to account
 * floor(accounts · (k/keys)²), so low-numbered keys and accounts carry most traffic (with the
 * defaults, acc-000 owns ~350 keys and ~27 % of all requests; every account has keys).
 */
export interface DatasetOptions {
  records: number;
  accounts: number;
  keys: number;
  /**
   * Keys owned by the busiest account (acc-0…0) in the entity-scale shape (issue 26); 0 (absent):
   * the standard skew above. With hotKeys H, keys 0 … H-1 belong to the first account and the
   * others spread over the rest with the same squared skew: acc = 1 + floor((accounts-1) · ((k-H)/(keys-H))²).
   */
  hotKeys?: number;
  months: number;
  timezone: string;
}

type Entities = Pick<DatasetOptions, "accounts" | "keys" | "hotKeys">;

/** The two dataset shapes of the report: the standard one (issue 7) and entity scale (issue 26). */
export const SHAPES = {
  standard: { accounts: 200, keys: 5000, hotKeys: 0 },
  entities: { accounts: 3000, keys: 100_000, hotKeys: 21_000 },
} as const;

/** "" for the standard shape, else "@<accounts>x<keys>": the suffix of a run's key in results.json. */
export function shapeTag(o: Entities): string {
  return o.accounts === SHAPES.standard.accounts && o.keys === SHAPES.standard.keys && !o.hotKeys ? "" : `@${o.accounts}x${o.keys}`;
}

export const MODELS = [
  "claude-sonnet-4-5",
  "claude-opus-4-1",
  "claude-haiku-4-5",
  "gpt-5",
  "gpt-5-mini",
  "gemini-2.5-pro",
  "gemini-2.5-flash",
  "o4-mini",
];
const PLATFORMS = ["claude", "claude-console", "gemini", "openai", "bedrock", "azure"];

/** Ids are zero-padded to the widest number of the shape (at least acc-000 and key-0000, as before). */
const accountPad = (o: Entities) => Math.max(3, String(o.accounts - 1).length);
const keyPad = (o: Entities) => Math.max(4, String(o.keys - 1).length);
export const accountId = (a: number, o: Entities) => `acc-${String(a).padStart(accountPad(o), "0")}`;
export const apiKeyId = (k: number, o: Entities) => `key-${String(k).padStart(keyPad(o), "0")}`;
export function accountOfKey(k: number, o: Entities): number {
  const h = o.hotKeys ?? 0;
  if (!h) return Math.floor(o.accounts * (k / o.keys) ** 2);
  return k < h ? 0 : 1 + Math.floor((o.accounts - 1) * ((k - h) / (o.keys - h)) ** 2);
}

/** The SQL twins of accountOfKey, accountId and apiKeyId, over an integer key expression. */
function accountOfKeySql(k: string, o: Entities): string {
  const h = o.hotKeys ?? 0;
  if (!h) return `floor(${o.accounts} * (${k}::float8 / ${o.keys}) ^ 2)::int`;
  return `(CASE WHEN ${k} < ${h} THEN 0 ELSE 1 + floor(${o.accounts - 1} * ((${k} - ${h})::float8 / ${o.keys - h}) ^ 2)::int END)`;
}
const accountIdSql = (a: string, o: Entities) => `'acc-' || lpad((${a})::text, ${accountPad(o)}, '0')`;
const keyIdSql = (k: string, o: Entities) => `'key-' || lpad((${k})::text, ${keyPad(o)}, '0')`;

/** The bench's accounts and API keys, without history (for the profiles of ingest). */
export async function insertBenchAccounts(pool: pg.Pool, o: Pick<DatasetOptions, "accounts" | "keys">): Promise<void> {
  await pool.query(`INSERT INTO accounts (id, name) SELECT 'acc-' || lpad(a::text, 3, '0'), 'A' || a FROM generate_series(0, $1::int - 1) a`, [o.accounts]);
  const keys = Array.from({ length: o.keys }, (_, k) => k);
  await pool.query(
    `INSERT INTO api_keys (id, name, account_id)
     SELECT 'key-' || lpad(k::text, 4, '0'), 'K' || k, 'acc-' || lpad(a::text, 3, '0') FROM unnest($1::int[], $2::int[]) AS t(k, a)`,
    [keys, keys.map((k) => accountOfKey(k, o))],
  );
}

/** The SQL twin of the skew above, for one row's random draws. */
function rowSql(o: DatasetOptions): string {
  const models = `ARRAY[${MODELS.map((m) => `'${m}'`).join(",")}]`;
  return `
    SELECT 'h' || g.n AS request_id, g.occurred_at,
           (g.occurred_at AT TIME ZONE '${o.timezone}')::date AS usage_date,
           extract(hour FROM g.occurred_at AT TIME ZONE '${o.timezone}')::smallint AS usage_hour,
           ${accountIdSql(accountOfKeySql("g.k", o), o)} AS account_id,
           ${keyIdSql("g.k", o)} AS api_key_id,
           (${models})[1 + g.m] AS model,
           1 AS requests, g.inp, g.outp, g.cc, g.cr,
           0::int8 AS e5, 0::int8 AS e1h,
           g.inp + g.outp + g.cc + g.cr AS total_tokens,
           round((g.inp * 3 + g.outp * 15 + g.cc * 3.75 + g.cr * 0.3) / 1000000.0, 8) AS total_cost
      FROM (SELECT n, $1::timestamptz + ((n - $5::int8) + random()) / $6::int8 * ($2::timestamptz - $1::timestamptz) AS occurred_at,
                   floor(${o.keys} * random() ^ 2)::int AS k,
                   floor(${MODELS.length} * random() ^ 2)::int AS m,
                   (random() * 4000)::int8 AS inp, (random() * 1200)::int8 AS outp,
                   (random() < 0.2)::int * (random() * 8000)::int8 AS cc,
                   (random() < 0.5)::int * (random() * 20000)::int8 AS cr
              FROM generate_series($3::int8, $4::int8) n) g`;
}

interface Slice {
  partition: string;
  from: Date;
  to: Date;
  first: number;
  last: number;
}

/** Splits the history into UTC months (the partitions), records proportional to time covered. */
function slices(o: DatasetOptions, nowMs: number): Slice[] {
  const now = new Date(nowMs);
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (o.months - 1), 1));
  const parts: { from: Date; to: Date }[] = [];
  for (let m = 0; m < o.months; m++) {
    const from = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + m, 1));
    const next = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + m + 1, 1));
    // Stop a minute short of now: nothing in the future, and a clean start for ingest.
    parts.push({ from, to: next.getTime() > nowMs ? new Date(nowMs - 60_000) : next });
  }
  const span = parts.reduce((s, p) => s + (p.to.getTime() - p.from.getTime()), 0);
  let first = 1;
  return parts.map((p, i) => {
    const n = i === parts.length - 1 ? o.records - first + 1 : Math.round((o.records * (p.to.getTime() - p.from.getTime())) / span);
    const s = {
      partition: `usage_records_p${p.from.toISOString().slice(0, 7).replace("-", "")}`,
      from: p.from,
      to: p.to,
      first,
      last: first + n - 1,
    };
    first += n;
    return s;
  });
}

const CHUNK = 250_000;

export interface GenerationTimes {
  loadMs: number;
  vacuumMs: number;
  rollupMs: number;
}

/**
 * A generated database remembers its dataset and how long it took (bench_meta), so that it can be
 * measured later (--generate-only, then --database): a long generation need not share the quiet
 * hour the measurements want.
 */
export async function writeDatasetMeta(pool: pg.Pool, o: DatasetOptions, gen: GenerationTimes): Promise<void> {
  await pool.query(`CREATE TABLE IF NOT EXISTS bench_meta (dataset jsonb NOT NULL, gen jsonb NOT NULL, generated_at timestamptz NOT NULL DEFAULT now())`);
  await pool.query(`TRUNCATE bench_meta`);
  await pool.query(`INSERT INTO bench_meta (dataset, gen) VALUES ($1, $2)`, [JSON.stringify(o), JSON.stringify(gen)]);
}

export async function readDatasetMeta(pool: pg.Pool): Promise<{ dataset: DatasetOptions; gen: GenerationTimes; generatedAt: string }> {
  const r = await pool.query(`SELECT dataset, gen, generated_at FROM bench_meta`).catch(() => ({ rows: [] as Record<string, unknown>[] }));
  const row = r.rows[0];
  if (!row) throw new Error("this database has no bench_meta: it was not made by npm run bench -- --generate-only");
  return { dataset: row.dataset as DatasetOptions, gen: row.gen as GenerationTimes, generatedAt: (row.generated_at as Date).toISOString() };
}

export async function generateDataset(pool: pg.Pool, handle: DbHandle, o: DatasetOptions, log: (s: string) => void): Promise<GenerationTimes> {
  const parts = slices(o, Date.now());
  const c = await pool.connect();
  try {
    await c.query(`SELECT ensure_usage_partitions($1::date, (now() + interval '3 months')::date)`, [parts[0]!.from.toISOString().slice(0, 10)]);
    await c.query(
      `INSERT INTO accounts (id, name, platform, type, status, priority)
       SELECT ${accountIdSql("a", o)}, 'Bench account ' || a, (ARRAY[${PLATFORMS.map((p) => `'${p}'`).join(",")}])[1 + a % ${PLATFORMS.length}],
              CASE WHEN a % 5 = 0 THEN 'dedicated' ELSE 'shared' END, 'active', 10 + a % 90
         FROM generate_series(0, $1::int - 1) a`,
      [o.accounts],
    );
    await c.query(
      `INSERT INTO api_keys (id, name, account_id, status)
       SELECT ${keyIdSql("k", o)}, 'Bench key ' || k, ${accountIdSql(accountOfKeySql("k", o), o)}, 'active'
         FROM generate_series(0, $1::int - 1) k`,
      [o.keys],
    );
    // The trigger would apply each chunk to the rollups; rebuildRollups does it once at the end.
    await c.query(`ALTER TABLE usage_records DISABLE TRIGGER usage_records_rollups`);
  } finally {
    c.release();
  }

  const bar = new cliProgress.SingleBar(
    { format: "  generating [{bar}] {percentage}% | {value}/{total} records | {eta_formatted} left", etaBuffer: 20 },
    cliProgress.Presets.shades_classic,
  );
  const useBar = process.stdout.isTTY;
  if (useBar) bar.start(o.records, 0);
  // One month per writer at a time: two writers filling the same partition would interleave their
  // chunks' pages, and a page range of the month would then span two chunks' hours (at 100M,
  // ~44 h instead of minutes), which a relay's own table, written in time order, never does —
  // the BRIN index on occurred_at (0019) and the last hour's read would pay for the difference.
  const months = parts.map((s) => {
    const tasks: { s: Slice; lo: number; hi: number }[] = [];
    for (let lo = s.first; lo <= s.last; lo += CHUNK) tasks.push({ s, lo, hi: Math.min(s.last, lo + CHUNK - 1) });
    return tasks;
  });
  const sqlText = `WITH g AS MATERIALIZED (${rowSql(o)}),
    ids AS (INSERT INTO usage_request_ids (account_id, request_id, occurred_at) SELECT account_id, request_id, occurred_at FROM g)
    INSERT INTO usage_records (request_id, occurred_at, usage_date, usage_hour, account_id, api_key_id, model, requests,
      input_tokens, output_tokens, cache_create_tokens, cache_read_tokens, ephemeral_5m_tokens, ephemeral_1h_tokens, total_tokens, total_cost)
    SELECT * FROM g`;
  let done = 0;
  const loadStarted = performance.now();
  // Two writers: one per core.
  const worker = async (w: number) => {
    const c = await pool.connect();
    try {
      await c.query(`SELECT setseed($1)`, [w / 10]);
      await c.query(`SET synchronous_commit = off`);
      for (let month = months.shift(); month; month = months.shift()) {
        for (const t of month) {
          await c.query(sqlText, [t.s.from.toISOString(), t.s.to.toISOString(), t.lo, t.hi, t.s.first, t.s.last - t.s.first + 1]);
          done += t.hi - t.lo + 1;
          if (useBar) bar.update(done);
          else if (done % 1_000_000 < CHUNK) log(`  ${done.toLocaleString("en-US")} / ${o.records.toLocaleString("en-US")} records`);
        }
      }
    } finally {
      c.release();
    }
  };
  try {
    await Promise.all([worker(1), worker(2)]);
  } finally {
    if (useBar) bar.stop();
    await pool.query(`ALTER TABLE usage_records ENABLE TRIGGER usage_records_rollups`);
  }
  const loadMs = performance.now() - loadStarted;

  // Autovacuum would get there; do it now so both designs read all-visible pages with hint bits.
  let t = performance.now();
  log("  VACUUM ANALYZE usage_records, usage_request_ids …");
  await pool.query(`VACUUM (ANALYZE) usage_records`);
  await pool.query(`VACUUM (ANALYZE) usage_request_ids`);
  const vacuumMs = performance.now() - t;

  t = performance.now();
  const rbar = new cliProgress.SingleBar({ format: "  rollups    [{bar}] {value}/{total} partitions | {partition}" }, cliProgress.Presets.shades_classic);
  let started = false;
  await rebuildRollups(handle, o.timezone, (p) => {
    if (!useBar) return;
    if (!started) rbar.start(p.total, 0, { partition: p.partition });
    started = true;
    rbar.update(p.done, { partition: p.partition });
  });
  if (started) rbar.stop();
  for (const table of ["usage_account_daily", "usage_account_monthly", "usage_account_totals", "usage_key_daily", "usage_key_monthly", "usage_key_totals", "usage_model_daily", "usage_model_monthly", "usage_model_totals", "accounts", "api_keys"]) {
    await pool.query(`VACUUM (ANALYZE) ${table}`);
  }
  const rollupMs = performance.now() - t;
  return { loadMs, vacuumMs, rollupMs };
}
