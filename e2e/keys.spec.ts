import { expect, test, type Page } from "@playwright/test";
import { login, waitForHydration } from "./fixtures";
import { cleanDemo, generateDemo, type DemoFigures } from "./demo";

/**
 * The API key page across accounts, at 1440 × 900 and 390 × 844, in both languages: a key found by
 * name shows the REST API's figures (and the demo's), the cost order is the API's, its accounts open
 * their drawer, and the page never scrolls sideways.
 */

let figures: DemoFigures;

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(180_000);
  figures = await generateDemo(testInfo.outputPath("demo-figures.json"), ["--accounts", "8", "--days", "40", "--events", "1200", "--seed", "keys"]);
});

test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  await cleanDemo();
});

const VIEWPORTS = [
  { name: "desktop", width: 1440, height: 900 },
  { name: "phone", width: 390, height: 844 },
] as const;
const LANGS = ["zh-CN", "en"] as const;

interface ApiKeyItem {
  apiKeyId: string;
  apiKeyName: string;
  requests: number;
  allTokens: number;
  cost: number;
  ratedCost: number;
  accounts: { id: string; name: string; deleted: boolean }[];
}
interface ApiAnswer {
  data: { items: ApiKeyItem[]; total: number; nextCursor: string | null };
}

async function api(page: Page, query: string): Promise<ApiAnswer> {
  // page.request carries the browser context's session cookie.
  const res = await page.request.get(`/admin/api-keys/usage-stats?${query}`);
  expect(res.status(), query).toBe(200);
  return (await res.json()) as ApiAnswer;
}

async function expectNoSidewaysScroll(page: Page) {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }));
  expect(scrollWidth, "the page scrolls sideways").toBeLessThanOrEqual(innerWidth);
}

async function shownRow(page: Page, id: string) {
  const row = page.getByTestId(`key-row-${id}`);
  const v = async (testId: string) => Number(await row.getByTestId(testId).getAttribute("data-value"));
  return { requests: await v("key-requests"), allTokens: await v("key-tokens"), cost: await v("key-cost"), ratedCost: await v("key-rated-cost") };
}

