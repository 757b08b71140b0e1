import { createHmac } from "node:crypto";
import { sql } from "kysely";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { createRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { createChannel, deleteChannel, getChannel, listChannels, sendTestMessage, updateChannel } from "./channels.service";
import { createChannelInput, updateChannelInput } from "./channels.schemas";
import { startReceiver, type Receiver } from "./channels/receiver.fixtures";
import { listDeliveries } from "./delivery.service";

/**
 * Channels on a real PostgreSQL without ALERT_SECRETS_KEY (the key then lives in usage_settings):
 * secrets encrypted and never shown, a webhook's generated secret returned once, test messages
 * sent and recorded, updates keeping what they do not name, deletion leaving the rules.
 */

const T0 = Date.parse("2026-12-07T08:00:00.000Z");
const clock = { now: () => T0 };
let t: TestRuntime;
let runtime: Runtime;
const receivers: Receiver[] = [];

beforeAll(async () => {
  t = await createTestRuntime({ ALERT_ALLOW_PRIVATE_TARGETS: "127.0.0.1/32", ALERT_DELIVERY_TIMEOUT_MS: "15000", ALERT_SECRETS_KEY: undefined, PUBLIC_URL: "https://usage.example.com/console/" });
  runtime = t.runtime;
});

afterAll(async () => {
  await t?.close();
});

afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
  await sql`TRUNCATE alert_notifications, alert_deliveries, alert_delivery_attempts, alert_channels, alert_rules CASCADE`.execute(runtime.db!.db);
});

async function receiver(status = 200, body = ""): Promise<Receiver> {
  const r = await startReceiver(() => ({ status, body }));
  receivers.push(r);
  return r;
}

const verify = (secret: string, headers: Record<string, unknown>, body: string) =>
  headers["x-usage-alert-signature"] === `v1=${createHmac("sha256", secret).update(`${String(headers["x-usage-alert-timestamp"])}.${body}`).digest("hex")}`;

async function storedRow(id: string) {
  return runtime.db!.db.selectFrom("alert_channels").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
}

