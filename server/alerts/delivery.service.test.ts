import { createHmac } from "node:crypto";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { metrics } from "../metrics/metrics";
import { createRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { waitFor } from "../testing/servers";
import { createChannel, deleteChannel } from "./channels.service";
import type { CreateChannelInput } from "./channels.schemas";
import { budgetPayload, startReceiver, tokensPayload, type Answer, type Receiver, type Received } from "./channels/receiver.fixtures";
import { insertNotification } from "./deliveries.repository";
import { DeliveryLoop, enqueueDeliveries, listDeliveries, retryDelaySeconds } from "./delivery.service";
import type { NotificationPayload } from "./notification";

/**
 * Deliveries on a real PostgreSQL, to local receivers (allowed by ALERT_ALLOW_PRIVATE_TARGETS),
 * with an injected clock: each channel's request byte for byte with its signature checked by the
 * channel's documented algorithm, retries, time-outs, giving up, and two loops sharing the work.
 */

const T0 = Date.parse("2026-12-07T06:00:00.000Z");
const clock = { t: T0, now: () => clock.t };
let t: TestRuntime;
let runtime: Runtime;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await createTestRuntime({
    ALERT_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32",
    // Generous: a busy machine must not turn a receiver that answers into a timeout. The tests
    // of a hanging receiver use their own short one (impatient below).
    ALERT_DELIVERY_TIMEOUT_MS: "10000",
    ALERT_DELIVERY_MAX_ATTEMPTS: "3",
    ALERT_RETRY_BASE_SECONDS: "10",
    ALERT_SECRETS_KEY: Buffer.alloc(32, 7).toString("base64"),
    PUBLIC_URL: "https://usage.example.com",
  });
  runtime = t.runtime;
});

afterAll(async () => {
  await t?.close();
});

afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
  clock.t = T0;
  await sql`TRUNCATE alert_notifications, alert_deliveries, alert_delivery_attempts, alert_channels CASCADE`.execute(runtime.db!.db);
});

async function receiver(answer: (r: Received, i: number) => Answer): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

/** What the evaluator does: the notification row and its deliveries in one transaction. */
async function notify(payload: NotificationPayload, channels: { id: string; name: string }[]): Promise<number[]> {
  return runtime.db!.db.transaction().execute(async (tx) => {
    const id = await insertNotification(tx, { ruleId: null, kind: payload.kind, payload, createdAt: new Date(clock.now()) });
    return enqueueDeliveries(tx, id, channels, new Date(clock.now()));
  });
}

async function channel(input: CreateChannelInput) {
  return (await createChannel(runtime, input)).channel;
}

async function deliveryRows() {
  return runtime.db!.db.selectFrom("alert_deliveries").select(["id", "status", "attempts", "next_attempt_at", "last_error", "sent_at"]).orderBy("id").execute();
}

const hex = (key: string, data: string) => createHmac("sha256", key).update(data).digest("hex");
const b64 = (key: string, data: string) => createHmac("sha256", key).update(data).digest("base64");

