import { createFormatter } from "next-intl";
import { describe, expect, it } from "vitest";
import { numberFormats, stepDecimals } from "@/app/_i18n/format";
import { niceStep, niceTicks } from "./nice-ticks";

const zh = numberFormats(createFormatter({ locale: "zh-CN" }));
const en = numberFormats(createFormatter({ locale: "en" }));

describe("the trend chart's ticks", () => {
  it("step by 1, 2, 2.5 or 5 × 10^n from 0", () => {
    expect(niceStep(37.5, 4)).toBe(10);
    expect(niceStep(125_000, 4)).toBe(50_000);
    expect(niceStep(1_000_000, 4)).toBe(250_000);
    expect(niceStep(0.9, 4)).toBe(0.25);
    expect(niceStep(0.00042, 4)).toBe(0.0002);
    expect(niceTicks(0, 37.5)).toEqual({ ticks: [0, 10, 20, 30, 40], step: 10 });
    expect(niceTicks(0, 1_000_000)).toEqual({ ticks: [0, 250_000, 500_000, 750_000, 1_000_000], step: 250_000 });
    expect(niceTicks(0, 0)).toEqual({ ticks: [0, 0.25, 0.5, 0.75, 1], step: 0.25 });
    // A correction (a refund) below zero: the axis reaches it on the same steps.
    expect(niceTicks(-3, 17)).toEqual({ ticks: [-5, 0, 5, 10, 15, 20], step: 5 });
  });

  it("read as round money and counts in both languages", () => {
    expect(stepDecimals(0.25)).toBe(2);
    expect(stepDecimals(0.5)).toBe(1);
    expect(stepDecimals(5)).toBe(0);
    expect([0, 10, 20].map((v) => en.tickCost(v, 10))).toEqual(["$0", "$10", "$20"]);
    expect([0, 0.25, 0.5].map((v) => en.tickCost(v, 0.25))).toEqual(["$0.00", "$0.25", "$0.50"]);
    expect(en.tickCost(25_000, 25_000)).toBe("$25K");
    expect([0, 500_000, 1_000_000].map(zh.tickCompact)).toEqual(["0", "50万", "100万"]);
    expect([0, 500_000, 1_000_000].map(en.tickCompact)).toEqual(["0", "500K", "1M"]);
    expect(en.tickCompact(2_500)).toBe("2,500");
    expect(en.tickCompact(1_250_000)).toBe("1.25M");
  });
});
