import { spawn, type ChildProcess } from "node:child_process";
import { expect, test, type Browser, type Page } from "@playwright/test";
import { ADMIN, login } from "./fixtures";
import {
  cleanDemo,
  e2eStoresEnv,
  expectedFigures,
  expectedKeyOrder,
  expectedKeyRows,
  generateDemo,
  shownFigures,
  shownKeyRows,
  type DemoFigures,
} from "./demo";

/**
 * The Redis fallback. The demo data is written by the normal path (Redis counters + PostgreSQL);
 * then a second `next start` of the same build, on its own port, runs with POSTGRES_ENABLED=false
 * and the same REDIS_URL / key prefix, so it can only answer from the live counters.
 */

// A free port chosen by playwright.config.ts.
const PORT = Number(process.env.E2E_FALLBACK_PORT);
const BASE = `http://127.0.0.1:${PORT}`;

let figures: DemoFigures;
let server: ChildProcess | undefined;
let serverLog = "";

async function waitUntilUp(timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (server?.exitCode !== null) throw new Error(`the fallback server exited with ${server?.exitCode}:\n${serverLog}`);
    try {
      const res = await fetch(`${BASE}/login`, { redirect: "manual" });
      if (res.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the fallback server did not answer on ${BASE} within ${timeoutMs} ms:\n${serverLog}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(240_000);
  figures = await generateDemo(testInfo.outputPath("demo-figures.json"), ["--seed", "fallback"]);
  server = spawn("node_modules/.bin/next", ["start", "-p", String(PORT), "-H", "127.0.0.1"], {
    env: {
      ...process.env,
      ...e2eStoresEnv(),
      POSTGRES_ENABLED: "false",
      ADMIN_USERNAME: ADMIN.username,
      ADMIN_PASSWORD: ADMIN.password,
      NEXT_TELEMETRY_DISABLED: "1",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  server.stdout?.on("data", (d: Buffer) => (serverLog += d.toString()));
  server.stderr?.on("data", (d: Buffer) => (serverLog += d.toString()));
  await waitUntilUp(120_000);
});

test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
    if (server.exitCode === null) server.kill("SIGKILL");
  }
  await cleanDemo();
});

async function fallbackPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ baseURL: BASE, locale: "zh-CN", timezoneId: "Asia/Shanghai", viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  await login(page);
  return page;
}

test("with PostgreSQL disabled the list answers from Redis, says so, and shows the same totals", async ({ browser }, testInfo) => {
  const page = await fallbackPage(browser);
  const banner = page.getByTestId("fallback-banner");
  await expect(banner).toBeVisible();
  await expect(banner).toContainText("Redis");
  await expect(banner).toContainText("自定义范围");

  const a = figures.accounts[0]!;
  const row = page.getByTestId(`account-row-${a.id}`);
  await expect(row).toBeVisible();
  expect(await shownFigures(row, "total")).toEqual(expectedFigures(a.usage.total));
  expect(await shownFigures(row, "monthly")).toEqual(expectedFigures(a.usage.monthly));
  expect(await shownFigures(row, "daily")).toEqual(expectedFigures(a.usage.daily));
  await page.screenshot({ path: testInfo.outputPath("fallback.png") });
  await page.context().close();
});

test("the drawer on the fallback: live counters for 今日 / 本月 / 总用量, no trend, custom range unavailable", async ({ browser }) => {
  const page = await fallbackPage(browser);
  const a = figures.accounts[0]!;
  await page.getByTestId(`account-row-${a.id}`).getByTestId("details-button").click();
  const d = page.getByRole("dialog");
  await expect(d).toBeVisible();
  await expect(d.getByTestId("fallback-banner")).toBeVisible();

  const keys = figures.firstAccount.keys;
  const total = expectedKeyOrder(keys, "total");
  await expect.poll(async () => shownKeyRows(page), { timeout: 15_000 }).toEqual(expectedKeyRows(total.slice(0, 20), "total"));
  await d.getByTestId("load-more").click();
  await expect.poll(async () => shownKeyRows(page)).toEqual(expectedKeyRows(total, "total"));
  await expect(d.getByTestId("trend-unavailable")).toBeVisible();

  await d.getByTestId("range-daily").click();
  await expect.poll(async () => shownKeyRows(page), { timeout: 15_000 }).toEqual(expectedKeyRows(expectedKeyOrder(keys, "daily").slice(0, 20), "daily"));
  await expect(d.getByTestId("window-daily")).toHaveAttribute("data-selected", "true");
  expect(await shownFigures(d, "window-daily")).toEqual(expectedFigures(a.usage.daily));

  await d.getByTestId("range-custom").click();
  await expect(page).toHaveURL(/range=custom/);
  await expect(d.getByTestId("summary-error")).toHaveAttribute("data-error-code", "UNAVAILABLE", { timeout: 15_000 });
  await expect(d.getByTestId("summary-error")).toContainText("PostgreSQL");
  await page.context().close();
});
