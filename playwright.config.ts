import { randomBytes } from "node:crypto";
import { defineConfig, devices } from "@playwright/test";
import { getTestStores } from "./server/config";
import { freePortSync } from "./server/testing/ports";

/**
 * E2E runs against a production build (`next build` + `next start`) on a database and Redis key
 * prefix of its own, created by scripts/e2e-server.ts and dropped when it stops, on free ports (two
 * checkouts may test at once). Names and ports are fixed here once (workers inherit them through
 * the environment).
 */
const env = process.env as Record<string, string | undefined>;
env.E2E_RUN_ID ??= `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
const runId = env.E2E_RUN_ID;
env.E2E_PORT ??= String(freePortSync());
env.E2E_FALLBACK_PORT ??= String(freePortSync());
const port = Number(env.E2E_PORT);
const stores = getTestStores();
const dbUrl = new URL(stores.databaseUrl);
dbUrl.pathname = `/ub_e2e_${runId}`;
env.E2E_DATABASE_URL = dbUrl.toString();
env.E2E_REDIS_PREFIX = `e2e_${runId}:`;
// The key that encrypts alert channels' secrets, one per run (workers inherit it like the rest).
env.E2E_ALERT_SECRETS_KEY ??= randomBytes(32).toString("base64");

export default defineConfig({
  testDir: "./e2e",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!env.CI,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results/e2e",
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
    locale: "zh-CN",
    timezoneId: "Asia/Shanghai",
  },
  projects: [
    {
      name: "chromium",
      use: {
        ...devices["Desktop Chrome"],
        viewport: { width: 1280, height: 800 },
        launchOptions: {
          executablePath: env.CHROMIUM_PATH ?? "/usr/bin/chromium",
          args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        },
      },
    },
  ],
  webServer: {
    command: `node_modules/.bin/tsx scripts/e2e-server.ts`,
    url: `http://127.0.0.1:${port}/login`,
    timeout: 300_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    gracefulShutdown: { signal: "SIGTERM", timeout: 15_000 },
    env: {
      E2E_PORT: String(port),
      DATABASE_URL: env.E2E_DATABASE_URL,
      REDIS_URL: stores.redisUrl,
      REDIS_KEY_PREFIX: env.E2E_REDIS_PREFIX,
      USAGE_TIMEZONE: "Asia/Shanghai",
      // The console's ¥ display (e2e/polish.spec.ts); figures stay USD.
      DISPLAY_CNY_PER_USD: "7.2",
      // e2e/live-console.spec.ts waits for figures to move on their own: a short interval.
      CONSOLE_REFRESH_SECONDS: "5",
      NEXT_TELEMETRY_DISABLED: "1",
      // e2e/alerts.spec.ts waits for a budget alert to fire and be delivered: evaluate every second,
      // and let deliveries reach the spec's receiver on loopback (refused by default, as SSRF).
      ALERT_EVALUATE_SECONDS: "1",
      ALERT_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32",
      ALERT_SECRETS_KEY: env.E2E_ALERT_SECRETS_KEY,
      // The same credentials as e2e/fixtures.ts (ADMIN).
      ADMIN_USERNAME: "admin",
      ADMIN_PASSWORD: "e2e-admin-Passw0rd!",
    },
  },
});
