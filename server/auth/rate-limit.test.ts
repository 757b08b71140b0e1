import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { login, passwordCheckLimiter } from "./admin.service";
import { CheckLimiter } from "./login-guard";
import { windowAt } from "./rate-limit";
import { adminTestStores, TEST_ADMIN_PASSWORD, type AuthTestStores } from "./testing";

const WINDOW_S = 60;
const LIMITS = { LOGIN_RATE_WINDOW_SECONDS: String(WINDOW_S), LOGIN_MAX_FAILURES_PER_USERNAME: "3", LOGIN_MAX_FAILURES_PER_IP: "5" };
// 10 s into a window, so the window ends 50 s later.
const T = new Date(Date.UTC(2030, 0, 1, 8, 0, 10));
const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);
const good = { username: "admin", password: TEST_ADMIN_PASSWORD };
const bad = { username: "admin", password: "wrong password" };

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    return err.code === "TOO_MANY_REQUESTS" ? `429 retry ${err.extra.retryAfterSeconds}` : err.code;
  }
}

describe("windowAt", () => {
  it("numbers fixed windows and counts the seconds left", () => {
    expect(windowAt(T.getTime(), 60)).toEqual({ number: Math.floor(T.getTime() / 60_000), secondsLeft: 50 });
    expect(windowAt(at(49.5).getTime(), 60).secondsLeft).toBe(1);
    expect(windowAt(at(50).getTime(), 60)).toEqual({ number: Math.floor(T.getTime() / 60_000) + 1, secondsLeft: 60 });
  });
});

describe.each(["postgres+redis", "postgres"] as const)("login rate limits (%s)", (mode) => {
  let stores: AuthTestStores;
  beforeAll(async () => {
    stores = await adminTestStores(mode, LIMITS);
  });
  afterAll(() => stores.close());

  it("limits a username, even with the right password, until the window ends", async () => {
    const ip = { ip: "198.51.100.1", requestId: "t" };
    const results = [];
    for (let i = 0; i < 3; i++) results.push(await outcome(login(stores.runtime, bad, { ...ip, ip: `198.51.100.${i + 1}` }, at(i))));
    results.push(await outcome(login(stores.runtime, good, { ...ip, ip: "198.51.100.9" }, at(5))));
    expect(results).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "429 retry 45"]);
    // The next window: released.
    expect(await outcome(login(stores.runtime, good, ip, at(50)))).toBe("ok");
  });

  it("limits an address across usernames, and a success does not count", async () => {
    const ctx = { ip: "203.0.113.7", requestId: "t" };
    const t = (s: number) => at(3600 + s);
    const results = [];
    results.push(await outcome(login(stores.runtime, { username: "u1", password: "x" }, ctx, t(0))));
    results.push(await outcome(login(stores.runtime, good, ctx, t(1))));
    for (let i = 2; i <= 6; i++) results.push(await outcome(login(stores.runtime, { username: `u${i}`, password: "x" }, ctx, t(i))));
    expect(results).toEqual(["UNAUTHORIZED", "ok", "UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "429 retry 44"]);
    // Another address is not affected.
    expect(await outcome(login(stores.runtime, good, { ...ctx, ip: "203.0.113.8" }, t(7)))).toBe("ok");
    expect(await outcome(login(stores.runtime, good, ctx, t(50)))).toBe("ok");
  });

  it("counts concurrent attempts exactly (no check-then-act race)", async () => {
    const ctx = { ip: "192.0.2.50", requestId: "t" };
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => outcome(login(stores.runtime, { username: "racer", password: "x" }, { ...ctx, ip: `192.0.2.${60 + i}` }, at(7200 + i / 10)))),
    );
    expect(results.filter((r) => r === "UNAUTHORIZED")).toHaveLength(3);
    expect(results.filter((r) => r.startsWith("429"))).toHaveLength(5);
  });
});

