/**
 * A request example per route of the API docs page (by operationId): the query string and JSON body
 * to show in its curl command. zh-CN.test.ts checks every route has one and that each example
 * passes the route's own input schema, so the page never shows a request the server would refuse.
 */
export interface RouteExample {
  /** Path parameters, e.g. { id: "acc-1" }. */
  params?: Record<string, string>;
  /** The query string without "?". */
  query?: string;
  body?: unknown;
}

export const EXAMPLES: Record<string, RouteExample> = {
  getHealth: {},
  postUsage: {
    body: {
      events: [
        {
          requestId: "req-0001",
          occurredAt: "2026-12-07T11:30:00+08:00",
          accountId: "acc-1",
          apiKeyId: "key-1",
          model: "claude-sonnet-4",
          inputTokens: 1200,
          outputTokens: 350,
          cacheCreateTokens: 0,
          cacheReadTokens: 800,
          cost: "0.012345",
          ratedCost: "0.018",
        },
      ],
    },
  },
  getAccounts: { query: "search=acme&pageSize=50" },
  putAccountsId: { params: { id: "acc-1" }, body: { name: "Acme main", platform: "claude", type: "shared", status: "active", priority: 10 } },
  deleteAccountsId: { params: { id: "acc-1" } },
  getAccountsUsageStats: { query: "sort=daily.cost&order=desc&limit=50" },
  getAccountsIdUsageStats: { params: { id: "acc-1" }, query: "range=monthly&month=2026-12" },
  getAccountsIdUsageBreakdown: { params: { id: "acc-1" }, query: "range=monthly&format=csv&headers=zh-CN" },
  getAccountsIdUsageTrend: { params: { id: "acc-1" }, query: "span=today" },
  getApiKeys: { query: "accountId=acc-1" },
  getApiKeysUsageStats: { query: "range=monthly&sort=cost&order=desc&limit=50" },
  putApiKeysId: { params: { id: "key-1" }, body: { name: "Team A", accountId: "acc-1", status: "active", dailyCostLimit: "50" } },
  deleteApiKeysId: { params: { id: "key-1" } },
  postAuthLogin: { body: { username: "admin", password: "<password>" } },
  postAuthLogout: {},
  getAuthMe: {},
  postAuthPassword: { body: { currentPassword: "<current password>", newPassword: "<a new password of 12+ characters>" } },
  getTokens: {},
  postTokens: { body: { name: "relay writer", scope: "usage:write" } },
  deleteTokens: {},
  deleteTokensId: { params: { id: "3f2b8c1e-5d4a-4e7b-9c6d-2a1f0e9b8c7d" } },
  getAlertsOverview: { query: "accountIds=acc-1,acc-2" },
  getAlertsHistory: { query: "ruleId=6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c&kind=firing&limit=50" },
  getAlertsRules: {},
  postAlertsRules: {
    body: {
      name: "acc-1 over $50 in 5 h",
      subject: { kind: "account", id: "acc-1" },
      measure: "cost",
      window: { kind: "hours", size: 5 },
      condition: { type: "above", amount: "50" },
      forSeconds: 300,
      channelIds: ["0c7e5a9d-3b2f-4e1a-8c6d-5f4e3d2c1b0a"],
    },
  },
  getAlertsRulesId: { params: { id: "6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c" } },
  putAlertsRulesId: {
    params: { id: "6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c" },
    body: {
      name: "Any key spiking today",
      subject: { kind: "each_api_key" },
      measure: "cost",
      window: { kind: "today" },
      condition: { type: "spike", factor: "3", days: 7, minimum: "5" },
      repeatSeconds: 14400,
    },
  },
  deleteAlertsRulesId: { params: { id: "6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c" } },
  postAlertsRulesIdEnable: { params: { id: "6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c" } },
  postAlertsRulesIdDisable: { params: { id: "6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c" } },
  getAlertsBudgets: {},
  postAlertsBudgets: {
    body: { name: "acc-1 monthly", subject: { kind: "account", id: "acc-1" }, period: "month", amount: "500", alertPercents: ["80", "100"] },
  },
  putAlertsBudgetsId: {
    params: { id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a" },
    body: { name: "acc-1 monthly", subject: { kind: "account", id: "acc-1" }, measure: "cost", period: "month", amount: "800" },
  },
  deleteAlertsBudgetsId: { params: { id: "9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a" } },
  getAlertsSilences: {},
  postAlertsSilences: { body: { ruleId: "6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c", endsAt: "2026-12-08T09:00:00+08:00", comment: "maintenance tonight" } },
  deleteAlertsSilencesId: { params: { id: "4e3d2c1b-0a9f-4e8d-9c7b-6a5f4e3d2c1b" } },
  getAlertsChannels: {},
  postAlertsChannels: {
    body: { kind: "dingtalk", name: "运维群", language: "zh-CN", url: "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef", secret: "SEC0123456789abcdef0123456789abcdef" },
  },
  getAlertsChannelsId: { params: { id: "0c7e5a9d-3b2f-4e1a-8c6d-5f4e3d2c1b0a" } },
  putAlertsChannelsId: { params: { id: "0c7e5a9d-3b2f-4e1a-8c6d-5f4e3d2c1b0a" }, body: { kind: "dingtalk", name: "运维群（夜间）", enabled: true } },
  deleteAlertsChannelsId: { params: { id: "0c7e5a9d-3b2f-4e1a-8c6d-5f4e3d2c1b0a" } },
  postAlertsChannelsIdTest: { params: { id: "0c7e5a9d-3b2f-4e1a-8c6d-5f4e3d2c1b0a" } },
  getAlertsDeliveries: { query: "status=failed&limit=50" },
  getOpenapiJson: {},
};

const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The curl command of a route: Bearer token from $TOKEN (sign-in and sign-out use the session
 * cookie jar instead), JSON bodies indented (a shell's single quotes span lines).
 */
export function curlOf(method: string, path: string, scope: string | undefined, example: RouteExample, origin: string): string {
  const filled = path.replace(/\{(\w+)\}/g, (_, name: string) => encodeURIComponent(example.params?.[name] ?? `<${name}>`));
  const url = `${origin}${filled}${example.query ? `?${example.query}` : ""}`;
  const lines = [`curl -sS${method === "get" ? "" : ` -X ${method.toUpperCase()}`} ${quote(url)}`];
  // The session routes check that a cookie-carrying request comes from this site.
  if (scope === "public") lines.push(`-H ${quote(`Origin: ${origin}`)} -c cookies.txt -b cookies.txt`);
  else lines.push(`-H "Authorization: Bearer $TOKEN"`);
  if (example.body !== undefined) {
    lines.push(`-H 'Content-Type: application/json'`);
    lines.push(`-d ${quote(JSON.stringify(example.body, null, 2))}`);
  }
  return lines.join(" \\\n  ");
}
