import { describe, expect, it } from "vitest";
import { upsertApiKeyInput } from "./schemas";

/** A key's cost limits are never negative (an event's money may be, in a correction: not a limit). */
describe("API key cost limits", () => {
  it.each([["-1"], [-0.5], ["-0.00000001"]])("refuses %j", (limit) => {
    const r = upsertApiKeyInput.safeParse({ id: "k", dailyCostLimit: limit });
    expect(r.error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`)).toEqual(["dailyCostLimit: must not be negative"]);
    expect(upsertApiKeyInput.safeParse({ id: "k", totalCostLimit: limit }).success).toBe(false);
  });

  it("takes zero and positive limits exactly", () => {
    expect(upsertApiKeyInput.parse({ id: "k", dailyCostLimit: "0", totalCostLimit: 12.5 })).toMatchObject({ dailyCostLimit: "0", totalCostLimit: "12.5" });
  });
});
