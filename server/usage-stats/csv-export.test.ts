import { sql } from "kysely";
import { NextRequest } from "next/server";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as breakdownRoute } from "@/app/admin/accounts/[id]/usage-breakdown/route";
import { GET as listRoute } from "@/app/admin/accounts/usage-stats/route";
import { createApiToken } from "../auth/token.service";
import { createRuntime, setRuntime, type Runtime } from "../runtime";
import { createTestDatabase, testConfig, type TestDatabase } from "../testing/stores";
import { waitFor } from "../testing/servers";
import { csvLine, csvResponse, exportBreakdown, marginCells, zonedIso, type Cell } from "./csv";
import { BREAKDOWN_SORTS, FIGURES, type AccountBreakdownInput } from "./schemas";
import { TEST_TZ, insertEvents, parseCsv, shInstant, spreadEvents } from "./stats.fixtures";
import { getAccountBreakdown } from "./stats.service";

vi.mock("server-only", () => ({}));

/**
 * Issue 19, item 2: the breakdown CSV aggregates once and streams (it used to re-aggregate every
 * key of the account for each page of 100: O(keys²)), stops at REQUEST_TIMEOUT_MS with its
 * statement cancelled, and runs at most CSV_MAX_CONCURRENT_EXPORTS(_PER_TOKEN) at once — on a real
 * PostgreSQL, with an account of 50,000 keys over a three-year custom range.
 */

const BIG_KEYS = 50_000;
const MID_KEYS = 3_000;
const THREE_YEARS = "range=custom&start=2023-06-15&end=2026-06-10";
const now = new Date("2026-11-18T06:30:00.000Z");

let tdb: TestDatabase;
let runtime: Runtime;
/** The same database with a 1 s request deadline. */
let hasty: Runtime;
let admin: pg.Client;

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
const call = (handler: Handler, url: string, token: string, params: Record<string, string> = {}) =>
  handler(new NextRequest(`http://localhost${url}`, { headers: { authorization: `Bearer ${token}` } }), { params: Promise.resolve(params) });
const exportOf = (id: string, token: string, query = THREE_YEARS) => call(breakdownRoute, `/admin/accounts/${id}/usage-breakdown?${query}&format=csv`, token, { id });
const readToken = async (name: string) => (await createApiToken(runtime, { name, scope: "usage:read" })).token;

/** Keys × 2 events, months and days spread over the range, written by one insert_usage_batch in SQL. */
async function seedKeys(accountId: string, prefix: string, keys: number) {
  const db = tdb.handle.db;
  await sql`INSERT INTO accounts (id, name, platform, metadata) VALUES (${accountId}, ${accountId}, 'claude', '{}')`.execute(db);
  await sql`INSERT INTO api_keys (id, name, account_id, hashed_key)
    SELECT ${prefix}::text || lpad(i::text, 5, '0'), 'key ' || i, ${accountId}, md5(${prefix}::text || i) FROM generate_series(1, ${keys}::int) i`.execute(db);
  await sql`SELECT count(*) FROM insert_usage_batch((
      SELECT json_agg(json_build_object(
        'request_id', ${prefix}::text || i || '-' || j,
        'occurred_at', ((date '2023-06-20' + make_interval(months => (i * (j * 6 + 1) + j * 5) % 36, days => i % 20)) + time '10:00') AT TIME ZONE ${TEST_TZ}::text,
        'account_id', ${accountId}::text, 'api_key_id', ${prefix}::text || lpad(i::text, 5, '0'), 'model', 'm-' || (i % 3),
        'input_tokens', i % 997, 'output_tokens', (i * 3) % 501, 'cache_create_tokens', 0, 'cache_read_tokens', j * 11,
        'total_cost', ((i % 1000) * 0.00001234)::numeric(20, 8), 'rated_cost', CASE WHEN i % 2 = 0 THEN ((i % 700) * 0.00002)::numeric(20, 8) END))
      FROM generate_series(1, ${keys}::int) i, generate_series(0, 1) j), ${TEST_TZ})`.execute(db);
}

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  const config = { DATABASE_URL: tdb.url, USAGE_TIMEZONE: TEST_TZ, REDIS_URL: "" };
  runtime = await createRuntime(testConfig(config), { ownDatabase: true });
  // Its statement timeout is far past the deadline: only the deadline can stop its statements.
  hasty = await createRuntime(testConfig({ ...config, REQUEST_TIMEOUT_MS: "1000", DB_STATEMENT_TIMEOUT_MS: "60000" }), { ownDatabase: true });
  setRuntime(runtime);
  admin = new pg.Client({ connectionString: tdb.url });
  admin.on("error", () => {});
  await admin.connect();
  await sql`SELECT ensure_usage_partitions('2023-06-01', '2026-07-01')`.execute(tdb.handle.db);
  await seedKeys("acc-big", "kb-", BIG_KEYS);
  await seedKeys("acc-mid", "km-", MID_KEYS);
  await seedSmall();
}, 300_000);

