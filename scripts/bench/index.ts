/**
 * npm run bench -- [--records N] [--seconds N] [--runs N] [--baseline-runs N] [--baseline-budget S]
 *                  [--clients N] [--batch N] [--port P] [--out DIR] [--keep] [--report]
 *
 * Performance at scale (issue 7): generates a history in a database of its own (ub_bench_<id>)
 * and a Redis key prefix of its own, measures reads (service and HTTP) beside the naive
 * single-statement baseline, ingest through the real HTTP → Redis → drainer → PostgreSQL path
 * beside COPY, memory and size, and the /accounts server render; then drops the database and
 * the prefix (unless --keep). Results merge into <out>/results.json (one entry per record count)
 * and <out>/RESULTS.md is rendered from it; <out> is bench/ for 1M records and more,
 * test-results/bench-smoke/ below. Exits 1 when our figures differ from the baseline's or a
 * figure is missing; there are no timing assertions.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createDatabase } from "../../db/client";
import { migrate } from "../../db/migrator";
import { createApiToken } from "../../server/auth/token.service";
import { getTestStores, parseConfig } from "../../server/config";
import { createRedis } from "../../server/redis";
import { createRuntime } from "../../server/runtime";
import { freePort } from "../../server/testing/ports";
import { adminQuery, dropRedisPrefix } from "../../server/testing/stores";
import { sampleCpu } from "./cpu";
import { generateDataset, readDatasetMeta, shapeTag, SHAPES, writeDatasetMeta, type DatasetOptions } from "./dataset";
import { importScaledCrs } from "./crs-scaled";
import { importGeneratedSub2api } from "./sub2api-data";
import { copyReference, runIngest, singleEventAck } from "./ingest";
import { closeHttp, requestOk, timeRuns } from "./measure";
import { measureBrowser } from "./browser";
import { calendarNow, checkAgainstBaseline, measureReads } from "./reads";
import { keptResultsSections, renderResults, type BenchRun } from "./report";
import { ensureBuild, login, startServer, type BenchServer } from "./server";
import { pgFigures, redisFigures, redisSnapshot } from "./sizes";

const ADMIN_PASSWORD = "bench-admin-password-0123";

function intOpt(name: string, v: string | undefined, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ""));
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer from ${min} to ${max}, got "${v}"`);
  return n;
}

function cli() {
  const { values } = parseArgs({
    options: {
      records: { type: "string" },
      seconds: { type: "string" },
      runs: { type: "string" },
      "baseline-runs": { type: "string" },
      "baseline-budget": { type: "string" },
      clients: { type: "string" },
      batch: { type: "string" },
      port: { type: "string" },
      out: { type: "string" },
      accounts: { type: "string" },
      keys: { type: "string" },
      "hot-keys": { type: "string" },
      "generate-only": { type: "boolean", default: false },
      database: { type: "string" },
      keep: { type: "boolean", default: false },
      report: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(
      "npm run bench -- [--records N] [--accounts N] [--keys N] [--hot-keys N] [--generate-only | --database ub_bench_…] [--seconds N] [--runs N] [--baseline-runs N] [--baseline-budget SECONDS] [--clients N] [--batch N] [--port P] [--out DIR] [--keep] [--report]",
    );
    process.exit(0);
  }
  const records = intOpt("records", values.records, 10_000_000, 1000, 1_000_000_000);
  const accounts = intOpt("accounts", values.accounts, SHAPES.standard.accounts, 1, 100_000);
  const keys = intOpt("keys", values.keys, SHAPES.standard.keys, accounts, 10_000_000);
  // Beyond the standard shape, the busiest account owns 21 % of the keys (21,000 of 100,000).
  const hotKeys = intOpt("hot-keys", values["hot-keys"], keys > SHAPES.standard.keys ? Math.round(keys * 0.21) : 0, 0, keys - accounts + 1);
  if (values.database !== undefined && !/^ub_bench_[a-z0-9]+$/.test(values.database)) throw new Error(`--database must name a database --generate-only made (ub_bench_…), got "${values.database}"`);
  return {
    records,
    accounts,
    keys,
    hotKeys,
    /** Generate the history (and its rollups) into a database of its own, keep it, and stop: measure it later with --database. */
    generateOnly: values["generate-only"],
    /** Measure a database --generate-only made (its dataset options come from its bench_meta table). */
    database: values.database,
    seconds: intOpt("seconds", values.seconds, 60, 1, 3600),
    runs: intOpt("runs", values.runs, 50, 5, 100_000),
    baselineRuns: intOpt("baseline-runs", values["baseline-runs"], 50, 3, 100_000),
    baselineBudgetMs: intOpt("baseline-budget", values["baseline-budget"], 60, 1, 3600) * 1000,
    clients: intOpt("clients", values.clients, 4, 1, 64),
    batch: intOpt("batch", values.batch, 1000, 1, 1000),
    /** undefined: a free port, so that two checkouts can run the bench (or its smoke run) at once. */
    port: values.port === undefined ? undefined : intOpt("port", values.port, 0, 1024, 65535),
    // The committed report holds the standard sizes only: smaller (smoke) runs go elsewhere.
    out: values.out ?? (records < 1_000_000 ? "test-results/bench-smoke" : "bench"),
    keep: values.keep,
    /** Only re-render <out>/RESULTS.md from <out>/results.json (after editing the notes in report.ts). */
    report: values.report,
  };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function main() {
  const opts = cli();
  if (opts.report) {
    const jsonPath = path.join(opts.out, "results.json");
    const all = JSON.parse(fs.readFileSync(jsonPath, "utf8")) as { runs: Record<string, BenchRun> };
    writeResults(path.join(opts.out, "RESULTS.md"), renderResults(all.runs));
    console.log(`rendered ${path.join(opts.out, "RESULTS.md")} from ${jsonPath}`);
    return 0;
  }
  const id = `${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const dbName = opts.database ?? `ub_bench_${id}`;
  const prefix = `bench_${id}:`;
  const stores = getTestStores();
  const dbUrl = withDatabase(stores.databaseUrl, dbName);
  const log = (s: string) => console.log(s);
  const started = Date.now();
  const timezone = "Asia/Shanghai";
  const env: Record<string, string> = {
    DATABASE_URL: dbUrl,
    REDIS_URL: stores.redisUrl,
    REDIS_KEY_PREFIX: prefix,
    USAGE_TIMEZONE: timezone,
    ADMIN_USERNAME: "admin",
    ADMIN_PASSWORD,
    LOG_LEVEL: "warn",
    DB_STATEMENT_TIMEOUT_MS: "600000",
  };
  let dataset: DatasetOptions = { records: opts.records, accounts: opts.accounts, keys: opts.keys, ...(opts.hotKeys ? { hotKeys: opts.hotKeys } : {}), months: 13, timezone };
  log(`bench ${id}: database ${dbName}, Redis prefix ${prefix}`);
  if (!opts.generateOnly) ensureBuild(log);

  if (!opts.database) await adminQuery(`CREATE DATABASE ${dbName}`);
  const pool = new pg.Pool({ connectionString: dbUrl, max: 4 });
  // pool.end() resolves before its clients' sockets have closed; the DROP … WITH (FORCE) below then
  // terminates them, and an 'error' event without a listener would crash the finished bench.
  pool.on("error", () => {});
  const handle = await createDatabase({ databaseUrl: dbUrl, pgliteDir: "", statementTimeoutMs: 3_600_000, poolMax: 4 });
  let server: BenchServer | undefined;
  let runtime: Awaited<ReturnType<typeof createRuntime>> | undefined;
  const redis = createRedis(stores.redisUrl, { name: "bench" });
  let keepDatabase = opts.keep;
  try {
    await redis.connect();
    // A database --generate-only made gets the migrations added since (idempotent).
    await migrate(handle);
    let gen: Awaited<ReturnType<typeof generateDataset>>;
    if (opts.database) {
      const meta = await readDatasetMeta(pool);
      ({ dataset, gen } = meta);
      log(`1. data: ${dbName}, generated ${meta.generatedAt}: ${dataset.records.toLocaleString("en-US")} records, ${dataset.accounts} accounts, ${dataset.keys} keys`);
    } else {
      log(`1. data: ${dataset.records.toLocaleString("en-US")} records over ${dataset.months} months, ${dataset.accounts} accounts, ${dataset.keys} keys${dataset.hotKeys ? ` (${dataset.hotKeys} on the busiest account)` : ""}, ${8} models`);
      gen = await generateDataset(pool, handle, dataset, log);
      await writeDatasetMeta(pool, dataset, gen);
    }
    log(`   loaded in ${(gen.loadMs / 1000).toFixed(1)} s, vacuum ${(gen.vacuumMs / 1000).toFixed(1)} s, rollups ${(gen.rollupMs / 1000).toFixed(1)} s`);
    await handle.close();
    if (opts.generateOnly) {
      keepDatabase = true;
      log(`generated ${dbName}: measure it with npm run bench -- --database ${dbName}`);
      return 0;
    }

    runtime = await createRuntime(parseConfig({ ...env, NODE_ENV: "production", DB_STATEMENT_TIMEOUT_MS: "600000" }), { ownDatabase: true });
    const readToken = (await createApiToken(runtime, { name: "bench read", scope: "usage:read" })).token;
    const writeToken = (await createApiToken(runtime, { name: "bench write", scope: "usage:write" })).token;
    server = await startServer(env, opts.port ?? (await freePort()), log);
    // The first request starts the app's runtime (migrations check, drainer, counter rebuild).
    await requestOk(`${server.baseUrl}/admin/health`, { headers: { authorization: `Bearer ${readToken}` } });

    log(`2. reads, warm, ${opts.runs} runs each`);
    const check = await checkAgainstBaseline(runtime, pool);
    log(`   check before ingest: ${check.comparisons} comparisons, ${check.mismatches.length} mismatches`);
    const reads = await measureReads(runtime, pool, { runs: opts.runs, baselineRuns: opts.baselineRuns, baselineBudgetMs: opts.baselineBudgetMs, baseUrl: server.baseUrl, readToken }, log);

    log(`5. page: /accounts server render, logged in`);
    const cookie = await login(server.baseUrl, "admin", ADMIN_PASSWORD);
    const page = await timeRuns(
      async () => {
        const r = await requestOk(`${server!.baseUrl}/accounts`, { headers: { cookie } });
        if (!r.body.includes("acc-000") && !r.body.includes("Bench account")) throw new Error("the /accounts page did not render the accounts");
      },
      { runs: opts.runs, warmup: 3 },
    );

    log(`5b. the console in Chromium: /accounts first paint and the busiest account's drawer`);
    const browser = await measureBrowser(server.baseUrl, cookie, reads.busiestAccount, Math.max(5, Math.round(opts.runs / 5)));

    log(`3. writes: ${opts.clients} clients × ${opts.batch}-event batches for ${opts.seconds} s through POST /admin/usage`);
    const redisBefore = await redisSnapshot(redis, prefix);
    const ingest = await runIngest(
      pool,
      { baseUrl: server.baseUrl, writeToken, seconds: opts.seconds, clients: opts.clients, batchSize: opts.batch, runId: id, dataset, cpu: () => sampleCpu(server!.child.pid, pool, dbName) },
      log,
    );
    log(`   ${ingest.accepted} accepted, ${ingest.sustainedPerSecond} events/s committed end to end`);
    const redisAfter = await redisSnapshot(redis, prefix);
    const singleAck = await singleEventAck({ baseUrl: server.baseUrl, writeToken, runId: id, dataset }, Math.max(100, opts.runs * 10));
    const copy = await copyReference(pool, dbUrl, { rows: Math.max(10_000, Math.min(ingest.accepted, 2_000_000)), runId: id, timezone, dataset });
    log(`   COPY: ${copy.withRollupsPerSecond} rows/s into usage_records (trigger), ${copy.rawPerSecond} rows/s without rollups`);
    // Let the drainer commit the single events too, so the check sees everything.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && Number((await redis.xpending(`${prefix}outbox`, "pg-drainer"))[0]) > 0) await new Promise((r) => setTimeout(r, 200));
    const checkAfter = await checkAgainstBaseline(runtime, pool);
    log(`   check after ingest and COPY: ${checkAfter.comparisons} comparisons, ${checkAfter.mismatches.length} mismatches`);

    // The CRS import beside the same run's COPY (issue 13): the fixture's CRS Redis scaled up, into a database of its own.
    const crsKeys = opts.records >= 1_000_000 ? 1200 : 120;
    log(`3b. crs:import of the fixture's CRS Redis scaled to ${crsKeys} API keys`);
    const scaled = await importScaledCrs(crsKeys, log);
    await scaled.close();
    const crsImport = scaled.figures;

    // The sub2api import beside the same run's COPY (issue 22): a generated sub2api database, into a ledger database of its own, checked exactly.
    const sub2apiRows = Math.min(1_000_000, opts.records >= 1_000_000 ? opts.records : Math.round(opts.records / 10));
    const sub2apiShape = opts.records >= 1_000_000 ? undefined : { users: 30, keys: 120 };
    log(`3c. sub2api:import of ${sub2apiRows.toLocaleString("en-US")} generated usage_logs rows`);
    const sub2api = await importGeneratedSub2api(sub2apiRows, { log, ...(sub2apiShape ? { shape: sub2apiShape } : {}) });
    await sub2api.close();
    const sub2apiImport = sub2api.figures;

    log(`4. memory and size`);
    const redisF = await redisFigures(redis, prefix, redisBefore, redisAfter, ingest.activeApiKeys, ingest.accepted, calendarNow(timezone).today);
    const pgF = await pgFigures(pool);

    const run: BenchRun = {
      id,
      date: new Date().toISOString(),
      durationS: Math.round((Date.now() - started) / 1000),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? "unknown",
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        loadAvgAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
        node: process.version,
        postgres: String((await pool.query(`SHOW server_version`)).rows[0].server_version),
        redis: String(/redis_version:(\S+)/.exec(await redis.info("server"))?.[1] ?? "unknown"),
      },
      dataset: { ...dataset, generateS: Math.round(gen.loadMs / 100) / 10, vacuumS: Math.round(gen.vacuumMs / 100) / 10, rollupsS: Math.round(gen.rollupMs / 100) / 10 },
      options: { runs: opts.runs, baselineRuns: opts.baselineRuns, baselineBudgetS: opts.baselineBudgetMs / 1000, seconds: opts.seconds, clients: opts.clients, batch: opts.batch },
      reads,
      page,
      browser,
      ingest: { ...ingest, singleEventAck: singleAck, copy, crsImport, sub2apiImport },
      redis: redisF,
      postgres: pgF,
      check: { before: check, after: checkAfter },
    };
    const problems = [...check.mismatches, ...checkAfter.mismatches, ...missingFigures(run), ...sub2api.mismatches];
    fs.mkdirSync(opts.out, { recursive: true });
    const jsonPath = path.join(opts.out, "results.json");
    const all = fs.existsSync(jsonPath) ? (JSON.parse(fs.readFileSync(jsonPath, "utf8")) as { runs: Record<string, BenchRun> }) : { runs: {} };
    all.runs[`${dataset.records}${shapeTag(dataset)}`] = run;
    fs.writeFileSync(jsonPath, JSON.stringify(all, null, 2) + "\n");
    writeResults(path.join(opts.out, "RESULTS.md"), renderResults(all.runs));
    log(`wrote ${jsonPath} and ${path.join(opts.out, "RESULTS.md")} (${run.durationS} s)`);
    // Four checks: rollups = raw sums after loading, again after ingest and COPY, every figure produced, the sub2api import exact.
    const failedChecks = [check.mismatches.length, checkAfter.mismatches.length, missingFigures(run).length, sub2api.mismatches.length].filter((n) => n > 0).length;
    log(`bench: ${4 - failedChecks} passed, ${failedChecks} failed`);
    if (problems.length) {
      console.error(`FAILED: ${problems.length} problem(s):\n  ${problems.slice(0, 30).join("\n  ")}`);
      process.exitCode = 1;
    }
  } finally {
    await server?.stop().catch((e) => console.error(e));
    await runtime?.close().catch(() => {});
    await handle.close().catch(() => {});
    await pool.end().catch(() => {});
    closeHttp();
    redis.disconnect();
    if (keepDatabase) log(`kept database ${dbName}${opts.keep ? ` and Redis prefix ${prefix} (--keep)` : ""}`);
    else {
      await adminQuery(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch((e) => console.error(e));
    }
    if (!opts.keep) await dropRedisPrefix(prefix).catch((e) => console.error(e));
  }
}

/** Writes RESULTS.md, keeping the sections `npm run bench:crs` and `bench:sub2api` maintain between their markers. */
function writeResults(file: string, text: string): void {
  const old = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "";
  const kept = keptResultsSections(old);
  fs.writeFileSync(file, [text.trimEnd(), ...kept].join("\n\n") + "\n");
}

/** Every figure the report shows must be a finite number. */
function missingFigures(run: BenchRun): string[] {
  const missing: string[] = [];
  const walk = (v: unknown, at: string) => {
    if (typeof v === "number") {
      if (!Number.isFinite(v)) missing.push(`figure ${at} is ${v}`);
    } else if (v && typeof v === "object" && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, at ? `${at}.${k}` : k);
  };
  walk({ reads: run.reads, page: run.page, ingest: run.ingest, redis: run.redis, postgres: run.postgres }, "");
  if (run.ingest.accepted <= 0) missing.push("ingest accepted no events");
  if (run.reads.accountsList.rows <= 0) missing.push("the accounts list returned no rows");
  return missing;
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
