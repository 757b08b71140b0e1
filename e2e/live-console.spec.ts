import { randomBytes } from "node:crypto";
import { expect, test, type APIRequestContext, type Locator, type Page } from "@playwright/test";
import { login, waitForHydration } from "./fixtures";
import { runScript } from "./demo";

/**
 * The console an admin keeps open (issue 24): figures that include today move on screen as events
 * arrive, without a reload, within the refresh interval (CONSOLE_REFRESH_SECONDS, 5 s for the e2e
 * server); 近1小时 shows who spends now; 成本 / 计费 / 毛利 (rated − real) and its rate on the list
 * and the drawer's cards; a shared drawer link renders the same on the server and in the browser.
 * At 1440 × 900 and 390 × 844, in both languages. Events go in through the REST API, as a relay's.
 */

const run = randomBytes(3).toString("hex");
const ACCOUNT = { id: `live-acc-${run}`, name: `Live 实时 ${run}` };
let token: string;
let seq = 0;

const VIEWPORTS = [
  { name: "desktop", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;
const LANGS = ["zh-CN", "en"] as const;
const MARGIN_LABEL = { "zh-CN": "毛利", en: "Margin" } as const;
const LAST_HOUR_LABEL = { "zh-CN": "近1小时", en: "Last hour" } as const;

const auth = () => ({ authorization: `Bearer ${token}` });

/** Records n events of this run's account now: cost $0.25 each, billed $0.30 (毛利 $0.05 each). */
async function ingest(request: APIRequestContext, n: number): Promise<void> {
  const events = Array.from({ length: n }, () => ({
    requestId: `live-${run}-${++seq}`,
    occurredAt: new Date().toISOString(),
    accountId: ACCOUNT.id,
    apiKeyId: `live-key-${run}-${seq % 2}`,
    model: "claude-sonnet-4-5",
    inputTokens: 1000,
    outputTokens: 200,
    cacheCreateTokens: 0,
    cacheReadTokens: 50,
    cost: "0.25",
    ratedCost: "0.3",
  }));
  const res = await request.post("/admin/usage", { headers: auth(), data: { events } });
  expect(res.status(), await res.text()).toBe(202);
  expect(((await res.json()) as { data: { accepted: number } }).data.accepted, await res.text()).toBe(n);
}

interface ApiRow {
  usage: Record<"daily" | "monthly" | "total", { cost: number; ratedCost: number; requests: number }>;
  lastHour: { cost: number; ratedCost: number; requests: number } | null;
}

async function apiRow(request: APIRequestContext): Promise<ApiRow> {
  const res = await request.get(`/admin/accounts/usage-stats?search=${encodeURIComponent(ACCOUNT.id)}`, { headers: auth() });
  expect(res.status()).toBe(200);
  const body = (await res.json()) as { data: (ApiRow & { id: string })[] };
  return body.data.find((r) => r.id === ACCOUNT.id)!;
}

const micros = (usd: number) => Math.round(usd * 1e6);
const value = async (l: Locator) => Number(await l.getAttribute("data-value"));

test.beforeAll(async ({ request }) => {
  const out = await runScript("scripts/token-create.ts", ["--name", `e2e live ${run}`, "--scope", "admin"]);
  token = /ubk_[A-Za-z0-9_-]{43}/.exec(out)![0];
  const put = await request.put(`/admin/accounts/${ACCOUNT.id}`, { headers: auth(), data: { name: ACCOUNT.name, platform: "claude" } });
  expect(put.status()).toBe(200);
  await ingest(request, 2);
  await expect.poll(async () => (await apiRow(request)).usage.daily.requests, { timeout: 20_000 }).toBe(2);
});

// The run's account leaves the list as it found it (later specs count the seeded accounts).
test.afterAll(async ({ request }) => {
  const res = await request.delete(`/admin/accounts/${ACCOUNT.id}`, { headers: auth() });
  expect(res.status()).toBe(200);
});

async function useLanguage(page: Page, lang: (typeof LANGS)[number]) {
  await page.context().addCookies([{ name: "lang", value: lang, url: test.info().project.use.baseURL! }]);
}

for (const vp of VIEWPORTS) {
  for (const lang of LANGS) {
    test(`today's figures move without a reload; margin and the last hour (${vp.name}, ${lang})`, async ({ page, request }) => {
      test.setTimeout(90_000);
      await page.setViewportSize({ width: vp.width, height: vp.height });
      await login(page);
      await useLanguage(page, lang);
      await page.goto(`/accounts?q=${encodeURIComponent(ACCOUNT.id)}`);
      await waitForHydration(page);
      const row = page.getByTestId(`account-row-${ACCOUNT.id}`);
      await expect(row).toBeVisible();

      // What the list shows equals the API, margin = rated − real exactly, its rate of the rated cost.
      let api = await apiRow(request);
      await expect(row.getByTestId("daily-cost")).toHaveAttribute("data-value", String(api.usage.daily.cost));
      expect(await value(row.getByTestId("daily-rated-cost"))).toBe(api.usage.daily.ratedCost);
      expect(micros(await value(row.getByTestId("daily-margin")))).toBe(micros(api.usage.daily.ratedCost) - micros(api.usage.daily.cost));
      expect(await value(row.getByTestId("daily-margin-rate"))).toBeCloseTo((api.usage.daily.ratedCost - api.usage.daily.cost) / api.usage.daily.ratedCost, 9);
      await expect(row.getByTestId("usage-daily")).toContainText(MARGIN_LABEL[lang]);
      await expect(row.getByTestId("last-hour-cost")).toHaveAttribute("data-value", String(api.lastHour!.cost));
      await expect(page.getByTestId("summary-last-hour")).toContainText(LAST_HOUR_LABEL[lang]);
      await expect(page.getByTestId("updated-at")).toBeVisible();

      // Events arrive; the page is not reloaded (a marker on window survives only without one).
      await page.evaluate(() => ((window as unknown as { __noReload: boolean }).__noReload = true));
      const before = api.usage.daily.cost;
      await ingest(request, 3);
      // Accepted events reach PostgreSQL through the outbox within moments: wait until the API has them.
      await expect.poll(async () => micros((await apiRow(request)).usage.daily.cost), { timeout: 20_000 }).toBe(micros(before) + 750_000);
      api = await apiRow(request);
      await expect(row.getByTestId("daily-cost")).toHaveAttribute("data-value", String(api.usage.daily.cost), { timeout: 20_000 });
      await expect(row.getByTestId("last-hour-cost")).toHaveAttribute("data-value", String(api.lastHour!.cost));
      await expect(row.getByTestId("daily-margin")).toHaveAttribute("data-value", String((micros(api.usage.daily.ratedCost) - micros(api.usage.daily.cost)) / 1e6));
      expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

      expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), "the list scrolls sideways").toBeLessThanOrEqual(0);

      // The drawer's cards: the last hour, today's margin, and they move too.
      await row.getByTestId("details-button").click();
      const d = page.getByRole("dialog");
      await expect(d.getByTestId("drawer-title")).toHaveText(ACCOUNT.name);
      await expect(d.getByTestId("window-daily-cost")).toHaveAttribute("data-value", String(api.usage.daily.cost));
      await expect(d.getByTestId("window-last-hour-cost")).toHaveAttribute("data-value", String(api.lastHour!.cost));
      expect(micros(await value(d.getByTestId("window-daily-margin")))).toBe(micros(api.usage.daily.ratedCost) - micros(api.usage.daily.cost));
      await expect(d.getByTestId("drawer-updated-at")).toBeVisible();
      const drawerBefore = api.usage.daily.cost;
      await ingest(request, 1);
      await expect.poll(async () => micros((await apiRow(request)).usage.daily.cost), { timeout: 20_000 }).toBe(micros(drawerBefore) + 250_000);
      api = await apiRow(request);
      await expect(d.getByTestId("window-daily-cost")).toHaveAttribute("data-value", String(api.usage.daily.cost), { timeout: 20_000 });
      await expect(d.getByTestId("window-last-hour-requests")).toHaveAttribute("data-value", String(api.lastHour!.requests));
      expect(await page.evaluate(() => (window as unknown as { __noReload?: boolean }).__noReload)).toBe(true);

      // Nothing scrolls sideways: the page, nor the drawer's own scroll area.
      // The drawer scrolls in its own container (the dialog): a swipe must not move it sideways.
      const widths = await page.evaluate(() => {
        const dialog = document.querySelector('[role="dialog"]')!;
        return { page: document.documentElement.scrollWidth - window.innerWidth, drawer: dialog.scrollWidth - dialog.clientWidth };
      });
      const offenders = await page.evaluate(() =>
        [...document.querySelectorAll("body *")]
          .filter((el) => el.getBoundingClientRect().right > window.innerWidth + 1 && el.getBoundingClientRect().width > 0)
          .slice(0, 5)
          .map((el) => `${el.tagName}.${el.className.toString().slice(0, 60)}[${el.getAttribute("data-testid") ?? ""}]`),
      );
      expect(widths.page, offenders.join("\n")).toBeLessThanOrEqual(0);
      expect(widths.drawer).toBeLessThanOrEqual(0);
    });
  }
}

