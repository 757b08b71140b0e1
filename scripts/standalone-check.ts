/**
 * npm run test:standalone — what the Docker image runs, run without a container engine: the shared
 * production build (`next build`, reused from test:e2e) packed by the Dockerfile's own step
 * (`npm run pack:standalone`) into a fresh folder outside the repo, then `node server.js` and
 * `node worker.mjs` started there on a database and Redis prefix of their own (dropped afterwards).
 * Prints `standalone: N passed, M failed` (counted by .ci/run); exit 1 on a failure.
 */
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sql } from "kysely";
import { childProcessBaseEnv } from "../server/config";
import { createRuntime } from "../server/runtime";
import { recordUsage } from "../server/usage/usage.service";
import { ensureBuild } from "../server/testing/ensure-build";
import { freePort } from "../server/testing/ports";
import { waitFor } from "../server/testing/servers";
import { createTestDatabase, dropRedisPrefix, testConfig, uniqueName, type TestDatabase } from "../server/testing/stores";

const ROOT = path.resolve(import.meta.dirname, "..");
const ADMIN = { username: "admin", password: "standalone-Passw0rd!" };
/** Packages that must never reach the image (dev dependencies). */
const DEV_ONLY = ["tsx", "vitest", "typescript", "eslint", "@playwright/test", "esbuild", "tailwindcss"];

interface Child {
  output(): string;
  exitCode(): number | null;
  /** SIGTERM to the process group; resolves with the exit code (SIGKILL after 15 s). */
  stop(): Promise<number | null>;
}

