import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test } from "@playwright/test";
import { freePort } from "../server/testing/ports";
import { waitFor } from "../server/testing/servers";
import { ADMIN, waitForHydration } from "./fixtures";

/**
 * `npm run dev` as a developer starts it: no setup (the embedded database in a folder of its own,
 * seeded with demo data), opened as http://127.0.0.1:<port> and as http://localhost:<port>. Next's
 * dev server serves its own resources (HMR, chunks) only to allowedDevOrigins: without 127.0.0.1
 * there, the page never hydrates and signing in shows raw JSON (issue 14, item 11).
 */

test.describe.configure({ mode: "serial" });

/** The first compile of /login on a busy 2-core machine; the hook itself has 300 s. */
const READY_WITHIN_MS = 240_000;

let dev: ChildProcess | undefined;
let port = 0;
let dir = "";
const logOf = () => fs.readFileSync(path.join(dir, "dev.log"), "utf8").split("\n").slice(-30).join("\n");

test.beforeAll(async () => {
  test.setTimeout(300_000);
  port = await freePort();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "ub-dev-"));
  const log = fs.openSync(path.join(dir, "dev.log"), "a");
  const child = spawn(path.resolve("node_modules/.bin/next"), ["dev", "-p", String(port)], {
    detached: true,
    stdio: ["ignore", log, log],
    // Only what a developer's shell has: no DATABASE_URL, no REDIS_URL.
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NEXT_TELEMETRY_DISABLED: "1", PGLITE_DIR: path.join(dir, "pglite"), ADMIN_PASSWORD: ADMIN.password, LOG_LEVEL: "warn" } as unknown as NodeJS.ProcessEnv,
  });
  dev = child;
  fs.closeSync(log);
  let exited: string | undefined;
  child.once("exit", (code, signal) => (exited = `exit code ${code}, signal ${signal}`));
  // Ready once /login answers (the first request compiles it), within the hook's time.
  const deadline = Date.now() + READY_WITHIN_MS;
  const loginAnswers = async () => {
    if (exited) throw new Error(`next dev exited (${exited}):\n${logOf()}`);
    return fetch(`http://127.0.0.1:${port}/login`, { signal: AbortSignal.timeout(Math.max(1_000, deadline - Date.now())) })
      .then((r) => r.status === 200)
      .catch(() => false);
  };
  await waitFor(loginAnswers, `next dev to answer GET /login with 200 within ${READY_WITHIN_MS / 1000} s`, READY_WITHIN_MS).catch((err: Error) => {
    throw err.message.startsWith("next dev exited") ? err : new Error(`${err.message}:\n${logOf()}`);
  });
});

test.afterAll(async () => {
  if (dev?.pid) {
    const gone = new Promise((r) => dev!.once("exit", r));
    try {
      process.kill(-dev.pid, "SIGTERM");
    } catch {
      // already gone
    }
    const t = setTimeout(() => {
      try {
        process.kill(-dev!.pid!, "SIGKILL");
      } catch {
        // already gone
      }
    }, 10_000);
    if (dev.exitCode === null && dev.signalCode === null) await gone;
    clearTimeout(t);
  }
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

for (const host of ["127.0.0.1", "localhost"]) {
  test(`next dev opened as http://${host}: the login hydrates, signing in shows the seeded accounts`, async ({ page }) => {
    test.setTimeout(240_000);
    const blocked: string[] = [];
    page.on("response", (r) => {
      if (r.url().includes("/_next/") && r.status() >= 400) blocked.push(`${r.status()} ${r.url()}`);
    });
    await page.goto(`http://${host}:${port}/accounts`, { timeout: 180_000 });
    await expect(page).toHaveURL(/\/login/);
    await waitForHydration(page);
    await page.getByLabel("用户名", { exact: true }).fill(ADMIN.username);
    await page.getByLabel("密码", { exact: true }).fill(ADMIN.password);
    await page.getByRole("button", { name: "登录", exact: true }).click();
    // Hydrated, the form signs in by fetch and navigates; unhydrated, the browser would post the
    // form and show the API's JSON answer.
    await page.waitForURL((url) => url.pathname === "/accounts", { timeout: 180_000 });
    await expect(page.getByRole("heading", { name: "账号用量", level: 1 })).toBeVisible({ timeout: 120_000 });
    await expect(page.locator("body")).not.toContainText('"ok"');
    // The demo seed: accounts listed with usage.
    await expect(page.getByText("总用量").first()).toBeVisible();
    expect(blocked).toEqual([]);
  });
}
