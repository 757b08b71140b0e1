import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import path from "node:path";
import { ensureBuild } from "./ensure-build";
import { childProcessBaseEnv } from "../config";
import { waitFor } from "./servers";
import { freePort } from "./ports";

/**
 * The production server (`next build` once, shared with Playwright and the bench, then
 * `next start`) on a free loopback port with the environment a test gives it, as its own process
 * group so that stopping it stops every process it started.
 */
export interface NextServer {
  baseUrl: string;
  port: number;
  /** Resident memory of the server's process group, in bytes (/proc/<pid>/status, VmRSS). */
  rssBytes(): number;
  /** The server's recent output, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

const ROOT = path.resolve(import.meta.dirname, "../..");

export function buildOnce(): void {
  ensureBuild(ROOT, (s) => console.info(`[next-server] ${s}`));
}

/** Every pid whose process group is `pgid` (the server and whatever it spawned). */
function groupPids(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command's closing parenthesis: state, ppid, pgrp, …
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid) pids.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return pids;
}

function rssOf(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Whether url answers 200. */
function answersOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 2_000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(false));
  });
}

export async function startNextServer(env: Record<string, string>): Promise<NextServer> {
  const port = await freePort();
  const child = spawn(path.join(ROOT, "node_modules/.bin/next"), ["start", "-p", String(port), "-H", "127.0.0.1"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...childProcessBaseEnv(), NODE_ENV: "production", NEXT_TELEMETRY_DISABLED: "1", PORT: String(port), ...env },
  });
  const lines: string[] = [];
  const keep = (b: Buffer) => {
    lines.push(b.toString());
    if (lines.length > 200) lines.shift();
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // Already gone.
    }
  };
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitFor(
      async () => {
        if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}`);
        // Ready, not only listening: the server answers while its start-up still applies migrations.
        return answersOk(`${baseUrl}/readyz`);
      },
      "next start to be ready (GET /readyz 200)",
      120_000,
    );
  } catch (err) {
    signal("SIGKILL");
    throw new Error(`${(err as Error).message}:\n${lines.join("")}`);
  }
  return {
    baseUrl,
    port,
    rssBytes: () => groupPids(child.pid!).reduce((sum, pid) => sum + rssOf(pid), 0),
    output: () => lines.join(""),
    async stop() {
      if (child.exitCode === null) {
        signal("SIGTERM");
        const t = setTimeout(() => signal("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }
      signal("SIGKILL");
    },
  };
}
