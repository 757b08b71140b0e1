import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as listRoute } from "@/app/admin/accounts/usage-stats/route";
import { POST as usageRoute } from "@/app/admin/usage/route";
import { GET as metricsRoute } from "@/app/metrics/route";
import { createApiToken } from "../auth/token.service";
import { setRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { Drainer } from "../usage/drainer";
import { makeEvents } from "../usage/usage.fixtures";
import { routeLabel } from "./metrics";

vi.mock("server-only", () => ({}));

/**
 * GET /metrics on real PostgreSQL and Redis: only a metrics (or admin) credential reads it, and
 * its counters move by exactly what was recorded, drained and asked.
 */

let t: TestRuntime;
let runtime: Runtime;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  t = await createTestRuntime({ USAGE_TIMEZONE: "Asia/Shanghai" });
  runtime = t.runtime;
  setRuntime(runtime);
  for (const scope of ["metrics", "usage:write", "usage:read"] as const) tokens[scope] = (await createApiToken(runtime, { name: `m-${scope}`, scope })).token;
});

afterAll(async () => {
  setRuntime(undefined);
  await t?.close();
});

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
function call(handler: Handler, url: string, token: string | undefined, init: { method?: string; body?: unknown } = {}): Promise<Response> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  if (init.body) headers["content-type"] = "application/json";
  return handler(new NextRequest(`http://localhost${url}`, { method: init.method ?? "GET", headers, body: init.body ? JSON.stringify(init.body) : undefined }), { params: Promise.resolve({}) });
}

/** `name{labels} value` lines of the text format → value by series (labels as written). */
async function scrape(): Promise<Map<string, number>> {
  const res = await call(metricsRoute, "/metrics", tokens.metrics);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
  const out = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m) out.set(`${m[1]}${(m[2] ?? "").replace(/,?app="usage-breakdown"/, "").replace("{,", "{").replace("{}", "")}`, Number(m[3]));
  }
  return out;
}

const delta = (after: Map<string, number>, before: Map<string, number>, series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);

describe("GET /metrics", () => {
  it("is never anonymous, and a metrics token reads nothing else", async () => {
    expect((await call(metricsRoute, "/metrics", undefined)).status).toBe(401);
    expect((await call(metricsRoute, "/metrics", tokens["usage:read"])).status).toBe(403);
    expect((await call(listRoute, "/admin/accounts/usage-stats", tokens.metrics)).status).toBe(403);
  });

  it("counts accepted, duplicate and rejected events, the outbox, drain batches, reads and request durations", async () => {
    const before = await scrape();
    const events = makeEvents({ count: 30, seed: 7, idPrefix: "metrics" });
    const bad = { ...events[0], requestId: "bad", inputTokens: -1 };
    const res = await call(usageRoute, "/admin/usage", tokens["usage:write"], { method: "POST", body: { events: [...events, events[0], events[1], bad] } });
    expect(res.status).toBe(202);
    expect((await res.json()).data).toMatchObject({ accepted: 30, duplicates: 2 });
    const recorded = await scrape();
    expect(delta(recorded, before, 'ub_usage_events_total{result="accepted"}')).toBe(30);
    expect(delta(recorded, before, 'ub_usage_events_total{result="duplicate"}')).toBe(2);
    expect(delta(recorded, before, 'ub_usage_events_total{result="rejected"}')).toBe(1);
    // Nothing drains in this test's runtime until the drainer below: the batch waits in the outbox.
    expect(recorded.get("ub_outbox_length")).toBe(1);
    expect(recorded.get('ub_store_up{store="postgres"}')).toBe(1);
    expect(recorded.get('ub_store_up{store="redis"}')).toBe(1);
    expect(delta(recorded, before, 'ub_http_request_duration_seconds_count{route="/admin/usage",method="POST",status="202"}')).toBe(1);

    const drainer = new Drainer(runtime.config, runtime.db!);
    try {
      expect(await drainer.drainAll()).toMatchObject({ inserted: 30 });
    } finally {
      await drainer.stop({ forget: true });
    }
    expect((await call(listRoute, "/admin/accounts/usage-stats", tokens["usage:read"])).status).toBe(200);
    const drained = await scrape();
    expect(delta(drained, recorded, "ub_drain_inserted_total")).toBe(30);
    expect(delta(drained, recorded, "ub_drain_batch_events_count")).toBe(1);
    expect(delta(drained, recorded, "ub_drain_batch_events_sum")).toBe(32);
    expect(delta(drained, recorded, "ub_drain_write_duration_seconds_count")).toBe(1);
    expect(drained.get("ub_outbox_length")).toBe(0);
    expect(delta(drained, recorded, 'ub_stats_reads_total{source="postgres"}')).toBe(1);
    expect(delta(drained, recorded, 'ub_http_request_duration_seconds_count{route="/admin/accounts/usage-stats",method="GET",status="200"}')).toBe(1);
    expect(drained.get("ub_health_status")).toBe(0);
    expect(drained.has("ub_process_resident_memory_bytes")).toBe(true);
  });

  it("labels requests by route template, never by id", () => {
    expect(routeLabel("/admin/accounts/acc-1/usage-stats")).toBe("/admin/accounts/:id/usage-stats");
    expect(routeLabel("/admin/accounts/usage-stats")).toBe("/admin/accounts/usage-stats");
    expect(routeLabel("/admin/api-keys/k%2F1")).toBe("/admin/api-keys/:id");
    expect(routeLabel("/admin/tokens/t-9")).toBe("/admin/tokens/:id");
    expect(routeLabel("/admin/accounts")).toBe("/admin/accounts");
    expect(routeLabel("/admin/alerts/rules/6b1f3c2a-8d4e-4f5a-9b7c-1e2d3f4a5b6c/enable")).toBe("/admin/alerts/rules/:id/enable");
    expect(routeLabel("/admin/alerts/budgets/9d8c7b6a-5f4e-4d3c-8b2a-1f0e9d8c7b6a")).toBe("/admin/alerts/budgets/:id");
    expect(routeLabel("/admin/alerts/silences/4e3d2c1b-0a9f-4e8d-9c7b-6a5f4e3d2c1b")).toBe("/admin/alerts/silences/:id");
    expect(routeLabel("/admin/alerts/rules")).toBe("/admin/alerts/rules");
  });
});
