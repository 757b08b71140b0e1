import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { parseTrustedProxies, type TrustedProxies } from "../trusted-proxies";
import {
  assertNotCrossSite,
  assertSameOrigin,
  clientIp,
  loginPath,
  readBearer,
  readCookie,
  safeNextPath,
  sessionCookieFor,
  type TransportPolicy,
} from "./http";

const trustNone = parseTrustedProxies("") as TrustedProxies;
const trustLb = parseTrustedProxies("10.0.0.0/8") as TrustedProxies;
const direct: TransportPolicy = { trustedProxies: trustNone, publicUrl: undefined, cookieSecure: undefined };
const proxied: TransportPolicy = { ...direct, trustedProxies: trustLb };

function req(headers: Record<string, string>, method = "POST", url = "http://console.example:3000/admin/tokens"): Request {
  return new Request(url, { method, headers });
}

function code(fn: () => void): string {
  try {
    fn();
    return "ok";
  } catch (err) {
    return err instanceof AppError ? err.code : "other";
  }
}

describe("safeNextPath", () => {
  it.each([
    ["/accounts", "/accounts"],
    ["/accounts?platform=claude&sort=cost#top", "/accounts?platform=claude&sort=cost#top"],
    ["/settings/tokens", "/settings/tokens"],
    ["/a/../accounts", "/accounts"],
  ])("keeps the same-site path %s", (input, expected) => {
    expect(safeNextPath(input)).toBe(expected);
  });

  it.each([
    "//evil.example/x",
    "/\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "accounts",
    "/\t/evil.example",
    "/%0a/x\n",
    "/login",
    "/login?next=/accounts",
    "/" + "a".repeat(3000),
    "",
    // Normalised, these begin with "//": a browser reads them as another host (issue 11).
    "/.//evil.example/phish",
    "/..//x",
    "/%2e%2e//x",
    "/%2E//x",
    "/a/..//evil.example",
    "/./%2e/..//evil.example",
  ])("refuses %j", (input) => {
    expect(safeNextPath(input)).toBe("/");
  });

  it("builds the login URL that comes back", () => {
    expect(loginPath("/accounts?q=a b")).toBe("/login?next=%2Faccounts%3Fq%3Da%2520b");
    expect(loginPath("/")).toBe("/login");
    expect(loginPath("//evil.example")).toBe("/login");
    expect(loginPath(null)).toBe("/login");
  });
});

describe("same-origin check for cookie-authenticated requests", () => {
  it.each([
    [{ "sec-fetch-site": "same-origin" }, "ok"],
    [{ origin: "http://console.example:3000" }, "ok"],
    [{ origin: "http://console.example:3000", "sec-fetch-site": "same-origin" }, "ok"],
    [{ "sec-fetch-site": "cross-site", origin: "https://evil.example" }, "FORBIDDEN"],
    [{ "sec-fetch-site": "same-site", origin: "http://other.console.example:3000" }, "FORBIDDEN"],
    [{ "sec-fetch-site": "none" }, "FORBIDDEN"],
    [{ origin: "https://evil.example" }, "FORBIDDEN"],
    [{ origin: "null" }, "FORBIDDEN"],
    [{}, "FORBIDDEN"],
  ])("POST with %j → %s", (headers, expected) => {
    expect(code(() => assertSameOrigin(req(headers), direct))).toBe(expected);
  });

  it("lets safe methods through", () => {
    expect(code(() => assertSameOrigin(req({ origin: "https://evil.example" }, "GET"), direct))).toBe("ok");
  });

  const viaProxy = (origin: string) =>
    req({ origin, host: "127.0.0.1:3000", "x-forwarded-host": "usage.example.com", "x-forwarded-proto": "https" }, "POST", "http://127.0.0.1:3000/admin/tokens");

  it("uses the forwarded host and protocol only behind a trusted proxy", () => {
    expect(code(() => assertSameOrigin(viaProxy("https://usage.example.com"), proxied))).toBe("ok");
    expect(code(() => assertSameOrigin(viaProxy("http://usage.example.com"), proxied))).toBe("FORBIDDEN");
    // Without TRUSTED_PROXIES a client's X-Forwarded-Host is never the expected origin.
    expect(code(() => assertSameOrigin(viaProxy("https://usage.example.com"), direct))).toBe("FORBIDDEN");
    expect(code(() => assertSameOrigin(viaProxy("http://127.0.0.1:3000"), direct))).toBe("ok");
  });

  it("takes the expected origin from PUBLIC_URL when it is set", () => {
    const pub = { ...direct, publicUrl: "https://Usage.Example.com/" };
    expect(code(() => assertSameOrigin(viaProxy("https://usage.example.com"), pub))).toBe("ok");
    expect(code(() => assertSameOrigin(viaProxy("http://127.0.0.1:3000"), pub))).toBe("FORBIDDEN");
  });

  it("refuses sign-in only when a browser marks it cross-site", () => {
    expect(code(() => assertNotCrossSite(req({}), direct))).toBe("ok");
    expect(code(() => assertNotCrossSite(req({ "sec-fetch-site": "same-origin" }), direct))).toBe("ok");
    expect(code(() => assertNotCrossSite(req({ "sec-fetch-site": "cross-site" }), direct))).toBe("FORBIDDEN");
    expect(code(() => assertNotCrossSite(req({ origin: "https://evil.example" }), direct))).toBe("FORBIDDEN");
  });
});

