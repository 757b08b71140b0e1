import { expect, test, type Page } from "@playwright/test";
import { login, waitForHydration } from "./fixtures";
import { cleanDemo, expectedFigures, generateDemo, shownFigures, type DemoFigures } from "./demo";

/**
 * What an admin sees, at desktop and at 390 × 844, in both languages: readable pager, a chart
 * whose words match its points, no sideways scroll of the page, the glossary in the chosen
 * language, the drawer at once with a skeleton, one not-found state, one layout shell.
 */

let figures: DemoFigures;

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(180_000);
  // 200 days: the all-time series is per month (more than 92 days), this month's per day.
  figures = await generateDemo(testInfo.outputPath("demo-figures.json"), ["--accounts", "24", "--days", "200", "--events", "1200", "--seed", "console"]);
});

test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  await cleanDemo();
});

const first = () => figures.accounts[0]!;
const dialog = (page: Page) => page.getByRole("dialog");

const VIEWPORTS = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;
const LANGS = ["zh-CN", "en"] as const;
type Lang = (typeof LANGS)[number];

/** The glossary's visible labels: each must show in its language, never in the other. */
const GLOSSARY: Record<Lang, string[]> = {
  "zh-CN": ["今日", "本月", "总用量", "最近使用", "详情", "账号用量"],
  en: ["Today", "This month", "Total usage", "Last used", "Details", "Account usage"],
};
const EN_WORDS = [
  "Total usage",
  "This month",
  "Today",
  "Last used",
  "Details",
  "Requests",
  "Token share",
  "Cost share",
  "API key breakdown",
  "By model",
  "Daily trend",
  "Monthly trend",
  "Sign out",
  "Account usage",
  "Search",
  "Platform",
  "Status",
  "Priority",
  "Previous",
  "Next",
  "Shared",
  "Dedicated",
  "Range",
  "Export",
];

async function useLanguage(page: Page, lang: Lang) {
  await page.context().addCookies([{ name: "lang", value: lang, url: new URL(page.url() === "about:blank" ? test.info().project.use.baseURL! : page.url()).origin }]);
}

/**
 * The text a person reads on screen, without data (names, ids, model names, the other language's
 * name on the switch): visible text nodes only.
 */
async function uiText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const skip = '[data-testid="account-name"],[data-testid="key-name"],[data-testid="drawer-title"],[data-testid="account-id"],button[lang],.font-mono,script,style,title';
    const out: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      const el = n.parentElement;
      const text = n.textContent?.trim();
      if (!el || !text || el.closest(skip)) continue;
      if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: false })) continue;
      out.push(text);
    }
    return out.join(" | ");
  });
}

async function expectGlossary(page: Page, lang: Lang) {
  const text = await uiText(page);
  if (lang === "en") {
    expect(text.match(/[\u3400-\u9fff\uff08\uff09\uff1a]+/g), "Chinese text on an English page").toBeNull();
  } else {
    const english = EN_WORDS.filter((w) => new RegExp(`\\b${w}\\b`).test(text));
    expect(english, "English labels on a Chinese page").toEqual([]);
  }
}

async function expectNoSidewaysScroll(page: Page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.scrollingElement!.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, "the page scrolls sideways").toBeLessThanOrEqual(innerWidth);
}

/** WCAG contrast of an element's text against its own background (colours resolved by the browser). */
async function contrastOf(page: Page, selector: string): Promise<number> {
  return page.locator(selector).evaluate((el) => {
    const style = getComputedStyle(el);
    const ctx = document.createElement("canvas").getContext("2d")!;
    const rgb = (color: string) => {
      ctx.clearRect(0, 0, 1, 1);
      ctx.fillStyle = color;
      ctx.fillRect(0, 0, 1, 1);
      const [r, g, b] = ctx.getImageData(0, 0, 1, 1).data;
      return [r!, g!, b!];
    };
    const lum = ([r, g, b]: number[]) => {
      const c = [r!, g!, b!].map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
    };
    const a = lum(rgb(style.color));
    const b = lum(rgb(style.backgroundColor));
    return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  });
}