test("a shared drawer link renders the same on the server and in the browser, 20 loads out of 20", async ({ page }) => {
  test.setTimeout(120_000);
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await login(page, "/accounts");
  for (let i = 0; i < 20; i++) {
    await page.goto(`/accounts?account=${encodeURIComponent(ACCOUNT.id)}`);
    // The server's HTML already holds the loaded drawer (before any script ran).
    const html = await (await page.request.get(`/accounts?account=${encodeURIComponent(ACCOUNT.id)}`)).text();
    expect(/data-testid="drawer-title"[^>]*>([^<]*)</.exec(html)?.[1]).toBe(ACCOUNT.name);
    await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true");
    await expect(page.getByRole("dialog").getByTestId("drawer-title")).toHaveText(ACCOUNT.name);
  }
  expect(errors).toEqual([]);
});

test("a browser in another time zone than USAGE_TIMEZONE hydrates the list and a shared drawer link without an error", async ({ browser }) => {
  test.setTimeout(90_000);
  const context = await browser.newContext({ timezoneId: "America/New_York", locale: "en-US", baseURL: test.info().project.use.baseURL });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  await login(page, "/accounts");
  for (const url of [`/accounts?account=${encodeURIComponent(ACCOUNT.id)}`, `/accounts?account=${encodeURIComponent(ACCOUNT.id)}&range=custom&from=2026-11-01&to=2026-11-30`, "/keys"]) {
    await page.goto(url);
    await waitForHydration(page);
    if (url.includes("account=")) await expect(page.getByRole("dialog").getByTestId("drawer-title")).toHaveText(ACCOUNT.name);
  }
  expect(errors).toEqual([]);
  await context.close();
});
