import { AppError } from "../errors";

/**
 * Request-level helpers shared by the REST wrapper, tRPC, server components and proxy.ts. Pure:
 * no stores, so proxy.ts can import this without pulling the runtime in.
 */

export const SESSION_COOKIE = "ub_session";
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
  if (url.pathname === "/login" || url.pathname.startsWith("/login/")) return fallback;
  return url.pathname + url.search + url.hash;
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

export function requestIsHttps(req: Request): boolean {
  const proto = firstValue(req.headers.get("x-forwarded-proto"));
  return proto ? proto === "https" : new URL(req.url).protocol === "https:";
}

/** The origin the browser sees for this site (behind a proxy: the forwarded host and protocol). */
export function expectedOrigin(req: Request): string {
  const url = new URL(req.url);
  const host = firstValue(req.headers.get("x-forwarded-host")) ?? req.headers.get("host") ?? url.host;
  return `${requestIsHttps(req) ? "https" : "http"}://${host}`.toLowerCase();
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Cross-site request forgery guard for cookie-authenticated requests: a state-changing request
 * must say it comes from this site (Sec-Fetch-Site: same-origin, or an Origin equal to ours).
 * A request saying neither is refused too: browsers send at least Origin on every POST, and
 * scripts use Bearer tokens, which this check does not apply to.
 */
export function assertSameOrigin(req: Request): void {
  if (SAFE_METHODS.has(req.method.toUpperCase())) return;
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  // Sec-Fetch-Site is set by the browser itself (no page can forge it), and unlike our view of
  // the Origin it does not depend on a reverse proxy forwarding Host correctly.
  const ok = site ? site === "same-origin" : !!origin && origin.toLowerCase() === expectedOrigin(req);
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
export function assertNotCrossSite(req: Request): void {
  const site = req.headers.get("sec-fetch-site");
  const origin = req.headers.get("origin");
  const crossSite = site ? !["same-origin", "none"].includes(site) : !!origin && origin.toLowerCase() !== expectedOrigin(req);
  if (crossSite) throw new AppError("FORBIDDEN", "Cross-origin sign-in refused: sign in from this site's /login page");
}

/**
 * The client address for rate limiting: the right-most X-Forwarded-For entry, i.e. the address
 * the nearest proxy saw (next start fills the header with the socket address when absent).
 * Without a proxy a client can put any value there; the per-username limit still holds then.
 */
export function clientIp(req: Request): string {
  const xff = req.headers.get("x-forwarded-for");
  const last = xff?.split(",").at(-1)?.trim();
  return (last || req.headers.get("x-real-ip") || "unknown").slice(0, 64);
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

/** The Set-Cookie value for a new session on this request (Secure when it came over HTTPS). */
export function sessionCookieFor(req: Request, token: string, maxAgeSeconds: number): string {
  return sessionCookie(token, { secure: requestIsHttps(req), maxAgeSeconds });
}
