import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { freePort } from "../../server/testing/ports";
import { startOwnCluster, startOwnPostgres, startOwnRedis, type OwnCluster, type OwnPostgres, type OwnRedis } from "../../server/testing/servers";
import { ensureBuild as sharedEnsureBuild } from "../../server/testing/ensure-build";

/**
 * The fault suite's own servers: a throw-away PostgreSQL cluster, a redis-server with the
 * recommended persistence (AOF, fsync always) so a stop keeps the outbox stream (both from
 * server/testing/servers.ts, here registered for cleanup), and the app as a `next start` process
 * group. Never the machine's shared services.
 */

const cleanups = new Set<() => void>();

/** Runs every registered cleanup (sync: also safe from a signal handler or 'exit'). */
export function cleanupAll(): void {
  for (const c of [...cleanups].reverse()) {
    try {
      c();
    } catch (err) {
      console.error(`[faults] cleanup failed: ${(err as Error).message}`);
    }
    cleanups.delete(c);
  }
}

export async function startPostgres(): Promise<OwnPostgres> {
  const pg = await startOwnPostgres();
  const destroy = () => pg.destroy();
  cleanups.add(destroy);
  return { ...pg, destroy: () => { cleanups.delete(destroy); pg.destroy(); } };
}

/** The suite's Redis Cluster (3 masters, AOF with fsync always), started on first use. */
export function lazyCluster(): () => Promise<OwnCluster> {
  let started: Promise<OwnCluster> | undefined;
  return () =>
    (started ??= startOwnCluster({ persistent: true }).then((c) => {
      cleanups.add(() => c.destroy());
      return c;
    }));
}

export async function startRedis(): Promise<OwnRedis> {
  const redis = await startOwnRedis({ persistent: true });
  const destroy = () => redis.destroy();
  cleanups.add(destroy);
  return { ...redis, destroy: () => { cleanups.delete(destroy); redis.destroy(); } };
}

export interface AppProcess {
  port: number;
  baseUrl: string;
  /** Exit code/signal once the process ended unexpectedly (a crash), else undefined. */
  crashed(): string | undefined;
  /** Every pid of the process group (the drainer's consumer name carries its process's pid). */
  pids(): number[];
  /** Resident memory of the whole `next start` process group, in MiB (from ps). */
  rssMiB(): number;
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT to the whole group: freeze it (it holds what it holds) or let it go on. */
  freeze(on: boolean): void;
  logTail(lines?: number): string;
}

export interface AppEnv {
  databaseUrl: string;
  redisUrl: string;
  prefix: string;
  adminPassword: string;
  logLevel?: string;
}

const ROOT = path.resolve(import.meta.dirname, "../..");

export function ensureBuild(): void {
  sharedEnsureBuild(ROOT, (s) => console.log(`[faults] ${s}`));
}

/** `next start` as its own process group (so a SIGKILL takes every process of it). */
export async function startApp(env: AppEnv, logDir: string, name: string): Promise<AppProcess> {
  const port = await freePort();
  return spawnGroup(path.join(ROOT, "node_modules/.bin/next"), ["start", "-p", String(port), "-H", "127.0.0.1"], { ...env, port }, logDir, name);
}

/** `npm run worker` (scripts/worker.ts: the drainer and reconcile without HTTP) as its own process group. */
export async function startWorker(env: AppEnv, logDir: string, name: string): Promise<AppProcess> {
  return spawnGroup(path.join(ROOT, "node_modules/.bin/tsx"), ["scripts/worker.ts"], { ...env, port: 0 }, logDir, name);
}

function spawnGroup(command: string, args: string[], env: AppEnv & { port: number }, logDir: string, name: string): AppProcess {
  const { port } = env;
  const logPath = path.join(logDir, `${name}.log`);
  const fd = fs.openSync(logPath, "a");
  const child: ChildProcess = spawn(command, args, {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      DATABASE_URL: env.databaseUrl,
      REDIS_URL: env.redisUrl,
      REDIS_KEY_PREFIX: env.prefix,
      ADMIN_PASSWORD: env.adminPassword,
      USAGE_TIMEZONE: "Asia/Shanghai",
      DB_STATEMENT_TIMEOUT_MS: "10000",
      LOG_LEVEL: env.logLevel ?? process.env.FAULTS_LOG_LEVEL ?? "warn",
      ...(port ? { PORT: String(port) } : {}),
    },
  });
  fs.closeSync(fd);
  let exitInfo: string | undefined;
  let expectedExit = false;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      if (!expectedExit) exitInfo = `exit code ${code} signal ${signal}`;
      resolve();
    }),
  );
  const groupKill = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      // the group is gone
    }
  };
  const cleanup = () => groupKill("SIGKILL");
  cleanups.add(cleanup);
  const app: AppProcess = {
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    pids: () => {
      try {
        return execFileSync("ps", ["-o", "pid=", "-g", String(child.pid)], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
      } catch {
        return [];
      }
    },
    rssMiB: () => {
      try {
        const out = execFileSync("ps", ["-o", "rss=", "-g", String(child.pid)], { encoding: "utf8" });
        return Math.round(out.split(/\s+/).filter(Boolean).reduce((a, b) => a + Number(b), 0) / 1024);
      } catch {
        return 0;
      }
    },
    crashed: () => exitInfo,
    freeze: (on) => groupKill(on ? "SIGSTOP" : "SIGCONT"),
    async kill(signal = "SIGTERM") {
      expectedExit = true;
      groupKill(signal);
      const t = setTimeout(() => groupKill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(t);
      // Children that outlived the leader (if any) go too.
      groupKill("SIGKILL");
      cleanups.delete(cleanup);
    },
    logTail(lines = 40) {
      try {
        return fs.readFileSync(logPath, "utf8").split("\n").slice(-lines).join("\n");
      } catch {
        return "";
      }
    },
  };
  return app;
}

export function tempDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  cleanups.add(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}
