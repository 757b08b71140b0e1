import crypto from "node:crypto";
import { sql, type Kysely } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../server/testing/stores";
import { MEASURES, recordValueSql } from "./measures";
import { loadMigrations, migrate, type MigrationFile } from "./migrator";
import { ROLLUP_TABLES, type Database } from "./types";

/**
 * The SQL side of the measure registry (0011_measures_registry.sql): usage_measures lists today's
 * measures; insert_usage_batch and the rollup statement generated from it do exactly what 0006's
 * hand-written ones did; and a new measure is one migration line, usage_add_measure(), after which
 * the measure is recorded and summed into every rollup level.
 */

const TZ = "Asia/Shanghai";
type Row = Record<string, unknown>;

const EXPECTED_MEASURES = [
  { position: 1, name: "requests", kind: "count", record_column: "requests", rollup_column: "requests", record_sum: "requests", input_type: "integer", insert_expr: "coalesce(i.requests, 1)" },
  { position: 2, name: "inputTokens", kind: "count", record_column: "input_tokens", rollup_column: "input_tokens", record_sum: "input_tokens", input_type: "bigint", insert_expr: "coalesce(i.input_tokens, 0)" },
  { position: 3, name: "outputTokens", kind: "count", record_column: "output_tokens", rollup_column: "output_tokens", record_sum: "output_tokens", input_type: "bigint", insert_expr: "coalesce(i.output_tokens, 0)" },
  { position: 4, name: "cacheCreateTokens", kind: "count", record_column: "cache_create_tokens", rollup_column: "cache_create_tokens", record_sum: "cache_create_tokens", input_type: "bigint", insert_expr: "coalesce(i.cache_create_tokens, 0)" },
  { position: 5, name: "cacheReadTokens", kind: "count", record_column: "cache_read_tokens", rollup_column: "cache_read_tokens", record_sum: "cache_read_tokens", input_type: "bigint", insert_expr: "coalesce(i.cache_read_tokens, 0)" },
  { position: 6, name: "ephemeral5mTokens", kind: "count", record_column: "ephemeral_5m_tokens", rollup_column: "ephemeral_5m_tokens", record_sum: "ephemeral_5m_tokens", input_type: "bigint", insert_expr: "coalesce(i.ephemeral_5m_tokens, 0)" },
  { position: 7, name: "ephemeral1hTokens", kind: "count", record_column: "ephemeral_1h_tokens", rollup_column: "ephemeral_1h_tokens", record_sum: "ephemeral_1h_tokens", input_type: "bigint", insert_expr: "coalesce(i.ephemeral_1h_tokens, 0)" },
  {
    position: 8, name: "allTokens", kind: "count", record_column: "total_tokens", rollup_column: "total_tokens", record_sum: "total_tokens", input_type: null,
    insert_expr: "coalesce(i.input_tokens, 0) + coalesce(i.output_tokens, 0) + coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0)",
  },
  { position: 9, name: "cost", kind: "money", record_column: "total_cost", rollup_column: "cost_nanos", record_sum: "total_cost", input_type: "numeric", insert_expr: "coalesce(i.total_cost, 0)" },
  { position: 10, name: "ratedCost", kind: "money", record_column: "rated_cost", rollup_column: "rated_cost_nanos", record_sum: "coalesce(rated_cost, total_cost)", input_type: "numeric", insert_expr: "i.rated_cost" },
];

/** A migration that is not in db/migrations: what a new measure's pull request would add. */
function extraMigration(name: string, text: string): MigrationFile {
  return { name, sql: text, checksum: crypto.createHash("sha256").update(text).digest("hex") };
}

async function measures(db: Kysely<Database>): Promise<Row[]> {
  return (await sql<Row>`select * from usage_measures order by position`.execute(db)).rows;
}

async function insert(db: Kysely<Database>, rows: Row[], cast: "json" | "jsonb" = "json"): Promise<string[]> {
  const r = await sql<{ request_id: string }>`select request_id from insert_usage_batch(${JSON.stringify(rows)}::${sql.raw(cast)}, ${TZ})`.execute(db);
  return r.rows.map((x) => x.request_id).sort();
}

