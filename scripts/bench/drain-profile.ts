/**
 * Profiles the PostgreSQL side of usage ingest on a database and Redis prefix of its own (dropped
 * afterwards), with the bench's events (200 accounts, 5,000 keys, 8 models, skewed):
 *   1. insert_usage_batch alone, per batch size, on one connection: events/s and that backend's CPU;
 *   2. the drainer alone, draining an outbox filled with 500-event entries (as the bench sends):
 *      events/s, CPU of the database's backends and of this process;
 *   3. with --rate, the drainer's background loop under a steady stream of that many events/s for
 *      --seconds: PostgreSQL CPU per event, and how far the commits trail the stream.
 *
 *   npm run bench:drain -- [--events N] [--sizes 2000,5000,20000,50000] [--history N]
 *                                 [--upto NNNN] [--sql FILE] [--cast json|jsonb] [--max-events N]
 *                                 [--rate N --seconds N] [--skip-sql] [--skip-drain]
 *
 * --upto applies the migrations up to NNNN only and --sql runs a file after them, for A/B runs of a
 * migration before it goes into db/migrations (--upto 0002 --cast jsonb measures 0001's functions).
 */
import fs from "node:fs";
import { parseArgs } from "node:util";
import { sql } from "kysely";
import pg from "pg";
import { createDatabase } from "../../db/client";
import { loadMigrations, migrate } from "../../db/migrator";
import { createRedis } from "../../server/redis";
import type { AppConfig } from "../../server/config";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../../server/testing/stores";
import { Drainer } from "../../server/usage/drainer";
import { appendOutbox } from "../../server/usage/hot-outbox";
import { ensureUsagePartitions } from "../../server/usage/usage.repository";
import { validateEvents } from "../../server/usage/usage.service";
import { sampleCpu } from "./cpu";
import { insertBenchAccounts } from "./dataset";
import { eventSource } from "./ingest";

const TZ = "Asia/Shanghai";
const dataset = { accounts: 200, keys: 5000 };

function backendCpuMs(pid: number): number {
  const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // utime + stime, USER_HZ = 100
}

function selfCpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface Batch {
  json: string;
  months: string[];
  count: number;
}

function batches(tag: string, events: number, size: number): Batch[] {
  const src = eventSource(dataset, tag, 4242);
  const out: Batch[] = [];
  for (let done = 0; done < events; done += size) {
    const raw = Array.from({ length: Math.min(size, events - done) }, () => JSON.parse(src.next().json) as unknown);
    const { events: ev } = validateEvents(raw, TZ);
    out.push({ json: JSON.stringify(ev.map((e) => e.row)), months: [...new Set(ev.map((e) => e.partitionMonth))], count: ev.length });
  }
  return out;
}

const perEvent = (ms: number, events: number) => ((ms * 1000) / Math.max(1, events)).toFixed(1);

interface SteadyEnv {
  config: AppConfig;
  tdb: TestDatabase;
  pool: pg.Pool;
  maxEventsPerWrite: number | undefined;
}

/** The drainer's background loop while 500-event entries arrive at `rate` events/s. */
async function steadyStream(env: SteadyEnv, rate: number, seconds: number): Promise<void> {
  const { config, tdb, pool, maxEventsPerWrite } = env;
  const entries = batches(`steady-${Date.now()}`, rate * seconds, 500);
  const committed = async () => Number((await pool.query<{ n: string }>(`SELECT coalesce(sum(requests), 0)::text AS n FROM usage_account_totals`)).rows[0]!.n);
  const base = await committed();
  const loop = new Drainer(config, tdb.handle, { maxEventsPerWrite });
  const producer = createRedis(config.redisUrl!, { name: "prof-drain-producer" });
  await producer.connect();
  const pg0 = await sampleCpu(undefined, pool, tdb.name);
  const t0 = performance.now();
  loop.start();
  let lagMs = 0;
  for (const [i, e] of entries.entries()) {
    const due = t0 + ((i * 500) / rate) * 1000;
    if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    await appendOutbox(producer, config.redisKeyPrefix, { count: e.count, months: e.months, rowsJson: e.json });
    if (i % Math.max(1, Math.round(rate / 500)) === 0) {
      const behind = (i + 1) * 500 - ((await committed()) - base);
      lagMs = Math.max(lagMs, (behind / rate) * 1000);
    }
  }
  while ((await committed()) - base < entries.length * 500) await new Promise((r) => setTimeout(r, 50));
  const ms = performance.now() - t0;
  const pg1 = await sampleCpu(undefined, pool, tdb.name);
  await loop.stop({ forget: true });
  producer.disconnect();
  const n = entries.length * 500;
  console.log(
    `steady ${rate} events/s for ${seconds} s: all committed after ${Math.round(ms)} ms, commits at most ${Math.round(lagMs)} ms behind; ` +
      `PG CPU ${perEvent(pg1.postgresMs - pg0.postgresMs, n)} µs/event (${Math.round((pg1.postgresMs - pg0.postgresMs) / ms * 100)} % of a core)`,
  );
}

