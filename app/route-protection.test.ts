import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { authTestStores, bearerHeader, sessionCookieHeader, TEST_ADMIN_PASSWORD, type AuthTestStores } from "@/server/auth/testing";
import { SCOPES, type Scope } from "@/server/auth/scopes";
import { ROUTE_MARK } from "@/server/http/route";
import { setRuntime } from "@/server/runtime";

// Route modules import server-only code; outside Next.js that marker package throws on import.
vi.mock("server-only", () => ({}));

/**
 * Every route handler file under app/ and every tRPC procedure, found by walking the tree and the
 * router (never listed by hand): without credentials each answers 401 JSON, with a token of a
 * scope that is not enough 403, and with one that is enough neither. A route added later is
 * covered the moment it exists.
 */

const APP_DIR = import.meta.dirname;
const TRPC_ENDPOINT = "api/trpc/[trpc]/route.ts";
const HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
/** Route segment config a route file may export besides its handlers. */
const SEGMENT_CONFIG = new Set(["dynamic", "dynamicParams", "revalidate", "fetchCache", "runtime", "preferredRegion", "maxDuration"]);
/** The only handlers and procedures anyone may call without credentials. */
const PUBLIC_ROUTES = new Set(["POST /admin/auth/login", "POST /admin/auth/logout", "GET /livez", "GET /readyz"]);
const PUBLIC_PROCEDURES = new Set(["auth.login", "auth.logout"]);

function routeFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return routeFiles(full);
    return /^route\.(ts|tsx|js|mjs)$/.test(e.name) ? [path.relative(APP_DIR, full)] : [];
  });
}

/** URL path and params for a route file: [id] → "x1", [...slug] → ["x1", "x2"]; groups vanish. */
function urlFor(file: string): { pathname: string; params: Record<string, string | string[]> } {
  const params: Record<string, string | string[]> = {};
  const parts = path
    .dirname(file)
    .split(path.sep)
    .filter((seg) => !/^\(.*\)$/.test(seg) && !seg.startsWith("@"))
    .map((seg) => {
      const m = /^\[{1,2}(\.\.\.)?([^\]]+)\]{1,2}$/.exec(seg);
      if (!m) return seg;
      params[m[2]!] = m[1] ? ["x1", "x2"] : "x1";
      return m[1] ? "x1/x2" : "x1";
    });
  return { pathname: "/" + parts.join("/"), params };
}

type Handler = ((req: NextRequest, ctx: { params: Promise<Record<string, string | string[]>> }) => Promise<Response>) & {
  [ROUTE_MARK]?: Scope | "public";
};

interface RouteCase {
  name: string;
  method: string;
  pathname: string;
  params: Record<string, string | string[]>;
  handler: Handler;
}

const files = routeFiles(APP_DIR).sort();
const restFiles = files.filter((f) => f !== TRPC_ENDPOINT);

async function loadRoutes(): Promise<RouteCase[]> {
  const cases: RouteCase[] = [];
  for (const file of restFiles) {
    const mod = (await import(pathToFileURL(path.join(APP_DIR, file)).href)) as Record<string, unknown>;
    const { pathname, params } = urlFor(file);
    for (const [name, value] of Object.entries(mod)) {
      if (SEGMENT_CONFIG.has(name)) continue;
      if (!(HTTP_METHODS as readonly string[]).includes(name)) {
        throw new Error(`${file} exports "${name}": a route file exports only HTTP method handlers built with route()`);
      }
      cases.push({ name: `${name} ${pathname}`, method: name, pathname, params, handler: value as Handler });
    }
  }
  return cases;
}

function call(c: RouteCase, headers: Record<string, string> = {}, body?: string): Promise<Response> {
  const init: { method: string; headers: Record<string, string>; body?: string } = { method: c.method, headers };
  if (body !== undefined && !["GET", "HEAD"].includes(c.method)) init.body = body;
  return c.handler(new NextRequest(`http://localhost${c.pathname}`, init), { params: Promise.resolve(c.params) });
}

/** Scopes whose tokens must be refused (403) by something that requires `required`. */
const insufficient = (required: Scope) => SCOPES.filter((s) => s !== "admin" && s !== required);

let stores: AuthTestStores;
let routes: RouteCase[];
const bearer = {} as Record<Scope, string>;

beforeAll(async () => {
  stores = await authTestStores("postgres+redis");
  setRuntime(stores.runtime);
  await mintBearers();
  routes = await loadRoutes();
});
async function mintBearers() {
  for (const s of SCOPES) bearer[s] = await bearerHeader(stores.runtime, s);
}
afterAll(async () => {
  setRuntime(undefined);
  await stores.close();
});

