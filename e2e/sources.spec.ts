import { expect, test, type Page } from "@playwright/test";
import { createDatabase, type DbHandle } from "../db/client";
import { deleteDemoData } from "../server/demo/demo.repository";
import { insertEvents, type TestEvent } from "../server/usage-stats/stats.fixtures";
import { login, waitForHydration } from "./fixtures";
import { shownAccountIds } from "./demo";

/**
 * The 来源 column and filter (issue 22), zh-CN: accounts fed by CRS, by sub2api, by both and by
 * neither, written straight into the e2e database under their own prefix (the relay sources are
 * not running here) and removed again afterwards, so specs counting the seeded accounts are
 * unaffected.
 */

const PREFIX = "e2e-src-";
const ACCOUNTS = [
  { id: `${PREFIX}crs`, name: "来源 CRS 账号", platform: "claude", priority: 10, sources: ["crs"] },
  { id: `${PREFIX}sub`, name: "来源 sub2api 账号", platform: "openai", priority: 20, sources: ["sub2api"] },
  { id: `${PREFIX}both`, name: "来源 两者 账号", platform: "claude", priority: 30, sources: ["crs", "sub2api"] },
  { id: `${PREFIX}none`, name: "来源 API 账号", platform: "gemini", priority: 40, sources: [] },
];
const KEYS = [
  { id: `${PREFIX}key-crs`, name: "CRS 的 Key", source: "crs" },
  { id: `${PREFIX}key-sub`, name: "sub2api 的 Key", source: "sub2api" },
  { id: `${PREFIX}key-api`, name: "REST 的 Key", source: null },
];

let handle: DbHandle;

test.beforeAll(async () => {
  handle = await createDatabase({ databaseUrl: process.env.E2E_DATABASE_URL, pgliteDir: "", statementTimeoutMs: 60_000, poolMax: 2 });
  const db = handle.db;
  await deleteDemoData(db, PREFIX);
  await db.insertInto("accounts").values(ACCOUNTS.map((a) => ({ ...a, type: "shared", status: "active", metadata: "{}" }))).execute();
  await db.insertInto("api_keys").values(KEYS.map((k) => ({ ...k, account_id: `${PREFIX}both`, hashed_key: null, metadata: "{}" }))).execute();
  const at = Date.now() - 3_600_000;
  const events: TestEvent[] = KEYS.map((k, i) => ({
    requestId: `${PREFIX}req-${i}`,
    occurredAt: new Date(at + i * 1000).toISOString(),
    accountId: `${PREFIX}both`,
    apiKeyId: k.id,
    model: "claude-sonnet-4",
    inputTokens: 1000 * (i + 1),
    outputTokens: 100,
    cacheCreateTokens: 0,
    cacheReadTokens: 0,
    cost: "0.01",
  }));
  await insertEvents(db, events);
});

test.afterAll(async () => {
  if (!handle) return;
  await handle.db.transaction().execute((tx) => deleteDemoData(tx, PREFIX));
  await handle.close();
});

const row = (page: Page, id: string) => page.getByTestId(`account-row-${id}`);

/** The ids of the rows shown, once they equal `ids` (the list refetches after a filter change). */
async function expectRows(page: Page, ids: string[]) {
  await expect.poll(() => shownAccountIds(page)).toEqual(ids);
}

test("a 来源 column shows each account's relays, and the 来源 filter narrows the list in the URL", async ({ page }) => {
  await login(page, `/accounts?q=${PREFIX}&sort=priority`);
  await expect(page.getByTestId("col-source")).toHaveText("来源");
  await expectRows(page, ACCOUNTS.map((a) => a.id));

  await expect(row(page, `${PREFIX}both`).getByTestId("sources")).toHaveAttribute("data-value", "crs sub2api");
  await expect(row(page, `${PREFIX}both`).getByTestId("sources").getByTestId("source")).toHaveText(["CRS", "sub2api"]);
  await expect(row(page, `${PREFIX}crs`).getByTestId("sources")).toHaveText("CRS");
  await expect(row(page, `${PREFIX}sub`).getByTestId("sources")).toHaveText("sub2api");
  await expect(row(page, `${PREFIX}none`).getByTestId("sources")).toHaveText("—");

  const filter = page.getByTestId("filter-source");
  await expect(filter.locator("option")).toHaveText(["全部", "CRS", "sub2api", "无来源（REST API）"]);

  await filter.selectOption("crs");
  await expect(page).toHaveURL(/[?&]source=crs(&|$)/);
  await expectRows(page, [`${PREFIX}crs`, `${PREFIX}both`]);
  await expect(page.getByTestId("summary-accounts")).toHaveAttribute("data-value", "2");

  await filter.selectOption("sub2api");
  await expectRows(page, [`${PREFIX}sub`, `${PREFIX}both`]);

  await filter.selectOption("none");
  await expect(page).toHaveURL(/[?&]source=none(&|$)/);
  await expectRows(page, [`${PREFIX}none`]);

  // The filter is in the URL: a reload (rendered on the server) keeps it.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("filter-source")).toHaveValue("none");
  await expectRows(page, [`${PREFIX}none`]);

  await page.getByRole("button", { name: "清除筛选" }).click();
  await expect(page).not.toHaveURL(/source=/);
  await expect(page.getByTestId("filter-source")).toHaveValue("");
});

test("the drawer shows the account's sources and each API key's source", async ({ page }) => {
  await login(page, `/accounts?q=${PREFIX}&source=crs`);
  await expectRows(page, [`${PREFIX}both`, `${PREFIX}crs`]);
  await row(page, `${PREFIX}both`).getByTestId("details-button").click();
  const d = page.getByRole("dialog");
  await expect(d.getByTestId("fact-sources").getByTestId("source")).toHaveText(["CRS", "sub2api"]);
  const keySource = (id: string) => d.getByTestId(`breakdown-row-${id}`).getByTestId("key-source");
  await expect(keySource(`${PREFIX}key-crs`)).toHaveText("CRS");
  await expect(keySource(`${PREFIX}key-sub`)).toHaveText("sub2api");
  await expect(keySource(`${PREFIX}key-crs`)).toHaveAttribute("data-value", "crs");
  // A key from the REST API has no badge.
  await expect(d.getByTestId(`breakdown-row-${PREFIX}key-api`).getByTestId("key-name")).toHaveText("REST 的 Key");
  await expect(keySource(`${PREFIX}key-api`)).toHaveCount(0);
});

test("phone width: the sources sit with the platform badge, and nothing scrolls sideways", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page, `/accounts?q=${PREFIX}both`);
  const r = row(page, `${PREFIX}both`);
  await expect(r.getByTestId("sources-compact").getByTestId("source")).toHaveText(["CRS", "sub2api"]);
  await expect(r.getByTestId("sources")).toBeHidden();
  expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
  // The filter folds away with the others behind 筛选与排序.
  await page.getByTestId("filters-toggle").click();
  await expect(page.getByTestId("filter-source")).toBeVisible();
});
