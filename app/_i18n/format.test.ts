import { createFormatter } from "next-intl";
import { describe, expect, it } from "vitest";
import { MESSAGES } from "./messages";
import { numberFormats } from "./format";

const zh = numberFormats(createFormatter({ locale: "zh-CN" }));
const en = numberFormats(createFormatter({ locale: "en" }));

describe("the console's number rules", () => {
  it("money: two decimals in a column, more only below a cent", () => {
    expect([1.3, 0.7169, 0.627, 0.5323].map(en.cost)).toEqual(["$1.30", "$0.72", "$0.63", "$0.53"]);
    expect(en.cost(1234.5)).toBe("$1,234.50");
    expect(en.cost(0)).toBe("$0.00");
    expect(en.cost(0.004234)).toBe("$0.0042");
    expect(zh.cost(0.000019)).toBe("$0.000019");
    expect(en.costExact(0.71694321)).toBe("$0.71694321");
  });

  it("compact: three significant digits in both languages", () => {
    expect(zh.compact(198_680_882)).toBe("1.99亿");
    expect(en.compact(198_680_882)).toBe("199M");
    expect(zh.compact(34_047_000)).toBe("3400万");
    expect(en.compact(34_047_000)).toBe("34.0M");
    expect(en.compact(13_008_000)).toBe("13.0M");
    expect(zh.compact(13_008_000)).toBe("1300万");
    expect(en.compact(12_345)).toBe("12.3K");
    expect(zh.compact(12_345)).toBe("1.23万");
    expect(zh.compact(9_999)).toBe("9,999");
  });
});

describe("the messages", () => {
  it("have the same keys in both languages", () => {
    const keys = (o: object, prefix = ""): string[] =>
      Object.entries(o).flatMap(([k, v]) => (typeof v === "string" ? [`${prefix}${k}`] : keys(v as object, `${prefix}${k}.`)));
    expect(keys(MESSAGES.en).sort()).toEqual(keys(MESSAGES["zh-CN"]).sort());
  });

  it("use one word per idea: no bare 占比, no 累计 or 最后使用 beside 总用量 and 最近使用", () => {
    const zhText = JSON.stringify(MESSAGES["zh-CN"]);
    expect(zhText).not.toMatch(/累计|最后使用|"占比"/);
  });
});

describe("the display currency", () => {
  const cny = (locale: "zh-CN" | "en") => numberFormats(createFormatter({ locale }), { code: "CNY", cnyPerUsd: 7.2 });
  it("shows USD × the rate in ¥ by the same rule, the exact value still in USD", () => {
    expect(cny("zh-CN").cost(1.3)).toBe("¥9.36");
    expect(cny("en").cost(1234.5)).toBe("¥8,888.40");
    expect(cny("zh-CN").cost(0.0005)).toBe("¥0.0036");
    expect(cny("zh-CN").costExact(0.71694321)).toBe("$0.71694321");
    expect(cny("zh-CN").currency).toBe("CNY");
  });
  it("stays USD when no rate is configured", () => {
    expect(numberFormats(createFormatter({ locale: "zh-CN" }), { code: "CNY", cnyPerUsd: undefined }).cost(1.3)).toBe("$1.30");
  });
});