describe("REST route handlers", () => {
  it("the walk finds the route files, the tRPC endpoint among them", () => {
    expect(files).toContain(TRPC_ENDPOINT);
    expect(files).toContain("admin/auth/login/route.ts");
    expect(files).toContain("admin/tokens/[id]/route.ts");
    expect(files).toContain("admin/api-keys/usage-stats/route.ts");
  });

  it("every handler is built with route(), and only the allow-list is public", () => {
    expect(routes.length).toBeGreaterThan(0);
    for (const r of routes) {
      const scope = r.handler[ROUTE_MARK];
      expect(scope, `${r.name} is not built with route()`).toBeDefined();
      expect(scope === "public", `${r.name} public?`).toBe(PUBLIC_ROUTES.has(r.name));
    }
  });

  it("every protected handler answers 401 JSON without credentials", async () => {
    for (const r of routes.filter((x) => !PUBLIC_ROUTES.has(x.name))) {
      const attempts: Record<string, string>[] = [{}, { cookie: "ub_session=forged-value-that-is-not-a-session" }, { authorization: "Bearer ubk_" + "x".repeat(43) }];
      for (const headers of attempts) {
        const res = await call(r, headers);
        expect(res.status, `${r.name} with ${JSON.stringify(headers)}`).toBe(401);
        expect(await res.json()).toMatchObject({ success: false, error: { code: "UNAUTHORIZED" } });
      }
    }
  });

  it("every protected handler answers 403 to a token whose scope is not enough, and lets an adequate one in", async () => {
    for (const r of routes.filter((x) => !PUBLIC_ROUTES.has(x.name))) {
      const required = r.handler[ROUTE_MARK] as Scope;
      for (const s of insufficient(required)) {
        const res = await call(r, { authorization: bearer[s] });
        expect(res.status, `${r.name} (needs ${required}) with a ${s} token`).toBe(403);
        expect(await res.json()).toMatchObject({ success: false, error: { code: "FORBIDDEN" } });
      }
      for (const s of SCOPES.filter((x) => !insufficient(required).includes(x))) {
        // Past authentication, whatever the handler then makes of an empty request.
        const res = await call(r, { authorization: bearer[s], "content-type": "application/json" }, "{}");
        expect([401, 403], `${r.name} (needs ${required}) with a ${s} token`).not.toContain(res.status);
        // DELETE /admin/tokens revokes every token, the test's own too.
        await mintBearers();
      }
    }
  });

  it("the public login handler needs no credentials", async () => {
    const login = routes.find((r) => r.name === "POST /admin/auth/login")!;
    const res = await call(login, { "content-type": "application/json" }, JSON.stringify({ username: "admin", password: "wrong password" }));
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: "UNAUTHORIZED", message: "Invalid username or password" } });
  });
});

