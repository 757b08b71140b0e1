import { describe, expect, it } from "vitest";
import { createChannelInput, listDeliveriesInput, updateChannelInput } from "./channels.schemas";

const issues = (r: { success: boolean; error?: { issues: { path: PropertyKey[]; message: string }[] } }) =>
  r.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`);

describe("createChannelInput", () => {
  it("fills the defaults and trims", () => {
    expect(createChannelInput.parse({ kind: "slack", name: "  ops ", url: " https://hooks.slack.com/services/T/B/x " })).toEqual({
      kind: "slack",
      name: "ops",
      language: "zh-CN",
      enabled: true,
      url: "https://hooks.slack.com/services/T/B/x",
    });
    expect(createChannelInput.parse({ kind: "telegram", name: "tg", botToken: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ", chatId: -100123 })).toEqual({
      kind: "telegram",
      name: "tg",
      language: "zh-CN",
      enabled: true,
      botToken: "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ",
      chatId: "-100123",
      apiBaseUrl: "https://api.telegram.org",
    });
  });

  it("names the field and what was expected", () => {
    expect(issues(createChannelInput.safeParse({ kind: "pager", name: "x" }))).toEqual(["kind: kind must be one of webhook, feishu, dingtalk, wecom, slack, telegram"]);
    expect(issues(createChannelInput.safeParse({ kind: "webhook", name: "", url: "ftp://x/y" }))).toEqual([
      "name: name must not be empty",
      "url: url must start with https:// or http://",
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "webhook", name: "x", url: "https://u:p@x.example/" }))).toEqual(["url: url must not carry a user name or password"]);
    expect(issues(createChannelInput.safeParse({ kind: "webhook", name: "x", url: "https://x.example/", secret: "short" }))).toEqual([
      "secret: secret must be at least 16 characters (leave it out to have one generated)",
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "dingtalk", name: "x", url: "https://oapi.dingtalk.com/robot/send", secret: "abc" }))).toEqual([
      "url: url must be the DingTalk robot webhook address with its access_token (…/robot/send?access_token=…)",
      "secret: secret must be the robot's signing secret (加签), which starts with SEC",
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "wecom", name: "x", url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send" }))).toEqual([
      "url: url must be the WeCom group robot webhook address (…/cgi-bin/webhook/send?key=…)",
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "feishu", name: "x", url: "https://open.feishu.cn/hook" }))).toEqual([
      "url: url must be the Feishu / Lark bot webhook address (…/open-apis/bot/v2/hook/<id>)",
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "telegram", name: "x", botToken: "nope", chatId: "chat" }))).toEqual([
      "botToken: botToken must be a Telegram bot token as BotFather gives it (123456789:AA…)",
      "chatId: chatId must be a chat id (-1001234567890) or a channel's @username",
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "slack", name: "x", url: "https://hooks.slack.com/x", language: "fr" }))).toEqual([
      'language: language must be "zh-CN" or "en"',
    ]);
    expect(issues(createChannelInput.safeParse({ kind: "slack", name: "x", url: "https://hooks.slack.com/x", botToken: "1:2" }))).toEqual([": Unrecognized key: \"botToken\""]);
  });
});

describe("updateChannelInput and listDeliveriesInput", () => {
  it("takes only what changes, null to remove a signing secret", () => {
    const id = "5b0c3a52-0d0e-4a47-9b7c-1f2e3d4c5b6a";
    expect(updateChannelInput.parse({ id, kind: "dingtalk", secret: null })).toEqual({ id, kind: "dingtalk", secret: null });
    expect(updateChannelInput.parse({ id, kind: "webhook", regenerateSecret: true })).toEqual({ id, kind: "webhook", regenerateSecret: true });
    expect(issues(updateChannelInput.safeParse({ id: "1", kind: "slack" }))).toEqual(["id: id must be a channel id (a UUID)"]);
  });

  it("bounds the page", () => {
    expect(listDeliveriesInput.parse({ before: "120", limit: "20" })).toEqual({ before: 120, limit: 20 });
    expect(listDeliveriesInput.parse({})).toEqual({ limit: 50 });
    expect(issues(listDeliveriesInput.safeParse({ limit: 1000 }))).toEqual(["limit: limit must be at most 100"]);
  });
});
