import { expect, test, type Browser, type Page } from "@playwright/test";
import { login, waitForHydration } from "./fixtures";
import { cleanDemo, generateDemo, type DemoFigures } from "./demo";

/**
 * The drawer's trend chart and custom range (issue 24), at 1440 × 900 and 390 × 844, in both
 * languages: the chart opens on the last 30 days, today is 24 hours (Asia/Shanghai has no DST), the
 * tooltip shows the API's figures of the hour under the mouse, a tap or the keyboard; a range
 * longer than the API allows is refused in the form, in the page's language, with no request; a
 * range the server refuses leaves the account's facts and a way out; nothing scrolls sideways.
 */

let figures: DemoFigures;

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(180_000);
  figures = await generateDemo(testInfo.outputPath("demo-figures.json"), ["--accounts", "4", "--days", "40", "--events", "600", "--seed", "trend"]);
});

test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  await cleanDemo();
});

const first = () => figures.accounts[0]!;
const VIEWPORTS = [
  { name: "desktop", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;
const LANGS = ["zh-CN", "en"] as const;
type Lang = (typeof LANGS)[number];

interface TrendPoint {
  bucket: string;
  start: string;
  cost: number;
  ratedCost: number;
  allTokens: number;
  requests: number;
}

const MESSAGES: Record<Lang, { tooLong: (limit: string) => string; rejected: string; reset: string; today: string; days30: string }> = {
  "zh-CN": {
    tooLong: (limit) => `自定义范围最长 3 年：结束日期须早于 ${limit}`,
    rejected: "该统计范围无法查询（自定义范围最长 3 年，且开始日期不能晚于结束日期）。请换一个范围。",
    reset: "改看总用量",
    today: "今日每小时趋势",
    days30: "每日趋势",
  },
  en: {
    tooLong: (limit) => `A custom range spans at most 3 years: the end must be before ${limit}`,
    rejected: "This range cannot be shown (a custom range spans at most 3 years, and starts on or before its end). Choose another range.",
    reset: "Show total usage",
    today: "Today by hour",
    days30: "Daily trend",
  },
};

/** React's hydration errors seen by any page: the chart and the picker render the same on the server and in the browser. */
const hydrationErrors: string[] = [];

/** A signed-in page of a touch-capable context (a mouse too) in the language, at the URL. */
async function openPage(browser: Browser, vp: (typeof VIEWPORTS)[number], lang: Lang, path: string): Promise<Page> {
  const baseURL = test.info().project.use.baseURL!;
  const context = await browser.newContext({ viewport: { width: vp.width, height: vp.height }, hasTouch: true, locale: "zh-CN", timezoneId: "Asia/Shanghai", baseURL });
  const page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error" && /hydrat/i.test(m.text())) hydrationErrors.push(m.text());
  });
  await login(page);
  await context.addCookies([{ name: "lang", value: lang, url: baseURL }]);
  await page.goto(path);
  await waitForHydration(page);
  await expect(page.locator("html")).toHaveAttribute("lang", lang);
  return page;
}

/** The cost as the console writes it (two decimals; two significant digits below a cent). */
function money(lang: Lang, usd: number): string {
  const base = { style: "currency", currency: "USD", currencyDisplay: "narrowSymbol" } as const;
  return usd !== 0 && Math.abs(usd) < 0.01
    ? new Intl.NumberFormat(lang, { ...base, maximumSignificantDigits: 2 }).format(usd)
    : new Intl.NumberFormat(lang, { ...base, minimumFractionDigits: 2, maximumFractionDigits: 2 }).format(usd);
}

async function expectTooltip(page: Page, lang: Lang, p: TrendPoint) {
  const tip = page.getByTestId("trend-tooltip");
  await expect(tip).toBeVisible();
  await expect(tip).toHaveAttribute("data-bucket", p.bucket);
  const int = new Intl.NumberFormat(lang, { maximumFractionDigits: 0 });
  await expect(tip.getByTestId("trend-tooltip-label")).toHaveText(`${p.bucket.slice(0, 10)} ${p.bucket.slice(11, 16)}–${String(Number(p.bucket.slice(11, 13)) + 1).padStart(2, "0")}:00`);
  await expect(tip.getByTestId("trend-tooltip-cost")).toHaveAttribute("data-value", String(p.cost));
  await expect(tip.getByTestId("trend-tooltip-cost")).toHaveText(money(lang, p.cost));
  await expect(tip.getByTestId("trend-tooltip-rated-cost")).toHaveText(money(lang, p.ratedCost));
  await expect(tip.getByTestId("trend-tooltip-tokens")).toHaveText(int.format(p.allTokens));
  await expect(tip.getByTestId("trend-tooltip-requests")).toHaveText(int.format(p.requests));
}

