import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { expect, test, type APIRequestContext, type Page } from "@playwright/test";
import { login, waitForHydration } from "./fixtures";
import { runScript } from "./demo";

/**
 * Issue 25 end to end: an admin creates a webhook channel pointing at a receiver this spec runs on
 * 127.0.0.1 (the e2e server allows it: ALERT_ALLOW_PRIVATE_TARGETS in playwright.config.ts), then a
 * daily budget of $10 on an account through the console with an alert at 80 %. Usage of $8.50
 * (85 %) goes in through the REST API, as a relay's; the evaluator (every second for the e2e
 * server) fires: the accounts list shows the badge and the budget bar, the history shows the
 * transition and its delivery, and the receiver got exactly one alert message.
 */

const run = randomBytes(3).toString("hex");
const ACCOUNT = { id: `alert-acc-${run}`, name: `Alert 告警 ${run}` };
const CHANNEL = `e2e webhook ${run}`;
const BUDGET = `e2e budget ${run}`;
let token: string;

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}
const received: Received[] = [];
let receiver: http.Server;
let receiverUrl: string;

const auth = () => ({ authorization: `Bearer ${token}` });

/** A tRPC mutation over HTTP with the admin token (no transformer: the body is the input). */
async function trpcMutation(request: APIRequestContext, path: string, input: unknown) {
  return request.post(`/api/trpc/${path}`, { headers: { ...auth(), "content-type": "application/json" }, data: input });
}

async function trpcQuery<T>(request: APIRequestContext, path: string): Promise<T> {
  const res = await request.get(`/api/trpc/${path}`, { headers: auth() });
  expect(res.status(), await res.text()).toBe(200);
  return ((await res.json()) as { result: { data: T } }).result.data;
}

/** The messages the receiver got that are not a channel test: the alerts. */
function alertMessages(): { kind: string; alerts: { subjectId: string; budget?: { alertPercent: string } }[] }[] {
  return received.map((r) => JSON.parse(r.body) as { kind: string; alerts: { subjectId: string; budget?: { alertPercent: string } }[] }).filter((m) => m.kind !== "test");
}

test.beforeAll(async ({ request }) => {
  receiver = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d: Buffer) => (body += d.toString()));
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;

  const out = await runScript("scripts/token-create.ts", ["--name", `e2e alerts ${run}`, "--scope", "admin"]);
  token = /ubk_[A-Za-z0-9_-]{43}/.exec(out)![0];
  const put = await request.put(`/admin/accounts/${ACCOUNT.id}`, { headers: auth(), data: { name: ACCOUNT.name, platform: "claude" } });
  expect(put.status()).toBe(200);
});

// What the run made goes again (later specs count the seeded accounts; a budget left firing would
// put a count in every page's navigation).
test.afterAll(async ({ request }) => {
  const budgets = await trpcQuery<{ id: string; name: string }[]>(request, "alerts.budgets.list").catch(() => []);
  for (const b of budgets.filter((x) => x.name === BUDGET)) await trpcMutation(request, "alerts.budgets.delete", { id: b.id });
  const channels = await trpcQuery<{ id: string; name: string }[]>(request, "alerts.channels.list").catch(() => []);
  for (const c of channels.filter((x) => x.name === CHANNEL)) await trpcMutation(request, "alerts.channels.delete", { id: c.id });
  const res = await request.delete(`/admin/accounts/${ACCOUNT.id}`, { headers: auth() });
  expect(res.status()).toBe(200);
  await new Promise<void>((resolve) => {
    receiver.closeAllConnections();
    receiver.close(() => resolve());
  });
});

async function openTab(page: Page, tab: string) {
  await page.goto(`/alerts?tab=${tab}`);
  await waitForHydration(page);
  await expect(page.getByTestId(`alerts-tab-${tab}`)).toHaveAttribute("aria-selected", "true");
}

