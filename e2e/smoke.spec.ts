import { expect, test } from "@playwright/test";
import { login } from "./fixtures";

test("the production build serves the accounts page with seeded accounts", async ({ page }) => {
  await login(page, "/accounts");
  const rows = page.getByTestId("accounts-table").locator("tbody tr");
  await expect(rows).toHaveCount(7);
  await expect(rows.filter({ hasText: "Claude 主账号" })).toHaveCount(1);
});
