import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { sha256Hex } from "@/server/auth/secrets";
import { revokeAllApiTokens } from "@/server/auth/token.service";
import { authTestStores, bearerHeader, TEST_ADMIN_PASSWORD, type AuthTestStores } from "@/server/auth/testing";
import { ROUTE_MARK } from "@/server/http/route";
import { setRuntime } from "@/server/runtime";
import * as login from "./login/route";
import * as logout from "./logout/route";
import * as me from "./me/route";
import * as password from "./password/route";
import * as tokens from "../tokens/route";
import * as tokenById from "../tokens/[id]/route";

vi.mock("server-only", () => ({}));
// Debug level, so that the request log lines are part of what must not contain secrets.
vi.stubEnv("LOG_LEVEL", "debug");

type Handler = (req: NextRequest, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;

function send(handler: Handler, opts: { method?: string; path?: string; headers?: Record<string, string>; json?: unknown; raw?: string; params?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  let body: string | undefined;
  if (opts.json !== undefined || opts.raw !== undefined) {
    headers["content-type"] ??= "application/json";
    body = opts.raw ?? JSON.stringify(opts.json);
  }
  const req = new NextRequest(`http://localhost${opts.path ?? "/admin/x"}`, { method: opts.method ?? "POST", headers, body });
  return handler(req, { params: Promise.resolve(opts.params ?? {}) });
}

const sameSite = { origin: "http://localhost", "sec-fetch-site": "same-origin" };

function sessionSetCookie(res: Response): string | undefined {
  return res.headers.getSetCookie().find((c) => c.startsWith("ub_session="));
}

function cookieFrom(res: Response): string {
  return (sessionSetCookie(res) ?? "").split(";")[0]!;
}

describe("sign-in, sign-out and password change over REST", () => {
  let stores: AuthTestStores;
  beforeAll(async () => {
    stores = await authTestStores("postgres+redis", { LOGIN_MAX_FAILURES_PER_USERNAME: "3" });
    setRuntime(stores.runtime);
  });
  afterAll(async () => {
    setRuntime(undefined);
    await stores.close();
  });

  it("signs in with an HttpOnly, SameSite=Lax cookie that works, and signs out", async () => {
    const res = await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD }, headers: sameSite });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: { username: "admin", expiresAt: expect.any(String) } });
    expect(sessionSetCookie(res)).toMatch(/^ub_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    expect(res.headers.getSetCookie().find((c) => c.startsWith("ub_device="))).toMatch(/^ub_device=[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}; Path=\/; Max-Age=31536000; HttpOnly; SameSite=Lax$/);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const cookie = cookieFrom(res);

    const who = await send(me.GET, { method: "GET", headers: { cookie } });
    expect(await who.json()).toEqual({ success: true, data: { kind: "session", name: "admin", scopes: ["admin"] } });

    const out = await send(logout.POST, { headers: { cookie, ...sameSite } });
    expect(out.status).toBe(200);
    expect(out.headers.get("set-cookie")).toBe("ub_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    const after = await send(me.GET, { method: "GET", headers: { cookie } });
    expect(after.status).toBe(401);
  });

  it("marks the cookie Secure by configuration, not because a client says X-Forwarded-Proto: https", async () => {
    const spoofed = await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD }, headers: { "x-forwarded-proto": "https" } });
    expect(sessionSetCookie(spoofed)).toMatch(/; HttpOnly; SameSite=Lax$/);
    const secure = await authTestStores("postgres", { COOKIE_SECURE: "true" });
    setRuntime(secure.runtime);
    try {
      const res = await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD } });
      expect(sessionSetCookie(res)).toMatch(/; HttpOnly; SameSite=Lax; Secure$/);
    } finally {
      setRuntime(stores.runtime);
      await secure.close();
    }
  });

  it("signs in from a form posted without JavaScript, with the same CSRF check, and sends the browser on", async () => {
    const form = (fields: Record<string, string>, headers: Record<string, string> = sameSite) =>
      send(login.POST, { raw: new URLSearchParams(fields).toString(), headers: { "content-type": "application/x-www-form-urlencoded", ...headers } });
    const ok = await form({ username: "admin", password: TEST_ADMIN_PASSWORD, next: "/accounts?platform=claude" });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe("/accounts?platform=claude");
    expect(sessionSetCookie(ok)).toMatch(/^ub_session=[A-Za-z0-9_-]{43};/);
    const evil = await form({ username: "admin", password: TEST_ADMIN_PASSWORD, next: "/.//evil.example/phish" });
    expect(evil.headers.get("location")).toBe("/");
    const wrong = await form({ username: "admin", password: "not it", next: "/accounts" });
    expect([wrong.status, wrong.headers.get("location"), sessionSetCookie(wrong)]).toEqual([303, "/login?error=invalid&next=%2Faccounts", undefined]);
    const crossSite = await form({ username: "admin", password: TEST_ADMIN_PASSWORD }, { origin: "https://evil.example", "sec-fetch-site": "cross-site" });
    expect(crossSite.status).toBe(403);
    expect(sessionSetCookie(crossSite)).toBeUndefined();
  });

  it("signs out a browser whose session already ended, clearing its cookie", async () => {
    const res = await send(logout.POST, { headers: { cookie: "ub_session=" + "x".repeat(43), ...sameSite } });
    expect(res.status).toBe(200);
    expect(res.headers.get("set-cookie")).toBe("ub_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
  });

  it("revokes every API token at once; a password change leaves tokens alone", async () => {
    const session = cookieFrom(await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD } }));
    const minted = [await bearerHeader(stores.runtime, "usage:read", "one"), await bearerHeader(stores.runtime, "usage:write", "two")];
    const res = await send(tokens.DELETE, { method: "DELETE", headers: { cookie: session, ...sameSite } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { revoked: number } }).data.revoked).toBeGreaterThanOrEqual(2);
    for (const authorization of minted) expect((await send(me.GET, { method: "GET", headers: { authorization } })).status).toBe(401);
  });

  it("answers 429 with Retry-After once a username had too many attempts", async () => {
    const attempt = () => send(login.POST, { json: { username: "limited", password: "x" }, headers: { "x-forwarded-for": "192.0.2.77" } });
    expect([(await attempt()).status, (await attempt()).status, (await attempt()).status]).toEqual([401, 401, 401]);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    const retryAfter = Number(limited.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(900);
    expect(await limited.json()).toMatchObject({ error: { code: "TOO_MANY_REQUESTS", message: `Too many sign-in attempts; try again in ${retryAfter} seconds` } });
  });

  it("refuses a sign-in posted from another site", async () => {
    const res = await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD }, headers: { origin: "https://evil.example", "sec-fetch-site": "cross-site" } });
    expect(res.status).toBe(403);
    expect(res.headers.get("set-cookie")).toBeNull();
  });

  it("bounds the input", async () => {
    const long = await send(login.POST, { json: { username: "a".repeat(129), password: "x" } });
    expect(await long.json()).toMatchObject({ error: { code: "BAD_REQUEST", message: "Invalid request body: username: must be at most 128 characters" } });
    const big = await send(login.POST, { raw: JSON.stringify({ username: "admin", password: "x".repeat(5000) }) });
    expect(big.status).toBe(413);
    const extra = await send(tokens.POST, { json: { name: "n", scope: "admin", extra: 1 }, headers: { authorization: "Bearer ubk_" + "x".repeat(43) } });
    expect(extra.status).toBe(401);
  });

  it("changing the password over REST clears the cookie and ends every session", async () => {
    const kept = await bearerHeader(stores.runtime, "usage:read", "kept");
    const a = cookieFrom(await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD } }));
    const b = cookieFrom(await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD } }));
    const res = await send(password.POST, { json: { currentPassword: TEST_ADMIN_PASSWORD, newPassword: "the new admin password" }, headers: { cookie: a, ...sameSite } });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: { changed: true, signedOut: true } });
    expect(res.headers.get("set-cookie")).toBe("ub_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax");
    for (const cookie of [a, b]) expect((await send(me.GET, { method: "GET", headers: { cookie } })).status).toBe(401);
    const fresh = await send(login.POST, { json: { username: "admin", password: "the new admin password" } });
    expect(fresh.status).toBe(200);
    // Documented: a password change ends sessions, not API tokens.
    expect((await send(me.GET, { method: "GET", headers: { authorization: kept } })).status).toBe(200);
    await revokeAllApiTokens(stores.runtime);
  });

  it("manages tokens: create shows the token once, list and revoke", async () => {
    const cookie = cookieFrom(await send(login.POST, { json: { username: "admin", password: "the new admin password" } }));
    const created = await send(tokens.POST, { json: { name: "relay", scope: "usage:write" }, headers: { cookie, ...sameSite } });
    expect(created.status).toBe(201);
    const { data } = (await created.json()) as { data: { id: string; token: string } };
    const listed = await send(tokens.GET, { method: "GET", headers: { cookie } });
    const list = ((await listed.json()) as { data: Record<string, unknown>[] }).data;
    expect(list).toEqual([{ id: data.id, name: "relay", scope: "usage:write", tokenPrefix: data.token.slice(0, 8), createdAt: expect.any(String), lastUsedAt: null }]);
    expect(JSON.stringify(list)).not.toContain(data.token);

    const badId = await send(tokenById.DELETE, { method: "DELETE", params: { id: "not-a-uuid" }, headers: { cookie, ...sameSite } });
    expect(await badId.json()).toMatchObject({ error: { code: "BAD_REQUEST", message: "Invalid path: id: must be a token id (a UUID)" } });
    const revoked = await send(tokenById.DELETE, { method: "DELETE", params: { id: data.id }, headers: { cookie, ...sameSite } });
    expect(revoked.status).toBe(200);
    const use = await send(me.GET, { method: "GET", headers: { authorization: `Bearer ${data.token}` } });
    expect(await use.json()).toMatchObject({ error: { code: "UNAUTHORIZED", message: "The API token is invalid or was revoked" } });
  });
});

