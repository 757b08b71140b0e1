import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { bearerHeader } from "@/server/auth/testing";
import { setRuntime, type Runtime } from "@/server/runtime";
import { createTestRuntime, type TestRuntime } from "@/server/testing/runtime";
import { makeEvents } from "@/server/usage/usage.fixtures";
import * as accounts from "../accounts/route";
import * as accountById from "../accounts/[id]/route";
import * as apiKeys from "../api-keys/route";
import * as apiKeyById from "../api-keys/[id]/route";
import * as usage from "./route";

vi.mock("server-only", () => ({}));

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

function send(handler: Handler, opts: { method?: string; path?: string; auth?: string; json?: unknown; raw?: string; type?: string; params?: Record<string, string> } = {}) {
  const headers: Record<string, string> = {};
  if (opts.auth) headers.authorization = opts.auth;
  let body: string | undefined;
  if (opts.json !== undefined || opts.raw !== undefined) {
    headers["content-type"] = opts.type ?? "application/json";
    body = opts.raw ?? JSON.stringify(opts.json);
  }
  const req = new NextRequest(`http://localhost${opts.path ?? "/admin/usage"}`, { method: opts.method ?? "POST", headers, body });
  return handler(req, { params: Promise.resolve(opts.params ?? {}) });
}

describe("REST: /admin/usage, /admin/accounts, /admin/api-keys", () => {
  let ledger: TestRuntime;
  let runtime: Runtime;
  let writer: string;
  let reader: string;
  beforeAll(async () => {
    ledger = await createTestRuntime();
    runtime = ledger.runtime;
    setRuntime(runtime);
    writer = await bearerHeader(runtime, "usage:write");
    reader = await bearerHeader(runtime, "usage:read");
  });
  afterAll(async () => {
    setRuntime(undefined);
    await ledger?.close();
  });

  it("POST /admin/usage answers 202 with accepted, duplicates and rejected by index", async () => {
    const events = makeEvents({ count: 4, seed: 70, idPrefix: "rest" });
    const res = await send(usage.POST, { auth: writer, json: { events: [...events, { ...events[0], inputTokens: -3 }] } });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      success: true,
      data: { accepted: 4, duplicates: 0, rejected: [{ index: 4, code: "INVALID_FIELD", message: "inputTokens: must be a non-negative integer" }] },
    });
    const again = await send(usage.POST, { auth: writer, json: { events } });
    expect((await again.json()).data).toEqual({ accepted: 0, duplicates: 4, rejected: [] });
  });

  it("refuses bodies that are not JSON, not of the shape, or too large", async () => {
    const notJson = await send(usage.POST, { auth: writer, raw: "{events:" });
    expect(notJson.status).toBe(400);
    expect((await notJson.json()).error).toMatchObject({ code: "BAD_REQUEST", message: "Request body is not valid JSON" });

    const empty = await send(usage.POST, { auth: writer, json: { events: [] } });
    expect(empty.status).toBe(400);
    expect((await empty.json()).error).toMatchObject({ code: "BAD_REQUEST", issues: [{ path: "events", message: "must contain at least 1 event" }] });

    const tooMany = await send(usage.POST, { auth: writer, json: { events: new Array(1001).fill({}) } });
    expect(tooMany.status).toBe(400);
    expect((await tooMany.json()).error.issues[0]).toMatchObject({ path: "events" });

    const wrongShape = await send(usage.POST, { auth: writer, json: [{ requestId: "x" }] });
    expect(wrongShape.status).toBe(400);

    const extra = await send(usage.POST, { auth: writer, json: { events: [{}], more: 1 } });
    expect(extra.status).toBe(400);

    const huge = await send(usage.POST, { auth: writer, raw: JSON.stringify({ events: [{ metadata: { x: "y".repeat(1024 * 1024) } }] }) });
    expect(huge.status).toBe(413);

    const text = await send(usage.POST, { auth: writer, raw: "{}", type: "text/plain" });
    expect(text.status).toBe(415);
  });

  it("needs a token with usage:write to record, usage:read to list", async () => {
    expect((await send(usage.POST, { json: { events: [{}] } })).status).toBe(401);
    expect((await send(usage.POST, { auth: reader, json: { events: [{}] } })).status).toBe(403);
    expect((await send(accounts.GET, { method: "GET", path: "/admin/accounts", auth: reader })).status).toBe(200);
    expect((await send(accountById.PUT, { method: "PUT", auth: reader, json: { name: "x" }, params: { id: "a" } })).status).toBe(403);
  });

  it("PUT, GET and DELETE accounts and API keys; the key hash never comes back", async () => {
    const hash = "ab".repeat(32);
    const put = await send(accountById.PUT, { method: "PUT", auth: writer, json: { name: "Team A", platform: "claude" }, params: { id: "acc-rest" } });
    expect(put.status).toBe(200);
    expect((await put.json()).data).toMatchObject({ id: "acc-rest", name: "Team A", platform: "claude", status: "active" });
    const key = await send(apiKeyById.PUT, { method: "PUT", auth: writer, json: { name: "K", accountId: "acc-rest", hashedKey: hash }, params: { id: "key-rest" } });
    expect(key.status).toBe(200);
    expect(await key.text()).not.toContain(hash);

    const listed = await send(accounts.GET, { method: "GET", path: "/admin/accounts?search=acc-rest&pageSize=10", auth: reader });
    expect(await listed.json()).toMatchObject({ success: true, data: [{ id: "acc-rest" }], pagination: { page: 1, pageSize: 10, total: 1, totalPages: 1 } });
    const keys = await send(apiKeys.GET, { method: "GET", path: "/admin/api-keys?accountId=acc-rest", auth: reader });
    const keysText = await keys.text();
    expect(keysText).not.toContain(hash);
    expect(JSON.parse(keysText)).toMatchObject({ data: [{ id: "key-rest", hasHashedKey: true }] });

    const badQuery = await send(accounts.GET, { method: "GET", path: "/admin/accounts?pageSize=1000", auth: reader });
    expect(badQuery.status).toBe(400);
    expect((await badQuery.json()).error.issues[0]).toMatchObject({ path: "pageSize" });
    const badBody = await send(apiKeyById.PUT, { method: "PUT", auth: writer, json: { hashedKey: "cr_plainsecretkey" }, params: { id: "key-rest" } });
    expect(badBody.status).toBe(400);
    expect(await badBody.text()).not.toContain("cr_plainsecretkey");

    expect((await send(apiKeyById.DELETE, { method: "DELETE", auth: writer, params: { id: "key-rest" } })).status).toBe(200);
    expect((await send(accountById.DELETE, { method: "DELETE", auth: writer, params: { id: "acc-rest" } })).status).toBe(200);
    expect((await send(accountById.DELETE, { method: "DELETE", auth: writer, params: { id: "missing" } })).status).toBe(404);
    const after = await send(accounts.GET, { method: "GET", path: "/admin/accounts?search=acc-rest", auth: reader });
    expect((await after.json()).data).toEqual([]);
  });
});
