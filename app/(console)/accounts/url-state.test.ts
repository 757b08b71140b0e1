import { describe, expect, it } from "vitest";
import { accountBreakdownPageInput, accountBreakdownQuery, accountSummaryInput, accountUsageListInput } from "@/server/usage-stats/schemas";
import {
  breakdownCsvHref,
  breakdownInput,
  DEFAULTS,
  listCsvHref,
  listInput,
  parseAccountsUrl,
  serializeAccountsUrl,
  summaryInput,
} from "./url-state";

describe("the accounts page URL", () => {
  it("gives defaults for an empty URL and keeps it empty", () => {
    const s = parseAccountsUrl({});
    expect(s).toMatchObject({ search: "", platform: "", status: "", source: "", sort: DEFAULTS.sort, order: "desc", page: 1, pageSize: DEFAULTS.pageSize, account: undefined, range: "total" });
    expect(serializeAccountsUrl(s)).toBe("");
  });

  it("round-trips every field", () => {
    const qs = "q=%E6%BC%94%E7%A4%BA&platform=gemini&status=paused&source=sub2api&sort=daily.allTokens&order=asc&page=3&size=20&account=demo-acc-01&range=custom&from=2025-01-01&to=2025-01-31";
    const s = parseAccountsUrl(new URLSearchParams(qs));
    expect(s).toMatchObject({ search: "演示", platform: "gemini", status: "paused", source: "sub2api", sort: "daily.allTokens", order: "asc", page: 3, pageSize: 20, account: "demo-acc-01", range: "custom", from: "2025-01-01", to: "2025-01-31" });
    expect(parseAccountsUrl(new URLSearchParams(serializeAccountsUrl(s)))).toEqual(s);
  });

  it("falls back to defaults for values it does not know", () => {
    const s = parseAccountsUrl({ sort: "drop table", order: "sideways", page: "-4", size: "7", range: "custom", from: "2025-02-01", to: "2025-01-01" });
    expect(s).toMatchObject({ sort: DEFAULTS.sort, order: "desc", page: 1, pageSize: DEFAULTS.pageSize, range: "total", from: undefined, to: undefined });
    expect(parseAccountsUrl({ sort: "name" }).order).toBe("asc");
    expect(parseAccountsUrl({ page: ["2", "5"] }).page).toBe(2);
    expect(parseAccountsUrl({ range: "custom", from: "2025-02-30x", to: "2025-03-01" }).range).toBe("total");
    // Longer than the API's limit (3 years): the API would refuse it, so it reads as the default.
    expect(parseAccountsUrl({ range: "custom", from: "2020-01-01", to: "2023-01-01" }).range).toBe("total");
    expect(parseAccountsUrl({ range: "custom", from: "2020-01-01", to: "2022-12-31" }).range).toBe("custom");
    for (const source of ["CRS", "crs,sub2api", "a".repeat(33), " "]) expect(parseAccountsUrl({ source }).source, source).toBe("");
    expect(parseAccountsUrl({ source: "none" }).source).toBe("none");
  });

  it("keeps the range only while a drawer is open, and the order only when it is not the sort's default", () => {
    const base = parseAccountsUrl({});
    expect(serializeAccountsUrl({ ...base, range: "daily" })).toBe("");
    expect(serializeAccountsUrl({ ...base, account: "a b", range: "daily" })).toBe("account=a+b&range=daily");
    expect(serializeAccountsUrl({ ...base, sort: "name", order: "asc" })).toBe("sort=name");
    expect(serializeAccountsUrl({ ...base, sort: "name", order: "desc" })).toBe("sort=name&order=desc");
  });

  it("builds inputs the strict shared schemas accept", () => {
    const s = parseAccountsUrl({ q: "x", platform: "claude", status: "active", source: "crs", sort: "monthly.cost", page: "2", size: "100", account: "a1", range: "custom", from: "2025-01-01", to: "2025-01-02" });
    expect(accountUsageListInput.parse(listInput(s))).toMatchObject({ search: "x", source: "crs", limit: 100, offset: 100, sort: "monthly.cost", order: "desc" });
    expect(accountSummaryInput.safeParse(summaryInput("a1", s)).success).toBe(true);
    expect(accountBreakdownPageInput.parse({ ...breakdownInput("a1", s), cursor: 20, direction: "forward" })).toMatchObject({ offset: 20, limit: 20 });
    expect(accountBreakdownPageInput.parse(breakdownInput("a1", s))).toMatchObject({ offset: 0 });
    for (const range of ["daily", "monthly", "total"] as const) {
      expect(accountSummaryInput.safeParse(summaryInput("a1", { range, from: undefined, to: undefined })).success, range).toBe(true);
    }
    const list = new URL(listCsvHref(s), "http://x");
    expect(accountUsageListInput.parse(Object.fromEntries(list.searchParams))).toMatchObject({ source: "crs" });
    const b = new URL(breakdownCsvHref("a/1", s, { sort: "cost", order: "asc" }), "http://x");
    expect(b.pathname).toBe("/admin/accounts/a%2F1/usage-breakdown");
    expect(accountBreakdownQuery.safeParse(Object.fromEntries(b.searchParams)).success).toBe(true);
  });
});