for (const vp of VIEWPORTS) {
  for (const lang of LANGS) {
    test.describe(`${vp.name}, ${lang}`, () => {
      test.use({ viewport: { width: vp.width, height: vp.height } });

      test("the list: totals at a glance, readable pager, no sideways scroll, glossary", async ({ page }) => {
        await login(page);
        await useLanguage(page, lang);
        await page.goto("/accounts?q=demo-acc-&size=20&page=2");
        await waitForHydration(page);
        await expect(page.locator("html")).toHaveAttribute("lang", lang);
        await expectNoSidewaysScroll(page);

        // Today / this month / total of every row on screen, inside the viewport, exact on hover.
        const rows = page.locator('[data-testid^="account-row-"]');
        await expect(rows).toHaveCount(figures.accounts.length - 20);
        const row = rows.first();
        for (const w of ["daily", "monthly", "total"] as const) {
          const cost = row.getByTestId(`usage-${w}`).getByTestId(`${w}-cost`);
          await expect(cost).toBeVisible();
          const box = (await cost.boundingBox())!;
          expect(box.x + box.width).toBeLessThanOrEqual(vp.width);
        }
        const id = (await row.getAttribute("data-account-id"))!;
        const acc = figures.accounts.find((a) => a.id === id)!;
        expect(await shownFigures(row, "total")).toEqual(expectedFigures(acc.usage.total));

        // The money rule: two decimals, more only below a cent.
        for (const text of await page.locator('[data-testid="total-cost"]:visible').allTextContents()) {
          expect(text).toMatch(/^\$(\d{1,3}(,\d{3})*\.\d{2}|0\.0\d+)$/);
        }
        // Compact numbers: three significant digits in either language.
        const compact = new Intl.NumberFormat(lang, { notation: "compact", minimumSignificantDigits: 3, maximumSignificantDigits: 3 });
        const tokens = page.getByTestId("summary-total-tokens");
        const value = Number(await tokens.getAttribute("data-value"));
        expect(value).toBeGreaterThanOrEqual(10_000);
        await expect(tokens).toHaveText(`${compact.format(value)} tokens`);

        // The pager's current page is readable (WCAG AA for its text).
        const current = page.getByTestId("page-current");
        await expect(current).toBeVisible();
        await expect(current).toHaveText("2");
        expect(await contrastOf(page, '[data-testid="page-current"]')).toBeGreaterThanOrEqual(4.5);

        for (const word of GLOSSARY[lang]) await expect(page.locator("body")).toContainText(word);
        await expectGlossary(page, lang);
      });

      test("the drawer: full sheet on a phone, chart words match its points, no future days", async ({ page }) => {
        await login(page);
        await useLanguage(page, lang);
        await page.goto(`/accounts?q=${first().id}`);
        await waitForHydration(page);
        await page.getByTestId(`account-row-${first().id}`).getByTestId("details-button").click();
        const d = dialog(page);
        await expect(d).toBeVisible();
        const box = (await d.boundingBox())!;
        if (vp.name === "phone") {
          expect(Math.round(box.width)).toBe(vp.width);
          expect(Math.round(box.height)).toBe(vp.height);
        }
        await expect(d.locator('[data-testid^="breakdown-row-"]').first()).toBeVisible();
        await expect(d.getByTestId("key-cost").first()).toBeVisible();
        expect(await shownFigures(d, "window-total")).toEqual(expectedFigures(first().usage.total));
        await expect(d.getByTestId("window-total")).toHaveAttribute("data-selected", "true");
        await expect(d.getByTestId("range-usage")).toHaveCount(0);

        // The chart opens on the last 30 days whatever the cards show (issue 24): days up to today.
        const chart = d.getByTestId("trend-chart");
        await expect(chart).toHaveAttribute("data-span", "30d");
        await expect(chart).toHaveAttribute("data-granularity", "day");
        await expect(d.getByTestId("trend-title")).toHaveText(lang === "en" ? "Daily trend" : "每日趋势");
        const days = await chart.getByTestId("trend-point").evaluateAll((els) => els.map((e) => e.getAttribute("data-date")!));
        expect(days).toHaveLength(30);
        expect(days.at(-1)).toBe(figures.today);
        await expect(d.getByTestId("trend-caption")).toContainText(lang === "en" ? "Daily cost" : "每日费用");
        await expect(d.getByTestId("trend-caption")).toContainText(days[0]!);
        await expect(d.getByTestId("trend-table").locator("tr")).toHaveCount(30);
        // The chart's text stays legible at the size it is drawn.
        await expect.poll(() => chart.getByTestId("trend-axis-label").first().evaluate((el) => el.getBoundingClientRect().height)).toBeGreaterThanOrEqual(10);

        // 12 months: monthly points up to this month, and the words say so.
        await d.getByTestId("trend-span-12m").click();
        await expect(chart).toHaveAttribute("data-granularity", "month");
        await expect(chart.getByTestId("trend-point")).toHaveCount(12);
        const months = await chart.getByTestId("trend-point").evaluateAll((els) => els.map((e) => e.getAttribute("data-date")!));
        expect(months.every((m) => /^\d{4}-\d{2}$/.test(m))).toBe(true);
        expect(months.at(-1)).toBe(figures.month);
        await expect(d.getByTestId("trend-title")).toHaveText(lang === "en" ? "Monthly trend" : "每月趋势");
        await expect(d.getByTestId("trend-caption")).toContainText(lang === "en" ? "Monthly cost" : "每月费用");
        await expect(d.getByTestId("trend-caption")).toContainText(months[0]!);

        // This month's cards; the chart keeps its span.
        await d.getByTestId("range-monthly").click();
        await expect(d.getByTestId("window-monthly")).toHaveAttribute("data-selected", "true");
        await expect(chart).toHaveAttribute("data-span", "12m");
        expect(await shownFigures(d, "window-monthly")).toEqual(expectedFigures(first().usage.monthly));

        await expectNoSidewaysScroll(page);
        await expectGlossary(page, lang);
      });
    });
  }
}

