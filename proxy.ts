import { NextResponse, type NextRequest } from "next/server";
import { loginPath, PATH_HEADER, requestIsHttps, SESSION_COOKIE } from "./server/auth/http";
import { getConfig } from "./server/config";

/**
 * Runs before every request but Next.js's static assets, and stays cheap:
 * - a path whose percent-encoding does not decode (/admin/tokens/%FF) is answered 400 JSON here,
 *   before Next.js's router fails on it with a bare 500;
 * - HSTS on every answer when the site is served over HTTPS (PUBLIC_URL, or a trusted proxy);
 * - pages without a session cookie → /login?next=<this page>. Whether a session is valid is
 *   decided on the server by requireAdminSession() (app/(console)/layout.tsx), and for the APIs by
 *   the REST wrapper and the tRPC procedures, which answer 401 themselves.
 */
const HSTS = "max-age=31536000; includeSubDomains";

export function proxy(req: NextRequest) {
  const config = getConfig();
  const https = requestIsHttps(req, config);
  const done = (res: NextResponse) => {
    if (https) res.headers.set("strict-transport-security", HSTS);
    return res;
  };
  const pathname = req.nextUrl.pathname;
  try {
    decodeURIComponent(pathname);
  } catch {
    const message = "The request path has a malformed percent-encoding (e.g. %FF or an encoded unpaired surrogate)";
    return done(NextResponse.json({ success: false, error: { code: "BAD_REQUEST", message } }, { status: 400, headers: { "cache-control": "no-store" } }));
  }
  if (/^\/(admin|api|login|metrics|livez|readyz)(\/|$)/.test(pathname)) return done(NextResponse.next());
  const path = pathname + req.nextUrl.search;
  if (!req.cookies.get(SESSION_COOKIE)?.value) {
    return done(NextResponse.redirect(new URL(loginPath(path), req.nextUrl.href)));
  }
  // Layouts do not see the URL: hand it over so that an expired session comes back here too.
  const headers = new Headers(req.headers);
  headers.set(PATH_HEADER, path);
  return done(NextResponse.next({ request: { headers } }));
}

export const config = {
  // Everything but Next.js's assets and public files.
  matcher: ["/((?!_next/|favicon\\.ico$|robots\\.txt$|.*\\.(?:svg|png|jpg|jpeg|gif|webp|ico|txt|xml)$).*)"],
};
