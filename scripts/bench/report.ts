import type { CheckResult, ReadFigures } from "./reads";
import type { CopyFigures, IngestFigures } from "./ingest";
import type { Latency } from "./measure";
import type { PgFigures, RedisFigures } from "./sizes";

export interface BenchRun {
  id: string;
  date: string;
  durationS: number;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; loadAvgAtStart: number[]; node: string; postgres: string; redis: string };
  dataset: { records: number; accounts: number; keys: number; months: number; timezone: string; generateS: number; vacuumS: number; rollupsS: number };
  options: { runs: number; baselineRuns: number; baselineBudgetS: number; seconds: number; clients: number; batch: number };
  reads: ReadFigures;
  page: Latency;
  ingest: IngestFigures & { singleEventAck: Latency; copy: CopyFigures };
  redis: RedisFigures;
  postgres: PgFigures;
  check: { before: CheckResult; after: CheckResult };
}

const fmt = (n: number) => n.toLocaleString("en-US");
const ms = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const lat = (l: Latency) => `${ms(l.p50Ms)} / ${ms(l.p95Ms)} / ${ms(l.maxMs)}`;
const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(a / b >= 10 ? 0 : 2)}×` : "–");
const ok = (pass: boolean) => (pass ? "**met**" : "**missed**");

/**
 * What limits the figures, and what was changed for them. Kept here (not hand-edited in
 * RESULTS.md) so that every run renders it.
 */
const NOTES: string[] = [
  "**A noisy machine.** These runs shared the 2 cores with a fault-injection suite (its own `next start`, Node and " +
    "PostgreSQL work) and CI checks: the load average was 3.5–5 throughout. A request that does no work at all (the HTTP " +
    "floor: 401 before any store is touched) has a p50 of ~4 ms and a p95 of ~20 ms here, so HTTP p95s in the 20–35 ms band " +
    "are mostly waits for a CPU. p50s are the stable figures; rerun on a quiet machine before reading much into a p95.",
  "**Reads do not grow with history.** Every read is answered from rollups, never from usage_records: from 1M to 10M " +
    "records the p95s stay within 1.5× (most are lower, i.e. noise). The baseline grows with the data (accounts list " +
    "p50 ~1 s at 1M, ~6 s at 10M), so the ratio to it grows too.",
  "**a (accounts list) is on the edge.** HTTP p95 20.9 ms in the run shown (met), 33.8 ms in an earlier 10M run and " +
    "36.4 ms at 1M (missed). Service p50 6–10 ms, HTTP p50 14–21 ms: two statements (page + summary " +
    "over accounts ⋈ three rollups, 200 rows × 24 figures), then ~100 KB of JSON. Not profiled further and not changed: the " +
    "HTTP floor (~4–5 ms p50) and the JSON account for part of the gap between service and HTTP.",
  "**b custom90 (breakdown over 90 days, HTTP p95 ~32 ms, service p50 ~18 ms): missed.** A range not aligned to months reads its leftover days from " +
    "usage_key_daily: for acc-000 (354 keys, all active daily) 29 days ≈ 10,000 rows, and keyPageSql and keyTotalsSql " +
    "each group them again (with an ordered array_agg for last_model), so the same work is done twice. The fix (not made, " +
    "out of time): one statement for the page and the totals (window aggregates over the grouped keys), which should roughly halve it; " +
    "a weekly rollup would cut the leftover days further.",
  "**Ingest is CPU-bound, and the Redis counters are the largest single cost.** Measured per committed event during " +
    "the ingest window (CPU time from /proc): 100–110 µs in `next start` (HTTP, validation, JSON, the Redis client, the " +
    "drainer), 91–96 µs in redis-server (shared with other work: an upper bound), 73–78 µs in the PostgreSQL backends " +
    "(insert_usage_batch + the rollup trigger) — 265–285 µs, i.e. at most 7,000–7,500 events/s on 2 cores if nothing " +
    "else ran; 4,600–5,400/s were reached (the drainer kept up: commits trail acknowledgements by ~0.2 s). Each stage alone (500-event batches, same data): validation ~22 µs/event; the Redis " +
    "recording script ~4,500 events/s alone (~57 Redis commands per event: five per-key / per-model window hashes × ~6 " +
    "HINCRBY plus an HGET/HSET of lastUsedAt, 3 ZINCRBY, 2 SADD, ~4 EXPIREAT, the SET NX dedupe); the drainer alone " +
    "~11,800 events/s; COPY with the rollup trigger 50–60k rows/s, plain COPY 130–160k rows/s. 20,000 events/s on this " +
    "machine needs ≤ 100 µs of CPU per event end to end, less than the Redis counters cost alone. What would get there: " +
    "far fewer Redis commands per event (e.g. the nine counters of a hash packed into one field with one read-modify-write " +
    "in the script; per-model day/month hashes dropped from Redis and by-model answered by PostgreSQL), or taking the " +
    "counting off the acknowledgement path (ack after XADD, count in the drainer). Each changes the Redis layout that " +
    "hot-reader.ts, reconcile.ts and their tests share, so it is left to a decision rather than done here.",
  "**Single-event ack (p99 > 10 ms): missed.** p50 6–9 ms, of which the HTTP floor is ~4 ms; then the token check (PostgreSQL), " +
    "XADD and the recording script. Its p99 (21–57 ms over four runs) follows the floor's p95/p99: scheduling on a busy machine, plus " +
    "the drainer committing each single event in its own transaction on the same 2 cores.",
  "**Data generation.** 10M records in ~3 min (INSERT … SELECT generate_series, two writers, trigger off, " +
    "usage_request_ids filled alongside), then rebuildRollups ~2.8 min (~37 µs per account × key × model × day group: " +
    "nine upserts each). JIT is on (PostgreSQL default); it only kicks in for the baseline's large scans.",
];

function targets(big: BenchRun, small: BenchRun | undefined): string[] {
  const r = big.reads;
  const rows: [string, string, boolean | undefined][] = [];
  rows.push([`a. accounts list p95 ≤ 25 ms (service / HTTP)`, `${ms(r.accountsList.service.p95Ms)} / ${ms(r.accountsList.http.p95Ms)} ms`, r.accountsList.http.p95Ms <= 25]);
  const speedup = r.baseline.accountsList.p50Ms / r.accountsList.http.p95Ms;
  rows.push([`a. ≥ 100× faster than the baseline's p50 (baseline p50 / our HTTP p95)`, `${speedup.toFixed(0)}×`, speedup >= 100]);
  for (const [k, v] of Object.entries(r.breakdown)) rows.push([`b. breakdown ${k} p95 ≤ 25 ms (service / HTTP)`, `${ms(v.service.p95Ms)} / ${ms(v.http.p95Ms)} ms`, v.http.p95Ms <= 25]);
  rows.push([`c. summary (90 days, by model, series) p95 ≤ 25 ms (service / HTTP)`, `${ms(r.summary.service.p95Ms)} / ${ms(r.summary.http.p95Ms)} ms`, r.summary.http.p95Ms <= 25]);
  if (small) {
    const pairs: [string, Latency, Latency][] = [
      ["a", r.accountsList.http, small.reads.accountsList.http],
      ...Object.entries(r.breakdown).map(([k, v]) => [`b ${k}`, v.http, small.reads.breakdown[k as keyof typeof r.breakdown].http] as [string, Latency, Latency]),
      ["c", r.summary.http, small.reads.summary.http],
    ];
    for (const [name, b, s] of pairs) {
      // Sub-millisecond differences are noise, not growth: compare with a 1 ms floor.
      const x = b.p95Ms / Math.max(1, s.p95Ms);
      rows.push([`${name}: p95 at ${fmt(big.dataset.records)} within 1.5× of ${fmt(small.dataset.records)}`, `${ms(b.p95Ms)} vs ${ms(s.p95Ms)} ms (${x.toFixed(2)}×)`, x <= 1.5]);
    }
  }
  const i = big.ingest;
  rows.push([`ingest ≥ 20,000 events/s sustained (committed end to end)`, `${fmt(i.sustainedPerSecond)} /s`, i.sustainedPerSecond >= 20_000]);
  rows.push([`ingest ≥ 25 % of COPY into usage_records (same run)`, `${((100 * i.sustainedPerSecond) / i.copy.withRollupsPerSecond).toFixed(0)} % of ${fmt(i.copy.withRollupsPerSecond)} /s`, i.sustainedPerSecond >= 0.25 * i.copy.withRollupsPerSecond]);
  rows.push([`single-event ack p99 ≤ 10 ms`, `${ms(i.singleEventAck.p99Ms)} ms`, i.singleEventAck.p99Ms <= 10]);
  rows.push([`/accounts server render p95 ≤ 300 ms`, `${ms(big.page.p95Ms)} ms`, big.page.p95Ms <= 300]);
  return [
    `## Targets at ${fmt(big.dataset.records)} records`,
    "",
    "| target | figure | |",
    "| --- | --- | --- |",
    ...rows.map(([t, f, p]) => `| ${t} | ${f} | ${p === undefined ? "–" : ok(p)} |`),
    "",
  ];
}

