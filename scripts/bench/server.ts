import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { request } from "./measure";

/** `next start` from the shared production build, on the bench's own database and key prefix. */
export interface BenchServer {
  baseUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function ensureBuild(log: (s: string) => void): void {
  if (fs.existsSync(".next/BUILD_ID")) return;
  log("  .next/BUILD_ID is missing: building under /tmp/next-build.lock …");
  const r = spawnSync("flock", ["/tmp/next-build.lock", "npm", "run", "build"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error(`next build failed (exit ${r.status})`);
}

export async function startServer(env: Record<string, string>, port: number, log: (s: string) => void): Promise<BenchServer> {
  const child = spawn("node_modules/.bin/next", ["start", "-p", String(port), "-H", "127.0.0.1"], {
    env: { ...process.env, ...env, PORT: String(port), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${output.join("")}`);
    const r = await request(`${baseUrl}/admin/health`).catch(() => undefined);
    // Health needs a token; any answer means the server listens.
    if (r && r.status > 0) break;
    if (Date.now() > deadline) {
      child.kill("SIGTERM");
      throw new Error(`next start did not become healthy in 120 s:\n${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`  next start is up on ${baseUrl} (pid ${child.pid})`);
  return {
    baseUrl,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await Promise.race([new Promise((r) => child.once("exit", r)), new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** Logs in the way the browser does; returns the Cookie header. */
export async function login(baseUrl: string, username: string, password: string): Promise<string> {
  const r = await request(`${baseUrl}/admin/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: baseUrl },
    body: JSON.stringify({ username, password }),
  });
  if (r.status !== 200) throw new Error(`login failed: ${r.status} ${r.body.slice(0, 200)}`);
  const set = r.headers["set-cookie"] ?? [];
  const cookie = set.map((c) => c.split(";")[0]).join("; ");
  if (!cookie) throw new Error("login returned no cookie");
  return cookie;
}
