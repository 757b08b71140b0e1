import fs from "node:fs";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { login } from "./fixtures";
import { cleanDemo, generateDemo, type DemoFigures } from "./demo";

/**
 * The README's screenshots, from the real console on demo data, zh-CN, desktop and phone.
 * Only with UPDATE_SCREENSHOTS=1 (`npm run screenshots`): a normal test run leaves docs/ alone.
 */
test.skip(!process.env.UPDATE_SCREENSHOTS, "set UPDATE_SCREENSHOTS=1 (npm run screenshots) to regenerate docs/screenshots");

const OUT = "docs/screenshots";
let figures: DemoFigures;

test.beforeAll(async ({}, testInfo) => {
  testInfo.setTimeout(180_000);
  figures = await generateDemo(testInfo.outputPath("demo-figures.json"), ["--accounts", "8", "--days", "120", "--events", "2000", "--seed", "readme"]);
  fs.mkdirSync(OUT, { recursive: true });
});

test.afterAll(async ({}, testInfo) => {
  testInfo.setTimeout(120_000);
  await cleanDemo();
});

async function shot(page: Page, name: string) {
  // Stable pixels: no caret, no running animation.
  await page.addStyleTag({ content: "*, *::before, *::after { animation: none !important; transition: none !important; caret-color: transparent !important; }" });
  await page.screenshot({ path: path.join(OUT, name), fullPage: false });
}

async function drawer(page: Page) {
  const id = figures.firstAccount.id;
  await page.getByTestId(`account-row-${id}`).getByTestId("details-button").click();
  const d = page.getByRole("dialog");
  await expect(d.locator('[data-testid^="breakdown-row-"]').first()).toBeVisible();
  await expect(d.getByTestId("trend-chart")).toBeVisible();
  return d;
}

for (const vp of [
  { suffix: "", width: 1440, height: 900 },
  { suffix: "-phone", width: 390, height: 844 },
]) {
  test(`screenshots${vp.suffix || "-desktop"}`, async ({ page }) => {
    await page.setViewportSize({ width: vp.width, height: vp.height });
    await login(page, "/accounts?q=demo-acc-");
    await expect(page.getByTestId(`account-row-${figures.accounts[0]!.id}`)).toBeVisible();
    await shot(page, `accounts${vp.suffix}.png`);
    await drawer(page);
    await shot(page, `drawer${vp.suffix}.png`);
  });
}
