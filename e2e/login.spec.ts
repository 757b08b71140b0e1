import { expect, test } from "@playwright/test";
import { ADMIN, login, waitForHydration } from "./fixtures";

test.describe("signing in", () => {
  test("a visitor is sent to /login and back to the page asked for", async ({ page }) => {
    await page.goto("/accounts?platform=claude");
    await expect(page).toHaveURL("/login?next=%2Faccounts%3Fplatform%3Dclaude");
    await expect(page.getByRole("heading", { name: "登录" })).toBeVisible();

    await page.getByLabel("用户名", { exact: true }).fill(ADMIN.username);
    await page.getByLabel("密码", { exact: true }).fill("not the password");
    await page.getByRole("button", { name: "登录", exact: true }).click();
    await expect(page.getByRole("alert").filter({ hasText: "用户名或密码错误" })).toBeVisible();
    await expect(page).toHaveURL(/\/login\?/);

    await page.getByLabel("密码", { exact: true }).fill(ADMIN.password);
    await page.getByRole("button", { name: "登录", exact: true }).click();
    await expect(page).toHaveURL("/accounts?platform=claude");
    await expect(page.getByTestId("signed-in-as")).toContainText(ADMIN.username);
  });

  test("the session cookie is HttpOnly and SameSite=Lax", async ({ page, context }) => {
    await login(page);
    const cookie = (await context.cookies()).find((c) => c.name === "ub_session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Lax", secure: false, path: "/" });
    expect(cookie?.value).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });

  test("the page is in English after switching the language", async ({ page }) => {
    await page.goto("/login");
    await waitForHydration(page);
    await page.getByRole("button", { name: "English" }).click();
    await expect(page.getByLabel("Username", { exact: true })).toBeVisible();
    await expect(page.getByLabel("Password", { exact: true })).toBeVisible();
    await expect(page.getByRole("button", { name: "Sign in", exact: true })).toBeVisible();
    await page.getByRole("button", { name: "中文" }).click();
    await expect(page.getByLabel("用户名", { exact: true })).toBeVisible();
  });

  test("next cannot lead off the site", async ({ page }) => {
    await page.goto("/login?next=//evil.example/phish");
    await page.getByLabel("用户名", { exact: true }).fill(ADMIN.username);
    await page.getByLabel("密码", { exact: true }).fill(ADMIN.password);
    await page.getByRole("button", { name: "登录", exact: true }).click();
    await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/accounts/);
  });

  test("signing out ends the session", async ({ page, context }) => {
    await login(page);
    const before = (await context.cookies()).find((c) => c.name === "ub_session")?.value;
    await page.getByRole("button", { name: "退出登录" }).click();
    await expect(page).toHaveURL("/login");
    await page.goto("/accounts");
    await expect(page).toHaveURL(/\/login\?next=%2Faccounts/);
    // The old cookie value is dead on the server too, not just forgotten by the browser.
    const res = await page.request.get("/admin/auth/me", { headers: { cookie: `ub_session=${before}` } });
    expect(res.status()).toBe(401);
  });
});

test.describe("security baseline", () => {
  test("pages and APIs carry the security headers", async ({ request }) => {
    for (const url of ["/login", "/admin/health"]) {
      const res = await request.get(url);
      const h = res.headers();
      expect(h["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(h["content-security-policy"]).toContain("script-src 'self' 'unsafe-inline'");
      expect(h["content-security-policy"]).not.toContain("unsafe-eval");
      expect(h["x-content-type-options"]).toBe("nosniff");
      expect(h["referrer-policy"]).toBe("same-origin");
    }
  });

  test("the APIs answer 401 JSON without credentials", async ({ request }) => {
    const rest = await request.get("/admin/health");
    expect(rest.status()).toBe(401);
    expect(await rest.json()).toMatchObject({ success: false, error: { code: "UNAUTHORIZED" } });
    const trpc = await request.get("/api/trpc/auth.me");
    expect(trpc.status()).toBe(401);
  });

  test("a token made on the tokens page works once and stops when revoked", async ({ page }) => {
    await login(page, "/settings/tokens");
    await page.getByLabel("名称", { exact: true }).fill("e2e reader");
    await page.getByLabel("权限范围", { exact: true }).selectOption("usage:read");
    await page.getByRole("button", { name: "创建令牌" }).click();
    const shown = page.getByTestId("created-token").locator("input");
    await expect(shown).toHaveValue(/^ubk_[A-Za-z0-9_-]{43}$/);
    const token = await shown.inputValue();
    const row = page.getByTestId("tokens-table").locator("tbody tr", { hasText: "e2e reader" });
    await expect(row).toContainText("usage:read");

    // A fresh context: the token alone, no cookie.
    const api = await page.context().browser()!.newContext({ baseURL: new URL(page.url()).origin });
    const ok = await api.request.get("/admin/health", { headers: { authorization: `Bearer ${token}` } });
    expect(ok.status()).toBe(200);
    const wrongScope = await api.request.get("/admin/tokens", { headers: { authorization: `Bearer ${token}` } });
    expect(wrongScope.status()).toBe(403);

    page.once("dialog", (d) => void d.accept());
    await row.getByRole("button", { name: /吊销/ }).click();
    await expect(row).toHaveCount(0);
    const revoked = await api.request.get("/admin/health", { headers: { authorization: `Bearer ${token}` } });
    expect(revoked.status()).toBe(401);
    await api.close();
  });
});
