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
