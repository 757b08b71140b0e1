import { describe, expect, it } from "vitest";
import { keyUsagePageInput, keyUsageQuery } from "@/server/usage-stats/schemas";
import { keysCsvHref, keysInput, loadKeysParams, resolveKeysState, serializeKeysUrl } from "./url-state";

const parse = (p: Record<string, string> | URLSearchParams) => resolveKeysState(loadKeysParams(p));

describe("the key page URL", () => {
  it("gives defaults for an empty URL and keeps it empty", () => {
    const s = parse({});
    expect(s).toEqual({ search: "", range: "total", from: undefined, to: undefined, sort: "cost", order: "desc" });
    expect(serializeKeysUrl(s)).toBe("");
  });

  it("round-trips every field, and builds inputs the API's schemas accept", () => {
    const s = parse(new URLSearchParams("q=%E7%94%9F%E4%BA%A7&range=custom&from=2026-01-01&to=2026-01-31&sort=name&order=desc"));
    expect(s).toEqual({ search: "生产", range: "custom", from: "2026-01-01", to: "2026-01-31", sort: "name", order: "desc" });
    expect(parse(new URLSearchParams(serializeKeysUrl(s)))).toEqual(s);
    expect(keyUsagePageInput.parse({ ...keysInput(s), cursor: null })).toMatchObject({ range: "custom", start: "2026-01-01", end: "2026-01-31", search: "生产", sort: "name", order: "desc", limit: 50 });
    const csv = new URL(keysCsvHref(s), "http://x");
    expect(csv.pathname).toBe("/admin/api-keys/usage-stats");
    expect(keyUsageQuery.parse(Object.fromEntries(csv.searchParams))).toMatchObject({ format: "csv", range: "custom", start: "2026-01-01", sort: "name", order: "desc" });
  });

  it("falls back to defaults for values it does not know, and drops a custom range out of order", () => {
    expect(parse({ sort: "drop table", order: "sideways", range: "custom", from: "2026-02-01", to: "2026-01-01" })).toEqual({
      search: "",
      range: "total",
      from: undefined,
      to: undefined,
      sort: "cost",
      order: "desc",
    });
    expect(parse({ sort: "name" }).order).toBe("asc");
    expect(parse({ q: "x".repeat(300) }).search).toHaveLength(200);
  });
});
