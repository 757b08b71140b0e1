/**
 * npm run bench:newapi [-- --rows N] [--report]
 *
 * The new-api / one-api figures.
 * 1. newapi:import of a generated new-api database on PostgreSQL with N logs rows (default
 *    1,000,000; 40 channels of various types and 2 deleted ones, 1,200 tokens, 300 users, 90 days;
 *    ~85 % consume, 2 % refunds, 0.5 % negative re-consume rows, the rest errors, top-ups and system
 *    rows) into a ledger database of its own, checked exactly against the source's SQL aggregates
 *    (exit 1 if not), and in the same run COPY of N rows into usage_records of a fresh ledger
 *    database (the reference).
 * 2. The follower on that table and on one 10× smaller: queries to new-api and time per poll with
 *    nothing new, after 1 new row and after 100 new rows (median of 5 polls each).
 * Every database it creates is dropped at the end, also on failure. Writes bench/newapi-results.json
 * and its section of bench/RESULTS.md (`--report` only re-renders the section from the json).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { NewapiFollower } from "../../server/sources/newapi/follower";
import { createTestDatabase } from "../../server/testing/stores";
import { spawnSync } from "node:child_process";
import type { CopyFigures } from "./ingest";
import { ROWS_PER_WRITE } from "../../server/sources/shared/bulk";
import { addGeneratedLogs, compareWithSource, importGeneratedNewapi, NEWAPI_SOURCE, type ImportedNewapi, type NewapiImportFigures } from "./newapi-data";
import { writeResultsSection } from "./report";

const MIN_ROWS = 10_000;
const MAX_ROWS = 10_000_000;
const REPEATS = 5;

const RESULTS_JSON = path.resolve(import.meta.dirname, "../../bench/newapi-results.json");

function cli(): { rows: number; report: boolean } {
  const { values } = parseArgs({ options: { rows: { type: "string", default: "1000000" }, report: { type: "boolean", default: false } }, strict: true, allowPositionals: false });
  const n = Number(values.rows.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < MIN_ROWS || n > MAX_ROWS) throw new Error(`--rows must be an integer from ${MIN_ROWS} to ${MAX_ROWS}, got "${values.rows}"`);
  return { rows: n, report: values.report };
}

interface PollCost {
  queries: number;
  ms: number;
  rowsRead: number;
}

export interface FollowerFigures {
  tableRows: number;
  idle: PollCost;
  oneRow: PollCost;
  hundredRows: PollCost;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Poll costs on an imported table: new rows are written as the relay writes them (one INSERT each batch). */