afterAll(async () => {
  setRuntime(undefined);
  await admin?.end().catch(() => {});
  await hasty?.close();
  await runtime?.close();
  await tdb?.drop();
});

// ---- the file's content is what it was

const SMALL_KEYS = Array.from({ length: 230 }, (_, i) => `ks-${String(i).padStart(3, "0")}`);

async function seedSmall() {
  const db = tdb.handle.db;
  await db.insertInto("accounts").values({ id: "acc-small", name: "Small", platform: "claude", metadata: "{}" }).execute();
  // Names a spreadsheet would misread, quotes and commas, and keys without a row (named by id).
  const names = ["=SUM(A1:A9)", 'Beta, "quoted"', "中文 密钥", "-1+2", "@user", "plain"];
  await db
    .insertInto("api_keys")
    .values(SMALL_KEYS.slice(0, 200).map((id, i) => ({ id, name: names[i % names.length]! + (i < names.length ? "" : ` ${i}`), account_id: "acc-small", hashed_key: `h-${id}` })))
    .execute();
  await insertEvents(
    db,
    spreadEvents({ seed: 19, accountId: "acc-small", keys: SMALL_KEYS, models: ["m-a", "m-b", "m-c"], n: 1500, fromIso: shInstant("2025-01-01T00:00:00.000"), toIso: shInstant("2026-11-01T00:00:00.000") }),
  );
  // Two keys with exactly the same figures: the order between them is the key id.
  for (const id of ["ks-tie-b", "ks-tie-a"]) {
    await insertEvents(db, [
      { requestId: `${id}-1`, occurredAt: shInstant("2026-03-03T10:00:00.000"), accountId: "acc-small", apiKeyId: id, model: "m-a", inputTokens: 5, outputTokens: 5, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.01" },
    ]);
  }
}

const HEADER = ["apiKeyId", "apiKeyName", ...FIGURES, "share.tokens", "share.cost", "lastModel", "lastUsedAt", "source", "margin", "marginRate"];

/** The file as the export wrote it before issue 19: the JSON pages of 100 keys, one after another. */
async function pagedCsv(input: AccountBreakdownInput): Promise<string> {
  let text = "\uFEFF" + csvLine(HEADER);
  let offset: number | null = 0;
  while (offset !== null) {
    const page = await getAccountBreakdown(runtime, { ...input, format: "json", limit: 100, offset }, now);
    text += page.data.items
      .map((k) => csvLine([k.apiKeyId, k.apiKeyName, ...FIGURES.map((f): Cell => k[f]), k.share.tokens, k.share.cost, k.lastModel, zonedIso(k.lastUsedAt, page.timezone), k.source, ...marginCells(k)]))
      .join("");
    offset = page.data.nextOffset;
  }
  return text;
}

const decode = async (res: Response) => new TextDecoder("utf-8", { ignoreBOM: true }).decode(await res.arrayBuffer());

describe("the breakdown CSV", () => {
  it("writes exactly what the paged export wrote, for every sort, order and kind of range", async () => {
    const ranges = [{ range: "total" }, { range: "monthly", month: "2026-03" }, { range: "daily", date: "2026-03-03" }, { range: "custom", start: "2025-02-10", end: "2026-10-20" }] as const;
    let compared = 0;
    for (const r of ranges) {
      for (const sort of BREAKDOWN_SORTS) {
        for (const order of ["asc", "desc"] as const) {
          const input = { id: "acc-small", ...r, sort, order, format: "csv" } as AccountBreakdownInput;
          const text = await decode(csvResponse(await exportBreakdown(runtime, input, { now })));
          expect(text, `${r.range} ${sort} ${order}`).toBe(await pagedCsv(input));
          compared += parseCsv(text.slice(1)).length - 1;
        }
      }
    }
    expect(compared).toBeGreaterThan(2000);
  });

  // As written before issue 19, plus the key's source (issue 22) last: empty for these REST API keys.
  it("keeps the exact bytes of a small file", async () => {
    const text = await decode(csvResponse(await exportBreakdown(runtime, { id: "acc-small", range: "daily", date: "2026-03-03", sort: "allTokens", order: "desc", format: "csv" }, { now })));
    expect(text).toBe(
      "\uFEFFapiKeyId,apiKeyName,requests,inputTokens,outputTokens,cacheCreateTokens,cacheReadTokens,allTokens,cost,ratedCost,share.tokens,share.cost,lastModel,lastUsedAt,source,margin,marginRate\r\n" +
        "ks-142,'@user 142,1,22681,6430,0,82220,111331,0.457484,0.457484,0.669334,0.376638,m-c,2026-03-03T01:13:17.290+08:00,,0,0\r\n" +
        "ks-010,'@user 10,2,31055,362,237,0,31654,0.401519,0.401519,0.190307,0.330563,m-c,2026-03-03T20:07:24.257+08:00,,0,0\r\n" +
        'ks-169,"Beta, ""quoted"" 169",1,17034,6292,0,0,23326,0.335648,0.335648,0.140238,0.276333,m-b,2026-03-03T17:08:49.301+08:00,,0,0\r\n' +
        "ks-tie-a,ks-tie-a,1,5,5,0,0,10,0.01,0.01,0.00006,0.008233,m-a,2026-03-03T10:00:00+08:00,,0,0\r\n" +
        "ks-tie-b,ks-tie-b,1,5,5,0,0,10,0.01,0.01,0.00006,0.008233,m-a,2026-03-03T10:00:00+08:00,,0,0\r\n",
    );
  });

  it("exports 50,000 keys over three years in seconds, every key once", async () => {
    const token = await readToken("big export");
    const started = performance.now();
    const res = await exportOf("acc-big", token);
    expect(res.status).toBe(200);
    const rows = parseCsv((await decode(res)).slice(1));
    const seconds = (performance.now() - started) / 1000;
    // Measured on a busy 2-core machine: 132 s before issue 19 (500 pages, each aggregating every
    // key again; 65 s in the review), 1.5-2.5 s after. The bound leaves room for a loaded CI.
    console.info(`[csv-export] ${BIG_KEYS} keys, three years: ${seconds.toFixed(2)} s`);
    expect(seconds).toBeLessThan(20);
    expect(rows).toHaveLength(BIG_KEYS + 1);
    expect(new Set(rows.slice(1).map((r) => r[0])).size).toBe(BIG_KEYS);
    expect(rows.slice(1).reduce((n, r) => n + Number(r[2]), 0)).toBe(2 * BIG_KEYS);
    const first = await getAccountBreakdown(runtime, { id: "acc-big", range: "custom", start: "2023-06-15", end: "2026-06-10", sort: "allTokens", order: "desc", format: "json", limit: 3 }, now);
    expect(rows.slice(1, 4).map((r) => r[0])).toEqual(first.data.items.map((k) => k.apiKeyId));
  });
});

// ---- the request deadline

/** Statements of this database that run or hold a transaction open, but ours (the admin client). */
async function busyStatements(): Promise<{ state: string; query: string }[]> {
  const r = await admin.query<{ state: string; query: string }>(
    `SELECT state, query FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND state IS NOT NULL AND state <> 'idle'`,
  );
  return r.rows;
}


describe("the request deadline", () => {
  it("answers 503 at REQUEST_TIMEOUT_MS and cancels the statement (pg_stat_activity shows it gone)", async () => {
    const token = await readToken("deadline");
    setRuntime(hasty);
    const locker = new pg.Client({ connectionString: tdb.url });
    await locker.connect();
    try {
      // The export's statement reads api_keys: it waits for this lock until something stops it.
      await locker.query("BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE");
      const res = await exportOf("acc-mid", token);
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ error: { code: "UNAVAILABLE", message: expect.stringMatching(/within 1000 ms/) } });
      // Gone while the lock is still held: cancelled at the deadline, long before its statement
      // timeout (60 s) would have ended it.
      await waitFor(async () => !(await busyStatements()).some((s) => /usage_key_/.test(s.query)), "the export's statement to be gone", 5_000);
    } finally {
      await locker.query("ROLLBACK").catch(() => {});
      await locker.end();
      setRuntime(runtime);
    }
  });

  it("ends a stream whose reader is too slow, and gives its connection back", async () => {
    const token = await readToken("slow reader");
    setRuntime(hasty);
    try {
      const res = await exportOf("acc-mid", token, "range=total");
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      // The cursor's transaction is open while the reader dawdles …
      await waitFor(async () => (await busyStatements()).some((s) => s.state.startsWith("idle in transaction")), "the export's cursor to be open", 15_000);
      // … and closed once the deadline passes, whether or not anyone reads.
      await waitFor(async () => (await busyStatements()).length === 0, "the cursor's transaction to end", 15_000);
      const rest = (async () => {
        for (;;) if ((await reader.read()).done) return "complete";
      })();
      await expect(rest).rejects.toThrow(/within 1000 ms/);
    } finally {
      setRuntime(runtime);
    }
  });
});