/** Ticks on 1, 2, 2.5 or 5 × 10^n steps, from 0. */
function expectNiceTicks(values: number[]) {
  expect(values[0]).toBe(0);
  const step = values[1]! - values[0]!;
  const mantissa = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
  expect([1, 2, 2.5, 5].some((m) => Math.abs(m - mantissa) < 1e-6), `step ${step}`).toBe(true);
  values.forEach((v, i) => expect(Math.abs(v - i * step)).toBeLessThan(step * 1e-6));
}

// Each test signs in a context of its own, on a machine that may be busy.
test.describe.configure({ timeout: 120_000 });

for (const vp of VIEWPORTS) {
  for (const lang of LANGS) {
    test.describe(`${vp.name}, ${lang}`, () => {
      test("the trend: 30 days by default, today in 24 hours, a tooltip on hover, tap and keys; no sideways scroll", async ({ browser }) => {
        const a = first();
        const page = await openPage(browser, vp, lang, `/accounts?account=${a.id}&range=daily`);
        const d = page.getByRole("dialog");
        const chart = d.getByTestId("trend-chart");

        // The cards show today, the chart the last 30 days all the same.
        await expect(d.getByTestId("window-daily")).toHaveAttribute("data-selected", "true");
        await expect(chart).toHaveAttribute("data-span", "30d");
        await expect(chart).toHaveAttribute("data-points", "30");
        await expect(d.getByTestId("trend-title")).toHaveText(MESSAGES[lang].days30);
        await expect(d.getByTestId("trend-point").last()).toHaveAttribute("data-date", figures.today);
        expectNiceTicks(await chart.getByTestId("trend-cost-tick").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value")))));
        expectNiceTicks(await chart.getByTestId("trend-token-tick").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value")))));

        // Today by hour.
        await d.getByTestId("trend-span-today").click();
        await expect(chart).toHaveAttribute("data-span", "today");
        await expect(chart).toHaveAttribute("data-points", "24");
        await expect(d.getByTestId("trend-title")).toHaveText(MESSAGES[lang].today);
        await expect(chart.getByTestId("trend-point")).toHaveCount(24);

        const res = await page.request.get(`/admin/accounts/${encodeURIComponent(a.id)}/usage-trend?span=today`);
        expect(res.status()).toBe(200);
        const api = (await res.json()) as { data: { points: TrendPoint[] }; timezone: string; timestamp: string };
        expect(api.timezone).toBe("Asia/Shanghai");
        expect(api.data.points).toHaveLength(24);
        expect(api.data.points.map((p) => p.bucket)).toEqual(Array.from({ length: 24 }, (_, h) => `${figures.today}T${String(h).padStart(2, "0")}:00+08:00`));
        expect(api.data.points.reduce((s, p) => s + p.requests, 0)).toBe(a.usage.daily.requests);
        expect(api.data.points.reduce((s, p) => s + p.allTokens, 0)).toBe(a.usage.daily.allTokens);
        const used = api.data.points.map((p, i) => [p, i] as const).filter(([p]) => p.requests > 0);
        expect(used.length).toBeGreaterThan(0);
        const [busy, busyAt] = used.reduce((m, x) => (x[0].cost > m[0].cost ? x : m));
        const [quiet, quietAt] = used[0]!;

        // Mouse: the tooltip follows the pointer and goes with it.
        await chart.getByTestId("trend-point").nth(busyAt).hover();
        await expectTooltip(page, lang, busy);
        await expect(chart.getByTestId("trend-crosshair")).toBeVisible();
        await page.mouse.move(2, 2);
        await expect(page.getByTestId("trend-tooltip")).toHaveCount(0);

        // Touch: a tap shows the tapped hour.
        await chart.getByTestId("trend-point").nth(quietAt).tap();
        await expectTooltip(page, lang, quiet);

        // Keyboard: the arrow keys move along the hours.
        await d.getByTestId("trend-plot").focus();
        await page.keyboard.press("Home");
        await expectTooltip(page, lang, api.data.points[0]!);
        await page.keyboard.press("ArrowRight");
        await expectTooltip(page, lang, api.data.points[1]!);
        await page.keyboard.press("End");
        await expectTooltip(page, lang, api.data.points[23]!);
        // Leaving the chart hides it (Esc is the drawer's: it closes it).
        await page.keyboard.press("Tab");
        await expect(page.getByTestId("trend-tooltip")).toHaveCount(0);

        // The drawer's own scroll area does not scroll sideways.
        const { scrollWidth, clientWidth } = await d.evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
        expect(scrollWidth, "the drawer scrolls sideways").toBeLessThanOrEqual(clientWidth);
        expect(hydrationErrors).toEqual([]);
        await page.context().close();
      });

      test("a custom range: presets in the usage time zone, a too-long one refused in the form with no request", async ({ browser }) => {
        const a = first();
        const page = await openPage(browser, vp, lang, `/accounts?account=${a.id}`);
        const d = page.getByRole("dialog");
        await expect(d.getByTestId("window-total")).toBeVisible();
        const summaries: string[] = [];
        page.on("request", (r) => {
          if (r.url().includes("accounts.summary")) summaries.push(decodeURIComponent(r.url()));
        });

        await d.getByTestId("range-custom").click();
        await expect(d.getByTestId("range-calendar").getByRole("grid")).toBeVisible();
        // 上月 / Last month, counted in Asia/Shanghai.
        const month = figures.today.slice(0, 7);
        const prev = month.endsWith("-01") ? `${Number(month.slice(0, 4)) - 1}-12` : `${month.slice(0, 5)}${String(Number(month.slice(5)) - 1).padStart(2, "0")}`;
        const prevEnd = new Date(Date.UTC(Number(month.slice(0, 4)), Number(month.slice(5)) - 1, 0)).toISOString().slice(0, 10);
        await d.getByTestId("range-preset-lastMonth").click();
        await expect(page).toHaveURL(new RegExp(`range=custom&from=${prev}-01&to=${prevEnd}`));
        await expect(d.getByTestId("range-preset-lastMonth")).toHaveAttribute("aria-pressed", "true");
        await expect(d.getByTestId("range-label")).toHaveAttribute("data-range", "custom");

        // Three years and a day: refused here, said in the page's language, nothing sent.
        const before = summaries.length;
        await d.getByTestId("range-from").fill("2021-03-01");
        await d.getByTestId("range-to").fill("2024-03-01");
        await expect(d.getByTestId("range-error")).toHaveText(MESSAGES[lang].tooLong("2024-03-01"));
        await expect(d.getByTestId("range-apply")).toBeDisabled();
        await d.getByTestId("range-to").press("Enter");
        // One day less is accepted.
        await d.getByTestId("range-to").fill("2024-02-29");
        await expect(d.getByTestId("range-error")).toHaveCount(0);
        await expect(d.getByTestId("range-apply")).toBeEnabled();
        expect(summaries.slice(before).filter((u) => u.includes("2024-03-01"))).toEqual([]);
        await d.getByTestId("range-apply").click();
        await expect(page).toHaveURL(/from=2021-03-01&to=2024-02-29/);
        // A reload renders the picker on the server: the same in the browser, no hydration error.
        await page.reload();
        await waitForHydration(page);
        await expect(d.getByTestId("range-from")).toHaveValue("2021-03-01");
        await expect(d.getByTestId("range-calendar").getByRole("grid")).toBeVisible();
        expect(hydrationErrors).toEqual([]);

        // The calendar picks a range by keyboard too: the first day, then the last.
        await d.getByTestId("range-preset-last7").click();
        await expect(page).toHaveURL(/range=custom/);

        const { scrollWidth, clientWidth } = await d.evaluate((el) => ({ scrollWidth: el.scrollWidth, clientWidth: el.clientWidth }));
        expect(scrollWidth, "the drawer scrolls sideways").toBeLessThanOrEqual(clientWidth);
        await page.context().close();
      });
    });
  }
}

test("a range the server refuses: its message translated, the account's facts kept, and a way out that works", async ({ browser }) => {
  const a = first();
  const page = await openPage(browser, VIEWPORTS[1], "zh-CN", "/accounts");
  // The next summary asks the server for four years (a range no form lets through).
  let rewrite = true;
  await page.route(/\/api\/trpc\/accounts\.summary\?/, async (route) => {
    if (!rewrite) return route.continue();
    rewrite = false;
    const url = new URL(route.request().url());
    const input = JSON.parse(url.searchParams.get("input")!) as Record<string, unknown>;
    url.searchParams.set("input", JSON.stringify({ ...input, range: "custom", start: "2020-01-01", end: "2024-01-01" }));
    await route.continue({ url: url.toString() });
  });
  await page.getByTestId(`account-row-${a.id}`).getByTestId("details-button").click();
  const d = page.getByRole("dialog");
  const error = d.getByTestId("summary-error");
  await expect(error).toHaveAttribute("data-error-code", "BAD_REQUEST", { timeout: 15_000 });
  await expect(error.getByTestId("summary-error-text")).toHaveText(MESSAGES["zh-CN"].rejected);
  // The server's English words only in the tooltip.
  await expect(error).toHaveAttribute("title", /at most 3 years/);
  await expect(d).not.toContainText("at most 3 years");
  await expect(d.getByRole("alert")).toHaveCount(1);
  // The account's facts and name stay; nothing loads for ever.
  await expect(d.getByTestId("drawer-title")).toHaveText(a.name);
  await expect(d.getByTestId("fact-platform")).toBeVisible();
  await expect(d.getByTestId("drawer-skeleton")).toHaveCount(0);
  await expect(d.getByTestId("trend-chart")).toBeVisible();
  // The way out: another range, which succeeds.
  await error.getByRole("button", { name: MESSAGES["zh-CN"].reset }).click();
  await expect(d.getByTestId("summary-error")).toHaveCount(0);
  await expect(d.getByTestId("window-total")).toBeVisible();
  await expect(d.getByTestId("window-total-cost")).toHaveAttribute("data-value", String(a.usage.total.cost));
  await page.context().close();
});