describe("logs and error messages carry no secret", () => {
  let stores: AuthTestStores;
  const lines: string[] = [];
  beforeAll(async () => {
    stores = await authTestStores("postgres+redis");
    setRuntime(stores.runtime);
    for (const m of ["log", "info", "warn", "error", "debug"] as const) {
      vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    }
  });
  afterAll(async () => {
    vi.restoreAllMocks();
    setRuntime(undefined);
    await stores.close();
  });

  /** Every usage:write route handler in app/admin: the ingest and upsert endpoints, whatever they are called. */
  async function writeRoutes(): Promise<{ name: string; handler: Handler }[]> {
    const out: { name: string; handler: Handler }[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const full = path.join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.name === "route.ts") {
          const mod = (await import(pathToFileURL(full).href)) as Record<string, Handler & { [ROUTE_MARK]?: string }>;
          for (const [method, h] of Object.entries(mod)) if (h[ROUTE_MARK] === "usage:write" && method !== "GET") out.push({ name: `${method} ${full}`, handler: h });
        }
      }
    };
    await walk(path.resolve(import.meta.dirname, ".."));
    return out;
  }

  it("during sign-in, token use, ingest and a password change", async () => {
    const wrong = "Wrong-Password-0xDEADBEEF";
    const newPassword = "New-Admin-Password-0xFEEDFACE";
    const hashedKey = "hk_secret_0123456789abcdef0123456789abcdef";
    const responses: string[] = [];
    const keep = async (res: Response) => {
      responses.push(await res.clone().text());
      return res;
    };

    await keep(await send(login.POST, { json: { username: "admin", password: wrong } }));
    await keep(await send(login.POST, { json: { username: wrong, password: wrong } }));
    await keep(await send(login.POST, { raw: `{"username":"admin","password":"${wrong}" oops` }));
    const signedIn = await send(login.POST, { json: { username: "admin", password: TEST_ADMIN_PASSWORD }, headers: { "x-request-id": "req-login-1" } });
    const cookie = cookieFrom(signedIn);
    const sessionId = cookie.split("=")[1]!;
    const created = await send(tokens.POST, { json: { name: "relay", scope: "usage:write" }, headers: { cookie, ...sameSite } });
    const token = ((await created.json()) as { data: { token: string } }).data.token;

    for (const r of await writeRoutes()) {
      await keep(await send(r.handler, { json: { hashedKey, apiKey: { hashedKey }, events: [{ hashedKey }] }, headers: { authorization: `Bearer ${token}` } }));
    }
    await keep(await send(me.GET, { method: "GET", headers: { authorization: `Bearer ${token}` } }));
    await keep(await send(me.GET, { method: "GET", headers: { authorization: `Bearer ${token.slice(0, -1)}x` } }));
    await keep(await send(password.POST, { json: { currentPassword: wrong, newPassword }, headers: { cookie, ...sameSite } }));
    await keep(await send(password.POST, { json: { currentPassword: TEST_ADMIN_PASSWORD, newPassword }, headers: { cookie, ...sameSite } }));
    await keep(await send(login.POST, { json: { username: "admin", password: newPassword } }));

    const log = lines.join("\n");
    expect(log).toContain("[auth] signed in");
    expect(log).toMatch(/\[http\] POST \/admin\/x 200 [\d.]+ms \{"requestId":"req-login-1"\}/);
    for (const line of lines.filter((l) => l.startsWith("[http]"))) expect(line).toContain('"requestId":');
    const secrets = { password: TEST_ADMIN_PASSWORD, wrong, newPassword, token, tokenHash: sha256Hex(token), sessionId, sessionHash: sha256Hex(sessionId), hashedKey };
    for (const [what, secret] of Object.entries(secrets)) {
      expect(log.includes(secret), `${what} in the log`).toBe(false);
      expect(responses.join("\n").includes(secret), `${what} in a response`).toBe(false);
    }
  });
});