function runSection(run: BenchRun): string[] {
  const r = run.reads;
  const i = run.ingest;
  const out: string[] = [];
  out.push(`## ${fmt(run.dataset.records)} records`, "");
  out.push(
    `Run \`${run.id}\` on ${run.date} (${run.durationS} s). Machine: ${run.machine.cpus} × ${run.machine.cpuModel}, ${run.machine.memoryGiB} GiB, ` +
      `load average at start ${run.machine.loadAvgAtStart.join(" / ")}; Node ${run.machine.node}, PostgreSQL ${run.machine.postgres}, Redis ${run.machine.redis}.`,
    "",
  );
  const d = run.dataset;
  out.push(
    `Data: ${fmt(d.records)} usage records over ${d.months} months (${run.postgres.days} local days, ${d.timezone}), ${d.accounts} accounts, ${fmt(d.keys)} API keys, 8 models, skewed ` +
      `(busiest account \`${r.busiestAccount}\`). Generated in ${d.generateS} s, VACUUM ANALYZE ${d.vacuumS} s, rollups rebuilt (rebuildRollups) in ${d.rollupsS} s.`,
    "",
  );
  out.push(`### Reads (warm; p50 / p95 / max ms; ${run.options.runs} runs each, baseline up to ${run.options.baselineRuns} runs or ${run.options.baselineBudgetS} s per query)`, "");
  out.push("| question | service | HTTP | baseline (raw records) | runs (baseline) | baseline p50 / our HTTP p50 |", "| --- | --- | --- | --- | --- | --- |");
  out.push(`| a. accounts list, today / month / all time (${r.accountsList.rows} rows) | ${lat(r.accountsList.service)} | ${lat(r.accountsList.http)} | ${lat(r.baseline.accountsList)} | ${r.accountsList.http.runs} (${r.baseline.accountsList.runs}) | ${ratio(r.baseline.accountsList.p50Ms, r.accountsList.http.p50Ms)} |`);
  for (const [k, v] of Object.entries(r.breakdown)) {
    const b = r.baseline.breakdown[k as keyof typeof r.baseline.breakdown];
    out.push(`| b. per-key breakdown, ${k} (${v.keys} keys, page of 100) | ${lat(v.service)} | ${lat(v.http)} | ${lat(b)} | ${v.http.runs} (${b.runs}) | ${ratio(b.p50Ms, v.http.p50Ms)} |`);
  }
  out.push(`| c. summary, 90 days, ${r.summary.models} models, ${r.summary.seriesPoints} series points | ${lat(r.summary.service)} | ${lat(r.summary.http)} | – | ${r.summary.http.runs} | – |`, "");
  if (r.httpFloor) out.push(`HTTP floor (a request refused with 401 before any work: Next.js and the route wrapper alone): ${lat(r.httpFloor)} ms.`, "");
  out.push(
    `Equality with the baseline: ${fmt(run.check.before.comparisons)} figures compared after loading (${run.check.before.mismatches.length} mismatches), ` +
      `${fmt(run.check.after.comparisons)} after ingest and COPY (${run.check.after.mismatches.length} mismatches).`,
    "",
  );
  out.push(`### Page`, "", `/accounts server render (logged in, full HTML response): p50 ${ms(run.page.p50Ms)} ms, p95 ${ms(run.page.p95Ms)} ms, max ${ms(run.page.maxMs)} ms (${run.page.runs} runs).`, "");
  out.push(`### Writes`, "");
  out.push(
    `| figure | value |`,
    `| --- | --- |`,
    `| clients × batch, window | ${i.clients} × ${i.batchSize} events, ${i.seconds} s |`,
    `| events accepted (202) | ${fmt(i.accepted)} (${i.errors} failed requests) |`,
    `| acknowledged | ${fmt(i.ackedPerSecond)} events/s |`,
    `| committed in PostgreSQL during the window | ${fmt(i.committedInWindowPerSecond)} events/s |`,
    `| **sustained, committed end to end** | **${fmt(i.sustainedPerSecond)} events/s** (drain tail after the window ${fmt(i.drainTailMs)} ms) |`,
    ...(i.cpuPerEvent
      ? [
          `| CPU per committed event: next start (HTTP, validation, Redis client, drainer) / redis-server / PostgreSQL backends; total | ${i.cpuPerEvent.serverUs} / ${i.cpuPerEvent.redisUs} / ${i.cpuPerEvent.postgresUs} µs; ${i.cpuPerEvent.totalUs} µs → at most ${fmt(Math.round((2 * 1e6) / i.cpuPerEvent.totalUs))} events/s on 2 cores |`,
        ]
      : []),
    `| batch ack latency p50 / p95 / p99 / max | ${ms(i.batchAck.p50Ms)} / ${ms(i.batchAck.p95Ms)} / ${ms(i.batchAck.p99Ms)} / ${ms(i.batchAck.maxMs)} ms |`,
    `| single-event ack p50 / p99 / max (idle, sequential, ${i.singleEventAck.runs} runs) | ${ms(i.singleEventAck.p50Ms)} / ${ms(i.singleEventAck.p99Ms)} / ${ms(i.singleEventAck.maxMs)} ms |`,
    `| COPY of ${fmt(i.copy.rows)} such rows into usage_records (rollup trigger on) | ${fmt(i.copy.withRollupsPerSecond)} rows/s (${fmt(i.copy.withRollupsMs)} ms) |`,
    `| COPY of the same rows into a plain table with the same indexes (no rollups) | ${fmt(i.copy.rawPerSecond)} rows/s (${fmt(i.copy.rawMs)} ms) |`,
    `| sustained ingest / COPY with rollups | ${((100 * i.sustainedPerSecond) / i.copy.withRollupsPerSecond).toFixed(0)} % |`,
    `| sustained ingest / COPY without rollups | ${((100 * i.sustainedPerSecond) / i.copy.rawPerSecond).toFixed(0)} % |`,
    "",
  );
  const re = run.redis;
  const p = run.postgres;
  out.push(`### Memory and size`, "");
  out.push(
    `| figure | value |`,
    `| --- | --- |`,
    ...(re.dayBytesPerActiveKey !== undefined
      ? [`| **Redis bytes per active API key per day** (every key of today's window / API keys active today) | **${fmt(re.dayBytesPerActiveKey)} B** (${fmt(re.dayWindowBytes)} B, ${fmt(re.keysActiveToday)} keys active today) |`]
      : []),
    `| Redis counter bytes the ingest phase added, per API key it used | ${fmt(re.bytesPerActiveKeyPerDay)} B (${fmt(re.counterBytesAdded)} B over ${fmt(re.counterKeysWritten)} keys written, ${fmt(re.activeApiKeys)} API keys) |`,
    `| Redis dedupe bytes per event (expire after 72 h) | ${fmt(re.dedupeBytesPerEvent)} B (${fmt(re.dedupeKeys)} keys) |`,
    `| PostgreSQL bytes per usage record (heap + indexes) | ${fmt(p.bytesPerRecord)} B (${fmt(p.records)} records, heap ${(p.usageRecordsHeapBytes / 2 ** 20).toFixed(0)} MiB, indexes ${(p.usageRecordsIndexBytes / 2 ** 20).toFixed(0)} MiB) |`,
    `| usage_request_ids bytes per record | ${fmt(p.requestIdsBytesPerRecord)} B |`,
    `| rollup rows per day (account / key / model daily; all) | ${p.rollupRowsPerDay.accountDaily} / ${p.rollupRowsPerDay.keyDaily} / ${p.rollupRowsPerDay.modelDaily}; ${p.rollupRowsPerDay.allDaily} |`,
    `| all rollup tables | ${(p.rollupBytes / 2 ** 20).toFixed(0)} MiB |`,
    "",
  );
  return out;
}

export function renderResults(runs: Record<string, BenchRun>): string {
  const list = Object.values(runs).sort((a, b) => b.dataset.records - a.dataset.records);
  const big = list[0]!;
  const small = list.find((r) => r.dataset.records < big.dataset.records);
  return [
    "# Benchmark results",
    "",
    "Produced by `npm run bench` (scripts/bench/); do not edit by hand. Each record count is a separate run in a database",
    "of its own (`npm run bench -- --records 1000000`, then `npm run bench`), merged into results.json.",
    "Latencies are wall-clock in milliseconds, measured on the same machine that runs PostgreSQL, Redis, `next start` and the",
    "load generator; the machine is shared with other work, so treat single-digit-percent differences as noise.",
    "",
    ...targets(big, small),
    ...(NOTES.length ? ["## What limits the figures", "", ...NOTES.map((n) => `- ${n}`), ""] : []),
    ...list.flatMap(runSection),
  ].join("\n");
}