/** Every table an insert writes, as sorted JSON text: what two databases must agree on byte for byte. */
async function snapshot(db: Kysely<Database>): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  const tables: [string, string][] = [
    ...ROLLUP_TABLES.map((t): [string, string] => [t, `select to_jsonb(t) as j from ${t} t`]),
    ["usage_records", `select to_jsonb(t) || jsonb_build_object('partition', tableoid::regclass::text) as j from usage_records t`],
    ["usage_request_ids", `select to_jsonb(t) as j from usage_request_ids t`],
    // Without the columns later migrations added (0012: sources), which the old functions never wrote.
    ["api_keys", `select to_jsonb(t) - 'created_at' - 'updated_at' - 'source' as j from api_keys t`],
    ["accounts", `select to_jsonb(t) - 'created_at' - 'updated_at' - 'sources' as j from accounts t`],
  ];
  for (const [name, text] of tables) {
    const r = await sql<{ j: string }>`select j::text as j from (${sql.raw(text)}) s`.execute(db);
    out[name] = r.rows.map((x) => x.j).sort();
  }
  return out;
}

/**
 * Every rollup level recomputed from usage_records with the registry's sums (dated events in the
 * days; a month's CRS residual in its month and all time; an all-time residual in all time only),
 * next to what the rollup holds: the two lists must be equal. Also api_keys' accumulated cost.
 */
async function rollupsAgainstLedger(db: Kysely<Database>): Promise<{ table: string; rollup: string[]; ledger: string[] }[]> {
  const ms = await measures(db);
  const pick = ms.map((m) => `'${m.rollup_column}', t.${m.rollup_column as string}`).join(", ");
  const sums = ms
    .map((m) => `'${m.rollup_column}', ${m.kind === "money" ? `(sum(${m.record_sum as string}) * 1000000000)::int8` : `sum(${m.record_sum as string})::int8`}`)
    .join(", ");
  const undated = `CASE metadata->>'crsAggregate' WHEN 'month' THEN 1 WHEN 'alltime' THEN 2 ELSE 0 END`;
  const out: { table: string; rollup: string[]; ledger: string[] }[] = [];
  for (const level of ["account", "key", "model"]) {
    const keys = level === "account" ? ["account_id"] : level === "key" ? ["account_id", "api_key_id"] : ["account_id", "model"];
    for (const [span, bucket, where] of [
      ["daily", "usage_date", `${undated} = 0`],
      ["monthly", "usage_month", `${undated} < 2`],
      ["totals", null, "true"],
    ] as const) {
      const table = `usage_${level}_${span}`;
      const groupCols = bucket ? [...keys, bucket] : keys;
      const keyJson = groupCols.map((k) => `'${k}', ${k}`).join(", ");
      const bucketExpr = bucket === "usage_month" ? "date_trunc('month', usage_date)::date AS usage_month, " : "";
      const rollup = await sql<{ j: string }>`
        select (jsonb_build_object(${sql.raw(keyJson)}, 'last_used_at', last_used_at) || jsonb_build_object(${sql.raw(pick)}))::text as j
          from ${sql.table(table)} t`.execute(db);
      const ledger = await sql<{ j: string }>`
        select (jsonb_build_object(${sql.raw(keyJson)}, 'last_used_at', max(occurred_at)) || jsonb_build_object(${sql.raw(sums)}))::text as j
          from (select ${sql.raw(bucketExpr)}* from usage_records where ${sql.raw(where)}) t
         group by ${sql.raw(groupCols.join(", "))}`.execute(db);
      out.push({ table, rollup: rollup.rows.map((x) => x.j).sort(), ledger: ledger.rows.map((x) => x.j).sort() });
    }
  }
  const keys = await sql<{ j: string }>`select jsonb_build_object('id', id, 'cost', total_cost_accumulated)::text as j from api_keys`.execute(db);
  const keyLedger = await sql<{ j: string }>`
    select jsonb_build_object('id', k.id, 'cost', coalesce(r.cost, 0)::numeric(20, 8))::text as j
      from api_keys k left join (select api_key_id, sum(total_cost) as cost from usage_records group by 1) r on r.api_key_id = k.id`.execute(db);
  out.push({ table: "api_keys", rollup: keys.rows.map((x) => x.j).sort(), ledger: keyLedger.rows.map((x) => x.j).sort() });
  return out;
}

