import "server-only";
import { cookies, headers } from "next/headers";
import { redirect } from "next/navigation";
import { cache } from "react";
import { getRuntime } from "../runtime";
import { loginPath, PATH_HEADER, SESSION_COOKIE } from "./http";
import { verifySession, type VerifiedSession } from "./session.service";

/**
 * The real session check for server components (proxy.ts only looks for the cookie). Cached per
 * request, so a layout and its page verifying both cost one lookup.
 */
export const getAdminSession = cache(async (): Promise<VerifiedSession | undefined> => {
  const token = (await cookies()).get(SESSION_COOKIE)?.value;
  if (!token) return undefined;
  return verifySession(await getRuntime(), token);
});

/**
 * For layouts and pages: the session, or a redirect to /login that comes back here afterwards.
 * Pages that read data themselves should call it too: on client-side navigation Next.js renders
 * only the page, not the layouts above it.
 */
export async function requireAdminSession(): Promise<VerifiedSession> {
  const session = await getAdminSession();
  if (!session) redirect(loginPath((await headers()).get(PATH_HEADER)));
  return session;
}
