/**
 * npm run test:faults — reliability under faults, load and hostile input (issue 8).
 *
 * Starts its own PostgreSQL cluster, its own redis-server (AOF, fsync always), for scenarios 8–9
 * a 3-master Redis Cluster (AOF) and the app (`next start` from .next; two of them and a worker
 * in 8–9) against them, runs each scenario with a fresh database and Redis key
 * prefix, audits every store and read endpoint against what was acknowledged, writes
 * bench/RELIABILITY.md and exits non-zero on any failure. Everything it started is removed on
 * exit, also on failure or a signal.
 *
 *   FAULTS_ONLY=1,6     run some scenarios only (the report is then not written)
 *   FAULTS_LOAD_SECONDS size of the load: that many seconds' worth of events at the offered
 *                       5,500 events/s (default 60: 330,000 events), however long they take
 *   FAULTS_MIN_EVENTS_PER_SECOND ingest rate scenario 7 must reach (default: none, it judges
 *                       correctness only; `npm run bench:load` sets 5000)
 *   FAULTS_HOSTILE_RUNS generated hostile requests (default 10000)
 *   FAULTS_SEED         fast-check seed of scenario 6
 *   FAULTS_LOG_DIR      keep the app and worker logs in this folder (default: a temp folder, removed)
 *   FAULTS_LOG_LEVEL    LOG_LEVEL of the app and worker processes (default warn)
 */
process.env.LOG_LEVEL ??= "error";

import fs from "node:fs";
import path from "node:path";
import { cleanupAll, ensureBuild, lazyCluster, startPostgres, startRedis, tempDir } from "./infra";
import type { Servers } from "./harness";
import { hostile } from "./hostile";
import { clusterNodeRestarted, nodeKilled } from "./nodes";
import { writeReport } from "./report";
import { appKilled, bothDown, load, pgOutage, redisOutage, retries, type ScenarioReport } from "./scenarios";

const ROOT = path.resolve(import.meta.dirname, "../..");

let cleaned = false;
function cleanup() {
  if (cleaned) return;
  cleaned = true;
  cleanupAll();
}
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(sig, () => {
    console.error(`\n[faults] ${sig}: stopping everything this run started`);
    cleanup();
    process.exit(130);
  });
}
process.on("exit", cleanup);

// `npm run` does not pass a SIGTERM on to tsx's child: when the npm process that started this
// run is gone (our grandparent becomes init), stop as if signalled, so nothing is left running.
const grandparent = () => {
  try {
    return Number(fs.readFileSync(`/proc/${process.ppid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
  } catch {
    return undefined;
  }
};
if (grandparent() !== undefined && grandparent() !== 1) {
  setInterval(() => {
    if (grandparent() !== 1) return;
    console.error("\n[faults] the process that started this run is gone: stopping everything this run started");
    cleanup();
    process.exit(130);
  }, 1000).unref();
}

async function main(): Promise<number> {
  const only = process.env.FAULTS_ONLY?.split(",").map(Number);
  const loadSeconds = Number(process.env.FAULTS_LOAD_SECONDS ?? 60);
  const hostileRuns = Number(process.env.FAULTS_HOSTILE_RUNS ?? 10_000);
  const started = Date.now();
  ensureBuild();
  // The app and worker logs: removed at the end unless FAULTS_LOG_DIR names a folder to keep them in.
  const logDir = process.env.FAULTS_LOG_DIR ?? tempDir("ub-faults-logs-");
  fs.mkdirSync(logDir, { recursive: true });
  const pg = await startPostgres();
  const redis = await startRedis();
  const servers: Servers = { pg, redis, cluster: lazyCluster(), logDir };
  console.log(`[faults] own PostgreSQL on :${pg.port}, own redis-server on :${redis.port} (appendonly, fsync always)`);

  const scenarios: [number, string, () => Promise<ScenarioReport>][] = [
    [1, "PostgreSQL outage", () => pgOutage(servers)],
    [2, "Redis outage", () => redisOutage(servers)],
    [3, "SIGKILL while draining", () => appKilled(servers)],
    [4, "retries", () => retries(servers)],
    [5, "both stores down", () => bothDown(servers)],
    [6, "hostile input", () => hostile(servers, hostileRuns)],
    [7, "load", () => load(servers, loadSeconds)],
    [8, "two app nodes and a worker, one node killed", () => nodeKilled(servers)],
    [9, "Redis Cluster master restarted", () => clusterNodeRestarted(servers)],
  ];
  const reports: ScenarioReport[] = [];
  for (const [id, name, run] of scenarios) {
    if (only && !only.includes(id)) continue;
    const t = Date.now();
    console.log(`[faults] ${id}. ${name} …`);
    let report: ScenarioReport;
    try {
      // Stores down from a failed scenario must not leak into the next one.
      if (!redis.running()) redis.start();
      try {
        pg.start();
      } catch {
        // already running
      }
      report = await run();
    } catch (err) {
      report = {
        id, title: name, passed: false, sent: 0, acknowledged: 0, stored: 0, duplicates: 0, lost: 0, unexpected5xx: 0, refused503: 0,
        connectionErrors: 0, ingestP99Ms: null, readP99Ms: null, reads: 0, redisSourcedReads: 0, durationS: (Date.now() - t) / 1000, notes: [],
        problems: [`the scenario threw: ${(err as Error).stack ?? err}`],
      };
    }
    if (!report.passed) {
      for (const f of fs.readdirSync(logDir)) {
        if (fs.statSync(path.join(logDir, f)).mtimeMs < t) continue;
        console.error(`--- app log ${f} (tail)\n${fs.readFileSync(path.join(logDir, f), "utf8").split("\n").slice(-25).join("\n")}`);
      }
    }
    reports.push(report);
    const figures = `sent ${report.sent}, acknowledged ${report.acknowledged}, stored ${report.stored}, duplicates ${report.duplicates}, lost ${report.lost}, 5xx ${report.unexpected5xx}`;
    console.log(`[faults] ${id}. ${report.passed ? "PASS" : "FAIL"} in ${report.durationS} s — ${figures}`);
    for (const n of report.notes) console.log(`         ${n}`);
    for (const p of report.problems.slice(0, 30)) console.log(`   ✗ ${p}`);
  }
  const total = Math.round((Date.now() - started) / 1000);
  if (!only) {
    const file = path.join(ROOT, "bench", "RELIABILITY.md");
    writeReport(file, reports, { totalSeconds: total, loadSeconds });
    console.log(`[faults] wrote ${path.relative(ROOT, file)}`);
  }
  const passed = reports.filter((r) => r.passed).length;
  console.log(`faults: ${passed} passed, ${reports.length - passed} failed (${total} s)`);
  return reports.length - passed === 0 ? 0 : 1;
}

main()
  .then((code) => {
    cleanup();
    process.exit(code);
  })
  .catch((err) => {
    console.error(err);
    cleanup();
    console.log("faults: 0 passed, 1 failed");
    process.exit(1);
  });