async function expectRollupsMatchLedger(db: Kysely<Database>): Promise<void> {
  for (const level of await rollupsAgainstLedger(db)) {
    expect(level.rollup.length, level.table).toBeGreaterThan(0);
    expect(level.rollup, level.table).toEqual(level.ledger);
  }
}

function ev(id: string, at: string, account: string, key: string, model: string, extra: Row = {}): Row {
  return { request_id: id, occurred_at: at, account_id: account, api_key_id: key, model, ...extra };
}

/**
 * Batches that take every path: local days and months in Asia/Shanghai (15:30Z on Jan 31 is Feb 1
 * locally), events at one instant under several models (last_model ties), optional fields left out
 * (requests 1, tokens 0, rated cost null), rated cost set or not, CRS aggregates known only for
 * their month or for all time, one request id under two accounts, duplicates within a batch
 * (identical, so that which one wins cannot differ) and of earlier batches (the fallback path), the
 * jsonb overload, and an empty batch.
 */
function batches(): { rows: Row[]; cast: "json" | "jsonb" }[] {
  const full = (i: number): Row => ({
    input_tokens: 100 + i, output_tokens: 3 * i, cache_create_tokens: i % 3 === 0 ? 40 : 0, cache_read_tokens: i % 2 === 0 ? 700 : 0,
    ephemeral_5m_tokens: i % 3 === 0 ? 30 : 0, ephemeral_1h_tokens: i % 3 === 0 ? 10 : 0, total_cost: (0.00000317 * (i + 1)).toFixed(8),
  });
  const first: Row[] = [
    ev("a-1", "2025-01-31T15:30:00.000Z", "acc-a", "key-a1", "m-y", { ...full(1), rated_cost: "0.2" }),
    ev("a-2", "2025-01-31T15:30:00.000Z", "acc-a", "key-a1", "m-x", full(2)),
    ev("a-3", "2025-01-31T15:29:59.000Z", "acc-a", "key-a1", "m-a", { ...full(3), rated_cost: "0.00000001" }),
    ev("a-4", "2025-01-15T01:00:00.000Z", "acc-a", "key-a2", "m-x"),
    ev("a-5", "2025-02-10T10:00:00.000Z", "acc-a", "key-a2", "m-x", { ...full(5), requests: 3, total_cost: "1.00000001", rated_cost: "2.5" }),
    ev("shared", "2025-02-10T10:00:00.000Z", "acc-a", "key-a1", "m-y", { ...full(6), total_cost: "0.12345678" }),
    ev("shared", "2025-02-11T10:00:00.000Z", "acc-b", "key-b", "m-z", { ...full(7), total_cost: "0.5" }),
    ev("b-1", "2025-02-01T00:00:00.000+08:00", "acc-b", "key-b", "m-z", {
      ...full(8), requests: 50, total_cost: "12.5", rated_cost: "20", metadata: { source: "crs", crsAggregate: "month", bucket: "2025-02-01" },
    }),
    ev("b-2", "2025-01-01T00:00:00.000+08:00", "acc-b", "key-b", "m-z", {
      ...full(9), requests: 100, total_cost: "40", metadata: { source: "crs", crsAggregate: "alltime", bucket: "2025-01-01" },
    }),
    ev("b-3", "2025-01-20T00:00:00.000+08:00", "acc-b", "key-b", "m-y", {
      ...full(10), requests: 4, total_cost: "1", metadata: { source: "crs", crsAggregate: "day", bucket: "2025-01-20" }, cost_breakdown: { input: "0.5" },
    }),
    ev("k-1", "2025-02-03T08:00:00.000Z", "acc-known", "key-known", "m-x", { ...full(11), rated_cost: "0.33333333" }),
  ];
  const second: Row[] = [
    ev("a-1", "2025-02-20T00:00:00.000Z", "acc-a", "key-a1", "m-q", { ...full(20), total_cost: "99" }), // recorded already
    ev("c-1", "2025-02-21T00:00:00.000Z", "acc-c", "key-c", "m-x", full(21)),
    ev("c-1", "2025-02-21T00:00:00.000Z", "acc-c", "key-c", "m-x", full(21)), // twice in the batch
    ev("c-2", "2025-02-21T00:00:00.000Z", "acc-c", "key-c", "m-w", { ...full(22), rated_cost: "0" }),
    ev("shared", "2025-02-22T00:00:00.000Z", "acc-c", "key-c", "m-x", full(23)), // the id of two other accounts
    ev("c-3", "2025-01-31T16:00:00.000Z", "acc-c", "key-a1", "m-x", full(24)), // a key seen under another account
  ];
  const third: Row[] = [
    ev("d-1", "2025-02-27T23:59:59.000Z", "acc-a", "key-a2", "m-y", { ...full(30), rated_cost: "0.00000002" }),
    ev("d-2", "2025-02-28T16:00:00.000Z", "acc-b", "key-b", "m-z", { requests: 0, total_cost: "0" }),
    ev("b-4", "2025-02-01T00:00:00.000+08:00", "acc-a", "key-a1", "m-x", {
      requests: 7, input_tokens: 70, total_cost: "0.7", metadata: { source: "crs", crsAggregate: "month", bucket: "2025-02-01" },
    }),
  ];
  return [
    { rows: first, cast: "json" },
    { rows: second, cast: "json" },
    { rows: third, cast: "jsonb" },
    { rows: [], cast: "json" },
    { rows: first.slice(0, 3), cast: "json" }, // all recorded already
  ];
}

