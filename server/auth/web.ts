import type { Runtime } from "../runtime";
import { changePassword, login } from "./admin.service";
import { assertNotCrossSite, clearedSessionCookie, clientIp, readCookie, requestIsHttps, SESSION_COOKIE, sessionCookieFor } from "./http";
import type { ChangePasswordInput, LoginInput } from "./schemas";
import type { Principal } from "./scopes";
import { revokeSession } from "./session.service";

/**
 * Sign-in, sign-out and password change as both transports (REST and tRPC) need them: the
 * service call plus the cookie to send back. The cookie value exists only in that header.
 */

export async function signIn(runtime: Runtime, req: Request, input: LoginInput, requestId: string) {
  assertNotCrossSite(req);
  const r = await login(runtime, input, { ip: clientIp(req), requestId });
  return {
    setCookie: sessionCookieFor(req, r.token, runtime.config.sessionMaxAgeSeconds),
    data: { username: r.username, expiresAt: r.expiresAt.toISOString() },
  };
}

export async function signOut(runtime: Runtime, req: Request) {
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie) await revokeSession(runtime, cookie);
  return { setCookie: clearedSessionCookie(requestIsHttps(req)), data: { signedOut: true } };
}

/** Changes the caller's password; every session ends, so the caller's cookie is cleared too. */
export async function changeOwnPassword(runtime: Runtime, req: Request, principal: Principal, input: ChangePasswordInput, requestId: string) {
  // An admin-scope token acts for the one configured admin.
  const username = principal.kind === "session" ? principal.name : runtime.config.adminUsername;
  await changePassword(runtime, username, input, { ip: clientIp(req), requestId });
  return { setCookie: clearedSessionCookie(requestIsHttps(req)), data: { changed: true, signedOut: true } };
}
