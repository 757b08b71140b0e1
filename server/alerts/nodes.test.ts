import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRuntime, type Runtime } from "../runtime";
import { waitFor } from "../testing/servers";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { insertEvents, type TestEvent } from "../usage-stats/stats.fixtures";
import { recordUsage } from "../usage/usage.service";
import { createRule } from "./alerts.service";
import { startAlertsBackground, type AlertsBackground } from "./background";
import { createChannel } from "./channels.service";
import { createChannelInput } from "./channels.schemas";
import { createRuleInput } from "./schemas";

/**
 * Two app nodes and a worker — three runtimes with their own pools on one database, each running
 * the alerts' background work as `npm start` and `npm run worker` do (evaluator every second,
 * delivery loop) — against local receivers: a notification reaches its channel once, and a
 * receiver that hangs holds up neither evaluation nor ingest. Waits are on conditions (the
 * evaluators' finished rounds, the receivers' counts), never on time.
 */

const TZ = "Asia/Shanghai";
let database: TestDatabase;
const nodes: { runtime: Runtime; background: AlertsBackground }[] = [];
let ok: Server;
let hang: Server;
const okBodies: string[] = [];
const hanging: ServerResponse[] = [];
let seq = 0;

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook` };
}

/** Until every node has finished `n` more evaluation rounds than now. */
async function rounds(n: number): Promise<void> {
  const start = nodes.map((x) => x.background.evaluator!.rounds);
  await waitFor(() => nodes.every((x, i) => x.background.evaluator!.rounds >= start[i]! + n), `${n} more rounds on every node`, 60_000, 50);
}

function ev(accountId: string, cost: string): TestEvent {
  return { requestId: `n-${++seq}`, occurredAt: new Date().toISOString(), accountId, apiKeyId: `key-${accountId}`, model: "m", inputTokens: 1, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost };
}

beforeAll(async () => {
  ({ server: ok } = await listen((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString("utf8")));
    req.on("end", () => {
      okBodies.push(body);
      res.writeHead(200).end("ok");
    });
  }));
  ({ server: hang } = await listen((req, res) => {
    req.resume();
    hanging.push(res);
  }));
  database = await createTestDatabase({ migrated: true });
  const prefix = `ub_nodes_${Date.now().toString(36)}:`;
  for (let i = 0; i < 3; i++) {
    const config = testConfig({
      DATABASE_URL: database.url,
      REDIS_KEY_PREFIX: prefix,
      USAGE_TIMEZONE: TZ,
      ALERT_EVALUATE_SECONDS: "1",
      ALERT_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32",
      // Long enough that a hanging receiver is still hanging when ingest is done.
      ALERT_DELIVERY_TIMEOUT_MS: "60000",
    });
    const runtime = await createRuntime(config, { ownDatabase: true });
    nodes.push({ runtime, background: startAlertsBackground(runtime) });
  }
  await nodes[0]!.runtime.db!.db.insertInto("accounts").values([{ id: "acc-a", name: "A" }, { id: "acc-b", name: "B" }]).execute();
}, 60_000);

afterAll(async () => {
  // The hanging receiver lets go first, so that the delivery loops' stop() has nothing to wait for.
  for (const res of hanging) res.destroy();
  hang?.closeAllConnections();
  for (const n of nodes) await n.background.stop().catch(() => {});
  for (const n of nodes) await n.runtime.close().catch(() => {});
  await new Promise((r) => ok?.close(r));
  await new Promise((r) => hang?.close(r));
  if (nodes[0]) await dropRedisPrefix(nodes[0].runtime.config.redisKeyPrefix).catch(() => {});
  await database?.drop();
}, 60_000);

describe("alerts on several nodes", () => {
  it("two app nodes and a worker send each notification once", async () => {
    const runtime = nodes[1]!.runtime;
    const { channel } = await createChannel(runtime, createChannelInput.parse({ kind: "webhook", name: "ok", url: `${(await urlOf(ok))}`, secret: "s".repeat(32) }));
    await createRule(runtime, createRuleInput.parse({ name: "A over $1", subject: { kind: "account", id: "acc-a" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" }, channelIds: [channel.id] }));
    await insertEvents(runtime.db!.db, [ev("acc-a", "3")], TZ);
    await waitFor(() => okBodies.length >= 1, "the first message", 60_000, 50);
    // Every node has evaluated (or stood by) three more times since: still one message.
    await rounds(3);
    const db = runtime.db!.db;
    await waitFor(async () => (await db.selectFrom("alert_deliveries").select("id").where("status", "in", ["pending", "sending"]).execute()).length === 0, "no delivery left to send", 60_000, 50);
    expect(okBodies).toHaveLength(1);
    expect(JSON.parse(okBodies[0]!)).toMatchObject({ kind: "firing", alerts: [{ subjectId: "acc-a", value: "3", threshold: "1" }] });
    expect(await db.selectFrom("alert_notifications").select("kind").execute()).toEqual([{ kind: "firing" }]);
    expect(await db.selectFrom("alert_deliveries").select(["status", "attempts"]).execute()).toEqual([{ status: "sent", attempts: 1 }]);
    // The lease: one node evaluated all along.
    const lease = await db.selectFrom("alert_leases").select("owner").executeTakeFirstOrThrow();
    expect(nodes.filter((n) => n.background.evaluator!.owner === lease.owner)).toHaveLength(1);
  });

  it("a receiver that hangs holds up neither evaluation nor ingest", async () => {
    const runtime = nodes[0]!.runtime;
    const { channel } = await createChannel(runtime, createChannelInput.parse({ kind: "webhook", name: "hang", url: await urlOf(hang), secret: "h".repeat(32) }));
    await createRule(runtime, createRuleInput.parse({ name: "B over $1", subject: { kind: "account", id: "acc-b" }, measure: "cost", window: { kind: "today" }, condition: { type: "above", amount: "1" }, channelIds: [channel.id] }));
    await insertEvents(runtime.db!.db, [ev("acc-b", "2")], TZ);
    await waitFor(() => hanging.length === 1, "the hanging receiver to hold a request", 60_000, 50);
    // While it hangs: events are recorded on every node, and every node keeps evaluating.
    for (const [i, n] of nodes.entries()) {
      const events = Array.from({ length: 20 }, () => ({ ...ev("acc-a", "0.01"), requestId: `ingest-${i}-${++seq}` }));
      expect(await recordUsage(n.runtime, { events })).toMatchObject({ accepted: 20 });
    }
    await rounds(2);
    expect(hanging.filter((r) => !r.writableEnded && !r.destroyed)).toHaveLength(1);
    const db = runtime.db!.db;
    expect(await db.selectFrom("alert_deliveries").select("status").where("channel_id", "=", channel.id).execute()).toEqual([{ status: "sending" }]);
  });
});

async function urlOf(server: Server): Promise<string> {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
}