describe("tRPC procedures", () => {
  type Proc = { _def: { type: "query" | "mutation" | "subscription"; meta?: { scope?: Scope | "public" } } };
  let procedures: [string, Proc][];
  let endpoint: Record<"GET" | "POST", (req: Request) => Promise<Response>>;

  beforeAll(async () => {
    const { appRouter } = await import("@/server/trpc/routers/_app");
    procedures = Object.entries(appRouter._def.procedures as unknown as Record<string, Proc>).sort(([a], [b]) => a.localeCompare(b));
    endpoint = (await import(pathToFileURL(path.join(APP_DIR, TRPC_ENDPOINT)).href)) as typeof endpoint;
  });

  function callProcedure(name: string, type: string, headers: Record<string, string> = {}): Promise<Response> {
    const url = `http://localhost/api/trpc/${name}`;
    return type === "query"
      ? endpoint.GET(new Request(url, { headers }))
      : endpoint.POST(new Request(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" }));
  }

  it("the walk finds the procedures, and each records its scope", () => {
    expect(procedures.map(([n]) => n)).toEqual(expect.arrayContaining(["auth.login", "auth.me", "auth.tokens.create", "health.get", "apiKeys.usageStats"]));
    for (const [name, p] of procedures) {
      expect(p._def.meta?.scope, `${name} is built without protectedProcedure()`).toBeDefined();
      expect(p._def.meta?.scope === "public", `${name} public?`).toBe(PUBLIC_PROCEDURES.has(name));
    }
  });

  it("every procedure but login answers 401 without credentials", async () => {
    for (const [name, p] of procedures.filter(([n]) => !PUBLIC_PROCEDURES.has(n))) {
      const res = await callProcedure(name, p._def.type);
      expect(res.status, name).toBe(401);
      expect(await res.json()).toMatchObject({ error: { data: { code: "UNAUTHORIZED", httpStatus: 401 } } });
    }
  });

  it("every procedure answers 403 to a token whose scope is not enough", async () => {
    for (const [name, p] of procedures.filter(([n]) => !PUBLIC_PROCEDURES.has(n))) {
      const required = p._def.meta!.scope as Scope;
      for (const s of insufficient(required)) {
        const res = await callProcedure(name, p._def.type, { authorization: bearer[s] });
        expect(res.status, `${name} (needs ${required}) with a ${s} token`).toBe(403);
        expect(await res.json()).toMatchObject({ error: { data: { code: "FORBIDDEN" } } });
      }
    }
  });

  it("createCaller without a principal is refused too", async () => {
    const { createCallerFactory } = await import("@/server/trpc/init");
    const { appRouter } = await import("@/server/trpc/routers/_app");
    const caller = createCallerFactory(appRouter)({ runtime: stores.runtime, req: new Request("http://localhost/api/trpc"), requestId: "t" });
    await expect(caller.auth.me()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    await expect(caller.auth.tokens.list()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });
});

describe("cookie sessions and cross-origin requests", () => {
  const tokensRoute = () => routes.find((r) => r.name === "POST /admin/tokens")!;
  const body = JSON.stringify({ name: "from the test", scope: "usage:read" });
  let cookie: string;
  beforeAll(async () => {
    cookie = await sessionCookieHeader(stores.runtime);
  });

  it("refuses a cookie POST from another site, or one that says nothing about its origin", async () => {
    const attempts: Record<string, string>[] = [{ origin: "https://evil.example", "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }, {}];
    for (const extra of attempts) {
      const res = await call(tokensRoute(), { cookie, "content-type": "application/json", ...extra }, body);
      expect(res.status, JSON.stringify(extra)).toBe(403);
      expect(await res.json()).toMatchObject({ error: { code: "FORBIDDEN", message: expect.stringMatching(/^Cross-origin request refused/) } });
    }
  });

  it("accepts the same POST from the site itself, and from another site with a Bearer token", async () => {
    const same = await call(tokensRoute(), { cookie, "content-type": "application/json", origin: "http://localhost", "sec-fetch-site": "same-origin" }, body);
    expect(same.status).toBe(201);
    const scripted = await call(tokensRoute(), { authorization: bearer.admin, "content-type": "application/json", origin: "https://evil.example", "sec-fetch-site": "cross-site" }, body);
    expect(scripted.status).toBe(201);
    expect(await scripted.json()).toMatchObject({ success: true, data: { name: "from the test", scope: "usage:read", token: expect.stringMatching(/^ubk_/) } });
  });

  it("applies to tRPC mutations too", async () => {
    const { POST } = (await import(pathToFileURL(path.join(APP_DIR, TRPC_ENDPOINT)).href)) as { POST: (r: Request) => Promise<Response> };
    const mutate = (headers: Record<string, string>) =>
      POST(new Request("http://localhost/api/trpc/auth.tokens.create", { method: "POST", headers: { "content-type": "application/json", ...headers }, body }));
    expect((await mutate({ cookie, origin: "https://evil.example", "sec-fetch-site": "cross-site" })).status).toBe(403);
    expect((await mutate({ cookie, origin: "http://localhost" })).status).toBe(200);
    expect((await mutate({ authorization: bearer.admin, origin: "https://evil.example" })).status).toBe(200);
  });

  it("signs in through tRPC with the same cookie, and Retry-After once limited", async () => {
    const { POST } = (await import(pathToFileURL(path.join(APP_DIR, TRPC_ENDPOINT)).href)) as { POST: (r: Request) => Promise<Response> };
    const signIn = (password: string) =>
      POST(new Request("http://localhost/api/trpc/auth.login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username: "admin", password }) }));
    const ok = await signIn(TEST_ADMIN_PASSWORD);
    expect(ok.status).toBe(200);
    expect(ok.headers.getSetCookie().find((c) => c.startsWith("ub_session="))).toMatch(/^ub_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=604800; HttpOnly; SameSite=Lax$/);
    const wrong = await signIn("wrong password");
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({ error: { message: "Invalid username or password", data: { code: "UNAUTHORIZED" } } });

    const attempt = () =>
      POST(
        new Request("http://localhost/api/trpc/auth.login", {
          method: "POST",
          headers: { "content-type": "application/json", "x-forwarded-for": "198.51.100.200" },
          body: JSON.stringify({ username: "trpc-limited", password: "x" }),
        }),
      );
    for (let i = 0; i < stores.runtime.config.loginMaxFailuresPerUsername; i++) expect((await attempt()).status).toBe(401);
    const limited = await attempt();
    expect(limited.status).toBe(429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("lets cookie GETs through from anywhere (they change nothing)", async () => {
    const me = routes.find((r) => r.name === "GET /admin/auth/me")!;
    const res = await call(me, { cookie, "sec-fetch-site": "cross-site" });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ success: true, data: { kind: "session", name: "admin", scopes: ["admin"] } });
  });
});
