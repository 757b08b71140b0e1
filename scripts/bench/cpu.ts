import fs from "node:fs";
import type pg from "pg";

/**
 * CPU time (user + system) of the processes doing the ingest work, from /proc (Linux): the
 * `next start` process tree (HTTP, validation, Redis client, drainer), redis-server, and the
 * PostgreSQL backends connected to the bench database. Redis is shared with other work on this
 * machine, so its share is an upper bound.
 */
const TICK_MS = 10; // USER_HZ is 100 on Linux

function statOf(pid: number): { ppid: number; cpuMs: number; comm: string } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = s.lastIndexOf(")");
    const comm = s.slice(s.indexOf("(") + 1, close);
    const f = s.slice(close + 2).split(" ");
    return { ppid: Number(f[1]), cpuMs: (Number(f[11]) + Number(f[12])) * TICK_MS, comm };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  return fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d)).map(Number);
}

/** CPU ms (user + system) of each backend connected to `dbName` now. */
export async function backendsCpu(pool: pg.Pool, dbName: string): Promise<Map<number, number>> {
  const backends = (await pool.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName])).rows as { pid: number }[];
  return new Map(backends.flatMap(({ pid }) => {
    const s = statOf(pid);
    return s ? [[pid, s.cpuMs] as [number, number]] : [];
  }));
}

/** CPU a set of backends used between two samples: a backend gone by the second is left out (its share undercounted). */
export function backendsDelta(a: Map<number, number>, b: Map<number, number>): number {
  let ms = 0;
  for (const [pid, cpu] of b) ms += cpu - (a.get(pid) ?? 0);
  return ms;
}

export interface CpuSample {
  serverMs: number;
  redisMs: number;
  postgresMs: number;
}

export async function sampleCpu(serverPid: number | undefined, pool: pg.Pool, dbName: string): Promise<CpuSample> {
  const stats = new Map<number, NonNullable<ReturnType<typeof statOf>>>();
  for (const pid of allPids()) {
    const s = statOf(pid);
    if (s) stats.set(pid, s);
  }
  const tree = new Set<number>(serverPid ? [serverPid] : []);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, s] of stats) {
      if (!tree.has(pid) && tree.has(s.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  let serverMs = 0;
  let redisMs = 0;
  for (const [pid, s] of stats) {
    if (tree.has(pid)) serverMs += s.cpuMs;
    if (s.comm === "redis-server") redisMs += s.cpuMs;
  }
  const backends = (await pool.query(`SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName])).rows as { pid: number }[];
  let postgresMs = 0;
  for (const { pid } of backends) postgresMs += stats.get(pid)?.cpuMs ?? 0;
  return { serverMs, redisMs, postgresMs };
}

export interface CpuPerEvent {
  /** Microseconds of CPU per committed event. */
  serverUs: number;
  redisUs: number;
  postgresUs: number;
  totalUs: number;
}

export function perEvent(a: CpuSample, b: CpuSample, events: number): CpuPerEvent {
  const us = (ms: number) => Math.round((ms * 1000) / Math.max(1, events));
  const s = us(b.serverMs - a.serverMs);
  const r = us(b.redisMs - a.redisMs);
  const p = us(b.postgresMs - a.postgresMs);
  return { serverUs: s, redisUs: r, postgresUs: p, totalUs: s + r + p };
}
