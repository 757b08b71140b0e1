import path from "node:path";
import { pathToFileURL } from "node:url";
import { PHASE_DEVELOPMENT_SERVER, PHASE_PRODUCTION_SERVER } from "next/constants";
import { unstable_doesMiddlewareMatch, unstable_getResponseFromNextConfig } from "next/experimental/testing/server";
import { describe, expect, it } from "vitest";
import { config as proxyConfig, proxy } from "../../proxy";
import { NextRequest } from "next/server";
import type { NextConfig } from "next";

const root = path.resolve(import.meta.dirname, "../..");

async function nextConfig(phase: string): Promise<NextConfig> {
  const mod = (await import(pathToFileURL(path.join(root, "next.config.mjs")).href)) as { default: (phase: string) => NextConfig };
  return mod.default(phase);
}

describe("security headers (next.config.mjs headers())", () => {
  it.each(["/", "/login", "/accounts?x=1", "/admin/tokens", "/api/trpc/auth.me", "/_next/static/chunks/app.js"])(
    "are on %s",
    async (url) => {
      const res = await unstable_getResponseFromNextConfig({ url: `http://localhost${url}`, nextConfig: await nextConfig(PHASE_PRODUCTION_SERVER) });
      const h = Object.fromEntries(res.headers);
      expect(h).toMatchObject({
        "x-content-type-options": "nosniff",
        "referrer-policy": "same-origin",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
      });
      expect(h["content-security-policy"]).toBe(
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
          "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'",
      );
    },
  );

  it("allows eval only in next dev", async () => {
    const csp = async (phase: string) => {
      const rules = await (await nextConfig(phase)).headers!();
      return rules[0]!.headers.find((x) => x.key === "Content-Security-Policy")!.value;
    };
    expect(await csp(PHASE_DEVELOPMENT_SERVER)).toContain("script-src 'self' 'unsafe-inline' 'unsafe-eval';");
    expect(await csp(PHASE_PRODUCTION_SERVER)).not.toContain("unsafe-eval");
  });
});

describe("proxy.ts", () => {
  it.each([
    ["/", true],
    ["/accounts", true],
    ["/accounts/abc", true],
    ["/settings/tokens", true],
    ["/api-keys", true],
    ["/administration", true],
    // Everything but assets: the APIs and /login too (malformed paths, HSTS).
    ["/login", true],
    ["/login/", true],
    ["/admin/tokens", true],
    ["/admin", true],
    ["/api/trpc/auth.me", true],
    ["/_next/static/chunks/app.js", false],
    ["/favicon.ico", false],
  ])("runs for %s: %s", (url, expected) => {
    expect(unstable_doesMiddlewareMatch({ config: proxyConfig, url })).toBe(expected);
  });

  it("sends a visitor without a session cookie to /login and back", () => {
    const res = proxy(new NextRequest("http://localhost/accounts?platform=claude"));
    expect(res.status).toBe(307);
    expect(res.headers.get("location")).toBe("http://localhost/login?next=%2Faccounts%3Fplatform%3Dclaude");
  });

  it.each(["/admin/tokens/%FF", "/admin/accounts/a%ED%A0%80b", "/api/trpc/%FF", "/accounts/%E0%A4%A"])("answers %s with a JSON 400, not a bare 500", async (url) => {
    const res = proxy(new NextRequest(`http://localhost${url}`));
    expect(res.status).toBe(400);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ success: false, error: { code: "BAD_REQUEST", message: expect.stringMatching(/malformed percent-encoding/) } });
  });

  it("lets the APIs, the probes and /login through without a cookie, and sends HSTS only over HTTPS", () => {
    expect(proxy(new NextRequest("http://localhost/admin/tokens")).status).toBe(200);
    // The orchestrator's probes carry no cookie.
    expect(proxy(new NextRequest("http://localhost/livez")).status).toBe(200);
    expect(proxy(new NextRequest("http://localhost/readyz")).status).toBe(200);
    expect(proxy(new NextRequest("http://localhost/login")).headers.get("strict-transport-security")).toBeNull();
    expect(proxy(new NextRequest("https://localhost/login")).headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
  });

  it("passes a visitor with a cookie on, telling the layout the path", () => {
    const res = proxy(new NextRequest("http://localhost/settings/tokens", { headers: { cookie: "ub_session=x" } }));
    expect(res.status).toBe(200);
    expect(res.headers.get("x-middleware-request-x-ub-path")).toBe("/settings/tokens");
  });
});