async function main() {
  const { values } = parseArgs({
    options: {
      events: { type: "string", default: "100000" },
      sizes: { type: "string", default: "2000,5000,20000,50000" },
      history: { type: "string", default: "1000000" },
      upto: { type: "string" },
      sql: { type: "string" },
      cast: { type: "string", default: "json" },
      "max-events": { type: "string" },
      rate: { type: "string" },
      seconds: { type: "string", default: "20" },
      "skip-sql": { type: "boolean", default: false },
      "skip-drain": { type: "boolean", default: false },
    },
  });
  const events = Number(values.events);
  const tdb = await createTestDatabase();
  await migrate(tdb.handle, { files: loadMigrations().filter((f) => !values.upto || f.name.slice(0, 4) <= values.upto) });
  if (values.sql) {
    const text = fs.readFileSync(values.sql, "utf8");
    await tdb.handle.withSession((s) => s.exec(text));
  }
  const config = testConfig({ DATABASE_URL: tdb.url, USAGE_TIMEZONE: TZ });
  const pool = new pg.Pool({ connectionString: tdb.url, max: 1 });
  pool.on("error", () => {}); // the database is dropped with FORCE after pool.end(), whose sockets may still be closing
  try {
    // The bench's accounts and keys exist (no placeholders), and usage_request_ids is not empty.
    await insertBenchAccounts(pool, dataset);
    await pool.query(`INSERT INTO usage_request_ids (account_id, request_id, occurred_at) SELECT 'h', 'h' || n, now() - interval '1 day' FROM generate_series(1, $1::int) n`, [Number(values.history)]);
    await pool.query(`VACUUM ANALYZE`);
    await ensureUsagePartitions(tdb.handle.db, [`${new Date().toISOString().slice(0, 7)}-01`]);

    if (!values["skip-sql"]) {
      const single = await createDatabase({ databaseUrl: tdb.url, pgliteDir: "", statementTimeoutMs: 600_000, poolMax: 1 });
      try {
        const db = single.db;
        const pid = (await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(db)).rows[0]!.pid;
        const cast = values.cast === "jsonb" ? sql`jsonb` : sql`json`;
        const insert = async (json: string) =>
          (await sql<{ n: number }>`select count(*)::int as n from insert_usage_batch(${json}::${cast}, ${TZ})`.execute(db)).rows[0]!.n;
        const run = async (bs: Batch[]) => {
          const c0 = backendCpuMs(pid);
          const t0 = performance.now();
          let n = 0;
          for (const b of bs) n += await insert(b.json);
          return { n, ms: performance.now() - t0, cpuMs: backendCpuMs(pid) - c0 };
        };
        for (const size of values.sizes.split(",").map(Number)) {
          const [warmUp, ...bs] = batches(`sql${size}-${Date.now()}`, events + size, size);
          await insert(warmUp!.json);
          const r = await run(bs);
          console.log(`insert_usage_batch ${String(size).padStart(6)} events/call: ${Math.round((r.n * 1000) / r.ms)} events/s, PG CPU ${perEvent(r.cpuMs, r.n)} µs/event`);
        }
        const dup = batches(`dup-${Date.now()}`, 20_000, 2000);
        await run(dup);
        const r = await run(dup);
        console.log(`insert_usage_batch   2000 duplicates/call: PG CPU ${perEvent(r.cpuMs, 20_000)} µs/event`);
      } finally {
        await single.close();
      }
    }

    if (!values["skip-drain"]) {
      const redis = createRedis(config.redisUrl!, { name: "prof-drain" });
      await redis.connect();
      const maxEventsPerWrite = values["max-events"] ? Number(values["max-events"]) : undefined;
      const drainer = new Drainer(config, tdb.handle, { maxEventsPerWrite });
      try {
        await drainer.drainOnce(); // creates the group and the pool's connection
        for (const e of batches(`drain-${Date.now()}`, events * 2, 500)) {
          await appendOutbox(redis, config.redisKeyPrefix, { count: e.count, months: e.months, rowsJson: e.json });
        }
        const pg0 = await sampleCpu(undefined, pool, tdb.name);
        const self0 = selfCpuMs();
        const t0 = performance.now();
        const r = await drainer.drainAll({ timeoutMs: 600_000 });
        const ms = performance.now() - t0;
        const pg1 = await sampleCpu(undefined, pool, tdb.name);
        console.log(
          `drainer: ${r.inserted} events in ${Math.round(ms)} ms = ${Math.round((r.inserted * 1000) / ms)} events/s; ` +
            `PG CPU ${perEvent(pg1.postgresMs - pg0.postgresMs, r.inserted)} µs/event, this process ${perEvent(selfCpuMs() - self0, r.inserted)} µs/event`,
        );
      } finally {
        await drainer.stop({ forget: true });
        redis.disconnect();
      }
      if (values.rate) await steadyStream({ config, tdb, pool, maxEventsPerWrite }, Number(values.rate), Number(values.seconds));
    }
  } finally {
    await pool.end();
    await dropRedisPrefix(config.redisKeyPrefix);
    await tdb.drop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
