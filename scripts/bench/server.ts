import { spawn, type ChildProcess } from "node:child_process";
import { ensureBuild as sharedEnsureBuild } from "../../server/testing/ensure-build";
import { request } from "./measure";

/** `next start` from the shared production build, on the bench's own database and key prefix. */
export interface BenchServer {
  baseUrl: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function ensureBuild(log: (s: string) => void): void {
  sharedEnsureBuild(process.cwd(), (s) => log(`  ${s}`));
}

export async function startServer(env: Record<string, string>, port: number, log: (s: string) => void): Promise<BenchServer> {
  const baseUrl = `http://127.0.0.1:${port}`;
  // Another server on the port (a run killed before it could stop its own) would answer instead.
  if (await request(`${baseUrl}/admin/health`).catch(() => undefined)) throw new Error(`port ${port} is in use: stop what listens there or pass --port`);
  // Its own process group: `next start` runs the server in a child process, and both must stop.
  const child = spawn("node_modules/.bin/next", ["start", "-p", String(port), "-H", "127.0.0.1"], {
    env: { ...process.env, ...env, PORT: String(port), NODE_ENV: "production" },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // Already gone.
    }
  };
  // A bench that dies without reaching its `finally` still takes the server down with it.
  process.once("exit", () => signal("SIGKILL"));
  const output: string[] = [];
  const keep = (b: Buffer) => {
    output.push(b.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`next start exited with ${child.exitCode}:\n${output.join("")}`);
    const r = await request(`${baseUrl}/admin/health`).catch(() => undefined);
    // Health needs a token; any answer means the server listens.
    if (r && r.status > 0) break;
    if (Date.now() > deadline) {
      signal("SIGKILL");
      throw new Error(`next start did not become healthy in 120 s:\n${output.join("")}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  log(`  next start is up on ${baseUrl} (pid ${child.pid})`);
  return {
    baseUrl,
    child,
    async stop() {
      if (child.exitCode === null) {
        signal("SIGTERM");
        await Promise.race([new Promise((r) => child.once("exit", r)), new Promise((r) => setTimeout(r, 10_000))]);
      }
      signal("SIGKILL");
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
