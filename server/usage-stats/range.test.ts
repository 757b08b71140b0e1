import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { assertExactZone, boundaries, decompose, monthBoundaries, resolveRange } from "./range";
import { addYears, localDate, localMidnight, utcOffsetMinutes } from "../calendar";

describe("decompose", () => {
  it("reads whole months from the monthly rollups and only the leftover days from the daily ones", () => {
    expect(decompose("2026-03-31", "2026-03-31")).toEqual({ kind: "segments", months: null, days: [{ from: "2026-03-31", to: "2026-03-31" }] });
    expect(decompose("2026-03-01", "2026-03-31")).toEqual({ kind: "segments", months: { from: "2026-03", to: "2026-03" }, days: [] });
    expect(decompose("2026-03-02", "2026-03-30")).toEqual({ kind: "segments", months: null, days: [{ from: "2026-03-02", to: "2026-03-30" }] });
    expect(decompose("2026-03-15", "2026-05-11")).toEqual({
      kind: "segments",
      months: { from: "2026-04", to: "2026-04" },
      days: [
        { from: "2026-03-15", to: "2026-03-31" },
        { from: "2026-05-01", to: "2026-05-11" },
      ],
    });
    expect(decompose("2026-03-15", "2026-04-10")).toEqual({
      kind: "segments",
      months: null,
      days: [
        { from: "2026-03-15", to: "2026-03-31" },
        { from: "2026-04-01", to: "2026-04-10" },
      ],
    });
    expect(decompose("2023-12-01", "2026-11-30")).toEqual({ kind: "segments", months: { from: "2023-12", to: "2026-11" }, days: [] });
    expect(decompose("2024-02-29", "2024-03-31")).toEqual({ kind: "segments", months: { from: "2024-03", to: "2024-03" }, days: [{ from: "2024-02-29", to: "2024-02-29" }] });
  });

  it("resolves each range name", () => {
    const tz = "Asia/Shanghai";
    expect(resolveRange({ range: "daily" }, "2026-11-26", tz)).toMatchObject({ start: "2026-11-26", end: "2026-11-26", seriesUnit: "day" });
    expect(resolveRange({ range: "monthly" }, "2026-02-10", tz)).toMatchObject({ start: "2026-02-01", end: "2026-02-28", seriesUnit: "day" });
    expect(resolveRange({ range: "custom", start: "2026-01-01", end: "2026-04-02" }, "2026-11-26", tz)).toMatchObject({ seriesUnit: "day" });
    expect(resolveRange({ range: "custom", start: "2026-01-01", end: "2026-04-03" }, "2026-11-26", tz)).toMatchObject({ seriesUnit: "month" });
    expect(resolveRange({ range: "total" }, "2026-11-26", tz)).toMatchObject({ start: null, end: null, plan: { kind: "total" }, seriesUnit: "month" });
  });
});

describe("time zones", () => {
  it("finds local dates and midnights, across DST changes too", () => {
    expect(localDate(Date.parse("2026-03-31T15:59:59.999Z"), "Asia/Shanghai")).toBe("2026-03-31");
    expect(localDate(Date.parse("2026-03-31T16:00:00.000Z"), "Asia/Shanghai")).toBe("2026-04-01");
    expect(new Date(localMidnight("2026-04-01", "Asia/Shanghai")).toISOString()).toBe("2026-03-31T16:00:00.000Z");
    // New York moves to UTC-4 on 2026-03-08 at 02:00 local.
    expect(new Date(localMidnight("2026-03-08", "America/New_York")).toISOString()).toBe("2026-03-08T05:00:00.000Z");
    expect(new Date(localMidnight("2026-03-09", "America/New_York")).toISOString()).toBe("2026-03-09T04:00:00.000Z");
    expect(utcOffsetMinutes("Asia/Kolkata", Date.parse("2026-01-01T00:00:00Z"))).toBe(330);
    expect(addYears("2024-02-29", 3)).toBe("2027-02-28");
  });

  it("accepts a zone only when it cuts every day the answer needs at the same instants", () => {
    const ok = (base: string, tz: string, from: string, to: string) => {
      try {
        assertExactZone(base, tz, boundaries(from, to));
        return true;
      } catch (err) {
        expect(err).toBeInstanceOf(AppError);
        expect((err as AppError).extra.issues?.[0]?.path).toBe("tz");
        return false;
      }
    };
    expect(ok("Asia/Shanghai", "Asia/Hong_Kong", "2025-01-01", "2026-12-31")).toBe(true);
    expect(ok("Asia/Shanghai", "Etc/GMT-8", "2025-01-01", "2026-12-31")).toBe(true);
    expect(ok("Asia/Shanghai", "UTC", "2026-03-31", "2026-03-31")).toBe(false);
    // Same rules, both sides of a DST change.
    expect(ok("Europe/London", "Europe/Lisbon", "2026-03-01", "2026-04-30")).toBe(true);
    // Brisbane equals Sydney in the southern winter only.
    expect(ok("Australia/Sydney", "Australia/Brisbane", "2026-06-01", "2026-06-30")).toBe(true);
    expect(ok("Australia/Sydney", "Australia/Brisbane", "2026-01-01", "2026-01-31")).toBe(false);
    expect(ok("Australia/Sydney", "Australia/Brisbane", "2026-06-01", "2026-10-31")).toBe(false);
    expect([...monthBoundaries("2026-11", "2026-12")]).toEqual(["2026-11-01", "2026-12-01", "2027-01-01"]);
  });
});