test("the drawer opens at once with a visible skeleton, before its data arrives", async ({ page }) => {
  await login(page);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  await page.route(/\/api\/trpc\/accounts\.(summary|breakdown)/, async (route) => {
    await gate;
    await route.continue();
  });
  await page.getByTestId(`account-row-${first().id}`).getByTestId("details-button").click();
  const d = dialog(page);
  await expect(d).toBeVisible();
  await expect(d).toHaveAttribute("aria-busy", "true");
  await expect(d.getByTestId("drawer-skeleton")).toBeVisible();
  await expect(d.getByTestId("breakdown-skeleton").first()).toBeVisible();
  release();
  await expect(d.getByTestId("drawer-skeleton")).toHaveCount(0);
  await expect(d.getByTestId("breakdown-skeleton")).toHaveCount(0);
  await expect(d.getByRole("heading", { name: first().name })).toBeVisible();
  expect(await shownFigures(d, "window-total")).toEqual(expectedFigures(first().usage.total));
});

test("an unknown account: one clear not-found state, nothing loading forever", async ({ page }) => {
  await login(page, "/accounts?account=does-not-exist");
  const d = dialog(page);
  await expect(d.getByTestId("account-not-found")).toBeVisible();
  await expect(d.getByRole("alert")).toHaveCount(1);
  await expect(d.getByRole("alert")).toContainText("找不到该账号");
  await expect(d.getByRole("alert")).toContainText("does-not-exist");
  await expect(d.locator('[data-testid="breakdown-skeleton"], [data-testid="drawer-skeleton"], #models-heading, #trend-heading')).toHaveCount(0);
  await d.getByRole("button", { name: "返回账号列表" }).click();
  await expect(d).toHaveCount(0);
  await expect(page).not.toHaveURL(/account=/);
});

