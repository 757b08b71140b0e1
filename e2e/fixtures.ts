import { expect, type Page } from "@playwright/test";

/** The admin of the e2e server: the same values as the webServer env in playwright.config.ts. */
export const ADMIN = { username: "admin", password: "e2e-admin-Passw0rd!" } as const;

/**
 * Signs in through the real /login page (zh-CN labels, the default language) and waits until
 * `next` (default /accounts) is shown, so the redirect there and back is exercised as well.
 * Does nothing more than the visit when the page's context is already signed in.
 */
export async function login(page: Page, next = "/accounts"): Promise<void> {
  await page.goto(next);
  if (!new URL(page.url()).pathname.startsWith("/login")) return;
  await page.getByLabel("用户名", { exact: true }).fill(ADMIN.username);
  await page.getByLabel("密码", { exact: true }).fill(ADMIN.password);
  await page.getByRole("button", { name: "登录", exact: true }).click();
  await page.waitForURL((url) => !url.pathname.startsWith("/login"));
  await expect(page).toHaveURL((url) => url.pathname === new URL(next, "http://x").pathname);
}