async function measureFollower(imported: ImportedNewapi, seed: number): Promise<{ figures: FollowerFigures; mismatches: string[] }> {
  const follower = new NewapiFollower(imported.ledger.runtime, imported.reader, { source: NEWAPI_SOURCE, owner: "bench" });
  // The first poll starts at the relay's present and syncs channels, tokens and QuotaPerUnit; the next is a plain one.
  await follower.pollOnce();
  await follower.pollOnce();
  const poll = async (): Promise<PollCost> => {
    const t = performance.now();
    const r = await follower.pollOnce();
    return { queries: r.queries, ms: performance.now() - t, rowsRead: r.rowsRead };
  };
  const series = async (newRows: number): Promise<PollCost> => {
    const runs: PollCost[] = [];
    for (let i = 0; i < REPEATS; i++) {
      if (newRows) await addGeneratedLogs(imported.pool, newRows, { fromMs: Date.now() - 2_000, toMs: Date.now() - 1_000, seed: seed + i / 100 });
      runs.push(await poll());
    }
    const bad = runs.find((r) => r.rowsRead !== newRows);
    if (bad) throw new Error(`the follower read ${bad.rowsRead} rows after ${newRows} new ones`);
    return { queries: median(runs.map((r) => r.queries)), ms: Math.round(median(runs.map((r) => r.ms)) * 10) / 10, rowsRead: newRows };
  };
  const idle = await series(0);
  const oneRow = await series(1);
  const hundredRows = await series(100);
  // Everything followed counts exactly too.
  const check = await compareWithSource(imported.pool, imported.ledger);
  const tableRows = Number((await imported.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM logs`)).rows[0]!.n);
  return { figures: { tableRows, idle, oneRow, hundredRows }, mismatches: check.mismatches.map((m) => `after following: ${m}`) };
}

function countLines(file: string): number {
  const fd = fs.openSync(file, "r");
  const buf = Buffer.alloc(1 << 20);
  let n = 0;
  try {
    for (let r; (r = fs.readSync(fd, buf, 0, buf.length, null)) > 0; ) for (let i = 0; i < r; i++) if (buf[i] === 10) n++;
  } finally {
    fs.closeSync(fd);
  }
  return n;
}

/**
 * The reference: COPY of the very rows the import wrote (exported from its ledger: the same
 * accounts, keys, models, days, money and metadata) into usage_records of a fresh ledger database,
 * with the rollup trigger, and into a plain table of the same shape without it; then, for where the
 * time goes, the same rows in statements of ROWS_PER_WRITE rows (as the import's transactions)
 * into another fresh ledger database.
 */
interface NewapiCopyFigures extends CopyFigures {
  /** The same rows COPYed in statements of `statementRows` (the import's transactions), each its own, with the rollup trigger. */
  statementRows?: number;
  inStatementsPerSecond?: number;
  inStatementsMs?: number;
}

async function measureCopy(ledgerUrl: string): Promise<NewapiCopyFigures> {
  const db = await createTestDatabase({ migrated: true });
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  pool.on("error", () => {});
  const file = path.join(os.tmpdir(), `ub_bench_newapi_copy_${db.name}.tsv`);
  const psql = (url: string, command: string) => {
    const t = performance.now();
    const r = spawnSync("psql", [url, "-v", "ON_ERROR_STOP=1", "-qc", command], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${command.slice(0, 60)}… failed: ${r.stderr}`);
    return performance.now() - t;
  };
  try {
    const columns = (await pool.query<{ c: string }>(`SELECT string_agg(quote_ident(column_name), ', ' ORDER BY ordinal_position) AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'usage_records'`)).rows[0]!.c;
    psql(ledgerUrl, `\\copy (SELECT ${columns} FROM usage_records ORDER BY occurred_at, request_id) TO '${file}'`);
    const rows = countLines(file);
    await pool.query(`CREATE TABLE bench_copy_target (LIKE usage_records INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES)`);
    const rawMs = psql(db.url, `\\copy bench_copy_target (${columns}) FROM '${file}'`);
    await pool.query(`DROP TABLE bench_copy_target`);
    const withRollupsMs = psql(db.url, `\\copy usage_records (${columns}) FROM '${file}'`);
    const inStatementsMs = await copyInStatements(file, columns, ROWS_PER_WRITE);
    return {
      statementRows: ROWS_PER_WRITE,
      inStatementsPerSecond: Math.round(rows / (inStatementsMs / 1000)),
      inStatementsMs: Math.round(inStatementsMs),
      rows,
      withRollupsPerSecond: Math.round(rows / (withRollupsMs / 1000)),
      withRollupsMs: Math.round(withRollupsMs),
      rawPerSecond: Math.round(rows / (rawMs / 1000)),
      rawMs: Math.round(rawMs),
    };
  } finally {
    fs.rmSync(file, { force: true });
    await pool.end().catch(() => {});
    await db.drop();
  }
}

/** COPY of a file's rows in statements of `n` rows each (each psql `\copy` its own transaction) into usage_records of a fresh ledger database. */
async function copyInStatements(file: string, columns: string, n: number): Promise<number> {
  const db = await createTestDatabase({ migrated: true });
  await db.handle.close();
  const prefix = `${file}.part`;
  const parts = () => fs.readdirSync(path.dirname(file)).filter((x) => x.startsWith(path.basename(prefix))).sort().map((x) => path.join(path.dirname(file), x));
  try {
    // split(1): the file is hundreds of MB, more than a string may hold.
    const cut = spawnSync("split", ["-l", String(n), "-d", "-a", "4", file, prefix], { encoding: "utf8" });
    if (cut.status !== 0) throw new Error(`split failed: ${cut.stderr}`);
    let ms = 0;
    for (const part of parts()) {
      const t = performance.now();
      const r = spawnSync("psql", [db.url, "-v", "ON_ERROR_STOP=1", "-qc", `\\copy usage_records (${columns}) FROM '${part}'`], { encoding: "utf8" });
      if (r.status !== 0) throw new Error(`COPY of ${part} failed: ${r.stderr}`);
      ms += performance.now() - t;
    }
    return ms;
  } finally {
    for (const part of parts()) fs.rmSync(part, { force: true });
    await db.drop();
  }
}

