import { chromium } from "@playwright/test";
import { summarize, type Latency } from "./measure";

/** The console in a real Chromium on the bench's data (issue 26): is the list and the drawer usable? */
export interface BrowserFigures {
  /** Navigation start → first contentful paint of /accounts (the browser's own mark). */
  firstPaint: Latency;
  /** Navigation start → the list's first row visible. */
  listVisible: Latency;
  /** Click on the busiest account's 详情 → the first row of its key breakdown visible. */
  drawer: Latency;
}

const ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

export async function measureBrowser(baseUrl: string, cookie: string, busiest: string, runs: number, executablePath = "/usr/bin/chromium"): Promise<BrowserFigures> {
  const browser = await chromium.launch({ executablePath, args: ARGS });
  try {
    const context = await browser.newContext({ baseURL: baseUrl, locale: "zh-CN", timezoneId: "Asia/Shanghai", viewport: { width: 1280, height: 800 } });
    await context.addCookies(
      cookie.split("; ").map((c) => {
        const i = c.indexOf("=");
        return { name: c.slice(0, i), value: c.slice(i + 1), url: baseUrl };
      }),
    );
    const paint: number[] = [];
    const visible: number[] = [];
    const drawer: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto("/accounts", { waitUntil: "commit" });
      await page.locator('[data-testid^="account-row-"]').first().waitFor({ state: "visible" });
      const listMs = performance.now() - t0;
      await page.waitForLoadState("load");
      const fcp = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const e = performance.getEntriesByName("first-contentful-paint")[0];
            if (e) return resolve(e.startTime);
            new PerformanceObserver((l) => resolve(l.getEntries()[0]!.startTime)).observe({ type: "paint", buffered: true });
          }),
      );
      // Hydrated: the client has taken over the page (the button's handler is attached).
      await page.waitForLoadState("networkidle");
      const t1 = performance.now();
      await page.locator(`[data-details-for="${busiest}"]`).click();
      await page.locator('[data-testid^="breakdown-row-"]').first().waitFor({ state: "visible" });
      const drawerMs = performance.now() - t1;
      await page.close();
      // The first two loads warm the server's and the browser's caches.
      if (i < 2) continue;
      paint.push(fcp);
      visible.push(listMs);
      drawer.push(drawerMs);
    }
    await context.close();
    return { firstPaint: summarize(paint), listVisible: summarize(visible), drawer: summarize(drawer) };
  } finally {
    await browser.close();
  }
}
