import fs from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { login, waitForHydration } from "./fixtures";
import {
  expectedFigures,
  expectedKeyOrder,
  expectedKeyRows,
  cleanDemo,
  generateDemo,
  shownAccountIds,
  shownFigures,
  shownKeyRows,
  type DemoFigures,
} from "./demo";
import { parseCsv } from "../server/testing/csv";
import { columnLabel } from "../server/usage-stats/csv-headers";

/** zh-CN header label → stable column name, for the breakdown's labelled header row. */
const STABLE_NAME = new Map(
  ["apiKeyId", "apiKeyName", "requests", "allTokens", "cost", "ratedCost", "lastUsedAt", "margin", "marginRate"].map((n) => [columnLabel(n, "zh-CN"), n]),
);

/**
 * The accounts page and the drawer against demo data written through the recording services:
 * every assertion compares numbers the UI shows with the figures the generator computed itself.
 */

let figures: DemoFigures;
const DEMO_ACCOUNTS = 24;

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(180_000);
  figures = await generateDemo(testInfo.outputPath("demo-figures.json"), ["--accounts", String(DEMO_ACCOUNTS), "--events", "2500", "--seed", "e2e"]);
});

// The demo data is removed again so that specs counting the seeded accounts are unaffected.
test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  await cleanDemo();
});

const first = () => figures.accounts[0]!;
const keys = () => figures.firstAccount.keys;
const row = (page: Page, id: string) => page.getByTestId(`account-row-${id}`);
const dialog = (page: Page) => page.getByRole("dialog");

async function openDrawer(page: Page, id: string) {
  await row(page, id).getByTestId("details-button").click();
  await expect(dialog(page)).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`[?&]account=${id}(&|$)`));
}

/** The breakdown rows equal `expected` (ids in order and every figure), once the range has loaded. */
async function expectKeyRows(page: Page, expected: ReturnType<typeof expectedKeyRows>) {
  await expect.poll(async () => shownKeyRows(page), { timeout: 15_000 }).toEqual(expected);
}

test("the list has a 总用量 column and shows the demo account's totals exactly", async ({ page }) => {
  await login(page);
  await expect(page.getByTestId("col-total")).toContainText("总用量");
  for (const name of ["名称", "平台", "状态", "优先级", "今日", "本月", "最近使用"]) {
    await expect(page.getByTestId("accounts-table").locator("thead")).toContainText(name);
  }
  const a = first();
  const r = row(page, a.id);
  await expect(r).toBeVisible();
  await expect(r.getByTestId("account-name")).toHaveText(a.name);
  expect(await shownFigures(r, "total")).toEqual(expectedFigures(a.usage.total));
  expect(await shownFigures(r, "monthly")).toEqual(expectedFigures(a.usage.monthly));
  expect(await shownFigures(r, "daily")).toEqual(expectedFigures(a.usage.daily));
  // Human form in the cell, exact value on hover.
  await expect(r.getByTestId("total-cost")).toHaveText(/^\$([\d,]+\.\d{2}|0\.0\d+)$/);
  await expect(r.getByTestId("total-tokens")).toHaveText(/tokens$/);

  // Every demo account, not just the first.
  await page.goto("/accounts?q=demo-acc-&size=50");
  for (const acc of figures.accounts) {
    expect(await shownFigures(row(page, acc.id), "total"), acc.id).toEqual(expectedFigures(acc.usage.total));
  }
});