async function appError(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("secrets", () => {
  it("generates a webhook secret, returns it once, stores it encrypted and never shows it again", async () => {
    const r = await receiver();
    const url = `${r.origin}/hooks/usage-token-abcdef123456`;
    const created = await createChannel(runtime, createChannelInput.parse({ kind: "webhook", name: "Ops", url }));
    const secret = created.generatedSecret!;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(created.channel).toEqual({
      id: created.channel.id,
      name: "Ops",
      kind: "webhook",
      language: "zh-CN",
      enabled: true,
      settings: { signed: true },
      targetHint: `${r.origin}/…3456`,
      createdAt: created.channel.createdAt,
      updatedAt: created.channel.updatedAt,
    });

    const row = await storedRow(created.channel.id);
    expect(row.secret_ciphertext).toMatch(/^v1:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*:[A-Za-z0-9+/]+=*$/);
    for (const plain of [secret, "usage-token-abcdef123456", "whsec_"]) {
      expect(row.secret_ciphertext).not.toContain(plain);
      expect(Buffer.from(row.secret_ciphertext.split(":")[3]!, "base64").toString("latin1")).not.toContain(plain);
      expect(JSON.stringify(row.settings)).not.toContain(plain);
      expect(row.target_hint).not.toContain(plain);
    }
    const shown = JSON.stringify([await listChannels(runtime), await getChannel(runtime, created.channel.id), (await updateChannel(runtime, { id: created.channel.id, kind: "webhook", name: "Ops 2" })).channel]);
    expect(shown).not.toContain(secret);
    expect(shown).not.toContain("usage-token-abcdef123456");

    const stored = await runtime.db!.db.selectFrom("usage_settings").select("value").where("key", "=", "alert_secrets_key").executeTakeFirstOrThrow();
    expect(Buffer.from(stored.value, "base64")).toHaveLength(32);
  });

  it("another node on the same database reads the same generated key", async () => {
    const r = await receiver();
    const { channel, generatedSecret } = await createChannel(runtime, createChannelInput.parse({ kind: "webhook", name: "n", url: `${r.origin}/w` }));
    const other = await createRuntime(runtime.config, { ownDatabase: true });
    try {
      expect((await sendTestMessage(other, channel.id, { clock })).ok).toBe(true);
    } finally {
      await other.close();
    }
    expect(verify(generatedSecret!, r.received[0]!.headers, r.received[0]!.body)).toBe(true);
  });

  it("keeps the secrets of every kind out of the views", async () => {
    const inputs = [
      { kind: "feishu", name: "f", url: "https://open.feishu.cn/open-apis/bot/v2/hook/fs-secret-hook-0001", secret: "fs-sign-SECRET" },
      { kind: "dingtalk", name: "d", url: "https://oapi.dingtalk.com/robot/send?access_token=dt-secret-token-9999", secret: "SECdingSECRET" },
      { kind: "wecom", name: "w", url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=wc-secret-key-7777" },
      { kind: "slack", name: "s", url: "https://hooks.slack.com/services/T0/B0/slack-secret-5555" },
      { kind: "telegram", name: "t", botToken: "123456789:AAsecretTOKENsecretTOKEN1234", chatId: "-1001" },
    ];
    for (const i of inputs) await createChannel(runtime, createChannelInput.parse(i));
    const views = await listChannels(runtime);
    expect(views.map((v) => [v.name, v.kind, v.settings, v.targetHint])).toEqual([
      ["d", "dingtalk", { signed: true }, "https://oapi.dingtalk.com/…9999"],
      ["f", "feishu", { signed: true }, "https://open.feishu.cn/…0001"],
      ["s", "slack", {}, "https://hooks.slack.com/…5555"],
      ["t", "telegram", { chatId: "-1001", apiBaseUrl: "https://api.telegram.org" }, "https://api.telegram.org/…1234 → -1001"],
      ["w", "wecom", {}, "https://qyapi.weixin.qq.com/…7777"],
    ]);
    const shown = JSON.stringify(views);
    for (const secret of ["fs-secret-hook", "fs-sign-SECRET", "dt-secret-token", "SECdingSECRET", "wc-secret-key", "slack-secret", "AAsecretTOKEN"]) expect(shown).not.toContain(secret);
  });
});

describe("sendTestMessage", () => {
  it("sends a signed test message in the channel's language and records it as a delivery", async () => {
    const r = await receiver(204);
    const { channel, generatedSecret } = await createChannel(runtime, createChannelInput.parse({ kind: "webhook", name: "值班", url: `${r.origin}/w` }));
    const result = await sendTestMessage(runtime, channel.id, { clock });
    expect(result).toEqual({ ok: true, httpStatus: 204, error: null, durationMs: result.durationMs, deliveryId: result.deliveryId });

    const got = r.received[0]!;
    expect(verify(generatedSecret!, got.headers, got.body)).toBe(true);
    expect(got.headers["x-usage-alert-id"]).toBe(String(result.deliveryId));
    expect(got.headers["x-usage-alert-timestamp"]).toBe(String(T0 / 1000));
    const body = JSON.parse(got.body) as Record<string, unknown>;
    expect(body).toEqual({
      version: 1,
      id: body.id,
      deliveryId: result.deliveryId,
      kind: "test",
      at: "2026-12-07T08:00:00.000Z",
      language: "zh-CN",
      title: "【测试】值班",
      text: "【测试】值班\n这是来自通知渠道「值班」的测试消息。\n\n告警页面:https://usage.example.com/console/alerts",
      rule: null,
      alerts: [],
      consoleUrl: "https://usage.example.com/console/alerts",
    });

    const page = await listDeliveries(runtime, { channelId: channel.id, limit: 10 });
    expect(page.items.map((d) => [d.id, d.notificationId, d.notificationKind, d.ruleId, d.status, d.attempts, d.sentAt])).toEqual([
      [result.deliveryId, body.id, "test", null, "sent", 1, "2026-12-07T08:00:00.000Z"],
    ]);
    expect(page.items[0]!.attemptLog.map((a) => [a.attempt, a.httpStatus, a.ok, a.error])).toEqual([[1, 204, true, null]]);
  });

  it("reports a refused target and a refusing receiver, recorded as failed", async () => {
    const meta = await createChannel(runtime, createChannelInput.parse({ kind: "slack", name: "meta", url: "http://169.254.169.254/latest/meta-data/iam" }));
    const refused = await sendTestMessage(runtime, meta.channel.id, { clock });
    expect(refused).toEqual({
      ok: false,
      httpStatus: null,
      error: "refused: 169.254.169.254 is a link-local address; set ALERT_ALLOW_PRIVATE_TARGETS to allow it",
      durationMs: refused.durationMs,
      deliveryId: refused.deliveryId,
    });
    const r = await receiver(200, '{"errcode":300001,"errmsg":"token is not exist"}');
    const ding = await createChannel(runtime, createChannelInput.parse({ kind: "dingtalk", name: "d", language: "en", url: `${r.origin}/robot/send?access_token=nope` }));
    const result = await sendTestMessage(runtime, ding.channel.id, { clock });
    expect([result.ok, result.httpStatus, result.error]).toEqual([false, 200, "DingTalk errcode 300001: token is not exist"]);
    expect(JSON.parse(r.received[0]!.body)).toEqual({
      msgtype: "markdown",
      markdown: { title: "[TEST] d", text: "### [TEST] d\n\nThis is a test message from the notification channel “d”.\n\n[Alerts page](https://usage.example.com/console/alerts)" },
    });
    const rows = await runtime.db!.db.selectFrom("alert_deliveries").select(["id", "status", "attempts", "last_error"]).orderBy("id").execute();
    expect(rows).toEqual([
      { id: refused.deliveryId, status: "failed", attempts: 1, last_error: refused.error },
      { id: result.deliveryId, status: "failed", attempts: 1, last_error: result.error },
    ]);
  });

  it("is NOT_FOUND for an unknown channel", async () => {
    expect((await appError(sendTestMessage(runtime, "00000000-0000-4000-8000-000000000000"))).code).toBe("NOT_FOUND");
  });
});

describe("updateChannel and deleteChannel", () => {
  it("keeps the secrets it is not given, replaces or regenerates those it is", async () => {
    const r = await receiver();
    const { channel, generatedSecret } = await createChannel(runtime, createChannelInput.parse({ kind: "webhook", name: "w", url: `${r.origin}/a` }));
    const renamed = await updateChannel(runtime, updateChannelInput.parse({ id: channel.id, kind: "webhook", name: "renamed", language: "en", enabled: false }));
    expect([renamed.channel.name, renamed.channel.language, renamed.channel.enabled, renamed.generatedSecret]).toEqual(["renamed", "en", false, null]);
    await sendTestMessage(runtime, channel.id, { clock });
    expect(verify(generatedSecret!, r.received[0]!.headers, r.received[0]!.body)).toBe(true);

    const moved = await updateChannel(runtime, updateChannelInput.parse({ id: channel.id, kind: "webhook", url: `${r.origin}/b`, regenerateSecret: true }));
    expect(moved.generatedSecret).toMatch(/^whsec_/);
    expect(moved.generatedSecret).not.toBe(generatedSecret);
    await sendTestMessage(runtime, channel.id, { clock });
    expect(r.received[1]!.url).toBe("/b");
    expect(verify(moved.generatedSecret!, r.received[1]!.headers, r.received[1]!.body)).toBe(true);

    const given = "a-secret-of-my-own-choosing";
    await updateChannel(runtime, updateChannelInput.parse({ id: channel.id, kind: "webhook", secret: given }));
    await sendTestMessage(runtime, channel.id, { clock });
    expect(verify(given, r.received[2]!.headers, r.received[2]!.body)).toBe(true);
  });

  it("removes a Feishu signing secret with secret: null", async () => {
    const r = await receiver(200, '{"code":0}');
    const { channel } = await createChannel(runtime, createChannelInput.parse({ kind: "feishu", name: "f", url: `${r.origin}/open-apis/bot/v2/hook/h`, secret: "s" }));
    expect(channel.settings).toEqual({ signed: true });
    const updated = await updateChannel(runtime, updateChannelInput.parse({ id: channel.id, kind: "feishu", secret: null }));
    expect(updated.channel.settings).toEqual({ signed: false });
    await sendTestMessage(runtime, channel.id, { clock });
    expect(Object.keys(JSON.parse(r.received[0]!.body) as object)).toEqual(["msg_type", "content"]);
  });

  it("refuses to change the kind, and unknown ids", async () => {
    const { channel } = await createChannel(runtime, createChannelInput.parse({ kind: "slack", name: "s", url: "https://hooks.slack.com/services/x" }));
    const err = await appError(updateChannel(runtime, updateChannelInput.parse({ id: channel.id, kind: "webhook", name: "x" })));
    expect([err.code, err.message]).toEqual(["BAD_REQUEST", `kind cannot change: channel ${channel.id} is a slack channel, not webhook`]);
    const missing = "00000000-0000-4000-8000-000000000000";
    expect((await appError(updateChannel(runtime, { id: missing, kind: "slack", name: "x" }))).code).toBe("NOT_FOUND");
    expect((await appError(getChannel(runtime, missing))).code).toBe("NOT_FOUND");
    expect((await appError(deleteChannel(runtime, missing))).code).toBe("NOT_FOUND");
  });

  it("deletes a channel and takes it out of the rules that named it, in one transaction", async () => {
    const a = (await createChannel(runtime, createChannelInput.parse({ kind: "slack", name: "a", url: "https://hooks.slack.com/services/a" }))).channel;
    const b = (await createChannel(runtime, createChannelInput.parse({ kind: "slack", name: "b", url: "https://hooks.slack.com/services/b" }))).channel;
    const db = runtime.db!.db;
    const rule = (name: string, channelIds: string[]) =>
      db
        .insertInto("alert_rules")
        .values({ name, subject_kind: "all", measure: "cost", window_kind: "today", condition: "above", threshold: "10", channel_ids: channelIds })
        .returning("id")
        .executeTakeFirstOrThrow();
    const r1 = await rule("both", [a.id, b.id]);
    const r2 = await rule("only b", [b.id]);
    expect(await deleteChannel(runtime, a.id)).toEqual({ rulesUpdated: 1 });
    const rules = await db.selectFrom("alert_rules").select(["id", "channel_ids"]).orderBy("name").execute();
    expect(rules).toEqual([
      { id: r1.id, channel_ids: [b.id] },
      { id: r2.id, channel_ids: [b.id] },
    ]);
    expect((await listChannels(runtime)).map((c) => c.name)).toEqual(["b"]);
  });
});
