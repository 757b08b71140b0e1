import { expect, type Page } from "@playwright/test";

/** The admin of the e2e server: the same values as the webServer env in playwright.config.ts. */
export const ADMIN = { username: "admin", password: "e2e-admin-Passw0rd!" } as const;

/**
 * Signs in through the real /login page (zh-CN labels, the default language) and waits until
 * `next` (default /accounts) is shown, so the redirect there and back is exercised as well.
 * Does nothing more than the visit when the page's context is already signed in. Returns once
 * React has hydrated the page (html[data-hydrated]): a click on a server-rendered button before
 * then is lost.
 */
export async function login(page: Page, next = "/accounts"): Promise<void> {
  await page.goto(next);
  if (!new URL(page.url()).pathname.startsWith("/login")) return waitForHydration(page);
  await page.getByLabel("用户名", { exact: true }).fill(ADMIN.username);
  await page.getByLabel("密码", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "登录", exact: true }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  await expect(page).toHaveURL((url) => url.pathname === new URL(next, "http://x").pathname);
  await waitForHydration(page);
}

/** Waits until the client has hydrated the page that is shown (set by the tRPC provider). */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator("html")).toHaveAttribute("data-hydrated", "true", { timeout: 15_000 });
}
