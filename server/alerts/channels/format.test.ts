import { describe, expect, it } from "vitest";
import { composeMessage, formatCount, formatMoney, formatPlain, formatTime, plainText } from "./format";
import { budgetPayload, tokensPayload } from "./receiver.fixtures";
import type { NotificationPayload } from "../notification";

describe("figures", () => {
  it("formats money exactly from the decimal text, half away from zero, with thousands separators", () => {
    expect(formatMoney("12.34")).toBe("$12.34");
    expect(formatMoney("1234.565000000")).toBe("$1,234.57");
    expect(formatMoney("1234.564999999")).toBe("$1,234.56");
    expect(formatMoney("9007199254740993.125")).toBe("$9,007,199,254,740,993.13");
    expect(formatMoney("0")).toBe("$0.00");
    expect(formatMoney("0.000000000")).toBe("$0.00");
    expect(formatMoney("5")).toBe("$5.00");
    expect(formatMoney("999.995")).toBe("$1,000.00");
    expect(formatMoney("-3.5")).toBe("-$3.50");
  });

  it("shows the first digits of an amount below a cent instead of $0.00", () => {
    expect(formatMoney("0.004200000")).toBe("$0.004");
    expect(formatMoney("0.000012")).toBe("$0.00001");
    expect(formatMoney("0.0000001")).toBe("$0.00");
  });

  it("formats counts with thousands separators, a fraction with at most 2 decimals", () => {
    expect(formatCount("9876543")).toBe("9,876,543");
    expect(formatCount("1000000.000000000")).toBe("1,000,000");
    expect(formatCount("1234.5")).toBe("1,234.5");
    expect(formatCount("2.345")).toBe("2.35");
    expect(formatCount("12")).toBe("12");
  });

  it("trims plain numbers and formats times in UTC", () => {
    expect(formatPlain("3.000000000")).toBe("3");
    expect(formatPlain("2.500")).toBe("2.5");
    expect(formatPlain("83.2")).toBe("83.2");
    expect(formatTime("2026-12-07T05:59:30.000Z")).toBe("2026-12-07 05:59 UTC");
    expect(formatTime("2026-12-07T17:59:30.000Z", "Asia/Shanghai")).toBe("2026-12-08 01:59 (UTC+08:00)");
    expect(formatTime("2026-07-01T12:00:00.000Z", "America/New_York")).toBe("2026-07-01 08:00 (UTC-04:00)");
  });
});

describe("composeMessage", () => {
  it("says a firing budget alert in Chinese", () => {
    expect(plainText(composeMessage(budgetPayload(), "zh-CN", "ops"), "zh-CN")).toBe(
      [
        "【告警】Monthly budget · 账户 Claude Max 01",
        "规则「Monthly budget」:费用,本月",
        "",
        "账户 Claude Max 01",
        "当前值:$1,234.57",
        "条件:已用预算「Claude pool」$1,500.00 的 82.3%(告警线 80%)",
        "开始于:2026-12-07 05:59 UTC",
        "在控制台查看:https://usage.example.com/accounts?account=acc-1&range=month",
        "",
        "告警页面:https://usage.example.com/alerts",
      ].join("\n"),
    );
  });

  it("says a resolved count alert in English", () => {
    expect(plainText(composeMessage(tokensPayload(), "en", "ops"), "en")).toBe(
      [
        "[RESOLVED] 5h tokens · API key ci <bot> & co",
        "Rule “5h tokens”: all tokens, last 5 hours",
        "",
        "API key ci <bot> & co",
        "Value: 9,876,543",
        "Condition: above 10,000,000",
        "Since: 2026-12-07 03:10 UTC",
        "Resolved at: 2026-12-07 06:00 UTC",
      ].join("\n"),
    );
  });

  it("says a spike with its median, factor and minimum", () => {
    const p: NotificationPayload = {
      ...budgetPayload(),
      kind: "repeat",
      rule: { ...budgetPayload().rule, name: "Spike", condition: "spike", window: { kind: "days", size: 1, from: "2026-12-06T06:00:00.000Z", to: "2026-12-07T06:00:00.000Z" } },
      alerts: [
        {
          subjectKind: "all",
          subjectId: "",
          subjectName: "",
          value: "310.5",
          threshold: "90.000000000",
          spike: { median: "30.000000000", factor: "3.000000000", days: 7, minimum: "50.000000000" },
          firingSince: "2026-12-07T04:00:00.000Z",
          consoleUrl: null,
        },
      ],
      consoleUrl: null,
    };
    const m = composeMessage(p, "en", "ops");
    expect(m.title).toBe("[STILL FIRING] Spike · all usage");
    expect(m.intro).toBe("Rule “Spike”: cost, last 1 day");
    expect(m.blocks[0]!.lines[1]).toEqual({
      label: "Condition",
      value: "above 3 × the median $30.00 of the same window on the previous 7 days (threshold $90.00, minimum $50.00)",
    });
    expect(composeMessage(p, "zh-CN", "ops").blocks[0]!.lines[1]!.value).toBe("超过前 7 天同一窗口中位数 $30.00 的 3 倍(阈值 $90.00,最低 $50.00)");
  });

  it("lists at most the alerts asked for, and says how many more", () => {
    const one = budgetPayload().alerts[0]!;
    const p = { ...budgetPayload(), alerts: Array.from({ length: 5 }, (_, i) => ({ ...one, subjectId: `acc-${i}`, subjectName: `A${i}` })) };
    const m = composeMessage(p, "zh-CN", "ops", 3);
    expect(m.title).toBe("【告警】Monthly budget");
    expect(m.blocks.map((b) => b.heading)).toEqual(["账户 A0", "账户 A1", "账户 A2"]);
    expect(m.more).toBe("…另有 2 条,请在控制台查看");
    expect(composeMessage(p, "en", "ops", 3).more).toBe("…and 2 more, see the console");
  });

  it("keeps names from relays on one line", () => {
    const p = budgetPayload();
    p.alerts[0]!.subjectName = "evil\nname\r\u2028x";
    expect(composeMessage(p, "en", "ops").blocks[0]!.heading).toBe("Account evil name x");
  });

  it("says a test message in the channel's language", () => {
    const p: NotificationPayload = { ...budgetPayload(), kind: "test", alerts: [] };
    expect(plainText(composeMessage(p, "zh-CN", "值班群"), "zh-CN")).toBe("【测试】值班群\n这是来自通知渠道「值班群」的测试消息。\n\n告警页面:https://usage.example.com/alerts");
    expect(plainText(composeMessage({ ...p, consoleUrl: null }, "en", "On-call"), "en")).toBe("[TEST] On-call\nThis is a test message from the notification channel “On-call”.");
  });
});
