import { describe, expect, it } from "vitest";
import { columnLabel, csvLine, localizedHeader, marginCells, zonedIso } from "./csv";

/** Issue 24: margin columns, localized headers and local times with their offset in the CSV exports. */

describe("margin", () => {
  it("is ratedCost − cost to the micro-USD, its rate margin / ratedCost", () => {
    // 0.3 − 0.1 in floating point is 0.19999999999999998: the CSV must say 0.2.
    expect(marginCells({ cost: 0.1, ratedCost: 0.3 })).toEqual([0.2, 0.666667]);
    expect(csvLine(marginCells({ cost: 0.1, ratedCost: 0.3 }))).toBe("0.2,0.666667\r\n");
    expect(csvLine(marginCells({ cost: 1234567.000001, ratedCost: 2469134.000003 }))).toBe("1234567.000002,0.5\r\n");
    expect(csvLine(marginCells({ cost: 0.000001, ratedCost: 0.000003 }))).toBe("0.000002,0.666667\r\n");
  });

  it("is negative when charged below cost; the rate is empty when nothing was charged", () => {
    expect(csvLine(marginCells({ cost: 2.5, ratedCost: 2 }))).toBe("-0.5,-0.25\r\n");
    expect(csvLine(marginCells({ cost: 0.42, ratedCost: 0 }))).toBe("-0.42,\r\n");
    expect(csvLine(marginCells({ cost: 0, ratedCost: 0 }))).toBe("0,\r\n");
  });
});

describe("times", () => {
  it("are in the usage time zone with the offset", () => {
    expect(zonedIso("2026-12-07T03:30:00.000Z", "Asia/Shanghai")).toBe("2026-12-07T11:30:00+08:00");
    expect(zonedIso("2026-12-06T16:00:00.250Z", "Asia/Shanghai")).toBe("2026-12-07T00:00:00.250+08:00");
    expect(zonedIso("2026-07-01T12:00:00Z", "America/New_York")).toBe("2026-07-01T08:00:00-04:00");
    expect(zonedIso("2026-12-01T12:00:00Z", "America/New_York")).toBe("2026-12-01T07:00:00-05:00");
    // The day the clocks go forward: each side of 07:00 UTC keeps its own offset (the cache per day holds none).
    expect(zonedIso("2026-03-08T06:59:59Z", "America/New_York")).toBe("2026-03-08T01:59:59-05:00");
    expect(zonedIso("2026-03-08T07:00:00Z", "America/New_York")).toBe("2026-03-08T03:00:00-04:00");
    expect(zonedIso("2026-03-08T03:00:00Z", "America/New_York")).toBe("2026-03-07T22:00:00-05:00");
    expect(zonedIso("2026-12-01T12:00:00Z", "Asia/Kolkata")).toBe("2026-12-01T17:30:00+05:30");
    expect(zonedIso("2026-12-01T12:00:00Z", "UTC")).toBe("2026-12-01T12:00:00+00:00");
    expect(zonedIso(null, "UTC")).toBeNull();
  });

  it("name the same instant as the API's UTC time", () => {
    for (const iso of ["2026-03-08T06:59:59.000Z", "2026-03-08T07:00:00.000Z", "2026-11-01T05:30:00.000Z"]) {
      expect(Date.parse(zonedIso(iso, "America/Los_Angeles")!)).toBe(Date.parse(iso));
    }
  });
});

describe("headers", () => {
  const list = ["id", "name", "lastUsedAt", "daily.cost", "total.ratedCost", "total.allTokens", "sources", "total.margin", "total.marginRate"];

  it("are the stable names without a language", () => {
    expect(localizedHeader(list, undefined)).toEqual(list);
  });

  it("are labels in the chosen language", () => {
    expect(localizedHeader(list, "zh-CN")).toEqual(["账号 ID", "名称", "最近使用", "今日 · 实际成本 (USD)", "总用量 · 计费成本 (USD)", "总用量 · 总 tokens", "来源", "总用量 · 毛利 (USD)", "总用量 · 毛利率"]);
    expect(localizedHeader(list, "en")).toEqual(["Account ID", "Name", "Last used", "Today · Real cost (USD)", "Total · Rated cost (USD)", "Total · All tokens", "Sources", "Total · Margin (USD)", "Total · Margin rate"]);
    expect(columnLabel("share.tokens", "zh-CN")).toBe("Tokens 占比");
    expect(columnLabel("requests", "en")).toBe("Requests");
  });

  it("keep a name they do not know", () => {
    expect(columnLabel("total.somethingNew", "zh-CN")).toBe("总用量 · somethingNew");
  });
});
