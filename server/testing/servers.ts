import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createDatabase } from "../../db/client";
import { migrate } from "../../db/migrator";
import { freePort } from "./ports";

/**
 * Throw-away PostgreSQL and Redis servers for the failure tests, which stop and start a store:
 * never the shared ones. PostgreSQL runs as the `postgres` OS user when we are root.
 */

function pgBin(name: string): string {
  for (const dir of ["/usr/lib/postgresql/15/bin", "/usr/local/bin", "/usr/bin"]) {
    const p = path.join(dir, name);
    if (fs.existsSync(p)) return p;
  }
  throw new Error(`${name} not found`);
}

const isRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[]): void {
  const [file, argv] = isRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
  const r = spawnSync(file, argv, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr || r.stdout}`);
}

export interface OwnPostgres {
  url: string;
  port: number;
  stop(): void;
  start(): void;
  destroy(): void;
}

function ownDir(prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  if (isRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    fs.chownSync(dir, uid, gid);
  }
  return dir;
}

/** pg_ctl start/stop of the data folder in `dir` on `port`, started once here. */
function pgServer(dir: string, port: number, settings: string): OwnPostgres {
  const data = path.join(dir, "data");
  const opts = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 ${settings}`;
  const start = () => asPostgres(pgBin("pg_ctl"), ["-D", data, "-o", opts, "-l", path.join(dir, "log"), "-w", "-t", "30", "start"]);
  const stop = () => asPostgres(pgBin("pg_ctl"), ["-D", data, "-m", "fast", "-w", "-t", "30", "stop"]);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    destroy() {
      try {
        stop();
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = ownDir("ub-pg-");
  const port = await freePort();
  asPostgres(pgBin("initdb"), ["-D", path.join(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  return pgServer(dir, port, "-c fsync=off -c synchronous_commit=off -c full_page_writes=off");
}

/**
 * A streaming replica of `primary` (pg_basebackup -R: a hot standby following it), in a temp
 * folder on a free port. The primary's initdb allows replication from 127.0.0.1 (trust).
 */
export async function startOwnReplica(primary: OwnPostgres): Promise<OwnPostgres> {
  const dir = ownDir("ub-pg-replica-");
  const port = await freePort();
  asPostgres(pgBin("pg_basebackup"), ["-h", "127.0.0.1", "-p", String(primary.port), "-U", "postgres", "-D", path.join(dir, "data"), "-R", "-X", "stream", "--no-sync"]);
  return pgServer(dir, port, "-c fsync=off -c hot_standby=on");
}

/** startOwnPostgres with every migration applied to its `postgres` database. */
export async function startOwnMigratedPostgres(): Promise<OwnPostgres> {
  const pg = await startOwnPostgres();
  const handle = await createDatabase({ databaseUrl: pg.url, pgliteDir: "", statementTimeoutMs: 30_000, poolMax: 2 });
  try {
    await migrate(handle);
  } finally {
    await handle.close();
  }
  return pg;
}

export interface OwnRedis {
  url: string;
  port: number;
  start(): void;
  /** SHUTDOWN NOSAVE: like a crash of a Redis without persistence (its data is gone). */
  stop(): void;
  /** SIGKILL: a crash. With `persistent` (appendfsync always) every acknowledged write survives it. */
  kill(): void;
  running(): boolean;
  destroy(): void;
}

/**
 * A redis-server of its own on a free port, in a temp folder. `persistent`: AOF with fsync always
 * (the recommended setting for the outbox), so a killed server restarts with its data.
 */
export async function startOwnRedis(opts: { persistent?: boolean } = {}): Promise<OwnRedis> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ub-redis-"));
  const port = await freePort();
  const pidFile = path.join(dir, "redis.pid");
  const persistence = opts.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const running = () => spawnSync("redis-cli", ["-p", String(port), "ping"], { encoding: "utf8" }).stdout?.trim() === "PONG";
  const waitUntil = (up: boolean) => {
    for (let i = 0; i < 200; i++) {
      if (running() === up) return true;
      spawnSync("sleep", ["0.05"]);
    }
    return false;
  };
  const start = () => {
    execFileSync("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--daemonize", "yes",
      "--dir", dir, "--pidfile", pidFile, "--logfile", path.join(dir, "redis.log"),
    ]);
    // PONG only once the AOF is loaded (LOADING errors before that).
    if (!waitUntil(true)) throw new Error("own redis-server did not start");
  };
  const stop = () => {
    spawnSync("redis-cli", ["-p", String(port), "shutdown", "nosave"]);
    waitUntil(false);
  };
  const kill = () => {
    let pid: number | undefined;
    try {
      pid = Number(fs.readFileSync(pidFile, "utf8").trim()) || undefined;
    } catch {
      // not running
    }
    if (pid) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    waitUntil(false);
    fs.rmSync(pidFile, { force: true });
  };
  start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    kill,
    running,
    destroy() {
      if (opts.persistent) kill();
      else stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until fn() is truthy. */
export async function waitFor<T>(fn: () => Promise<T> | T, what: string, timeoutMs = 30_000, pollMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export interface OwnCluster {
  /** host:port of each master, comma-separated: the REDIS_CLUSTER_NODES form. */
  nodes: string;
  ports: number[];
  /** SIGKILL of one master (a crash); with `persistent` its AOF keeps every acknowledged write. */
  killNode(i: number): void;
  /** Starts a killed master again on its port and folder; resolves once every node says cluster_state:ok. */
  startNode(i: number): Promise<void>;
  /** cluster_state of node i as it sees it ("ok", "fail"), or "" when it does not answer. */
  clusterState(i: number): string;
  destroy(): void;
}

/**
 * A real Redis Cluster of three masters (no replicas) on free loopback ports, in a temp folder:
 * redis-server --cluster-enabled yes × 3, then redis-cli --cluster create; ready when every node
 * reports cluster_state:ok. `persistent`: AOF with fsync always, so a killed node restarts with its data.
 */
export async function startOwnCluster(opts: { persistent?: boolean } = {}): Promise<OwnCluster> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ub-cluster-"));
  const ports = [await freePort(), await freePort(), await freePort()];
  const cli = (port: number, ...args: string[]) => spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).stdout.trim();
  const persistence = opts.persistent ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
  const startServer = (port: number) => {
    const d = path.join(dir, String(port));
    fs.mkdirSync(d, { recursive: true });
    execFileSync("redis-server", [
      "--port", String(port), "--bind", "127.0.0.1", "--save", "", ...persistence, "--daemonize", "yes",
      "--cluster-enabled", "yes", "--cluster-config-file", path.join(d, "nodes.conf"), "--cluster-node-timeout", "2000",
      "--dir", d, "--pidfile", path.join(d, "redis.pid"), "--logfile", path.join(d, "redis.log"),
    ]);
  };
  const allOk = () => ports.every((p) => cli(p, "cluster", "info").includes("cluster_state:ok"));
  for (const port of ports) startServer(port);
  const destroy = () => {
    for (const port of ports) cli(port, "shutdown", "nosave");
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(() => ports.every((p) => cli(p, "ping") === "PONG"), "the cluster's redis-servers", 10_000);
    const created = spawnSync("redis-cli", ["--cluster", "create", ...ports.map((p) => `127.0.0.1:${p}`), "--cluster-replicas", "0", "--cluster-yes"], { encoding: "utf8" });
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`);
    await waitFor(allOk, "cluster_state:ok on every node", 20_000);
  } catch (err) {
    destroy();
    throw err;
  }
  return {
    nodes: ports.map((p) => `127.0.0.1:${p}`).join(","),
    ports,
    killNode(i) {
      const port = ports[i]!;
      const pidFile = path.join(dir, String(port), "redis.pid");
      const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
      process.kill(pid, "SIGKILL");
      for (let n = 0; n < 100 && cli(port, "ping") === "PONG"; n++) spawnSync("sleep", ["0.05"]);
      fs.rmSync(pidFile, { force: true });
    },
    clusterState: (i) => /cluster_state:(\w+)/.exec(cli(ports[i]!, "cluster", "info"))?.[1] ?? "",
    async startNode(i) {
      startServer(ports[i]!);
      // PONG only once the AOF is loaded; then the others see it again.
      await waitFor(() => cli(ports[i]!, "ping") === "PONG", `the restarted node :${ports[i]}`, 20_000);
      await waitFor(allOk, "cluster_state:ok on every node after the restart", 30_000);
    },
    destroy,
  };
}