test("an empty range: one calm empty state, no 0 / 0 count and no CSV button", async ({ page }) => {
  await login(page, `/accounts?account=${first().id}&range=custom&from=2020-01-01&to=2020-01-31`);
  const d = dialog(page);
  await expect(d.getByTestId("range-empty")).toBeVisible();
  await expect(d.getByTestId("range-usage").getByTestId("range-requests")).toHaveAttribute("data-value", "0");
  await expect(d.getByTestId("export-breakdown-csv")).toHaveCount(0);
  await expect(d.getByTestId("breakdown-count")).toHaveCount(0);
  await expect(d.getByTestId("range-from")).toHaveValue("2020-01-01");
});

test("the language switch is in the top bar of every page, and the choice is remembered", async ({ page }) => {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByTestId("top-bar").getByRole("button", { name: "English" }).click();
  await expect(page.getByRole("heading", { name: "Sign in" })).toBeVisible();
  await page.getByLabel("Username", { exact: true }).fill("admin");
  await page.getByLabel("Password", { exact: true }).fill("e2e-admin-Passw0rd!");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/accounts/);
  const pages = [
    { path: "/accounts", en: "Account usage", zh: "账号用量" },
    { path: "/settings/tokens", en: "API tokens", zh: "API 令牌" },
    { path: "/settings/password", en: "Change password", zh: "修改密码" },
    { path: "/api-docs", en: "API docs", zh: "API 文档" },
  ];
  const edges: number[] = [];
  for (const p of pages) {
    await page.goto(p.path);
    await waitForHydration(page);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(p.en);
    const bar = page.getByTestId("top-bar");
    await expect(bar.getByTestId("lang-switch").getByRole("button", { name: "English" })).toHaveAttribute("aria-pressed", "true");
    await expect(bar.getByRole("link", { name: p.en, exact: true })).toHaveAttribute("aria-current", "page");
    // One layout shell: the bar and the page share their left edge.
    const barX = (await bar.locator("> div").boundingBox())!.x;
    const mainX = (await page.locator("main").boundingBox())!.x;
    expect(mainX).toBe(barX);
    edges.push(barX);
    // API docs: the page's own words are translated, the OpenAPI descriptions stay as written.
    if (p.path !== "/api-docs") await expectGlossary(page, "en");
  }
  expect(new Set(edges).size).toBe(1);
  await page.getByTestId("lang-switch").getByRole("button", { name: "中文" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("API 文档");
  for (const p of pages.filter((x) => x.path !== "/api-docs")) {
    await page.goto(p.path);
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(p.zh);
    await expectGlossary(page, "zh-CN");
  }
  // /api-docs: the routes' own texts in Chinese (field descriptions stay English), no literal
  // backticks, no regex walls.
  await page.goto("/api-docs");
  await expect(page.getByRole("heading", { level: 2, name: "用量统计" })).toBeVisible();
  await expect(page.locator("#postUsage h3")).toContainText("上报用量事件（按 requestId 幂等）");
  await expect(page.locator("#postUsage")).toContainText("所有接受的事件都已持久化后才返回 202");
  await expect(page.locator("#postUsage")).not.toContainText("Record usage events");
  const docs = await page.locator("main").innerText();
  expect(docs).not.toContain("`");
  expect(docs.split(/\s+/).every((w) => w.length <= 120)).toBe(true);
});

test("public/: a favicon, and robots.txt keeps the console out of search engines", async ({ request }) => {
  const robots = await request.get("/robots.txt");
  expect(robots.status()).toBe(200);
  expect(await robots.text()).toMatch(/User-agent: \*\s+Disallow: \/\s*$/);
  const icon = await request.get("/favicon.svg");
  expect(icon.status()).toBe(200);
  expect(icon.headers()["content-type"]).toContain("image/svg+xml");
});