test("the first load is server-rendered with its numbers", async ({ browser }, testInfo) => {
  const baseURL = testInfo.project.use.baseURL;
  const context = await browser.newContext({ baseURL, javaScriptEnabled: false, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  const page = await context.newPage();
  // Sign in with JavaScript on, then look at the HTML the server sends for the page itself.
  const signIn = await browser.newContext({ baseURL, locale: "zh-CN", timezoneId: "Asia/Shanghai" });
  const p2 = await signIn.newPage();
  await login(p2);
  await context.addCookies(await signIn.cookies());
  await page.goto(`/accounts?q=${first().id}&account=${first().id}`);
  expect(await shownFigures(row(page, first().id), "total")).toEqual(expectedFigures(first().usage.total));
  await expect(page.getByRole("dialog")).toBeVisible();
  await signIn.close();
  await context.close();
});

test("详情 opens the drawer with the per-key breakdown; 本月 / 今日 / 加载更多 / reload", async ({ page }) => {
  await login(page);
  const a = first();
  await openDrawer(page, a.id);
  const d = dialog(page);
  // Modal: the page behind is hidden from assistive technology while it is open.
  await expect(page.getByRole("heading", { level: 1 })).toHaveCount(0);
  await expect(page.locator("h1")).toBeVisible();
  await expect(d.getByRole("heading", { name: a.name })).toBeVisible();
  expect(await shownFigures(d, "window-total")).toEqual(expectedFigures(a.usage.total));
  expect(await shownFigures(d, "window-monthly")).toEqual(expectedFigures(a.usage.monthly));
  expect(await shownFigures(d, "window-daily")).toEqual(expectedFigures(a.usage.daily));

  // 累计 (the default): the first 20 keys in order, then 加载更多 brings the rest.
  const total = expectedKeyOrder(keys(), "total");
  expect(total.length).toBeGreaterThan(20);
  await expectKeyRows(page, expectedKeyRows(total.slice(0, 20), "total"));
  await expect(d.getByTestId("breakdown-count")).toContainText(String(total.length));
  await d.getByTestId("load-more").click();
  await expectKeyRows(page, expectedKeyRows(total, "total"));
  await expect(d.getByTestId("load-more")).toHaveCount(0);
  // A preset range is its window card, marked as selected (not repeated in a box of its own).
  await expect(d.getByTestId("window-total")).toHaveAttribute("data-selected", "true");
  await expect(d.getByTestId("range-usage")).toHaveCount(0);

  // 本月
  await d.getByTestId("range-monthly").click();
  await expect(page).toHaveURL(/range=monthly/);
  const monthly = expectedKeyOrder(keys(), "monthly");
  await expectKeyRows(page, expectedKeyRows(monthly.slice(0, 20), "monthly"));
  await expect(d.getByTestId("window-monthly")).toHaveAttribute("data-selected", "true");
  expect(await shownFigures(d, "window-monthly")).toEqual(expectedFigures(a.usage.monthly));

  // 今日
  await d.getByTestId("range-daily").click();
  await expect(page).toHaveURL(/range=daily/);
  const daily = expectedKeyOrder(keys(), "daily");
  await expectKeyRows(page, expectedKeyRows(daily.slice(0, 20), "daily"));
  await expect(d.getByTestId("window-daily")).toHaveAttribute("data-selected", "true");
  expect(await shownFigures(d, "window-daily")).toEqual(expectedFigures(a.usage.daily));

  // A reload (or a shared link) opens the same drawer on the same range.
  await page.reload();
  await waitForHydration(page);
  await expect(dialog(page)).toBeVisible();
  await expect(dialog(page).getByTestId("range-daily")).toHaveAttribute("aria-pressed", "true");
  await expectKeyRows(page, expectedKeyRows(daily.slice(0, 20), "daily"));

  // Per-model table and the trend chart have data for the range.
  const sumOf = (testId: string, attr: string, scale = 1) =>
    dialog(page)
      .getByTestId(testId)
      .evaluateAll((els, [name, mult]) => els.reduce((sum, e) => sum + Math.round(Number(e.getAttribute(name)) * mult), 0), [attr, scale] as [string, number]);
  await expect.poll(() => sumOf("model-tokens", "data-value")).toBe(a.usage.daily.allTokens);
  await d.getByTestId("range-total").click();
  await expect(page).not.toHaveURL(/range=/);
  // The chart keeps its own span (issue 24); its last 12 months hold the demo's 30 days, so they add up to the all-time cost.
  await d.getByTestId("trend-span-12m").click();
  await expect(d.getByTestId("trend-chart")).toHaveAttribute("data-span", "12m");
  await expect.poll(() => sumOf("trend-point", "data-cost", 1e6)).toBe(a.usage.total.costMicros);
  await expect.poll(() => sumOf("model-tokens", "data-value")).toBe(a.usage.total.allTokens);
});

test("the breakdown shows the real and the rated cost of each key, and sorts by either, and by requests", async ({ page }) => {
  await login(page, `/accounts?account=${first().id}`);
  const d = dialog(page);
  await expect(d).toBeVisible();
  // Which cost is which, said in the header (the demo rates some keys above or below their cost).
  await expect(d.getByTestId("bcol-cost")).toHaveText(/^实际成本/);
  await expect(d.getByTestId("bcol-ratedCost")).toHaveText(/^计费成本/);
  await expect(d.getByTestId("bcol-ratedCost").getByRole("button")).toHaveAttribute("title", /API Key 持有者/);
  expect(keys().some((k) => k.usage.total.ratedCostMicros !== k.usage.total.costMicros)).toBe(true);
  await d.getByTestId("bcol-cost").getByRole("button").click();
  await expectKeyRows(page, expectedKeyRows(expectedKeyOrder(keys(), "total", "cost").slice(0, 20), "total"));
  await d.getByTestId("bcol-ratedCost").getByRole("button").click();
  await expectKeyRows(page, expectedKeyRows(expectedKeyOrder(keys(), "total", "ratedCost").slice(0, 20), "total"));
  await d.getByTestId("bcol-requests").getByRole("button").click();
  await expectKeyRows(page, expectedKeyRows(expectedKeyOrder(keys(), "total", "requests").slice(0, 20), "total"));
});

test("the drawer is a modal dialog: focus moves in and is trapped, Esc closes, focus returns to 详情", async ({ page }) => {
  await login(page);
  const a = first();
  const button = row(page, a.id).getByTestId("details-button");
  await button.focus();
  await page.keyboard.press("Enter");
  const d = dialog(page);
  await expect(d).toBeVisible();
  await expect(d.getByTestId("drawer-close")).toBeFocused();
  // Labelled by its title, the account's name.
  const titleId = (await d.getAttribute("aria-labelledby"))!;
  await expect(page.locator(`[id="${titleId}"]`)).toHaveText(a.name);
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press("Tab");
    expect(await d.evaluate((el) => el.contains(document.activeElement)), `focus left the dialog after ${i + 1} Tab`).toBe(true);
  }
  await page.keyboard.press("Shift+Tab");
  expect(await d.evaluate((el) => el.contains(document.activeElement))).toBe(true);
  await page.keyboard.press("Escape");
  await expect(d).toHaveCount(0);
  await expect(page).not.toHaveURL(/account=/);
  await expect(button).toBeFocused();

  await button.click();
  await expect(dialog(page)).toBeVisible();
  await dialog(page).getByTestId("drawer-close").click();
  await expect(dialog(page)).toHaveCount(0);
  await expect(button).toBeFocused();
});

test("search, filters and sort live in the URL and survive a reload", async ({ page }) => {
  await login(page);
  const demo = figures.accounts;

  // Search by id prefix: exactly the demo accounts.
  await page.getByTestId("search-input").fill("demo-acc-");
  await expect(page).toHaveURL(/q=demo-acc-/);
  await expect.poll(async () => (await shownAccountIds(page)).sort()).toEqual(demo.map((a) => a.id).sort());

  // Search by name.
  await page.getByTestId("search-input").fill(first().name);
  await expect.poll(async () => shownAccountIds(page)).toEqual([first().id]);

  // Platform and status filters.
  await page.getByTestId("search-input").fill("demo-acc-");
  await expect.poll(async () => (await shownAccountIds(page)).length).toBe(demo.length);
  await page.getByTestId("filter-platform").selectOption("gemini");
  await expect(page).toHaveURL(/platform=gemini/);
  await expect.poll(async () => (await shownAccountIds(page)).sort()).toEqual(demo.filter((a) => a.platform === "gemini").map((a) => a.id).sort());
  await page.getByTestId("filter-platform").selectOption("");
  await page.getByTestId("filter-status").selectOption("paused");
  await expect.poll(async () => (await shownAccountIds(page)).sort()).toEqual(demo.filter((a) => a.status === "paused").map((a) => a.id).sort());
  await page.getByTestId("filter-status").selectOption("");

  // Sort by total cost (the default, descending), then ascending by clicking the header.
  const byCost = [...demo].sort((x, y) => y.usage.total.costMicros - x.usage.total.costMicros || (x.id < y.id ? -1 : 1));
  await expect.poll(async () => shownAccountIds(page)).toEqual(byCost.map((a) => a.id));
  await page.getByTestId("col-total").getByRole("button", { name: /总用量/ }).click();
  await expect(page).toHaveURL(/order=asc/);
  // Ascending, ties still by id ascending (as the API orders them).
  const byCostAsc = [...demo].sort((x, y) => x.usage.total.costMicros - y.usage.total.costMicros || (x.id < y.id ? -1 : 1));
  await expect.poll(async () => shownAccountIds(page)).toEqual(byCostAsc.map((a) => a.id));

  // Sort by today's tokens from the sort select (the header sorts each window by cost), then by priority.
  await page.getByTestId("sort-select").selectOption("daily.allTokens");
  await expect(page).toHaveURL(/sort=daily\.allTokens/);
  // The sorted window is the highlighted column, and says by which figure.
  await expect(page.getByTestId("col-daily")).toHaveAttribute("data-sorted", "true");
  await expect(page.getByTestId("col-total")).toHaveAttribute("data-sorted", "false");
  await expect(page.getByTestId("col-daily")).toContainText("总 tokens");
  const byDailyTokens = [...demo].sort((x, y) => y.usage.daily.allTokens - x.usage.daily.allTokens || (x.id < y.id ? -1 : 1));
  await expect.poll(async () => shownAccountIds(page)).toEqual(byDailyTokens.map((a) => a.id));
  await page.getByTestId("col-priority").getByRole("button").click();
  const byPriority = [...demo].sort((x, y) => x.priority - y.priority || (x.id < y.id ? -1 : 1));
  await expect.poll(async () => shownAccountIds(page)).toEqual(byPriority.map((a) => a.id));

  // Pages of 20, server-side.
  await page.getByTestId("page-size").selectOption("20");
  await expect.poll(async () => shownAccountIds(page)).toEqual(byPriority.slice(0, 20).map((a) => a.id));
  await expect(page.getByTestId("pagination-summary")).toHaveAttribute("data-total", String(demo.length));
  await page.getByTestId("page-next").click();
  await expect(page).toHaveURL(/page=2/);
  await expect.poll(async () => shownAccountIds(page)).toEqual(byPriority.slice(20).map((a) => a.id));

  // Everything is in the URL: a reload shows the same page.
  await page.reload();
  await waitForHydration(page);
  await expect(page.getByTestId("search-input")).toHaveValue("demo-acc-");
  await expect.poll(async () => shownAccountIds(page)).toEqual(byPriority.slice(20).map((a) => a.id));
});

test("English: the switch in the header translates the page and the drawer", async ({ page }) => {
  await login(page);
  await page.getByTestId("lang-switch").getByRole("button", { name: "English" }).click();
  await expect(page.locator("html")).toHaveAttribute("lang", "en");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("Account usage");
  await expect(page.getByTestId("col-total")).toContainText("Total usage");
  const r = row(page, first().id);
  await expect(r.getByTestId("details-button")).toHaveText("Details");
  await expect(r.getByTestId("total-tokens")).toHaveText(/ tokens$/);
  expect(await shownFigures(r, "total")).toEqual(expectedFigures(first().usage.total));
  await r.getByTestId("details-button").click();
  await expect(dialog(page).getByRole("heading", { name: "API key breakdown" })).toBeVisible();
  await expect(dialog(page).getByTestId("range-monthly")).toHaveText("This month");
  await expect(dialog(page).getByTestId("bcol-cost")).toHaveText(/^Real cost/);
  await expect(dialog(page).getByTestId("bcol-ratedCost")).toHaveText(/^Rated cost/);
  // The choice is a cookie: it survives a reload.
  await page.reload();
  await waitForHydration(page);
  await expect(page.locator("h1")).toHaveText("Account usage");
  await expect(dialog(page).getByTestId("breakdown-count")).toContainText("Showing");
});

test("CSV exports: the list with the current filters, the breakdown with the current range", async ({ page }) => {
  await login(page, `/accounts?q=demo-acc-`);
  const [listDownload] = await Promise.all([page.waitForEvent("download"), page.getByTestId("export-accounts-csv").click()]);
  const listCsv = parseCsv(fs.readFileSync((await listDownload.path())!, "utf8"));
  const header = listCsv[0]!;
  // The console's export labels its header row in the page's language (the API's default is the stable names).
  const col = (name: string) => header.indexOf(columnLabel(name, "zh-CN"));
  expect(col("total.cost")).toBeGreaterThan(0);
  const body = listCsv.slice(1).filter((r) => r.length > 1);
  expect(body.map((r) => r[col("id")]).sort()).toEqual(figures.accounts.map((a) => a.id).sort());
  for (const a of figures.accounts) {
    const line = body.find((r) => r[col("id")] === a.id)!;
    expect(Number(line[col("total.cost")]), a.id).toBe(a.usage.total.cost);
    expect(Number(line[col("total.allTokens")])).toBe(a.usage.total.allTokens);
    expect(Number(line[col("total.requests")])).toBe(a.usage.total.requests);
    expect(Number(line[col("daily.cost")])).toBe(a.usage.daily.cost);
    expect(line[col("name")]).toBe(a.name);
  }

  await openDrawer(page, first().id);
  await dialog(page).getByTestId("range-monthly").click();
  await expect(page).toHaveURL(/range=monthly/);
  await expect(dialog(page).getByTestId("export-breakdown-csv")).toHaveAttribute("href", /range=monthly/);
  const [bDownload] = await Promise.all([page.waitForEvent("download"), dialog(page).getByTestId("export-breakdown-csv").click()]);
  const bCsv = parseCsv(fs.readFileSync((await bDownload.path())!, "utf8"));
  const bh = bCsv[0]!.map((label) => STABLE_NAME.get(label) ?? label);
  const rows = bCsv.slice(1).filter((r) => r.length > 1);
  const monthly = expectedKeyOrder(keys(), "monthly");
  expect(rows.map((r) => r[bh.indexOf("apiKeyId")])).toEqual(monthly.map((k) => k.apiKeyId));
  for (const [i, k] of monthly.entries()) {
    expect(Number(rows[i]![bh.indexOf("cost")])).toBe(k.usage.monthly.cost);
    expect(Number(rows[i]![bh.indexOf("allTokens")])).toBe(k.usage.monthly.allTokens);
    // 毛利 = rated − real cost, to the micro-USD.
    const micros = (v: string) => Math.round(Number(v) * 1e6);
    expect(micros(rows[i]![bh.indexOf("margin")]!)).toBe(micros(rows[i]![bh.indexOf("ratedCost")]!) - micros(rows[i]![bh.indexOf("cost")]!));
  }
});

test("custom range: two dates pick the days, figures add up", async ({ page }) => {
  await login(page, `/accounts?account=${first().id}`);
  const d = dialog(page);
  await d.getByTestId("range-custom").click();
  await d.getByTestId("range-from").fill(figures.today);
  await d.getByTestId("range-to").fill(figures.today);
  await d.getByTestId("range-apply").click();
  await expect(page).toHaveURL(new RegExp(`from=${figures.today}&to=${figures.today}`));
  // A one-day custom range equals 今日.
  await expect.poll(async () => shownFigures(d.getByTestId("range-usage"), "range")).toEqual(expectedFigures(first().usage.daily));
  await expectKeyRows(page, expectedKeyRows(expectedKeyOrder(keys(), "daily").slice(0, 20), "daily"));
  // An inverted range is refused in the form.
  await d.getByTestId("range-from").fill("2099-01-02");
  await d.getByTestId("range-to").fill("2099-01-01");
  await expect(d.getByTestId("range-apply")).toBeDisabled();
});

test("phone width: each account is a card with its figures, nothing scrolls sideways, the drawer is a full sheet", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await login(page);
  expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
  const r = row(page, first().id);
  for (const w of ["daily", "monthly", "total"] as const) {
    await expect(r.getByTestId(`${w}-cost`)).toBeVisible();
    expect(await shownFigures(r, w)).toEqual(expectedFigures(first().usage[w]));
  }
  await r.getByTestId("details-button").click();
  const box = await dialog(page).boundingBox();
  expect(Math.round(box?.width ?? 0)).toBe(390);
  expect(Math.round(box?.height ?? 0)).toBe(844);
  await expectKeyRows(page, expectedKeyRows(expectedKeyOrder(keys(), "total").slice(0, 20), "total"));
  await expect(dialog(page).getByTestId("key-cost").first()).toBeVisible();
  expect(await page.evaluate(() => document.scrollingElement!.scrollWidth)).toBeLessThanOrEqual(390);
});