describe.each(["postgres+redis", "postgres"] as const)("a stranger cannot lock the owner out (%s)", (mode) => {
  let stores: AuthTestStores;
  beforeAll(async () => {
    stores = await adminTestStores(mode, { ...LIMITS, LOGIN_MAX_CONCURRENT_CHECKS: "2" });
  });
  afterAll(() => stores.close());

  it("the owner's browser signs in with the right password while its username is under attack", async () => {
    const owner = { ip: "198.51.100.20", requestId: "t" };
    const first = await login(stores.runtime, good, owner, at(0));
    expect(first.deviceToken).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/);
    // Ten wrong passwords for ADMIN (any case) from ten addresses: the username is now limited …
    const attack = [];
    for (let i = 0; i < 10; i++) attack.push(await outcome(login(stores.runtime, { username: i % 2 ? "ADMIN" : "admin", password: "guess" }, { ip: `203.0.113.${i + 1}`, requestId: "t" }, at(1 + i))));
    expect(attack).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", ...[4, 5, 6, 7, 8, 9, 10].map((s) => `429 retry ${50 - s}`)]);
    // … for a browser that never signed in here, even with the right password,
    expect(await outcome(login(stores.runtime, good, { ip: "192.0.2.99", requestId: "t" }, at(12)))).toMatch(/^429/);
    // but not for the owner's browser, from its own or another address.
    expect(await outcome(login(stores.runtime, good, { ...owner, deviceToken: first.deviceToken }, at(13)))).toBe("ok");
    expect(await outcome(login(stores.runtime, good, { ip: "192.0.2.100", requestId: "t", deviceToken: first.deviceToken }, at(14)))).toBe("ok");
    // A known device gets no new device cookie; a forged one counts as none.
    expect((await login(stores.runtime, good, { ...owner, deviceToken: first.deviceToken }, at(15))).deviceToken).toBeUndefined();
    const forged = `${first.deviceToken!.split(".")[0]}.${"A".repeat(43)}`;
    expect(await outcome(login(stores.runtime, good, { ...owner, deviceToken: forged }, at(16)))).toMatch(/^429/);
  });

  it("a known device that guesses wrong is limited on its own", async () => {
    const t = (s: number) => at(3600 + s);
    const { deviceToken } = await login(stores.runtime, good, { ip: "198.51.100.30", requestId: "t" }, t(0));
    const results = [];
    for (let i = 1; i <= 4; i++) results.push(await outcome(login(stores.runtime, bad, { ip: `198.51.100.${30 + i}`, requestId: "t", deviceToken }, t(i))));
    expect(results).toEqual(["UNAUTHORIZED", "UNAUTHORIZED", "UNAUTHORIZED", "429 retry 46"]);
  });

  it("bounds the password checks that run at once, whatever the usernames", async () => {
    const limiter = passwordCheckLimiter(stores.runtime);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) => outcome(login(stores.runtime, { username: `random-${i}`, password: "x" }, { ip: `10.9.${i}.1`, requestId: "t" }, at(7200)))),
    );
    expect(limiter.peak).toBeLessThanOrEqual(2);
    expect(results.every((r) => r === "UNAUTHORIZED" || r === "429 retry 1")).toBe(true);
  });
});

describe("CheckLimiter", () => {
  it("runs at most N, queues at most M, then refuses at once; a priority caller always queues, first", async () => {
    const l = new CheckLimiter(2, 1);
    const r1 = await l.acquire(false);
    const r2 = await l.acquire(false);
    const order: string[] = [];
    const queued = l.acquire(false).then((r) => (order.push("queued"), r));
    await expect(l.acquire(false)).rejects.toMatchObject({ code: "TOO_MANY_REQUESTS", extra: { retryAfterSeconds: 1 } });
    const vip = l.acquire(true).then((r) => (order.push("vip"), r));
    r1();
    r1(); // a second release of the same slot changes nothing
    const rv = await vip;
    expect(order).toEqual(["vip"]);
    r2();
    const rq = await queued;
    expect(order).toEqual(["vip", "queued"]);
    expect(l.peak).toBe(2);
    rv();
    rq();
    const again = await l.acquire(false);
    again();
  });
});
