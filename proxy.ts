import { NextResponse, type NextRequest } from "next/server";
import { loginPath, PATH_HEADER, SESSION_COOKIE } from "./server/auth/http";

/**
 * Pages only, and only a cheap check: no session cookie → /login?next=<this page>. Whether the
 * session is valid is decided on the server by requireAdminSession() (app/(console)/layout.tsx),
 * and for the APIs by the REST wrapper and the tRPC procedures, which answer 401 themselves.
 */
export function proxy(req: NextRequest) {
  const path = req.nextUrl.pathname + req.nextUrl.search;
  if (!req.cookies.get(SESSION_COOKIE)?.value) {
    return NextResponse.redirect(new URL(loginPath(path), req.nextUrl.href));
  }
  // Layouts do not see the URL: hand it over so that an expired session comes back here too.
  const headers = new Headers(req.headers);
  headers.set(PATH_HEADER, path);
  return NextResponse.next({ request: { headers } });
}

export const config = {
  // Everything but the APIs (/admin, /api), the login page, Next.js assets and public files.
  matcher: ["/((?!admin(?:/|$)|api(?:/|$)|login(?:/|$)|_next/|favicon\\.ico$|robots\\.txt$|.*\\.(?:svg|png|jpg|jpeg|gif|webp|ico|txt|xml)$).*)"],
};
