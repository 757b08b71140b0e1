import { chromium, type Page } from "@playwright/test";
import { summarize, type Latency } from "./measure";

/** The console in a real Chromium on the bench's data (issue 26): is the list and the drawer usable? */
export interface BrowserFigures {
  /** Navigation start → the first byte of /accounts's HTML (the server's render and the request). */
  firstByte?: Latency;
  /** Navigation start → the last byte of the HTML (the rows are streamed in it). */
  lastByte?: Latency;
  /** Navigation start → first contentful paint of /accounts (the browser's own mark). */
  firstPaint: Latency;
  /** Navigation start → the first animation frame in which the list's first row is visible. */
  listVisible: Latency;
  /** Click on the busiest account's 详情 → the first row of its key breakdown visible. */
  drawer: Latency;
}

/** The first value `probe` returns (not false), checked in the page on every animation frame. */
async function onPageClock(page: Page, probe: () => number | false): Promise<number> {
  return Number(await (await page.waitForFunction(probe, undefined, { polling: "raf" })).jsonValue());
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
    const firstByte: number[] = [];
    const lastByte: number[] = [];
    const paint: number[] = [];
    const visible: number[] = [];
    const drawer: number[] = [];
    for (let i = 0; i < runs + 2; i++) {
      const page = await context.newPage();
      await page.goto("/accounts", { waitUntil: "commit" });
      // On the page's own clock (0 = navigation start, as FCP), checked on every animation frame:
      // Playwright's locator waits poll at up to 500 ms and measured that instead of the page.
      const listMs = await onPageClock(page, () => {
        const row = document.querySelector('[data-testid^="account-row-"]');
        return row !== null && row.checkVisibility() ? performance.now() : false;
      });
      await page.waitForLoadState("load");
      const fcp = await page.evaluate(
        () =>
          new Promise<number>((resolve) => {
            const e = performance.getEntriesByName("first-contentful-paint")[0];
            if (e) return resolve(e.startTime);
            new PerformanceObserver((l) => resolve(l.getEntries()[0]!.startTime)).observe({ type: "paint", buffered: true });
          }),
      );
      const nav = await page.evaluate(() => {
        const e = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
        return { first: e.responseStart, last: e.responseEnd };
      });
      // Hydrated: the client has taken over the page (the button's handler is attached).
      await page.waitForLoadState("networkidle");
      // From the click's event in the page to the first frame showing a key row (the page's clock).
      await page.evaluate(() => {
        document.addEventListener("click", (e) => document.body.setAttribute("data-bench-click-at", String(e.timeStamp)), { capture: true, once: true });
      });
      await page.locator(`[data-details-for="${busiest}"]`).click();
      const drawerMs = await onPageClock(page, () => {
        const row = document.querySelector('[data-testid^="breakdown-row-"]');
        const clickAt = document.body.getAttribute("data-bench-click-at");
        return row !== null && clickAt !== null && row.checkVisibility() ? performance.now() - Number(clickAt) : false;
      });
      await page.close();
      // The first two loads warm the server's and the browser's caches.
      if (i < 2) continue;
      firstByte.push(nav.first);
      lastByte.push(nav.last);
      paint.push(fcp);
      visible.push(listMs);
      drawer.push(drawerMs);
    }
    await context.close();
    return { firstByte: summarize(firstByte), lastByte: summarize(lastByte), firstPaint: summarize(paint), listVisible: summarize(visible), drawer: summarize(drawer) };
  } finally {
    await browser.close();
  }
}
