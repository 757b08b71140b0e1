import { describe, expect, it } from "vitest";
import { localCalendar } from "./local-time";

/** The cached calendar (per UTC quarter hour, per minute where a quarter holds a local midnight or an offset change) equals formatting each instant. */
describe("localCalendar", () => {
  const ZONES = ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "America/Santiago", "Pacific/Chatham", "Asia/Kolkata", "America/St_Johns"];

  it.each(ZONES)("gives every instant its local day and month in %s", (timeZone) => {
    const fmt = new Intl.DateTimeFormat("en-CA", { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
    const cal = localCalendar(timeZone);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const from = Date.UTC(1990, 0, 1);
    const to = Date.UTC(2030, 0, 1);
    const instants: number[] = [];
    for (let i = 0; i < 20_000; i++) instants.push(Math.floor(from + rand() * (to - from)));
    // Around every local midnight and offset change of two years, minute by minute.
    for (let t = Date.UTC(2025, 0, 1); t < Date.UTC(2026, 11, 31); t += 86_400_000) {
      for (const h of [-3, -2, -1, 0, 1, 2, 3]) for (let m = -20; m <= 20; m += 7) instants.push(t + h * 3_600_000 + m * 60_000 + (m % 3) * 17_000);
    }
    for (const ms of instants) {
      const expected = fmt.format(ms);
      expect(cal.at(ms), `${new Date(ms).toISOString()} in ${timeZone}`).toEqual({ date: expected, month: expected.slice(0, 7) });
    }
  });
});