async function main() {
  const { rows, report } = cli();
  if (report) {
    writeSection(JSON.parse(fs.readFileSync(RESULTS_JSON, "utf8")) as Results);
    console.log(`rendered the newapi section of bench/RESULTS.md from ${RESULTS_JSON}`);
    return;
  }
  const loadAvgAtStart = os.loadavg().map((l) => Math.round(l * 100) / 100);
  const log = (s: string) => console.log(s);
  const problems: string[] = [];
  const f = (x: number) => x.toLocaleString("en-US");
  log(`load average at start: ${loadAvgAtStart.join(" / ")} (${os.cpus().length} cores)`);

  log(`1. newapi:import of ${f(rows)} logs rows (new-api on PostgreSQL)`);
  const big = await importGeneratedNewapi(rows, { log });
  let importFigures: NewapiImportFigures;
  let copy: NewapiCopyFigures;
  let followers: FollowerFigures[];
  try {
    importFigures = big.figures;
    problems.push(...big.mismatches);
    log(`   COPY of the rows the import wrote into usage_records of a fresh ledger database`);
    copy = await measureCopy(big.ledger.database.url);
    log(`   COPY: ${f(copy.withRollupsPerSecond)} rows/s with rollups, ${f(copy.rawPerSecond)} rows/s without, ${f(copy.inStatementsPerSecond!)} rows/s with rollups in statements of ${f(copy.statementRows!)} rows; import = ${((100 * importFigures.eventsPerSecond) / copy.withRollupsPerSecond).toFixed(0)} % of COPY with rollups`);
    log(`2. the follower on ${f(rows)} rows`);
    const onBig = await measureFollower(big, 0.31);
    problems.push(...onBig.mismatches);
    log(`   ${JSON.stringify(onBig.figures)}`);
    followers = [onBig.figures];
  } finally {
    await big.close();
  }
  const smallRows = Math.round(rows / 10);
  log(`2b. the follower on a table 10× smaller (${f(smallRows)} rows, imported first)`);
  const small = await importGeneratedNewapi(smallRows, { log });
  try {
    problems.push(...small.mismatches);
    const onSmall = await measureFollower(small, 0.47);
    problems.push(...onSmall.mismatches);
    log(`   ${JSON.stringify(onSmall.figures)}`);
    followers.push(onSmall.figures);
  } finally {
    await small.close();
  }

  const pct = (100 * importFigures.eventsPerSecond) / copy.withRollupsPerSecond;
  const results: Results = { measuredAt: new Date().toISOString(), loadAvgAtStart, cpus: os.cpus().length, import: importFigures, copy, percentOfCopyWithRollups: Math.round(pct * 10) / 10, followers };
  if (problems.length === 0 && rows >= 1_000_000) {
    fs.writeFileSync(RESULTS_JSON, JSON.stringify(results, null, 2) + "\n");
    writeSection(results);
    log(`wrote bench/newapi-results.json and its section of bench/RESULTS.md`);
  } else if (problems.length === 0) log(`(fewer than 1,000,000 rows: bench/ left as it is)`);
  if (problems.length) {
    console.error(`FAILED: ${problems.length} problem(s) (bench/ left as it is):\n  ${problems.slice(0, 30).join("\n  ")}`);
    process.exitCode = 1;
  }
}

interface Results {
  measuredAt: string;
  loadAvgAtStart: number[];
  cpus: number;
  import: NewapiImportFigures;
  copy: NewapiCopyFigures;
  percentOfCopyWithRollups: number;
  followers: FollowerFigures[];
}

