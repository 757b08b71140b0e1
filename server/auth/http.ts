import type { AppConfig } from "../config";
import { AppError } from "../errors";
import { clientAddress } from "../trusted-proxies";
import { SESSION_COOKIE } from "../http/session-cookie";

/**
 * Request-level helpers shared by the REST wrapper, tRPC, server components and proxy.ts. Pure:
 * no stores, so proxy.ts can import this without pulling the runtime in.
 */

export { SESSION_COOKIE };
/** Request header proxy.ts sets to the page path, so a layout can send the visitor back after login. */
export const PATH_HEADER = "x-ub-path";

const MAX_NEXT_LENGTH = 2048;

/**
 * A `next` value that can only lead to a path of this site: "/accounts?x=1" stays, while
 * "//evil.example", "/\\evil.example", "https://evil.example", "javascript:…" and /login itself
 * become the default.
 */
export function safeNextPath(value: string | null | undefined, fallback = "/"): string {
  if (!value || value.length > MAX_NEXT_LENGTH || !value.startsWith("/") || value.startsWith("//")) return fallback;
  // Browsers treat "\" like "/" and drop tabs/newlines, so "/\evil" or "/\t/evil" can leave the site.
  if (/[\\\u0000-\u001f\u007f]/.test(value)) return fallback;
  let url: URL;
  try {
    url = new URL(value, "http://same.invalid");
  } catch {
    return fallback;
  }
  if (url.origin !== "http://same.invalid") return fallback;
  // Dot segments are resolved only now: "/.//evil.example" becomes "//evil.example", which a
  // browser given it as a Location reads as another host. Judge the normalised path.
  const path = url.pathname;
  if (path.startsWith("//") || path.startsWith("/\\") || /%2f|%5c/i.test(path.slice(0, 4))) return fallback;
  if (path === "/login" || path.startsWith("/login/")) return fallback;
  return path + url.search + url.hash;
}

export function loginPath(next: string | null | undefined): string {
  const safe = safeNextPath(next, "");
  return safe && safe !== "/" ? `/login?next=${encodeURIComponent(safe)}` : "/login";
}

export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.get("cookie");
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Bearer token of the Authorization header; throws 401 for any other kind of Authorization. */
export function readBearer(req: Request): string | undefined {
  const header = req.headers.get("authorization");
  if (header === null) return undefined;
  const m = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new AppError("UNAUTHORIZED", "The Authorization header must be \"Bearer <token>\"");
  return m[1];
}

/** The first value of a possibly comma-joined forwarded header. */
function firstValue(v: string | null): string | undefined {
  const s = v?.split(",")[0]?.trim();
  return s || undefined;
}

/**
 * What the deployment says about how browsers reach it (server/config.ts). X-Forwarded-Host and
 * -Proto are read only when TRUSTED_PROXIES names a proxy: server/http/forwarded.ts removes them
 * from any other peer's requests, and without a proxy they are never believed at all.
 */
export type TransportPolicy = Pick<AppConfig, "trustedProxies" | "publicUrl" | "cookieSecure">;

function behindProxy(policy: TransportPolicy): boolean {
  return policy.trustedProxies.entries.length > 0;
}

export function requestIsHttps(req: Request, policy: TransportPolicy): boolean {
  if (policy.publicUrl) return new URL(policy.publicUrl).protocol === "https:";
  const proto = behindProxy(policy) ? firstValue(req.headers.get("x-forwarded-proto")) : undefined;
  return proto ? proto === "https" : new URL(req.url).protocol === "https:";
}

/** Whether the session cookie gets the Secure flag: COOKIE_SECURE, else as the request came. */
export function cookieIsSecure(req: Request, policy: TransportPolicy): boolean {
  return policy.cookieSecure ?? requestIsHttps(req, policy);
}

/** The origin the browser sees for this site: PUBLIC_URL's, else the (trusted) host and protocol. */
export function expectedOrigin(req: Request, policy: TransportPolicy): string {
  if (policy.publicUrl) return new URL(policy.publicUrl).origin.toLowerCase();
  const url = new URL(req.url);
  const forwarded = behindProxy(policy) ? firstValue(req.headers.get("x-forwarded-host")) : undefined;
  const host = forwarded ?? req.headers.get("host") ?? url.host;
  return `${requestIsHttps(req, policy) ? "https" : "http"}://${host}`.toLowerCase();
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Cross-site request forgery guard for cookie-authenticated requests: a state-changing request
 * must say it comes from this site (Sec-Fetch-Site: same-origin, or an Origin equal to ours).
 * A request saying neither is refused too: browsers send at least Origin on every POST, and
 * scripts use Bearer tokens, which this check does not apply to.
 */
export function assertSameOrigin(req: Request, policy: TransportPolicy): void {
  if (SAFE_METHODS.has(req.method.toUpperCase())) return;
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  // Sec-Fetch-Site is set by the browser itself (no page can forge it), and unlike our view of
  // the Origin it does not depend on a reverse proxy forwarding Host correctly.
  const ok = site ? site === "same-origin" : !!origin && origin.toLowerCase() === expectedOrigin(req, policy);
  if (!ok) {
    throw new AppError(
      "FORBIDDEN",
      "Cross-origin request refused: a request signed in with the session cookie must come from this site's own pages (scripts use an Authorization: Bearer token)",
    );
  }
}

/**
 * For sign-in, which has no session to protect yet: refuses only what a browser marks as coming
 * from another site (a forged sign-in would put the victim in the attacker's session). Scripts
 * send neither header and pass.
 */
export function assertNotCrossSite(req: Request, policy: TransportPolicy): void {
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  const crossSite = site ? !["same-origin", "none"].includes(site) : !!origin && origin.toLowerCase() !== expectedOrigin(req, policy);
  if (crossSite) throw new AppError("FORBIDDEN", "Cross-origin sign-in refused: sign in from this site's /login page");
}

/** The client address for rate limiting (see clientAddress: trusted proxies are skipped). */
export function clientIp(req: Request, policy: TransportPolicy): string {
  return clientAddress(req.headers.get("x-forwarded-for") ?? req.headers.get("x-real-ip"), policy.trustedProxies);
}

export interface CookieOptions {
  secure: boolean;
  maxAgeSeconds: number;
}

export function sessionCookie(value: string, opts: CookieOptions): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    "Path=/",
    `Max-Age=${Math.max(0, Math.floor(opts.maxAgeSeconds))}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(opts.secure ? ["Secure"] : []),
  ].join("; ");
}

export function clearedSessionCookie(secure: boolean): string {
  return sessionCookie("", { secure, maxAgeSeconds: 0 });
}

/** The Set-Cookie value for a new session on this request. */
export function sessionCookieFor(req: Request, token: string, maxAgeSeconds: number, policy: TransportPolicy): string {
  return sessionCookie(token, { secure: cookieIsSecure(req, policy), maxAgeSeconds });
}