function startIn(dir: string, script: string, env: Record<string, string>): Child {
  const child = spawn(process.execPath, [script], { cwd: dir, detached: true, stdio: ["ignore", "pipe", "pipe"], env: { ...childProcessBaseEnv(), NODE_ENV: "production", ...env } });
  const lines: string[] = [];
  const keep = (b: Buffer) => {
    lines.push(b.toString());
    if (lines.length > 300) lines.shift();
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, s);
    } catch {
      // Already gone.
    }
  };
  process.once("exit", () => signal("SIGKILL"));
  return {
    output: () => lines.join(""),
    exitCode: () => child.exitCode,
    async stop() {
      if (child.exitCode === null) signal("SIGTERM");
      const t = setTimeout(() => signal("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
  };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

function expectEqual(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const checks: { name: string; ok: boolean; error?: string }[] = [];
async function check(name: string, fn: () => Promise<void>): Promise<void> {
  if (checks.some((c) => !c.ok)) {
    checks.push({ name, ok: false, error: "not run: an earlier check failed" });
    return;
  }
  try {
    await fn();
    checks.push({ name, ok: true });
    console.log(`  ✓ ${name}`);
  } catch (err) {
    checks.push({ name, ok: false, error: (err as Error).message });
    console.log(`  ✗ ${name}\n    ${(err as Error).message.split("\n").join("\n    ")}`);
  }
}

async function main(): Promise<number> {
  const started = Date.now();
  ensureBuild(ROOT, (s) => console.log(`[standalone] ${s}`));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "ub-standalone-"));
  const dir = path.join(tmp, "app");
  const prefix = `${uniqueName("sa").slice(0, 28)}:`;
  let database: TestDatabase | undefined;
  let server: Child | undefined;
  let worker: Child | undefined;
  try {
    database = await createTestDatabase();
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const env = {
      NODE_ENV: "production",
      NEXT_TELEMETRY_DISABLED: "1",
      HOSTNAME: "127.0.0.1",
      PORT: String(port),
      DATABASE_URL: database.url,
      REDIS_URL: testConfig().redisUrl!,
      REDIS_KEY_PREFIX: prefix,
      USAGE_TIMEZONE: "Asia/Shanghai",
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      LOG_LEVEL: "warn",
    };

    await check("the Dockerfile's pack step assembles the runtime folder outside the repo, without dev dependencies or sources", async () => {
      const r = spawnSync("npm", ["run", "--silent", "pack:standalone", "--", dir], { cwd: ROOT, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`pack:standalone failed (exit ${r.status}):\n${r.stdout}${r.stderr}`);
      if (!path.relative(ROOT, dir).startsWith("..")) throw new Error(`${dir} is inside the repo`);
      // Node resolves packages up the tree: nothing above the folder may lend it one.
      for (let d = path.dirname(dir); ; d = path.dirname(d)) {
        if (fs.existsSync(path.join(d, "node_modules"))) throw new Error(`${d}/node_modules would be visible to the runtime folder`);
        if (d === path.dirname(d)) break;
      }
      const present = DEV_ONLY.filter((p) => fs.existsSync(path.join(dir, "node_modules", p)));
      if (present.length) throw new Error(`dev dependencies in the runtime folder: ${present.join(", ")}`);
      const sources = ["app", "scripts", "e2e", "tsconfig.json", "instrumentation.ts", "proxy.ts"].filter((f) => fs.existsSync(path.join(dir, f)));
      if (sources.length) throw new Error(`sources in the runtime folder: ${sources.join(", ")}`);
    });

    await check("node server.js applies the migrations and becomes ready (GET /readyz 200)", async () => {
      server = startIn(dir, "server.js", env);
      const ready = await waitFor(
        async () => {
          if (server!.exitCode() !== null) throw new Error(`server.js exited with ${server!.exitCode()}:\n${server!.output()}`);
          const r = await get(`${baseUrl}/readyz`).catch(() => undefined);
          return r?.status === 200 ? r : undefined;
        },
        "GET /readyz to answer 200",
        180_000,
        250,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${server!.output()}`);
      });
      expectEqual(ready?.body, { status: "ok", reason: "ok" }, "/readyz");
      const applied = await sql<{ n: number }>`select count(*)::int as n from schema_migrations`.execute(database!.handle.db);
      const files = fs.readdirSync(path.join(ROOT, "db", "migrations")).filter((f) => f.endsWith(".sql")).length;
      expectEqual(applied.rows[0]!.n, files, "migrations applied by the server");
    });

    await check("GET /livez answers 200 without credentials", async () => {
      const r = await get(`${baseUrl}/livez`);
      expectEqual([r.status, r.body], [200, { status: "ok", reason: "serving" }], "/livez");
    });

    let cookie = "";
    await check("signs in through POST /admin/auth/login", async () => {
      const res = await fetch(`${baseUrl}/admin/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: baseUrl },
        body: JSON.stringify(ADMIN),
      });
      if (res.status !== 200) throw new Error(`login answered ${res.status}: ${await res.text()}`);
      cookie = res.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
      if (!cookie.includes("ub_session=")) throw new Error(`no session cookie in ${JSON.stringify(res.headers.getSetCookie().map((c) => c.split("=")[0]))}`);
      const me = await get(`${baseUrl}/admin/auth/me`, { cookie });
      expectEqual([me.status, (me.body as { data?: { kind?: string; name?: string } })?.data], [200, { kind: "session", name: ADMIN.username, scopes: ["admin"] }], "GET /admin/auth/me");
    });

    await check("records an event with a usage:write token and reads the figure back exactly", async () => {
      const created = await fetch(`${baseUrl}/admin/tokens`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: baseUrl, cookie },
        body: JSON.stringify({ name: "standalone check", scope: "usage:write" }),
      });
      const token = ((await created.json()) as { data?: { token?: string } }).data?.token;
      if (created.status !== 201 || !token) throw new Error(`POST /admin/tokens answered ${created.status}`);
      // The account as the relay syncs it, then its usage.
      const account = await fetch(`${baseUrl}/admin/accounts/acc-standalone`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ name: "Standalone", platform: "claude", type: "oauth", status: "active", priority: 50 }),
      });
      if (account.status !== 200) throw new Error(`PUT /admin/accounts/acc-standalone answered ${account.status}: ${await account.text()}`);
      const event = { requestId: "standalone-1", occurredAt: new Date(Date.now() - 60_000).toISOString(), accountId: "acc-standalone", apiKeyId: "key-standalone", model: "claude-sonnet-4", inputTokens: 1200, outputTokens: 340, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.125" };
      const posted = await fetch(`${baseUrl}/admin/usage`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ events: [event] }),
      });
      expectEqual([posted.status, ((await posted.json()) as { data: unknown }).data], [202, { accepted: 1, duplicates: 0, rejected: [] }], "POST /admin/usage");
      // PostgreSQL answers once the app's drainer has moved the event out of the outbox.
      let usage: Record<string, unknown> = {};
      await waitFor(async () => {
        const stats = await get(`${baseUrl}/admin/accounts/acc-standalone/usage-stats?range=total`, { cookie });
        if (stats.status !== 200) throw new Error(`usage-stats answered ${stats.status}: ${JSON.stringify(stats.body)}`);
        usage = (stats.body as { data: { usage: Record<string, unknown> } }).data.usage;
        return usage.requests !== 0;
      }, "the event to reach the account's figures");
      expectEqual(
        [usage.requests, usage.inputTokens, usage.outputTokens, usage.allTokens, usage.cost, usage.ratedCost],
        [1, 1200, 340, 1540, 0.125, 0.125],
        "the account's all-time usage",
      );
    });

    await check("node worker.mjs starts, drains the outbox into PostgreSQL and stops on SIGTERM", async () => {
      const code = await server!.stop();
      server = undefined;
      // Next.js's server exits with 128 + SIGTERM after closing its connections.
      if (code !== 143 && code !== 0) throw new Error(`server.js exited with ${code} on SIGTERM`);
      // An event left in the outbox (hot first, no drainer in this process) for the worker to move.
      const runtime = await createRuntime(testConfig({ DATABASE_URL: database!.url, REDIS_KEY_PREFIX: prefix }), { ownDatabase: true });
      try {
        const r = await recordUsage(runtime, { events: [{ requestId: "standalone-worker-1", occurredAt: new Date(Date.now() - 30_000).toISOString(), accountId: "acc-standalone", apiKeyId: "key-standalone", model: "claude-sonnet-4", inputTokens: 10, outputTokens: 5, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.001" }] });
        expectEqual(r, { accepted: 1, duplicates: 0, rejected: [] }, "recording into the outbox");
      } finally {
        await runtime.close();
      }
      const inLedger = async () =>
        (await sql<{ n: number }>`select count(*)::int as n from usage_records where request_id = 'standalone-worker-1'`.execute(database!.handle.db)).rows[0]!.n;
      expectEqual(await inLedger(), 0, "the event in PostgreSQL before the worker runs");
      worker = startIn(dir, "worker.mjs", env);
      await waitFor(
        async () => {
          if (worker!.exitCode() !== null) throw new Error(`worker.mjs exited with ${worker!.exitCode()}:\n${worker!.output()}`);
          return (await inLedger()) === 1;
        },
        "the worker to drain the event into PostgreSQL",
        60_000,
        200,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n${worker!.output()}`);
      });
      if (!worker.output().includes("[worker] draining")) throw new Error(`the worker did not say it drains:\n${worker.output()}`);
      const exit = await worker.stop();
      worker = undefined;
      expectEqual(exit, 0, "worker.mjs exit code on SIGTERM");
    });
  } finally {
    await server?.stop();
    await worker?.stop();
    await database?.drop().catch((e: Error) => console.error(`[standalone] dropping the database: ${e.message}`));
    await dropRedisPrefix(prefix).catch((e: Error) => console.error(`[standalone] dropping the Redis prefix: ${e.message}`));
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const failed = checks.filter((c) => !c.ok).length;
  console.log(`standalone: ${checks.length - failed} passed, ${failed} failed (${Math.round((Date.now() - started) / 1000)} s)`);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    console.log("standalone: 0 passed, 1 failed");
    process.exit(1);
  },
);
