/**
 * CPU per event of usage ingest, part by part, robust to a busy machine: CPU time is counted, not
 * wall time. Runs the service's path in this process (the body parsed as the route does, the
 * envelope schema, recordUsage hot-first: outbox XADD, recording script, placeholders), then the
 * drainer into PostgreSQL, on a database of its own and on a redis-server of its own (started
 * here on a free port, stopped at the end), so that INFO cpu counts nothing but this work.
 *
 *   npx tsx scripts/bench/ingest-cpu.ts [--events 20000] [--batch 1000] [--reps 5] [--single 300]
 *
 * Per repetition: Node µs/event (process.cpuUsage: JSON.parse, validation, normalisation, ioredis,
 * GC), Redis µs/event (INFO cpu; and per command from INFO commandstats), PostgreSQL µs/event (the
 * database's backends, /proc) and the drainer's Node µs/event. Medians at the end. --single times
 * that many one-event requests in sequence, token check included (ms in process, not HTTP).
 * Not part of `npm test`; not `npm run bench` either (no HTTP server, no load generator).
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { createRedis, type RedisClient } from "../../server/redis";
import { createRuntime, type Runtime } from "../../server/runtime";
import { createTestDatabase, testConfig } from "../../server/testing/stores";
import { freePort } from "../../server/testing/ports";
import { createApiToken, verifyApiToken } from "../../server/auth/token.service";
import { Drainer } from "../../server/usage/drainer";
import { recordUsageInput } from "../../server/usage/schemas";
import { recordUsage } from "../../server/usage/usage.service";
import { ensureUsagePartitions } from "../../server/usage/usage.repository";
import { sampleCpu } from "./cpu";
import { insertBenchAccounts } from "./dataset";
import { eventSource } from "./ingest";

const TZ = "Asia/Shanghai";
const dataset = { accounts: 200, keys: 5000 };

const nodeCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function redisInfo(redis: RedisClient): Promise<{ cpuMs: number; cmds: Map<string, { calls: number; usec: number }> }> {
  const text = (await redis.info("everything")) as string;
  const num = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(text)?.[1] ?? 0);
  const cmds = new Map<string, { calls: number; usec: number }>();
  for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/gm)) cmds.set(m[1]!, { calls: Number(m[2]), usec: Number(m[3]) });
  // The main thread's CPU only (background I/O threads are off by default).
  return { cpuMs: (num("used_cpu_user_main_thread") + num("used_cpu_sys_main_thread")) * 1000, cmds };
}

async function startRedis(): Promise<{ url: string; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ingest-cpu-redis-"));
  const proc = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir], { stdio: "ignore" });
  const url = `redis://127.0.0.1:${port}`;
  const probe = createRedis(url, { name: "ingest-cpu-probe" });
  for (let i = 0; ; i++) {
    try {
      await probe.connect();
      break;
    } catch (err) {
      if (i > 50) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  probe.disconnect();
  return { url, proc, dir };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const us = (ms: number, n: number) => (ms * 1000) / Math.max(1, n);

interface Rep {
  node: number;
  redis: number;
  drainNode: number;
  drainRedis: number;
  postgres: number;
  perCommand: Record<string, number>;
}

async function repetition(runtime: Runtime, admin: RedisClient, pool: pg.Pool, dbName: string, drainer: Drainer, tag: string, events: number, batch: number): Promise<Rep> {
  const src = eventSource(dataset, tag, 4242);
  const bodies = Array.from({ length: Math.ceil(events / batch) }, () =>
    `{"events":[${Array.from({ length: batch }, () => src.next().json).join(",")}]}`,
  );
  global.gc?.();
  const r0 = await redisInfo(admin);
  const n0 = nodeCpuMs();
  let accepted = 0;
  for (const body of bodies) {
    const input = recordUsageInput.parse(JSON.parse(body));
    accepted += (await recordUsage(runtime, input)).accepted;
  }
  const n1 = nodeCpuMs();
  const r1 = await redisInfo(admin);
  const p0 = await sampleCpu(undefined, pool, dbName);
  const d0 = nodeCpuMs();
  const drained = await drainer.drainAll({ timeoutMs: 600_000 });
  const d1 = nodeCpuMs();
  const p1 = await sampleCpu(undefined, pool, dbName);
  const r2 = await redisInfo(admin);
  if (accepted !== bodies.length * batch || drained.inserted !== accepted) throw new Error(`accepted ${accepted}, drained ${drained.inserted} of ${bodies.length * batch}`);
  const perCommand: Record<string, number> = {};
  for (const [name, c] of r1.cmds) {
    const before = r0.cmds.get(name) ?? { calls: 0, usec: 0 };
    if (c.calls > before.calls && name !== "info") {
      perCommand[`${name} µs`] = (c.usec - before.usec) / accepted;
      perCommand[`${name} calls`] = (c.calls - before.calls) / accepted;
    }
  }
  return {
    node: us(n1 - n0, accepted),
    redis: us(r1.cpuMs - r0.cpuMs, accepted),
    drainNode: us(d1 - d0, accepted),
    drainRedis: us(r2.cpuMs - r1.cpuMs, accepted),
    postgres: us(p1.postgresMs - p0.postgresMs, accepted),
    perCommand,
  };
}

/** One-event requests in sequence: token check + recordUsage, wall ms in this process. */
async function singles(runtime: Runtime, admin: RedisClient, token: string, n: number): Promise<void> {
  const src = eventSource(dataset, `single-${Date.now()}`, 99);
  const ms: number[] = [];
  const tokenMs: number[] = [];
  const r0 = await redisInfo(admin);
  const c0 = nodeCpuMs();
  for (let i = 0; i < n; i++) {
    const body = `{"events":[${src.next().json}]}`;
    const t0 = performance.now();
    if (!(await verifyApiToken(runtime, token))) throw new Error("token refused");
    tokenMs.push(performance.now() - t0);
    await recordUsage(runtime, recordUsageInput.parse(JSON.parse(body)));
    ms.push(performance.now() - t0);
  }
  const c1 = nodeCpuMs();
  const r1 = await redisInfo(admin);
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(p * xs.length))]!.toFixed(2);
  console.log(
    `single events (${n}, in process, wall): token check + record p50 ${q(ms, 0.5)} ms, p99 ${q(ms, 0.99)} ms; token check alone p50 ${q(tokenMs, 0.5)} ms, p99 ${q(tokenMs, 0.99)} ms; ` +
      `CPU: Node ${us(c1 - c0, n).toFixed(0)} µs/event (the whole process, libuv and GC threads too), Redis ${us(r1.cpuMs - r0.cpuMs, n).toFixed(0)} µs/event`,
  );
}

