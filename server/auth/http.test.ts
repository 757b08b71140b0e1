import { describe, expect, it } from "vitest";
import { AppError } from "../errors";
import {
  assertNotCrossSite,
  assertSameOrigin,
  clientIp,
  loginPath,
  readBearer,
  readCookie,
  safeNextPath,
  sessionCookieFor,
} from "./http";

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
    expect(code(() => assertSameOrigin(req(headers)))).toBe(expected);
  });

  it("lets safe methods through", () => {
    expect(code(() => assertSameOrigin(req({ origin: "https://evil.example" }, "GET")))).toBe("ok");
  });

  it("uses the forwarded host and protocol behind a proxy", () => {
    const behindProxy = (origin: string) =>
      req({ origin, host: "127.0.0.1:3000", "x-forwarded-host": "usage.example.com", "x-forwarded-proto": "https" }, "POST", "http://127.0.0.1:3000/admin/tokens");
    expect(code(() => assertSameOrigin(behindProxy("https://usage.example.com")))).toBe("ok");
    expect(code(() => assertSameOrigin(behindProxy("http://usage.example.com")))).toBe("FORBIDDEN");
  });

  it("refuses sign-in only when a browser marks it cross-site", () => {
    expect(code(() => assertNotCrossSite(req({})))).toBe("ok");
    expect(code(() => assertNotCrossSite(req({ "sec-fetch-site": "same-origin" })))).toBe("ok");
    expect(code(() => assertNotCrossSite(req({ "sec-fetch-site": "cross-site" })))).toBe("FORBIDDEN");
    expect(code(() => assertNotCrossSite(req({ origin: "https://evil.example" })))).toBe("FORBIDDEN");
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

  it("takes the address the nearest proxy saw", () => {
    expect(clientIp(req({ "x-forwarded-for": "10.0.0.1, 203.0.113.9" }))).toBe("203.0.113.9");
    expect(clientIp(req({}))).toBe("unknown");
  });

  it("sets HttpOnly, SameSite=Lax cookies, Secure over HTTPS", () => {
    expect(sessionCookieFor(req({}), "tok", 604800)).toBe("ub_session=tok; Path=/; Max-Age=604800; HttpOnly; SameSite=Lax");
    expect(sessionCookieFor(req({ "x-forwarded-proto": "https" }), "tok", 60)).toBe("ub_session=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
    expect(sessionCookieFor(req({}, "POST", "https://console.example/admin/auth/login"), "tok", 60)).toContain("; Secure");
  });
});