const SECTION = "newapi";

function writeSection(r: Results): void {
  const f = (x: number) => x.toLocaleString("en-US");
  const i = r.import;
  const pc = (n: number) => `${((100 * n) / i.rows).toFixed(1)} %`;
  const m = i.mix;
  const met = r.percentOfCopyWithRollups >= 50;
  const poll = (p: PollCost) => `${p.queries} ${p.queries === 1 ? "query" : "queries"}, ${p.ms} ms`;
  const section = [
    "<!-- newapi:begin (npm run bench:newapi) -->",
    "## new-api / one-api: import and follower",
    "",
    `\`npm run bench:newapi\`, ${r.measuredAt.slice(0, 10)} (load average at start ${r.loadAvgAtStart.join(" / ")} on ${r.cpus} cores). ` +
      `A generated new-api database on PostgreSQL (the test fixture's schema and read-only login): ${f(i.rows)} logs rows over 90 days — ${pc(m.consume)} consume, ${pc(m.channelTests)} channel tests, ${pc(m.negativeConsume)} negative re-consume deltas, ${pc(m.refunds)} refunds (type 6), ${pc(m.errors)} errors, ${pc(m.topUps)} top-ups, ${pc(m.other)} manage and system rows — ` +
      `${i.channels} channels of 13 types (and ${i.deletedChannels} deleted ones the logs still name), ${f(i.tokens)} tokens of ${i.users} users, QuotaPerUnit ${i.quotaPerUnit}; every consume row with valid \`other\` JSON (group ratio 1 / 0.8 / 1.5 / 2, cache read and creation tokens, \`usage_semantic: "anthropic"\` on half). ` +
      `Imported (\`importNewapi\`: the ledger's bulk mode, shared/bulk.ts — validation and normalization as every write, COPY into a staging table${r.copy.statementRows ? ` in transactions of up to ${f(r.copy.statementRows)} rows` : ""}, the idempotency claims and the rollup trigger as insert_usage_batch, the Redis counters of the accounts touched rebuilt at the end) into a database of its own: ${f(i.events)} events, ${f(i.corrections)} of them corrections (refunds and negative deltas: requests 0, negative money). ` +
      `Then every channel's and every channel × token's requests, four token counts, real and charged cost equal new-api's exactly, by SQL aggregates over its logs (numeric, each row's money rounded to 8 decimals half away from zero as the mapping does): ${f(i.comparisons)} comparisons, ${i.mismatches} mismatches.`,
    "",
    "| figure | value |",
    "| --- | --- |",
    `| newapi:import (${f(i.usageRows)} usage rows of ${f(i.rows)}, read in batches of ${f(i.batch)}${r.copy.statementRows ? `, written up to ${f(r.copy.statementRows)} rows per transaction` : ""}, channels and tokens synced first in ${i.syncS} s${i.countersRebuildS !== undefined ? `, Redis counters of the accounts touched rebuilt at the end in ${i.countersRebuildS} s` : ""}) | **${f(i.eventsPerSecond)} events/s** (${i.seconds.toFixed(1)} s) |`,
    `| COPY of the same ${f(r.copy.rows)} rows (exported from the imported ledger: the same accounts, keys, models, days, money and metadata) into usage_records of a fresh ledger database, same run, rollup trigger on | ${f(r.copy.withRollupsPerSecond)} rows/s (${(r.copy.withRollupsMs / 1000).toFixed(1)} s); ${f(r.copy.rawPerSecond)} rows/s without rollups |`,
    ...(r.copy.inStatementsPerSecond
      ? [`| the same COPY in statements of ${f(r.copy.statementRows!)} rows, each its own transaction (as the import's), into another fresh ledger database | ${f(r.copy.inStatementsPerSecond)} rows/s (${(r.copy.inStatementsMs! / 1000).toFixed(1)} s) |`]
      : []),
    `| import / COPY with rollups (aim ≥ 50 %) | ${r.percentOfCopyWithRollups.toFixed(0)} % ${met ? "**met**" : "**missed**"} |`,
    `| CPU per event over the rows: this process / ledger PostgreSQL / new-api's PostgreSQL / redis-server; total | ${i.cpuPerEventUs.node} / ${i.cpuPerEventUs.ledgerPostgres} / ${i.cpuPerEventUs.newapiPostgres} / ${i.cpuPerEventUs.redis} µs; ${i.cpuPerEventUs.total} µs |`,
    "",
    "The reference is COPY of the very rows the import wrote, not of rows on one day as in the sections above: history spread over 90 days and 1,200 keys makes the rollup trigger update a rollup row per key × day (and per model × day …), most of the cost of a COPY and of the import alike, so only the same rows compare like with like. The import's time includes syncing channels and tokens first and rebuilding the Redis counters of the accounts touched at the end.",
    "",
    "The follower (`NewapiFollower.pollOnce()`): queries to new-api and wall time per poll (median of 5), on the imported table and on one 10× smaller:",
    "",
    "| logs rows | nothing new | after 1 new row | after 100 new rows |",
    "| --- | --- | --- | --- |",
    ...r.followers.map((x) => `| ${f(x.tableRows)} | ${poll(x.idle)} | ${poll(x.oneRow)} | ${poll(x.hundredRows)} |`),
    "",
    "A poll is one `id > cursor ORDER BY id LIMIT n` on the primary key (plus one range query per open gap in the ids): its cost follows the new rows, not the table's size. The time includes the lease and the cursor written to the ledger, and writing the new rows' events (the new rows are the same mix: some are not usage). After the polls the ledger still equals new-api exactly (checked again).",
    "",
    timeNote(i, r.copy, met),
    "",
    "<!-- newapi:end -->",
  ].join("\n");
  writeResultsSection(SECTION, section);
}

