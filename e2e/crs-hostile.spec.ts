import { expect, test } from "@playwright/test";
import { Redis } from "ioredis";
import { writeLikeCrs, type FixtureRequest } from "../server/sources/crs/crs.fixtures";
import { crsCalendar } from "../server/sources/crs/layout";
import { parseCsv } from "../server/testing/csv";
import { startOwnRedis, type OwnRedis } from "../server/testing/servers";
import { login, waitForHydration } from "./fixtures";
import { cleanDemo, runScript } from "./demo";

/**
 * A claude-relay-service whose names and models carry markup, control characters and spreadsheet
 * formulas, imported with `npm run crs:import` into the e2e server's stores: the console shows
 * every one of them as text (nothing is injected, nothing runs) and the CSV exports neutralise the
 * formulas. Ids start with `demo-` so that the demo cleaner removes the data again afterwards.
 */

const ACCOUNT = "demo-crs-claude";
const BEDROCK = "demo-crs-bedrock";
const KEY = "demo-crs-key";
const KEY2 = "demo-crs-key2";
const NAMES = {
  account: '<img src=x onerror="window.__xss=1">Claude & <b>co</b>',
  bedrock: '=HYPERLINK("http://evil.example","点我")',
  key: "@SUM(1+1)*cmd|' /C calc'!A0",
  key2: "<script>window.__xss=2</script>",
  model: "=cmd|' /C calc'!A0",
  controlModel: "claude\u0007\u001b[31m-red",
};

let crs: OwnRedis;

function request(keyId: string, accountId: string, accountType: string, model: string, ms: number, seq: number): FixtureRequest {
  const cal = crsCalendar(8);
  const occurredAt = new Date(ms).toISOString();
  const t = { inputTokens: 1000 + seq, outputTokens: 100, cacheCreateTokens: 0, cacheReadTokens: 0, ephemeral5mTokens: 0, ephemeral1hTokens: 0 };
  const json = JSON.stringify({ timestamp: occurredAt, model, accountId, accountType, requestId: null, ...t, cost: 0.0045, realCost: 0.0045, costBreakdown: { total: 0.0045 } });
  return { seq, occurredAt, occurredAtMs: ms, crsDate: cal.day(ms), crsMonth: cal.month(ms), apiKeyId: keyId, accountId, crsAccountType: accountType, model, ...t, realCost: 0.0045, ratedCost: 0.0045, realCostUsd8: "0.0045", ratedCostUsd8: "0.0045", crsRecordJson: json, eventRequestId: "" };
}

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  crs = await startOwnRedis();
  const r = new Redis(crs.url);
  try {
    await r.hset(`claude:account:${ACCOUNT}`, { id: ACCOUNT, name: NAMES.account, status: "active", isActive: "true", priority: "1", accountType: "shared" });
    await r.sadd("claude:account:index", ACCOUNT);
    await r.set(`bedrock_account:${BEDROCK}`, JSON.stringify({ id: BEDROCK, name: NAMES.bedrock, isActive: true, schedulable: true, priority: 2, accountType: "shared", type: "bedrock" }));
    await r.sadd("bedrock_account:index", BEDROCK);
    await r.hset(`apikey:${KEY}`, { id: KEY, name: NAMES.key, isActive: "true", claudeAccountId: ACCOUNT });
    await r.hset(`apikey:${KEY2}`, { id: KEY2, name: NAMES.key2, isActive: "true", bedrockAccountId: BEDROCK });
    const now = Date.now() - 60_000;
    await writeLikeCrs(r, request(KEY, ACCOUNT, "claude-official", NAMES.model, now - 2000, 1));
    await writeLikeCrs(r, request(KEY, ACCOUNT, "claude-official", NAMES.controlModel, now - 1000, 2));
    await writeLikeCrs(r, request(KEY2, BEDROCK, "bedrock", "us.anthropic.claude-sonnet-4-20250514-v1:0", now, 3));
  } finally {
    r.disconnect();
  }
  const report = await runScript("scripts/crs-import.ts", ["--redis", crs.url]);
  expect(report).toContain("accounts:          2 (1 claude, 1 bedrock)");
  expect(report).toContain("not taken:         nothing");
});

test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  await cleanDemo();
  crs?.destroy();
});

test("names, key names and models from CRS are shown as text, never as markup", async ({ page }) => {
  await login(page);
  await page.goto("/accounts?q=demo-crs");
  await waitForHydration(page);
  const row = page.getByTestId(`account-row-${ACCOUNT}`);
  await expect(row.getByTestId("account-name")).toHaveText(NAMES.account);
  await expect(page.getByTestId(`account-row-${BEDROCK}`).getByTestId("account-name")).toHaveText(NAMES.bedrock);
  await expect(page.locator('img[src="x"], b:text("co")')).toHaveCount(0);
  await row.getByTestId("details-button").click();
  const d = page.getByRole("dialog");
  await expect(d.getByTestId("drawer-title")).toHaveText(NAMES.account);
  await expect(d.getByTestId(`breakdown-row-${KEY}`).getByTestId("key-name")).toHaveText(NAMES.key);
  await expect(d.getByTestId(`model-row-${NAMES.model}`)).toContainText(NAMES.model);
  await expect(d.getByTestId(`model-row-${NAMES.controlModel}`)).toBeVisible();
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();

  await page.goto(`/accounts?q=demo-crs&account=${BEDROCK}`);
  await waitForHydration(page);
  await expect(page.getByRole("dialog").getByTestId(`breakdown-row-${KEY2}`).getByTestId("key-name")).toHaveText(NAMES.key2);
  expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
});

test("the CSV exports carry the same names with every formula neutralised", async ({ page }) => {
  await login(page);
  const list = await page.request.get("/admin/accounts/usage-stats?format=csv&search=demo-crs");
  expect(list.status()).toBe(200);
  const rows = parseCsv(await list.text());
  const header = rows[0]!;
  const byId = new Map(rows.slice(1).map((r) => [r[header.indexOf("id")]!, r]));
  expect(byId.get(ACCOUNT)![header.indexOf("name")]).toBe(NAMES.account);
  expect(byId.get(BEDROCK)![header.indexOf("name")]).toBe(`'${NAMES.bedrock}`);
  const breakdown = await page.request.get(`/admin/accounts/${ACCOUNT}/usage-breakdown?format=csv&range=total`);
  expect(breakdown.status()).toBe(200);
  const b = parseCsv(await breakdown.text());
  const bh = b[0]!;
  const keyRow = b.slice(1).find((r) => r[bh.indexOf("apiKeyId")] === KEY)!;
  expect(keyRow[bh.indexOf("apiKeyName")]).toBe(`'${NAMES.key}`);
});