describe("each channel's request, byte for byte", () => {
  it("generic webhook: the documented JSON body, signed over `${timestamp}.${body}`", async () => {
    const r = await receiver(() => ({ status: 204 }));
    const secret = "whsec_test_0123456789abcdef";
    const ch = await channel({ kind: "webhook", name: "Ops webhook", language: "en", enabled: true, url: `${r.origin}/hooks/usage?team=ops`, secret });
    const payload = budgetPayload();
    const [deliveryId] = await notify(payload, [ch]);
    const { notification_id: notificationId } = await runtime.db!.db.selectFrom("alert_deliveries").select("notification_id").where("id", "=", deliveryId!).executeTakeFirstOrThrow();
    clock.t = T0 + 1500;
    expect(await new DeliveryLoop(runtime, { clock }).runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });

    expect(r.received).toHaveLength(1);
    const got = r.received[0]!;
    const body = JSON.stringify({
      version: 1,
      id: notificationId,
      deliveryId,
      kind: "firing",
      at: "2026-12-07T06:00:00.000Z",
      language: "en",
      title: "[FIRING] Monthly budget · Account Claude Max 01",
      text: [
        "[FIRING] Monthly budget · Account Claude Max 01",
        "Rule “Monthly budget”: cost, this month",
        "",
        "Account Claude Max 01",
        "Value: $1,234.57",
        "Condition: 82.3% of budget “Claude pool” ($1,500.00) used; alert at 80%",
        "Since: 2026-12-07 05:59 UTC",
        "Open in the console: https://usage.example.com/accounts?account=acc-1&range=month",
        "",
        "Alerts page: https://usage.example.com/alerts",
      ].join("\n"),
      rule: payload.rule,
      alerts: payload.alerts,
      consoleUrl: "https://usage.example.com/alerts",
    });
    expect(got.method).toBe("POST");
    expect(got.url).toBe("/hooks/usage?team=ops");
    expect(got.body).toBe(body);
    expect(got.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(got.headers["content-length"]).toBe(String(Buffer.byteLength(body)));
    expect(got.headers["user-agent"]).toBe("account-usage-breakdown-alerts/1");
    expect(got.headers["x-usage-alert-id"]).toBe(String(deliveryId));
    expect(got.headers["x-usage-alert-timestamp"]).toBe(String((T0 + 1500 - 500) / 1000));
    expect(got.headers["x-usage-alert-signature"]).toBe(`v1=${hex(secret, `${got.headers["x-usage-alert-timestamp"]}.${got.body}`)}`);
  });

  it("DingTalk: markdown, signed with timestamp (ms) and sign in the URL", async () => {
    const r = await receiver(() => ({ status: 200, body: '{"errcode":0,"errmsg":"ok"}' }));
    const secret = "SECd1ngta1k0123456789";
    const ch = await channel({ kind: "dingtalk", name: "钉钉值班群", language: "zh-CN", enabled: true, url: `${r.origin}/robot/send?access_token=dt-token-123`, secret });
    await notify(budgetPayload(), [ch]);
    clock.t = T0 + 123;
    expect((await new DeliveryLoop(runtime, { clock }).runOnce()).sent).toBe(1);

    const got = r.received[0]!;
    const ts = String(T0 + 123);
    const sign = b64(secret, `${ts}\n${secret}`);
    expect(got.url).toBe(`/robot/send?access_token=dt-token-123&timestamp=${ts}&sign=${encodeURIComponent(sign)}`);
    expect(got.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(got.body).toBe(
      JSON.stringify({
        msgtype: "markdown",
        markdown: {
          title: "【告警】Monthly budget · 账户 Claude Max 01",
          text: [
            "### 【告警】Monthly budget · 账户 Claude Max 01",
            "规则「Monthly budget」:费用,本月",
            "**账户 Claude Max 01**",
            "- 当前值:$1,234.57",
            "- 条件:已用预算「Claude pool」$1,500.00 的 82.3%(告警线 80%)",
            "- 开始于:2026-12-07 05:59 UTC",
            "[在控制台查看](https://usage.example.com/accounts?account=acc-1&range=month)",
            "[告警页面](https://usage.example.com/alerts)",
          ].join("\n\n"),
        },
      }),
    );
  });

  it("Feishu: a post message with timestamp (s) and sign in the body", async () => {
    const r = await receiver(() => ({ status: 200, body: '{"code":0,"msg":"success","data":{}}' }));
    const secret = "fs-sign-secret-0001";
    const ch = await channel({ kind: "feishu", name: "飞书", language: "en", enabled: true, url: `${r.origin}/open-apis/bot/v2/hook/fs-hook-id`, secret });
    await notify(tokensPayload(), [ch]);
    clock.t = T0 + 2999;
    expect((await new DeliveryLoop(runtime, { clock }).runOnce()).sent).toBe(1);

    const got = r.received[0]!;
    const ts = String(Math.floor((T0 + 2999) / 1000));
    expect(got.url).toBe("/open-apis/bot/v2/hook/fs-hook-id");
    const text = (s: string) => [{ tag: "text", text: s }];
    expect(got.body).toBe(
      JSON.stringify({
        timestamp: ts,
        sign: b64(`${ts}\n${secret}`, ""),
        msg_type: "post",
        content: {
          post: {
            en_us: {
              title: "[RESOLVED] 5h tokens · API key ci <bot> & co",
              content: [
                text("Rule “5h tokens”: all tokens, last 5 hours"),
                text(""),
                text("API key ci <bot> & co"),
                text("Value: 9,876,543"),
                text("Condition: above 10,000,000"),
                text("Since: 2026-12-07 03:10 UTC"),
                text("Resolved at: 2026-12-07 06:00 UTC"),
              ],
            },
          },
        },
      }),
    );
  });

  it("Feishu without a signing secret, answered the older way ({StatusCode:0})", async () => {
    const r = await receiver(() => ({ status: 200, body: '{"StatusCode":0,"StatusMessage":"success"}' }));
    const ch = await channel({ kind: "feishu", name: "lark", language: "zh-CN", enabled: true, url: `${r.origin}/open-apis/bot/v2/hook/x1` });
    await notify(budgetPayload(), [ch]);
    expect((await new DeliveryLoop(runtime, { clock }).runOnce()).sent).toBe(1);
    const body = JSON.parse(r.received[0]!.body) as Record<string, unknown>;
    expect(Object.keys(body)).toEqual(["msg_type", "content"]);
  });

  it("WeCom: markdown content at its URL with the key", async () => {
    const r = await receiver(() => ({ status: 200, body: '{"errcode":0,"errmsg":"ok"}' }));
    const ch = await channel({ kind: "wecom", name: "企业微信", language: "zh-CN", enabled: true, url: `${r.origin}/cgi-bin/webhook/send?key=wc-key-0001` });
    await notify(tokensPayload(), [ch]);
    expect((await new DeliveryLoop(runtime, { clock }).runOnce()).sent).toBe(1);

    const got = r.received[0]!;
    expect(got.url).toBe("/cgi-bin/webhook/send?key=wc-key-0001");
    expect(got.body).toBe(
      JSON.stringify({
        msgtype: "markdown",
        markdown: {
          content: [
            "### 【已恢复】5h tokens · API Key ci <bot> & co",
            "规则「5h tokens」:总 tokens,最近 5 小时",
            "**API Key ci <bot> & co**",
            "- 当前值:9,876,543",
            "- 条件:高于 10,000,000",
            "- 开始于:2026-12-07 03:10 UTC",
            "- 恢复于:2026-12-07 06:00 UTC",
          ].join("\n"),
        },
      }),
    );
  });

  it("Slack: mrkdwn sections with &, < and > escaped; 200 \"ok\"", async () => {
    const r = await receiver(() => ({ status: 200, body: "ok", headers: { "content-type": "text/html" } }));
    const ch = await channel({ kind: "slack", name: "slack", language: "en", enabled: true, url: `${r.origin}/services/T000/B000/slack-secret-xyz` });
    await notify(tokensPayload(), [ch]);
    expect((await new DeliveryLoop(runtime, { clock }).runOnce()).sent).toBe(1);

    const got = r.received[0]!;
    expect(got.url).toBe("/services/T000/B000/slack-secret-xyz");
    expect(got.body).toBe(
      JSON.stringify({
        text: "[RESOLVED] 5h tokens · API key ci &lt;bot&gt; &amp; co",
        blocks: [
          { type: "section", text: { type: "mrkdwn", text: "*[RESOLVED] 5h tokens · API key ci &lt;bot&gt; &amp; co*\nRule “5h tokens”: all tokens, last 5 hours" } },
          {
            type: "section",
            text: { type: "mrkdwn", text: "*API key ci &lt;bot&gt; &amp; co*\nValue: 9,876,543\nCondition: above 10,000,000\nSince: 2026-12-07 03:10 UTC\nResolved at: 2026-12-07 06:00 UTC" },
          },
        ],
      }),
    );
  });

  it("Telegram: sendMessage in HTML at the configured API base", async () => {
    const r = await receiver(() => ({ status: 200, body: '{"ok":true,"result":{"message_id":1}}' }));
    const botToken = "123456789:AAbbCCddEEffGGhhIIjjKKllMMnnOOppQQ";
    const ch = await channel({ kind: "telegram", name: "tg", language: "zh-CN", enabled: true, botToken, chatId: "-1001234567890", apiBaseUrl: `${r.origin}/tg/` });
    await notify(budgetPayload(), [ch]);
    expect((await new DeliveryLoop(runtime, { clock }).runOnce()).sent).toBe(1);

    const got = r.received[0]!;
    expect(got.url).toBe(`/tg/bot${botToken}/sendMessage`);
    expect(got.body).toBe(
      JSON.stringify({
        chat_id: "-1001234567890",
        text: [
          "<b>【告警】Monthly budget · 账户 Claude Max 01</b>",
          "规则「Monthly budget」:费用,本月",
          "",
          "<b>账户 Claude Max 01</b>",
          "当前值:$1,234.57",
          "条件:已用预算「Claude pool」$1,500.00 的 82.3%(告警线 80%)",
          "开始于:2026-12-07 05:59 UTC",
          '<a href="https://usage.example.com/accounts?account=acc-1&amp;range=month">在控制台查看</a>',
          "",
          '<a href="https://usage.example.com/alerts">告警页面</a>',
        ].join("\n"),
        parse_mode: "HTML",
        link_preview_options: { is_disabled: true },
      }),
    );
  });

  it("judges each kind's refusal as an error, with the receiver's words", async () => {
    const cases: [CreateChannelInput["kind"], Answer, string][] = [
      ["dingtalk", { status: 200, body: '{"errcode":310000,"errmsg":"sign not match"}' }, "DingTalk errcode 310000: sign not match"],
      ["wecom", { status: 200, body: '{"errcode":93000,"errmsg":"invalid webhook url"}' }, "WeCom errcode 93000: invalid webhook url"],
      ["feishu", { status: 200, body: '{"code":19021,"msg":"sign match fail or timestamp is not within one hour from current time"}' }, "Feishu code 19021: sign match fail or timestamp is not within one hour from current time"],
      ["slack", { status: 404, body: "no_service" }, "HTTP 404: no_service"],
      ["telegram", { status: 400, body: '{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}' }, "Telegram 400: Bad Request: chat not found"],
      ["webhook", { status: 500, body: "boom" }, "HTTP 500: boom"],
    ];
    for (const [kind, answer, error] of cases) {
      const r = await receiver(() => answer);
      const url = {
        dingtalk: `${r.origin}/robot/send?access_token=x`,
        wecom: `${r.origin}/cgi-bin/webhook/send?key=x`,
        feishu: `${r.origin}/open-apis/bot/v2/hook/x`,
        slack: `${r.origin}/s`,
        webhook: `${r.origin}/w`,
        telegram: "",
      }[kind];
      const target = kind === "telegram" ? { botToken: "1:abcdefghijklmnopqrstuvwxyz", chatId: "1", apiBaseUrl: r.origin } : { url };
      const ch = await channel({ kind, name: kind, language: "en", enabled: true, ...target } as CreateChannelInput);
      const [id] = await notify(budgetPayload(), [ch]);
      expect(await new DeliveryLoop(runtime, { clock }).runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
      const row = (await deliveryRows()).find((d) => d.id === id)!;
      expect([row.status, row.last_error]).toEqual(["pending", error]);
    }
  });
});

describe("retries and giving up", () => {
  it("retries a receiver that answers 500, after base × 2^(n−1) seconds, and sends", async () => {
    const r = await receiver((_, i) => (i === 0 ? { status: 500, body: "internal error" } : { status: 200 }));
    const ch = await channel({ kind: "webhook", name: "w", language: "zh-CN", enabled: true, url: `${r.origin}/w` });
    const [id] = await notify(budgetPayload(), [ch]);
    const loop = new DeliveryLoop(runtime, { clock });
    const count = async (result: string) =>
      (await metrics().alertDeliveryAttempts.get()).values.find((v) => v.labels.channel_kind === "webhook" && v.labels.result === result)?.value ?? 0;
    const before = [await count("ok"), await count("error")];

    expect(await loop.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect(await deliveryRows()).toEqual([
      { id, status: "pending", attempts: 1, next_attempt_at: new Date(T0 + 10_000), last_error: "HTTP 500: internal error", sent_at: null },
    ]);
    clock.t = T0 + 9_999;
    expect(await loop.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });
    clock.t = T0 + 10_000;
    expect(await loop.runOnce()).toEqual({ sent: 1, retried: 0, failed: 0 });
    expect(r.received).toHaveLength(2);
    expect(r.received[1]!.headers["x-usage-alert-id"]).toBe(String(id));
    expect(await deliveryRows()).toEqual([{ id, status: "sent", attempts: 2, next_attempt_at: new Date(T0 + 10_000), last_error: null, sent_at: new Date(T0 + 10_000) }]);

    const page = await listDeliveries(runtime, { notificationId: undefined, channelId: ch.id, limit: 10 });
    expect(page.items).toHaveLength(1);
    expect(page.items[0]!.attemptLog.map((a) => [a.attempt, a.at, a.httpStatus, a.ok, a.error])).toEqual([
      [1, "2026-12-07T06:00:00.000Z", 500, false, "HTTP 500: internal error"],
      [2, "2026-12-07T06:00:10.000Z", 200, true, null],
    ]);
    expect([(await count("ok")) - before[0]!, (await count("error")) - before[1]!]).toEqual([1, 1]);
  });

  it("times out on a receiver that hangs, retries, and marks the delivery failed with every attempt recorded", async () => {
    const hang = await receiver(() => "hang");
    const ch = await channel({ kind: "webhook", name: "hangs", language: "en", enabled: true, url: `${hang.origin}/slow?token=TOPSECRET` });
    const [id] = await notify(budgetPayload(), [ch]);
    const impatient: Runtime = { ...runtime, config: { ...runtime.config, alertDeliveryTimeoutMs: 300 } };
    const loop = new DeliveryLoop(impatient, { clock });
    const host = new URL(hang.origin).host;

    expect(await loop.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    clock.t = T0 + 10_000;
    expect(await loop.runOnce()).toEqual({ sent: 0, retried: 1, failed: 0 });
    expect((await deliveryRows())[0]!.next_attempt_at).toEqual(new Date(T0 + 10_000 + 20_000));
    clock.t = T0 + 30_000;
    expect(await loop.runOnce()).toEqual({ sent: 0, retried: 0, failed: 1 });
    clock.t = T0 + 3_600_000;
    expect(await loop.runOnce()).toEqual({ sent: 0, retried: 0, failed: 0 });

    expect(hang.received).toHaveLength(3);
    const error = `${host}: no complete answer within 300 ms`;
    expect(await deliveryRows()).toEqual([{ id, status: "failed", attempts: 3, next_attempt_at: new Date(T0 + 30_000), last_error: error, sent_at: null }]);
    const [item] = (await listDeliveries(runtime, { notificationId: undefined, limit: 5 })).items;
    expect(item!.attemptLog.map((a) => [a.attempt, a.at, a.httpStatus, a.ok, a.error])).toEqual([
      [1, "2026-12-07T06:00:00.000Z", null, false, error],
      [2, "2026-12-07T06:00:10.000Z", null, false, error],
      [3, "2026-12-07T06:00:30.000Z", null, false, error],
    ]);
    for (const a of item!.attemptLog) expect(a.durationMs).toBeGreaterThanOrEqual(290);
    expect(JSON.stringify(item)).not.toContain("TOPSECRET");
  });

  it("keeps evaluating while a receiver hangs: sends run off the caller's path, and the other slots keep sending", async () => {
    const hang = await receiver(() => "hang");
    const fast = await receiver(() => ({ status: 200 }));
    const slow = await channel({ kind: "webhook", name: "hangs", language: "en", enabled: true, url: `${hang.origin}/slow` });
    const quick = await channel({ kind: "webhook", name: "fast", language: "en", enabled: true, url: `${fast.origin}/fast` });
    // A long timeout, so that the hanging send is surely still under way while the rest happens.
    const patient: Runtime = { ...runtime, config: { ...runtime.config, alertDeliveryTimeoutMs: 60_000 } };
    const loop = new DeliveryLoop(patient, { clock, intervalMs: 60_000 });
    loop.start();
    try {
      const [first] = await notify(budgetPayload(), [slow]);
      loop.wake();
      await waitFor(() => hang.received.length === 1, "the hanging receiver to get the request", 30_000, 5);
      // The evaluator's next transaction commits while that send is under way, and wake() returns at once.
      const [second] = await notify(budgetPayload(), [quick]);
      loop.wake();
      await waitFor(async () => (await deliveryRows()).find((d) => d.id === second)?.status === "sent", "the second delivery to be sent", 30_000, 10);
      expect((await deliveryRows()).map((d) => [d.id, d.status])).toEqual([
        [first, "sending"],
        [second, "sent"],
      ]);
      expect(fast.received).toHaveLength(1);
    } finally {
      await hang.close();
      await loop.stop();
    }
    // The receiver went away mid-request: an error like any other, retried later.
    expect((await deliveryRows()).map((d) => [d.status, d.last_error])).toEqual([
      ["pending", `${new URL(hang.origin).host}: ECONNRESET`],
      ["sent", null],
    ]);
  });

  it("gives up a delivery whose channel was deleted or disabled, without sending", async () => {
    const r = await receiver(() => ({ status: 200 }));
    const gone = await channel({ kind: "webhook", name: "gone", language: "en", enabled: true, url: `${r.origin}/a` });
    const off = await channel({ kind: "webhook", name: "off", language: "en", enabled: false, url: `${r.origin}/b` });
    const ids = await notify(budgetPayload(), [gone, off]);
    await deleteChannel(runtime, gone.id);
    expect(await new DeliveryLoop(runtime, { clock }).runOnce()).toEqual({ sent: 0, retried: 0, failed: 2 });
    expect((await deliveryRows()).map((d) => [d.id, d.status, d.attempts, d.last_error])).toEqual([
      [ids[0], "failed", 0, "the channel was deleted"],
      [ids[1], "failed", 0, "the channel is disabled"],
    ]);
    expect(r.received).toHaveLength(0);
  });

  it("takes over a delivery whose claim lapsed (the process sending it stopped)", async () => {
    const r = await receiver(() => ({ status: 200 }));
    const ch = await channel({ kind: "webhook", name: "w", language: "en", enabled: true, url: `${r.origin}/w` });
    const [id] = await notify(budgetPayload(), [ch]);
    await runtime
      .db!.db.updateTable("alert_deliveries")
      .set({ status: "sending", attempts: 1, claimed_until: new Date(T0 + 5000) })
      .where("id", "=", id!)
      .execute();
    const loop = new DeliveryLoop(runtime, { clock });
    expect((await loop.runOnce()).sent).toBe(0);
    clock.t = T0 + 5001;
    expect((await loop.runOnce()).sent).toBe(1);
    expect((await deliveryRows()).map((d) => [d.status, d.attempts])).toEqual([["sent", 2]]);
  });

  it("backs off exponentially, at most an hour", () => {
    expect([1, 2, 3, 4].map((n) => retryDelaySeconds(30, n))).toEqual([30, 60, 120, 240]);
    expect(retryDelaySeconds(30, 12)).toBe(3600);
  });
});

describe("two processes", () => {
  it("send each of 20 deliveries exactly once", async () => {
    const byId = new Map<string, number>();
    const r = await receiver((req) => {
      const id = String(req.headers["x-usage-alert-id"]);
      byId.set(id, (byId.get(id) ?? 0) + 1);
      return { status: 200 };
    });
    const ch = await channel({ kind: "webhook", name: "w", language: "en", enabled: true, url: `${r.origin}/w` });
    const ids: number[] = [];
    for (let i = 0; i < 20; i++) ids.push(...(await notify(budgetPayload(), [ch])));
    const other = await createRuntime(runtime.config, { ownDatabase: true });
    // Connected before the race starts, so that both processes claim from the first round.
    await sql`SELECT 1`.execute(other.db!.db);
    try {
      const a = new DeliveryLoop(runtime, { clock, concurrency: 3 });
      const b = new DeliveryLoop(other, { clock, concurrency: 3 });
      const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
      // Who sent how many depends on scheduling; that each went exactly once does not.
      expect(ra.sent + rb.sent).toBe(20);
      expect(await Promise.all([a.runOnce(), b.runOnce()])).toEqual([
        { sent: 0, retried: 0, failed: 0 },
        { sent: 0, retried: 0, failed: 0 },
      ]);
    } finally {
      await other.close();
    }
    expect(r.received).toHaveLength(20);
    expect([...byId.entries()].sort(([x], [y]) => Number(x) - Number(y))).toEqual(ids.map((id) => [String(id), 1]));
    expect((await deliveryRows()).every((d) => d.status === "sent" && d.attempts === 1)).toBe(true);
  });
});

describe("listDeliveries", () => {
  it("pages newest first with a keyset cursor, filtered by notification or channel", async () => {
    const r = await receiver(() => ({ status: 200 }));
    const a = await channel({ kind: "webhook", name: "a", language: "en", enabled: true, url: `${r.origin}/a` });
    const b = await channel({ kind: "webhook", name: "b", language: "en", enabled: true, url: `${r.origin}/b` });
    const first = await notify(budgetPayload(), [a, b]);
    const second = await notify(budgetPayload(), [a]);
    const p1 = await listDeliveries(runtime, { limit: 2 });
    expect(p1.items.map((d) => d.id)).toEqual([second[0], first[1]]);
    expect(p1.nextCursor).toBe(first[1]);
    const p2 = await listDeliveries(runtime, { limit: 2, before: p1.nextCursor! });
    expect(p2.items.map((d) => d.id)).toEqual([first[0]]);
    expect(p2.nextCursor).toBeNull();
    expect((await listDeliveries(runtime, { limit: 10, channelId: b.id })).items.map((d) => d.id)).toEqual([first[1]]);
    const n = await runtime.db!.db.selectFrom("alert_deliveries").select("notification_id").where("id", "=", first[0]!).executeTakeFirstOrThrow();
    const ofNotification = await listDeliveries(runtime, { limit: 10, notificationId: n.notification_id });
    expect(ofNotification.items.map((d) => [d.id, d.channelName, d.channelKind, d.status, d.notificationKind, d.attempts, d.nextAttemptAt])).toEqual([
      [first[1], "b", "webhook", "pending", "firing", 0, "2026-12-07T06:00:00.000Z"],
      [first[0], "a", "webhook", "pending", "firing", 0, "2026-12-07T06:00:00.000Z"],
    ]);
  });
});