/** Where the import's time goes (and, when missed, why ≥ 50 % of COPY was not reached), with this run's CPU figures. */
function timeNote(i: NewapiImportFigures, copy: NewapiCopyFigures, met: boolean): string {
  const c = i.cpuPerEventUs;
  const copyUs = Math.round(1e6 / copy.withRollupsPerSecond);
  const statements = copy.inStatementsPerSecond
    ? ` The reference is one COPY statement of every row, whose trigger updates each rollup row once; in statements of ${f0(copy.statementRows!)} rows, as the import's transactions, the same COPY takes ${(copy.inStatementsMs! / 1000).toFixed(1)} s instead of ${(copy.withRollupsMs / 1000).toFixed(1)} s (each statement updates again the key × month and all-time rollup rows the others did).`
    : "";
  return [
    `**${met ? "Where the time goes." : "Missed, and why."}** CPU per event over the rows (after the sync): ${c.node} µs in this process (reading new-api's rows, parsing \`other\`, mapping with exact money, validation and normalization, the batch, the Redis client), ${c.ledgerPostgres} µs in the ledger's PostgreSQL backends, ${c.newapiPostgres} µs in new-api's, ${c.redis} µs in redis-server (shared with other work: an upper bound) — ${c.total} µs, so even with every stage overlapped at most ${f0(Math.round(2e6 / c.total))} events/s on 2 cores, against ${copyUs} µs of wall time per row for COPY with rollups.`,
    `What the import does that COPY does not, each part its semantics: every event read from new-api, mapped (exact money from quota, \`other\` parsed), validated and normalized by the ledger's own code (exact cost, local day), COPYed into a staging table and then inserted (up to ${f0(copy.statementRows ?? 20_000)} rows per transaction) with its idempotency claim in usage_request_ids (a second unique index per event); the inserted ids' dedupe keys set in Redis; channels and tokens synced before (${i.syncS} s) and the Redis counters of the accounts touched rebuilt after (${i.countersRebuildS ?? "?"} s of the ${i.seconds.toFixed(1)} s). Reading, mapping, validating and encoding the next batches overlap writing a transaction (in slices that leave the event loop to the write), so the wall time is less than the sum of the CPU, but the two cores are shared by this process and PostgreSQL.${statements}`,
  ].join(" ");
}
const f0 = (x: number) => x.toLocaleString("en-US");

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