// ---- concurrency

describe("concurrent exports", () => {
  it("run at most CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN per token and CSV_MAX_CONCURRENT_EXPORTS per process (429, Retry-After); the list stays fast", async () => {
    const [a, b, c] = [await readToken("a"), await readToken("b"), await readToken("c")];
    const fromA = await Promise.all(Array.from({ length: 12 }, () => exportOf("acc-big", a)));
    expect(fromA.map((r) => r.status).sort()).toEqual([200, 200, ...Array(10).fill(429)]);
    const refused = fromA.find((r) => r.status === 429)!;
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(await refused.json()).toMatchObject({ error: { code: "TOO_MANY_REQUESTS", message: expect.stringMatching(/per token/) } });
    const fromB = await Promise.all([exportOf("acc-big", b), exportOf("acc-big", b)]);
    expect(fromB.map((r) => r.status)).toEqual([200, 200]);
    const fromC = await exportOf("acc-big", c);
    expect(fromC.status).toBe(429);
    expect(await fromC.json()).toMatchObject({ error: { message: expect.stringMatching(/at once/) } });

    const running = [...fromA, ...fromB].filter((r) => r.status === 200);
    let done = false;
    const exports = Promise.all(running.map(async (r) => parseCsv((await decode(r)).slice(1)).length)).finally(() => (done = true));
    const listMs: number[] = [];
    while (!done) {
      const t = performance.now();
      const res = await call(listRoute, "/admin/accounts/usage-stats", c);
      expect(res.status).toBe(200);
      await res.json();
      listMs.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(await exports).toEqual([BIG_KEYS + 1, BIG_KEYS + 1, BIG_KEYS + 1, BIG_KEYS + 1]);
    const worst = Math.max(...listMs);
    console.info(`[csv-export] accounts list during 4 exports of ${BIG_KEYS} keys: ${listMs.length} reads, median ${median(listMs).toFixed(0)} ms, worst ${worst.toFixed(0)} ms`);
    // Twelve unbounded paged exports made the same read take 1.5 s (median) and up to 2.9 s here;
    // bounded, 0.17-0.35 s (median, the same code run after run) with a worst of 0.3-1.2 s on this
    // 2-core machine alone, up to 0.55 s with the whole suite beside it. The bound tells starved
    // from served, not fast from faster: speed belongs to npm run bench.
    expect(listMs.length).toBeGreaterThan(3);
    expect(median(listMs)).toBeLessThan(1000);
    expect(worst).toBeLessThan(2500);

    // Every slot came back: finished, and cancelled by the client.
    const again = await exportOf("acc-mid", c, "range=total");
    expect(again.status).toBe(200);
    await again.body!.cancel();
    const twice = await Promise.all([exportOf("acc-mid", c, "range=total"), exportOf("acc-mid", c, "range=total")]);
    expect(twice.map((r) => r.status)).toEqual([200, 200]);
    await Promise.all(twice.map((r) => r.arrayBuffer()));
  });
});

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? NaN;
}