async function main() {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "20000" },
      batch: { type: "string", default: "1000" },
      reps: { type: "string", default: "5" },
      single: { type: "string", default: "300" },
    },
  });
  const redisServer = await startRedis();
  const tdb = await createTestDatabase({ migrated: true });
  const config = testConfig({ DATABASE_URL: tdb.url, REDIS_URL: redisServer.url, USAGE_TIMEZONE: TZ });
  const pool = new pg.Pool({ connectionString: tdb.url, max: 1 });
  pool.on("error", () => {}); // the database is dropped with FORCE after pool.end()
  const runtime = await createRuntime(config, { ownDatabase: true });
  const admin = createRedis(redisServer.url, { name: "ingest-cpu-admin" });
  await admin.connect();
  const drainer = new Drainer(config, tdb.handle);
  try {
    await insertBenchAccounts(pool, dataset);
    await ensureUsagePartitions(tdb.handle.db, [`${new Date().toISOString().slice(0, 7)}-01`]);
    await drainer.drainOnce();
    const events = Number(values.events);
    const batch = Number(values.batch);
    // Warm-up: JIT, script cache, the counters' hashes and the index filled.
    await repetition(runtime, admin, pool, tdb.name, drainer, `warm-${Date.now()}`, Math.min(events, 10_000), batch);
    const reps: Rep[] = [];
    for (let i = 0; i < Number(values.reps); i++) {
      const r = await repetition(runtime, admin, pool, tdb.name, drainer, `rep${i}-${Date.now()}`, events, batch);
      reps.push(r);
      console.log(
        `rep ${i + 1}: record: Node ${r.node.toFixed(1)}, Redis ${r.redis.toFixed(1)} µs/event; drain: Node ${r.drainNode.toFixed(1)}, Redis ${r.drainRedis.toFixed(1)}, PostgreSQL ${r.postgres.toFixed(1)} µs/event`,
      );
    }
    const med = (f: (r: Rep) => number) => median(reps.map(f)).toFixed(1);
    console.log(
      `median of ${reps.length} × ${events} events in batches of ${batch}: record Node ${med((r) => r.node)}, Redis ${med((r) => r.redis)}; ` +
        `drain Node ${med((r) => r.drainNode)}, Redis ${med((r) => r.drainRedis)}, PostgreSQL ${med((r) => r.postgres)} µs/event`,
    );
    console.log("Redis commands while recording (median µs/event by INFO commandstats):");
    for (const name of Object.keys(reps.at(-1)!.perCommand)) console.log(`  ${name}/event: ${median(reps.map((r) => r.perCommand[name] ?? 0)).toFixed(2)}`);
    const { token } = await createApiToken(runtime, { name: "ingest-cpu", scope: "usage:write" });
    if (Number(values.single)) await singles(runtime, admin, token, Number(values.single));
  } finally {
    await drainer.stop({ forget: true });
    admin.disconnect();
    await runtime.close();
    await pool.end();
    await tdb.drop();
    redisServer.proc.kill();
    fs.rmSync(redisServer.dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
