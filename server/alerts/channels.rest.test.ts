import { createHmac } from "node:crypto";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as channelById from "@/app/admin/alerts/channels/[id]/route";
import * as channelTest from "@/app/admin/alerts/channels/[id]/test/route";
import * as channels from "@/app/admin/alerts/channels/route";
import * as deliveries from "@/app/admin/alerts/deliveries/route";
import { bearerHeader } from "../auth/testing";
import { setRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";

/**
 * The channels' REST routes end to end: created with a generated webhook secret shown once, listed
 * without secrets, a test message signed with that secret and received by a local receiver, the
 * delivery and its attempt listed, a metadata address refused when sending, scopes, 404 after delete.
 */

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
type Body = { success: boolean; data?: Record<string, unknown> & { items?: unknown[] }; error?: { code: string; message: string } };

let t: TestRuntime;
let runtime: Runtime;
let admin: string;
let reader: string;
let receiver: Server;
let receiverUrl: string;
const received: { headers: IncomingMessage["headers"]; body: string }[] = [];

async function call(handler: Handler, opts: { path: string; method?: string; auth?: string; json?: unknown; params?: Record<string, string> }) {
  const headers: Record<string, string> = { authorization: opts.auth ?? admin };
  if (opts.json !== undefined) headers["content-type"] = "application/json";
  const res = await handler(new NextRequest(`http://localhost${opts.path}`, { method: opts.method ?? "GET", headers, body: opts.json === undefined ? undefined : JSON.stringify(opts.json) }), {
    params: Promise.resolve(opts.params ?? {}),
  });
  return { status: res.status, body: (await res.json()) as Body };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      received.push({ headers: req.headers, body });
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/usage-token-abcd1234`;
  t = await createTestRuntime({ ALERT_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32", ALERT_DELIVERY_TIMEOUT_MS: "15000" });
  runtime = t.runtime;
  setRuntime(runtime);
  admin = await bearerHeader(runtime, "admin");
  reader = await bearerHeader(runtime, "usage:read");
});

afterAll(async () => {
  setRuntime(undefined);
  await t?.close();
  await new Promise((resolve) => receiver?.close(resolve));
});

describe("channels over REST", () => {
  it("create → list without secrets → test message signed → delivery listed → update → delete", async () => {
    const created = await call(channels.POST, { path: "/admin/alerts/channels", method: "POST", json: { kind: "webhook", name: "ops hook", language: "en", url: receiverUrl } });
    expect(created.status).toBe(201);
    const secret = created.body.data!.generatedSecret as string;
    expect(secret).toMatch(/^\S{32,}$/);
    const channel = created.body.data!.channel as { id: string; kind: string; targetHint: string };
    expect(channel).toMatchObject({ kind: "webhook", name: "ops hook", language: "en", enabled: true });

    const list = await call(channels.GET, { path: "/admin/alerts/channels", auth: reader });
    expect(list.status).toBe(200);
    const listed = JSON.stringify(list.body.data);
    expect(listed).toContain(channel.id);
    expect(listed).not.toContain(secret);
    expect(listed).not.toContain("usage-token-abcd1234");

    const sent = await call(channelTest.POST, { path: `/admin/alerts/channels/${channel.id}/test`, method: "POST", params: { id: channel.id } });
    expect(sent.status).toBe(200);
    expect(sent.body.data).toMatchObject({ ok: true, httpStatus: 200, error: null });
    expect(received).toHaveLength(1);
    const [msg] = received;
    const expected = `v1=${createHmac("sha256", secret).update(`${msg!.headers["x-usage-alert-timestamp"]}.${msg!.body}`, "utf8").digest("hex")}`;
    expect(msg!.headers["x-usage-alert-signature"]).toBe(expected);
    expect(JSON.parse(msg!.body)).toMatchObject({ version: 1, kind: "test", language: "en", rule: null, alerts: [] });

    const page = await call(deliveries.GET, { path: `/admin/alerts/deliveries?channelId=${channel.id}`, auth: reader });
    expect(page.status).toBe(200);
    expect(page.body.data!.items).toMatchObject([{ channelId: channel.id, status: "sent", attempts: 1 }]);

    const wrongKind = await call(channelById.PUT, { path: `/admin/alerts/channels/${channel.id}`, method: "PUT", json: { kind: "slack", name: "x" }, params: { id: channel.id } });
    expect(wrongKind.status).toBe(400);
    const renamed = await call(channelById.PUT, { path: `/admin/alerts/channels/${channel.id}`, method: "PUT", json: { kind: "webhook", name: "ops hook 2" }, params: { id: channel.id } });
    expect(renamed.status).toBe(200);
    expect(renamed.body.data).toMatchObject({ channel: { name: "ops hook 2" }, generatedSecret: null });

    const forbidden = await call(channelById.DELETE, { path: `/admin/alerts/channels/${channel.id}`, method: "DELETE", auth: reader, params: { id: channel.id } });
    expect(forbidden.status).toBe(403);
    const deleted = await call(channelById.DELETE, { path: `/admin/alerts/channels/${channel.id}`, method: "DELETE", params: { id: channel.id } });
    expect(deleted).toEqual({ status: 200, body: expect.objectContaining({ success: true, data: { rulesUpdated: 0 } }) });
    expect((await call(channelById.GET, { path: `/admin/alerts/channels/${channel.id}`, params: { id: channel.id } })).status).toBe(404);
  });

  it("a channel pointed at the cloud metadata address is refused when sending, and says so", async () => {
    const hook = await call(channels.POST, { path: "/admin/alerts/channels", method: "POST", json: { kind: "webhook", name: "evil", url: "http://169.254.169.254/latest/meta-data/" } });
    expect(hook.status).toBe(201);
    const id = (hook.body.data!.channel as { id: string }).id;
    const before = received.length;
    const sent = await call(channelTest.POST, { path: `/admin/alerts/channels/${id}/test`, method: "POST", params: { id } });
    expect(sent.body.data).toMatchObject({ ok: false, httpStatus: null });
    expect(String(sent.body.data!.error)).toMatch(/169\.254\.169\.254/);
    expect(received.length).toBe(before);
  });
});