for (const vp of VIEWPORTS) {
  for (const lang of LANGS) {
    test.describe(`${vp.name}, ${lang}`, () => {
      test.use({ viewport: { width: vp.width, height: vp.height } });

      test("finds a key by name with the API's figures, sorts by cost, opens an account", async ({ page }) => {
        await login(page);
        await page.context().addCookies([{ name: "lang", value: lang, url: new URL(page.url()).origin }]);
        await page.goto("/keys");
        await waitForHydration(page);
        await expect(page.locator("html")).toHaveAttribute("lang", lang);
        await expect(page.getByRole("heading", { level: 1 })).toHaveText(lang === "en" ? "API key usage" : "API Key 用量");
        await expect(page.getByRole("link", { name: lang === "en" ? "Key usage" : "API Key 用量" })).toHaveAttribute("aria-current", "page");
        await expectNoSidewaysScroll(page);

        // A key of the first account, by its name: the row shows the API's figures, which are the demo's.
        const key = figures.firstAccount.keys.find((k) => k.usage.total.requests > 0)!;
        await page.getByTestId("keys-search").fill(key.apiKeyName);
        await expect(page).toHaveURL((url) => url.searchParams.get("q") === key.apiKeyName);
        const row = page.getByTestId(`key-row-${key.apiKeyId}`);
        await expect(row).toBeVisible();
        await expect(page.locator('[data-testid^="key-row-"]')).toHaveCount(1);
        const answer = await api(page, `range=total&search=${encodeURIComponent(key.apiKeyName)}`);
        const item = answer.data.items.find((k) => k.apiKeyId === key.apiKeyId)!;
        expect(await shownRow(page, key.apiKeyId)).toEqual({ requests: item.requests, allTokens: item.allTokens, cost: item.cost, ratedCost: item.ratedCost });
        expect({ requests: item.requests, allTokens: item.allTokens, cost: item.cost, ratedCost: item.ratedCost }).toEqual({
          requests: key.usage.total.requests,
          allTokens: key.usage.total.allTokens,
          cost: key.usage.total.cost,
          ratedCost: key.usage.total.ratedCost,
        });
        await expect(row.getByTestId("key-name")).toHaveText(key.apiKeyName);
        await expectNoSidewaysScroll(page);

        // Today's window: the same key, today's figures.
        await page.getByTestId("keys-range-daily").click();
        await expect(page).toHaveURL((url) => url.searchParams.get("range") === "daily");
        if (key.usage.daily.requests > 0) {
          await expect(row.getByTestId("key-requests")).toHaveAttribute("data-value", String(key.usage.daily.requests));
          await expect(row.getByTestId("key-cost")).toHaveAttribute("data-value", String(key.usage.daily.cost));
        } else {
          await expect(page.getByTestId("keys-empty")).toBeVisible();
        }
        await page.getByTestId("keys-range-total").click();
        await expect(row).toBeVisible();

        // Its accounts open the account's drawer.
        const link = row.getByTestId("key-account-link").first();
        await expect(link).toHaveAttribute("data-account-id", figures.firstAccount.id);
        await link.click();
        await expect(page).toHaveURL((url) => url.pathname === "/accounts" && url.searchParams.get("account") === figures.firstAccount.id);
        await expect(page.getByRole("dialog")).toBeVisible();
        await expect(page.getByTestId("drawer-title")).toHaveText(figures.firstAccount.name);
      });

      test("sorts by cost in both directions as the API does, and loads more by cursor", async ({ page }) => {
        await login(page);
        await page.context().addCookies([{ name: "lang", value: lang, url: new URL(page.url()).origin }]);
        await page.goto("/keys?q=demo-");
        await waitForHydration(page);
        const ids = () => page.locator('[data-testid^="key-row-"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-key-id") ?? ""));
        const costs = () => page.locator('[data-testid^="key-row-"] [data-testid="key-cost"]').evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-value"))));

        // Default: cost, most first.
        const desc = await api(page, "range=total&search=demo-&sort=cost&order=desc");
        expect(desc.data.total).toBeGreaterThan(50);
        await expect.poll(ids).toEqual(desc.data.items.map((k) => k.apiKeyId));
        const shown = await costs();
        expect(shown).toEqual([...shown].sort((a, b) => b - a));
        if (vp.name === "desktop") await expect(page.getByTestId("kcol-cost")).toHaveAttribute("aria-sort", "descending");

        // Load more: the next page after the cursor, as the API pages it.
        await page.getByTestId("keys-load-more").click();
        const second = await api(page, `range=total&search=demo-&sort=cost&order=desc&cursor=${desc.data.nextCursor}`);
        await expect.poll(ids).toEqual([...desc.data.items, ...second.data.items].map((k) => k.apiKeyId));

        // Ascending: the header on a desktop, the order select on a phone (the headers fold away there).
        if (vp.name === "desktop") await page.getByTestId("kcol-cost").getByRole("button").click();
        else await page.getByTestId("keys-order").selectOption("asc");
        await expect(page).toHaveURL((url) => url.searchParams.get("order") === "asc");
        const asc = await api(page, "range=total&search=demo-&sort=cost&order=asc");
        await expect.poll(ids).toEqual(asc.data.items.map((k) => k.apiKeyId));
        if (vp.name === "desktop") await expect(page.getByTestId("kcol-cost")).toHaveAttribute("aria-sort", "ascending");
        await expectNoSidewaysScroll(page);

        // The CSV link exports the same selection, its header row in the page's language.
        await expect(page.getByTestId("export-keys-csv")).toHaveAttribute("href", `/admin/api-keys/usage-stats?format=csv&range=total&headers=${lang}&search=demo-&sort=cost&order=asc`);
      });
    });
  }
}