test("a budget at 80 % fires: the badge, the budget bar, the history, and exactly one webhook message", async ({ page, request }) => {
  test.setTimeout(180_000);
  page.on("dialog", (d) => void d.accept());
  await login(page, "/alerts");
  await expect(page.getByRole("heading", { level: 1 })).toHaveText("告警");
  await expect(page.getByRole("navigation").getByRole("link", { name: /^告警/ })).toHaveAttribute("aria-current", "page");

  // A webhook channel to the local receiver; its generated secret is shown once.
  await openTab(page, "channels");
  await page.getByTestId("channel-new").click();
  const channelForm = page.getByTestId("channel-form");
  await expect(channelForm.getByLabel("类型")).toHaveValue("webhook");
  await channelForm.getByLabel("名称").fill(CHANNEL);
  await channelForm.getByLabel("Webhook 地址").fill(receiverUrl);
  await page.getByTestId("channel-save").click();
  await expect(page.getByTestId("channel-secret-value")).not.toHaveValue("");
  await page.getByTestId("channel-secret").getByRole("button", { name: "我已保存" }).click();
  await expect(page.getByTestId("channel-secret")).toHaveCount(0);
  const channel = page.locator(`[data-channel-name="${CHANNEL}"]`);
  await expect(channel).toBeVisible();

  // The test button: the receiver answers, the result is said next to it.
  await channel.getByTestId("channel-test").click();
  await expect(channel.getByTestId("channel-test-result")).toHaveAttribute("data-ok", "true", { timeout: 20_000 });
  await expect(channel.getByTestId("channel-test-result")).toContainText("HTTP 200");
  await expect.poll(() => received.length, { timeout: 10_000 }).toBe(1);
  expect(alertMessages()).toEqual([]);

  // A daily budget of $10 on the account, alerting at 80 % through that channel. A bad amount first:
  // the API's word for it stands next to the field.
  await openTab(page, "budgets");
  await page.getByTestId("budget-new").click();
  const budgetForm = page.getByTestId("budget-form");
  await budgetForm.getByLabel("名称").fill(BUDGET);
  await expect(budgetForm.getByLabel("对象", { exact: true })).toHaveValue("account");
  await budgetForm.getByLabel("对象 ID").fill(ACCOUNT.id);
  await budgetForm.getByLabel("周期").selectOption("day");
  await budgetForm.getByLabel("预算额").fill("ten");
  await budgetForm.getByLabel("告警百分比").fill("80");
  await page.getByTestId("budget-form-channels").getByLabel(CHANNEL).check();
  await page.getByTestId("budget-save").click();
  await expect(page.locator("#budget-form-amount-error")).toContainText("must be");
  await expect(budgetForm.getByLabel("预算额")).toHaveAttribute("aria-invalid", "true");
  await budgetForm.getByLabel("预算额").fill("10");
  await page.getByTestId("budget-save").click();
  await expect(page.getByTestId("budget-form")).toHaveCount(0);
  const budget = page.locator(`[data-budget-name="${BUDGET}"]`);
  await expect(budget.getByTestId("budget-bar")).toHaveAttribute("data-percent", "0.0");
  await expect(budget.getByTestId("budget-rule")).toHaveText(["80%"]);

  // $8.50 of usage today: 85 % of the budget.
  const res = await request.post("/admin/usage", {
    headers: auth(),
    data: {
      events: [
        {
          requestId: `alert-${run}-1`,
          occurredAt: new Date().toISOString(),
          accountId: ACCOUNT.id,
          apiKeyId: `alert-key-${run}`,
          model: "claude-sonnet-4-5",
          inputTokens: 1000,
          outputTokens: 200,
          cacheCreateTokens: 0,
          cacheReadTokens: 0,
          cost: "8.5",
        },
      ],
    },
  });
  expect(res.status(), await res.text()).toBe(202);
  expect(((await res.json()) as { data: { accepted: number } }).data.accepted, await res.text()).toBe(1);

  // The budget's rule fires; the page refreshes on its own (CONSOLE_REFRESH_SECONDS = 5).
  await expect(budget.getByTestId("budget-rule")).toHaveAttribute("data-state", "firing", { timeout: 30_000 });
  await expect(budget.getByTestId("budget-bar")).toHaveAttribute("data-percent", "85.0");
  await expect(budget.getByTestId("budget-bar")).toHaveAttribute("data-tone", "warn");

  // The accounts list: the red badge and the bar on the account's row, and in its drawer.
  await page.goto(`/accounts?q=${encodeURIComponent(ACCOUNT.id)}`);
  await waitForHydration(page);
  await expect(page.getByTestId("nav-alerts-count")).toHaveAttribute("data-count", "1");
  const row = page.getByTestId(`account-row-${ACCOUNT.id}`);
  await expect(row.getByTestId("alert-badge")).toHaveAttribute("data-count", "1");
  await expect(row.getByTestId("alert-badge")).toHaveText("告警 1");
  await expect(row.getByTestId("budget-bar")).toHaveAttribute("data-percent", "85.0");
  await row.getByTestId("details-button").click();
  const drawer = page.getByRole("dialog");
  await expect(drawer.getByTestId("drawer-alerts").getByTestId("alert-badge")).toHaveAttribute("data-count", "1");
  await expect(drawer.getByTestId("drawer-alerts").getByTestId("budget-bar")).toHaveAttribute("data-tone", "warn");

  // The history: the transition to firing, its delivery to the channel sent.
  await openTab(page, "history");
  const fired = page.getByTestId("history-item").filter({ hasText: BUDGET }).and(page.locator('[data-kind="firing"]'));
  await expect(fired).toHaveCount(1, { timeout: 20_000 });
  await expect(fired.getByTestId("history-delivery")).toHaveAttribute("data-status", "sent", { timeout: 30_000 });
  await expect(fired.getByTestId("history-delivery")).toContainText(CHANNEL);

  // The receiver: one alert message (the test message aside), firing for the account at 80 %.
  await expect.poll(() => alertMessages().length, { timeout: 20_000 }).toBe(1);
  const [message] = alertMessages();
  expect(message!.kind).toBe("firing");
  expect(message!.alerts.map((a) => [a.subjectId, a.budget?.alertPercent])).toEqual([[ACCOUNT.id, "80"]]);
  // Still one after further evaluations: a firing alert is notified once until its repeat interval.
  await page.reload();
  await waitForHydration(page);
  await expect(fired.getByTestId("history-delivery")).toHaveAttribute("data-status", "sent");
  expect(alertMessages()).toHaveLength(1);

  // Cleanup through the console: the budget (and its rule), then the channel.
  await openTab(page, "budgets");
  await budget.getByTestId("budget-delete").click();
  await expect(budget).toHaveCount(0);
  await openTab(page, "channels");
  await channel.getByRole("button", { name: `删除 ${CHANNEL}` }).click();
  await expect(channel).toHaveCount(0);
});
