import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { changePassword, ensureAdminUser, login, setPassword } from "./admin.service";
import { authenticateRequest } from "./authenticate";
import { credentialStore } from "./credential-store";
import { SESSION_COOKIE } from "./http";
import { sha256Hex } from "./secrets";
import { createSession, revokeSession, verifySession } from "./session.service";
import { adminTestStores, authTestStores, STORE_MODES, TEST_ADMIN_PASSWORD, type AuthTestStores } from "./testing";
import { createApiToken, listApiTokens, revokeApiToken, verifyApiToken } from "./token.service";

const H = 3600_000;
const ctx = { ip: "192.0.2.1", requestId: "test" };

async function rejection(p: Promise<unknown>): Promise<AppError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

function cookieRequest(token: string, init: RequestInit = {}): Request {
  return new Request("http://localhost/admin/auth/me", { ...init, headers: { cookie: `${SESSION_COOKIE}=${token}`, ...init.headers } });
}

describe.each(STORE_MODES)("authentication with %s", (mode) => {
  let stores: AuthTestStores;
  const t0 = new Date(Date.UTC(2030, 0, 1, 8, 0, 0));

  beforeAll(async () => {
    stores = await adminTestStores(mode);
  });
  afterAll(() => stores.close());

  it("signs in with the right password and verifies the session", async () => {
    const r = await login(stores.runtime, { username: "admin", password: TEST_ADMIN_PASSWORD }, ctx, t0);
    expect(r.username).toBe("admin");
    expect(r.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(r.expiresAt).toEqual(new Date(t0.getTime() + 24 * H));
    expect(await verifySession(stores.runtime, r.token, t0)).toEqual({
      username: "admin",
      id: `s_${sha256Hex(r.token).slice(0, 12)}`,
      expiresAt: new Date(t0.getTime() + 24 * H),
    });
  });

  it("gives the same error for a wrong password and an unknown user", async () => {
    const wrongPassword = await rejection(login(stores.runtime, { username: "admin", password: "nope-nope-nope" }, ctx, t0));
    const unknownUser = await rejection(login(stores.runtime, { username: "root", password: TEST_ADMIN_PASSWORD }, ctx, t0));
    expect([wrongPassword.code, wrongPassword.message]).toEqual(["UNAUTHORIZED", "Invalid username or password"]);
    expect([unknownUser.code, unknownUser.message]).toEqual(["UNAUTHORIZED", "Invalid username or password"]);
  });

  it("stores only the hash of the session id", async () => {
    const { token } = await createSession(stores.runtime, "admin", t0);
    const { runtime } = stores;
    if (runtime.redis) {
      expect(await runtime.redis.exists(`${runtime.config.redisKeyPrefix}auth:session:${sha256Hex(token)}`)).toBe(1);
      expect(await runtime.redis.keys(`*${token}*`)).toEqual([]);
    } else {
      const rows = await runtime.db!.db.selectFrom("admin_sessions").selectAll().execute();
      expect(rows.map((r) => r.token_hash)).toContain(sha256Hex(token));
      expect(JSON.stringify(rows)).not.toContain(token);
    }
  });

  it("ends a session after 24 h idle, and activity keeps it alive", async () => {
    const { token } = await createSession(stores.runtime, "admin", t0);
    const beforeIdle = new Date(t0.getTime() + 24 * H - 1000);
    expect(await verifySession(stores.runtime, token, beforeIdle)).toBeDefined();
    // That request counted as activity: 24 h from it, not from sign-in.
    expect(await verifySession(stores.runtime, token, new Date(beforeIdle.getTime() + 24 * H - 1000))).toBeDefined();
    expect(await verifySession(stores.runtime, token, new Date(beforeIdle.getTime() + 24 * H - 1000 + 24 * H))).toBeUndefined();
    // Expired means gone, even if the clock went back.
    expect(await verifySession(stores.runtime, token, t0)).toBeUndefined();
  });

  it("ends a session 7 days after sign-in however active it is", async () => {
    const { token } = await createSession(stores.runtime, "admin", t0);
    for (let h = 12; h < 7 * 24; h += 12) {
      expect(await verifySession(stores.runtime, token, new Date(t0.getTime() + h * H))).toBeDefined();
    }
    expect(await verifySession(stores.runtime, token, new Date(t0.getTime() + 7 * 24 * H))).toBeUndefined();
  });

  it("refuses an expired session on a real request with 401", async () => {
    const now = Date.now();
    const { token } = await createSession(stores.runtime, "admin", new Date(now - 25 * H));
    const err = await rejection(authenticateRequest(cookieRequest(token), "usage:read", stores.runtime));
    expect([err.code, err.message]).toEqual(["UNAUTHORIZED", "The session has expired or was signed out; sign in again"]);
    const fresh = await createSession(stores.runtime, "admin", new Date(now));
    expect(await authenticateRequest(cookieRequest(fresh.token), "admin", stores.runtime)).toMatchObject({ kind: "session", name: "admin", scopes: ["admin"] });
  });

  it("signs out one session and leaves the others", async () => {
    const a = await createSession(stores.runtime, "admin", t0);
    const b = await createSession(stores.runtime, "admin", t0);
    await revokeSession(stores.runtime, a.token, t0);
    expect(await verifySession(stores.runtime, a.token, t0)).toBeUndefined();
    expect(await verifySession(stores.runtime, b.token, t0)).toBeDefined();
  });

  it("refuses values that are not session ids without a lookup", async () => {
    for (const v of ["", "x", "a".repeat(44), "../../etc", "a".repeat(42) + "!"]) {
      expect(await verifySession(stores.runtime, v, t0)).toBeUndefined();
    }
  });

  it("creates, lists, uses and revokes API tokens, storing only their hash", async () => {
    const created = await createApiToken(stores.runtime, { name: "relay", scope: "usage:write" }, t0);
    expect(created.token).toMatch(/^ubk_[A-Za-z0-9_-]{43}$/);
    expect(created.info).toEqual({
      id: expect.stringMatching(/^[0-9a-f-]{36}$/),
      name: "relay",
      scope: "usage:write",
      tokenPrefix: created.token.slice(0, 8),
      createdAt: t0,
      lastUsedAt: null,
    });
    const later = new Date(t0.getTime() + H);
    expect(await verifyApiToken(stores.runtime, created.token, later)).toEqual({ ...created.info, lastUsedAt: later });
    const listed = (await listApiTokens(stores.runtime)).find((t) => t.id === created.info.id);
    expect(listed).toEqual({ ...created.info, lastUsedAt: later });

    const stored = await credentialStore(stores.runtime).findActiveTokenByHash(sha256Hex(created.token));
    expect(stored?.tokenHash).toBe(sha256Hex(created.token));
    if (stores.runtime.db) {
      const rows = await stores.runtime.db.db.selectFrom("api_tokens").selectAll().execute();
      expect(JSON.stringify(rows)).not.toContain(created.token);
    }

    expect(await revokeApiToken(stores.runtime, created.info.id, later)).toMatchObject({ id: created.info.id, name: "relay" });
    expect(await verifyApiToken(stores.runtime, created.token, later)).toBeUndefined();
    expect((await listApiTokens(stores.runtime)).map((t) => t.id)).not.toContain(created.info.id);
    // Revoking twice is fine; an unknown id is a 404.
    await revokeApiToken(stores.runtime, created.info.id, later);
    const missing = await rejection(revokeApiToken(stores.runtime, "00000000-0000-4000-8000-000000000000"));
    expect([missing.code, missing.message]).toEqual(["NOT_FOUND", "No API token with id 00000000-0000-4000-8000-000000000000"]);
    expect(await verifyApiToken(stores.runtime, "ubk_" + "A".repeat(43), later)).toBeUndefined();
  });

  it("changing the password ends every session and only the new password works", async () => {
    const a = await createSession(stores.runtime, "admin", t0);
    const b = await createSession(stores.runtime, "admin", t0);
    const wrong = await rejection(
      changePassword(stores.runtime, "admin", { currentPassword: "not the password", newPassword: "a brand new password" }, { ...ctx, callerId: "session:test" }, t0),
    );
    expect([wrong.code, wrong.message]).toEqual(["BAD_REQUEST", "The current password is incorrect"]);
    expect(await verifySession(stores.runtime, a.token, t0)).toBeDefined();

    const changedAt = new Date(t0.getTime() + 1000);
    await changePassword(stores.runtime, "admin", { currentPassword: TEST_ADMIN_PASSWORD, newPassword: "a brand new password" }, { ...ctx, callerId: "session:test" }, changedAt);
    expect(await verifySession(stores.runtime, a.token, changedAt)).toBeUndefined();
    expect(await verifySession(stores.runtime, b.token, changedAt)).toBeUndefined();
    const old = await rejection(login(stores.runtime, { username: "admin", password: TEST_ADMIN_PASSWORD }, ctx, changedAt));
    expect(old.code).toBe("UNAUTHORIZED");
    const r = await login(stores.runtime, { username: "admin", password: "a brand new password" }, ctx, changedAt);
    expect(await verifySession(stores.runtime, r.token, changedAt)).toBeDefined();
    // Back to the shared password for the other tests.
    await setPassword(stores.runtime, "admin", TEST_ADMIN_PASSWORD, "env", new Date(Date.UTC(2020, 0, 1)));
  });

  it("refuses sessions older than the password even when their deletion did not happen", async () => {
    const s = await createSession(stores.runtime, "admin", t0);
    const admin = await credentialStore(stores.runtime).findAdmin("admin");
    // As if Redis had been down when the password changed: the row changes, the session stays.
    await credentialStore(stores.runtime).updateAdminPassword({ ...admin!, passwordChangedAt: new Date(t0.getTime() + 1) });
    expect(await verifySession(stores.runtime, s.token, new Date(t0.getTime() + 2))).toBeUndefined();
    await credentialStore(stores.runtime).updateAdminPassword({ ...admin! });
  });
});

describe("the admin account at start-up", () => {
  let stores: AuthTestStores;
  afterAll(() => stores?.close());

  it("generates a password once, prints it once, and stores only its hash", async () => {
    stores = await authTestStores("postgres+redis", { ADMIN_PASSWORD: undefined, ADMIN_USERNAME: "boss" });
    const printed: string[][] = [];
    await ensureAdminUser(stores.runtime, { print: (l) => printed.push(l) });
    expect(printed).toHaveLength(1);
    const password = /password: (\S+)/.exec(printed[0]!.join("\n"))?.[1] ?? "";
    expect(password).toMatch(/^[A-Za-z2-9]{24}$/);
    const row = await stores.runtime.db!.db.selectFrom("admin_users").selectAll().executeTakeFirstOrThrow();
    expect(row).toMatchObject({ username: "boss", password_source: "generated" });
    expect(row.password_hash).toMatch(/^\$argon2id\$/);
    expect(row.password_hash).not.toContain(password);

    // Another process (another runtime) starting later prints nothing.
    const { createRuntime } = await import("../runtime");
    const second = await createRuntime(stores.runtime.config, { ownDatabase: true });
    await ensureAdminUser(second, { print: (l) => printed.push(l) });
    await second.close();
    expect(printed).toHaveLength(1);
    const r = await login(stores.runtime, { username: "boss", password }, ctx);
    expect(r.username).toBe("boss");
  });

  it("a sign-in that creates the admin (no start-up ran) gets a session that works", async () => {
    // Found by CI: the sign-in took its clock before creating the admin, whose password was then
    // 1 ms younger than the session, so the first session after a fresh start was refused.
    const s = await authTestStores("postgres+redis");
    try {
      const at = new Date(Date.now() - 1000);
      const r = await login(s.runtime, { username: "admin", password: TEST_ADMIN_PASSWORD }, ctx, at);
      expect(await verifySession(s.runtime, r.token, at)).toMatchObject({ username: "admin" });
    } finally {
      await s.close();
    }
  });

  it("follows ADMIN_PASSWORD while it is the source, and ignores it once the password was set elsewhere", async () => {
    const s = await authTestStores("postgres", { ADMIN_PASSWORD: "first env password" });
    const { createRuntime } = await import("../runtime");
    try {
      await ensureAdminUser(s.runtime);
      const session = await createSession(s.runtime, "admin");
      // A restart with a new ADMIN_PASSWORD: the password follows it and old sessions end.
      const restarted = await createRuntime({ ...s.runtime.config, adminPassword: "second env password" }, { ownDatabase: true });
      await ensureAdminUser(restarted);
      expect(await verifySession(restarted, session.token)).toBeUndefined();
      expect((await login(restarted, { username: "admin", password: "second env password" }, ctx)).username).toBe("admin");
      // Changed with the CLI / console: a later ADMIN_PASSWORD is ignored.
      await setPassword(restarted, "admin", "set by the console", "set");
      await restarted.close();
      const again = await createRuntime({ ...s.runtime.config, adminPassword: "third env password" }, { ownDatabase: true });
      await ensureAdminUser(again);
      expect((await login(again, { username: "admin", password: "set by the console" }, ctx)).username).toBe("admin");
      expect((await rejection(login(again, { username: "admin", password: "third env password" }, ctx))).code).toBe("UNAUTHORIZED");
      await again.close();
    } finally {
      await s.close();
    }
  });
});