describe("request parsing", () => {
  it("reads the session cookie among others", () => {
    expect(readCookie(req({ cookie: "lang=en; ub_session=abc; other=1" }), "ub_session")).toBe("abc");
    expect(readCookie(req({ cookie: "xub_session=abc" }), "ub_session")).toBeUndefined();
    expect(readCookie(req({}), "ub_session")).toBeUndefined();
  });

  it("reads Bearer tokens and refuses other schemes", () => {
    expect(readBearer(req({ authorization: "Bearer ubk_abc" }))).toBe("ubk_abc");
    expect(readBearer(req({ authorization: "bearer  ubk_abc " }))).toBe("ubk_abc");
    expect(readBearer(req({}))).toBeUndefined();
    expect(code(() => readBearer(req({ authorization: "Basic YWRtaW46YWRtaW4=" })))).toBe("UNAUTHORIZED");
    expect(code(() => readBearer(req({ authorization: "Bearer" })))).toBe("UNAUTHORIZED");
  });

  it("takes the right-most address that is not a trusted proxy", () => {
    // Direct: the guard replaced the client's header with the socket address, one entry.
    expect(clientIp(req({ "x-forwarded-for": "203.0.113.9" }), direct)).toBe("203.0.113.9");
    expect(clientIp(req({ "x-forwarded-for": "198.51.100.7, 10.0.0.1, 10.0.0.2" }), proxied)).toBe("198.51.100.7");
    expect(clientIp(req({ "x-forwarded-for": "spoofed, 198.51.100.7, 10.0.0.2" }), proxied)).toBe("198.51.100.7");
    expect(clientIp(req({ "x-forwarded-for": "::ffff:192.0.2.1" }), direct)).toBe("192.0.2.1");
    expect(clientIp(req({}), direct)).toBe("unknown");
  });

  it("sets HttpOnly, SameSite=Lax cookies; Secure from the configuration, not from a client's header", () => {
    expect(sessionCookieFor(req({}), "tok", 604800, direct)).toBe("ub_session=tok; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax");
    // X-Forwarded-Proto from a peer that is not a trusted proxy decides nothing.
    expect(sessionCookieFor(req({ "x-forwarded-proto": "https" }), "tok", 60, direct)).not.toContain("Secure");
    expect(sessionCookieFor(req({ "x-forwarded-proto": "https" }), "tok", 60, proxied)).toBe("ub_session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
    expect(sessionCookieFor(req({}), "tok", 60, { ...direct, publicUrl: "https://usage.example.com" })).toContain("; Secure");
    expect(sessionCookieFor(req({ "x-forwarded-proto": "https" }), "tok", 60, { ...proxied, cookieSecure: false })).not.toContain("Secure");
    expect(sessionCookieFor(req({}), "tok", 60, { ...direct, cookieSecure: true })).toContain("; Secure");
  });
});