/** A later batch, for after the old database was migrated to 0011. */
const LATER: Row[] = [
  ev("e-1", "2025-02-05T12:00:00.000Z", "acc-a", "key-a1", "m-x", { input_tokens: 5, total_cost: "0.05", rated_cost: "0.06" }),
  ev("e-2", "2025-02-05T12:00:00.000Z", "acc-new", "key-new", "m-n", { output_tokens: 9, total_cost: "0.00000009" }),
  ev("a-2", "2025-02-05T12:00:00.000Z", "acc-a", "key-a1", "m-x", { total_cost: "5" }),
];

async function prepare(db: Kysely<Database>): Promise<void> {
  await sql`insert into accounts (id, name, platform) values ('acc-known', 'Known', 'claude')`.execute(db);
  await sql`insert into api_keys (id, name, account_id) values ('key-known', 'Known key', 'acc-known')`.execute(db);
  await sql`select ensure_usage_partitions('2024-12-01', '2025-03-01')`.execute(db);
}

describe("usage_measures (0011)", () => {
  let before: TestDatabase;
  let after: TestDatabase;
  beforeAll(async () => {
    [before, after] = await Promise.all([createTestDatabase(), createTestDatabase({ migrated: true })]);
    await migrate(before.handle, { files: loadMigrations().filter((f) => f.name < "0011") });
    await Promise.all([prepare(before.handle.db), prepare(after.handle.db)]);
  });
  afterAll(async () => {
    await before?.drop();
    await after?.drop();
  });

  it("lists today's measures, in order", async () => {
    expect(await measures(after.handle.db)).toEqual(EXPECTED_MEASURES);
  });

  it("lists what db/measures.ts declares: the same names, kinds, columns and order, money defaulting to another summed as it", async () => {
    const rows = await measures(after.handle.db);
    expect(rows.map((r) => ({ name: r.name, kind: r.kind, column: r.rollup_column, recordColumn: r.record_column, computed: r.input_type === null, sum: r.record_sum }))).toEqual(
      MEASURES.map((m) => ({
        name: m.name,
        kind: m.kind,
        column: m.column,
        recordColumn: m.recordColumn,
        computed: !("input" in m),
        sum: recordValueSql(m, "").replace(/(^|[ (])\./g, "$1"),
      })),
    );
  });

  it("generates 0006's rollup statement character for character, and its insert_usage_batch but for line breaks", async () => {
    const definitions = async (db: Kysely<Database>) =>
      (await sql<Row>`
        select usage_rollup_sql('new_usage') as rollup,
               regexp_replace(p.prosrc, '\\s+', ' ', 'g') as insert_body, p.proconfig, p.prosecdef, p.provolatile,
               pg_get_function_result(p.oid) as result, pg_get_function_identity_arguments(p.oid) as args,
               (select prosrc from pg_proc where oid = 'insert_usage_batch(jsonb, text)'::regprocedure) as jsonb_body
          from pg_proc p where p.oid = 'insert_usage_batch(json, text)'::regprocedure`.execute(db)).rows[0];
    const now = await definitions(after.handle.db);
    expect(now).toEqual(await definitions(before.handle.db));
    expect(now!.insert_body).toContain("EXCEPTION WHEN unique_violation THEN");
    expect(now!.insert_body).toContain('ORDER BY x.account_id COLLATE "C", x.request_id COLLATE "C"');
    expect(now!.proconfig).toEqual(["work_mem=32MB"]);
    const volatility = await sql<{ v: string }>`select provolatile as v from pg_proc where oid = 'usage_rollup_sql(text)'::regprocedure`.execute(after.handle.db);
    expect(volatility.rows).toEqual([{ v: "s" }]); // it reads usage_measures
  });

  it("records, rolls up and dedupes byte for byte as 0006's hand-written functions did, before and after migrating a used database", async () => {
    for (const { rows, cast } of batches()) {
      const old = await insert(before.handle.db, rows, cast);
      expect(await insert(after.handle.db, rows, cast)).toEqual(old);
    }
    const snap = await snapshot(after.handle.db);
    expect(snap).toEqual(await snapshot(before.handle.db));
    expect(snap.usage_records!.length).toBe(18);
    await expectRollupsMatchLedger(after.handle.db);

    // 0011 on a database with usage: nothing recorded changes, and the next batches agree too.
    expect(await migrate(before.handle)).toEqual(loadMigrations().filter((f) => f.name >= "0011").map((f) => f.name));
    expect(await snapshot(before.handle.db)).toEqual(snap);
    expect(await insert(before.handle.db, LATER)).toEqual(["e-1", "e-2"]);
    expect(await insert(after.handle.db, LATER)).toEqual(["e-1", "e-2"]);
    expect(await snapshot(after.handle.db)).toEqual(await snapshot(before.handle.db));
    await expectRollupsMatchLedger(before.handle.db);
  });
});

describe("usage_add_measure: a new measure is one migration line", () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase();
    // All of db/migrations, then the one line a new measure's pull request adds (and one for money).
    await migrate(t.handle, {
      files: [
        ...loadMigrations(),
        extraMigration("9001_fake_units.sql", "SELECT usage_add_measure('fakeUnits', 'count', 'fake_units');"),
        extraMigration("9002_fake_fee.sql", "SELECT usage_add_measure('fakeFee', 'money', 'fake_fee');"),
      ],
    });
    await prepare(t.handle.db);
  });
  afterAll(async () => t?.drop());

  it("registers the measure with its defaults and adds its columns to usage_records, every partition and the nine rollups", async () => {
    const db = t.handle.db;
    expect(await measures(db)).toEqual([
      ...EXPECTED_MEASURES,
      { position: 11, name: "fakeUnits", kind: "count", record_column: "fake_units", rollup_column: "fake_units", record_sum: "fake_units", input_type: "bigint", insert_expr: "coalesce(i.fake_units, 0)" },
      { position: 12, name: "fakeFee", kind: "money", record_column: "fake_fee", rollup_column: "fake_fee_nanos", record_sum: "fake_fee", input_type: "numeric", insert_expr: "coalesce(i.fake_fee, 0)" },
    ]);
    // A partition created after the measure (ensure_usage_partition) has its columns too.
    await sql`select ensure_usage_partition('2019-03-01')`.execute(db);
    const cols = await sql<{ t: string; c: string; type: string; notnull: boolean; dflt: string }>`
      select a.attrelid::regclass::text as t, a.attname as c, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as notnull,
             pg_get_expr(d.adbin, d.adrelid) as dflt
        from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
       where a.attname in ('fake_units', 'fake_fee', 'fake_fee_nanos') and not a.attisdropped
         and (a.attrelid = 'usage_records'::regclass or a.attrelid in (select inhrelid from pg_inherits where inhparent = 'usage_records'::regclass)
              or a.attrelid::regclass::text = any(${[...ROLLUP_TABLES]}::text[]))`.execute(db);
    const partitions = await sql<{ p: string }>`select inhrelid::regclass::text as p from pg_inherits where inhparent = 'usage_records'::regclass`.execute(db);
    expect(partitions.rows.map((r) => r.p)).toContain("usage_records_p201903");
    const expected = [
      ...["usage_records", ...partitions.rows.map((r) => r.p)].flatMap((tbl) => [
        { t: tbl, c: "fake_fee", type: "numeric(20,8)", notnull: true, dflt: "0" },
        { t: tbl, c: "fake_units", type: "bigint", notnull: true, dflt: "0" },
      ]),
      ...ROLLUP_TABLES.flatMap((tbl) => [
        { t: tbl, c: "fake_fee_nanos", type: "bigint", notnull: true, dflt: "0" },
        { t: tbl, c: "fake_units", type: "bigint", notnull: true, dflt: "0" },
      ]),
    ];
    const order = (a: { t: string; c: string }, b: { t: string; c: string }) => (`${a.t} ${a.c}` < `${b.t} ${b.c}` ? -1 : 1);
    expect(cols.rows.sort(order)).toEqual(expected.sort(order));
  });

  it("flows into usage_records and every rollup level, counts as int8 and money exactly in nano-USD, and db:rebuild-rollups rebuilds it", async () => {
    const db = t.handle.db;
    const rows: Row[] = [
      ...batches()[0]!.rows.map((r, i) => ({ ...r, ...(i % 3 === 2 ? {} : { fake_units: 1000 + i, fake_fee: (0.00000001 * (i + 1)).toFixed(8) }) })),
      ev("f-1", "2019-03-05T00:00:00.000Z", "acc-a", "key-a1", "m-x", { fake_units: 2 ** 40, fake_fee: "12345678.12345678" }),
      ev("f-2", "2019-03-05T00:00:00.000Z", "acc-a", "key-a1", "m-x", { fake_units: 2 ** 40, fake_fee: "0.00000001" }),
    ];
    expect(await insert(db, rows)).toHaveLength(rows.length); // "shared" is the id of two accounts: two requests
    // The fallback path (an id recorded already) writes the measure too.
    expect(await insert(db, [rows[0]!, ev("f-3", "2025-02-02T00:00:00.000Z", "acc-c", "key-c", "m-x", { fake_units: 5, fake_fee: "0.50000000" })])).toEqual(["f-3"]);

    const stored = await sql<{ request_id: string; account_id: string; fake_units: number; fake_fee: string }>`
      select request_id, account_id, fake_units, fake_fee from usage_records order by request_id, account_id`.execute(db);
    const sent = new Map([...rows, ev("f-3", "", "acc-c", "", "", { fake_units: 5, fake_fee: "0.50000000" })].map((r) => [`${r.request_id as string}/${r.account_id as string}`, r]));
    for (const s of stored.rows) {
      const r = sent.get(`${s.request_id}/${s.account_id}`)!;
      expect([s.request_id, s.fake_units, s.fake_fee]).toEqual([s.request_id, (r.fake_units as number | undefined) ?? 0, (r.fake_fee as string | undefined) ?? "0.00000000"]);
    }
    await expectRollupsMatchLedger(db);

    // Exact sums past 2^53 nano-USD: the account's all-time row against the events it was sent.
    const totals = await sql<{ fake_units: string; fake_fee_nanos: string }>`
      select fake_units::text, fake_fee_nanos::text from usage_account_totals where account_id = 'acc-a'`.execute(db);
    const mine = rows.filter((r) => r.account_id === "acc-a");
    const units = mine.reduce((s, r) => s + BigInt((r.fake_units as number | undefined) ?? 0), 0n);
    const nanos = mine.reduce((s, r) => s + BigInt(((r.fake_fee as string | undefined) ?? "0").replace(".", "")) * 10n, 0n);
    expect(totals.rows).toEqual([{ fake_units: String(units), fake_fee_nanos: String(nanos) }]);
    expect([units, nanos]).toEqual([2n * 2n ** 40n + 4008n, 12_345_678_123_456_910n]);

    // db:rebuild-rollups (usage_rollup_add per partition) gives the same rollups.
    const before = await snapshot(db);
    await sql`truncate ${sql.raw(ROLLUP_TABLES.join(", "))}`.execute(db);
    await sql`update api_keys set total_cost_accumulated = 0, last_used_at = null`.execute(db);
    await sql`select usage_rollup_add(inhrelid::regclass) from pg_inherits where inhparent = 'usage_records'::regclass order by inhrelid::regclass::text`.execute(db);
    expect(await snapshot(db)).toEqual(before);
  });

  it("refuses a negative value for new rows, and a call that cannot work changes nothing", async () => {
    const db = t.handle.db;
    await expect(insert(db, [ev("neg-1", "2025-02-02T00:00:00.000Z", "acc-a", "key-a1", "m-x", { fake_units: -1 })])).rejects.toMatchObject({ code: "23514" });
    const attempts: [string, RegExp][] = [
      ["SELECT usage_add_measure('weird', 'gauge', 'weird')", /kind must be 'count' or 'money'/],
      ["SELECT usage_add_measure('bad', 'count', 'Bad Column')", /lower-case SQL name/],
      ["SELECT usage_add_measure('fakeUnits', 'count', 'fake_units_again')", /usage_measures_name_key/],
      ["SELECT usage_add_measure('again', 'count', 'fake_units')", /already exists/],
      ["SELECT usage_add_measure('typo', 'count', 'typo', p_insert_expr => 'coalesce(i.typos, 0)')", /i\.typos does not exist/],
      ["SELECT usage_add_measure('snake_name', 'count', 'snake_name')", /usage_measures_name_check/],
    ];
    const shape = async () => [await measures(db), (await sql<Row>`select count(*)::int as n from pg_attribute where attrelid = 'usage_records'::regclass and attnum > 0 and not attisdropped`.execute(db)).rows];
    const was = await shape();
    for (const [text, message] of attempts) {
      await expect(sql.raw(text).execute(db), text).rejects.toThrow(message);
    }
    expect(await shape()).toEqual(was);
  });

  it("takes a computed measure: its own expression over the other fields, no field of its own", async () => {
    const db = t.handle.db;
    await sql`select usage_add_measure('cachedTokens', 'count', 'cached_tokens', p_insert_expr => 'coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0)')`.execute(db);
    const m = await sql<Row>`select input_type, insert_expr from usage_measures where name = 'cachedTokens'`.execute(db);
    expect(m.rows).toEqual([{ input_type: null, insert_expr: "coalesce(i.cache_create_tokens, 0) + coalesce(i.cache_read_tokens, 0)" }]);
    // A field of that name in the event is not read: the expression is the value.
    const row = ev("g-1", "2025-02-03T00:00:00.000Z", "acc-g", "key-g", "m", { cache_create_tokens: 3, cache_read_tokens: 4, cached_tokens: 1000 });
    expect(await insert(db, [row])).toEqual(["g-1"]);
    const r = await sql<Row>`select cached_tokens from usage_records where request_id = 'g-1' union all select cached_tokens from usage_key_totals where api_key_id = 'key-g'`.execute(db);
    expect(r.rows).toEqual([{ cached_tokens: 7 }, { cached_tokens: 7 }]);
    await expectRollupsMatchLedger(db);
  });
});
