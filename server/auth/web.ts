import type { Runtime } from "../runtime";
import { changePassword, login } from "./admin.service";
import { assertNotCrossSite, clearedSessionCookie, clientIp, cookieIsSecure, readCookie, SESSION_COOKIE, sessionCookie, sessionCookieFor } from "./http";
import { DEVICE_COOKIE, DEVICE_COOKIE_MAX_AGE_SECONDS } from "./login-guard";
import type { ChangePasswordInput, LoginInput } from "./schemas";
import type { Principal } from "./scopes";
import { revokeSession } from "./session.service";

/**
 * Sign-in, sign-out and password change as both transports (REST and tRPC) need them: the
 * service call plus the cookies to send back. The cookie values exist only in those headers.
 */

function deviceCookie(value: string, secure: boolean): string {
  return sessionCookie(value, { secure, maxAgeSeconds: DEVICE_COOKIE_MAX_AGE_SECONDS }).replace(/^[^=]+=/, `${DEVICE_COOKIE}=`);
}

export async function signIn(runtime: Runtime, req: Request, input: LoginInput, requestId: string) {
  const policy = runtime.config;
  assertNotCrossSite(req, policy);
  const r = await login(runtime, input, { ip: clientIp(req, policy), requestId, deviceToken: readCookie(req, DEVICE_COOKIE) });
  const secure = cookieIsSecure(req, policy);
  const setCookies = [sessionCookieFor(req, r.token, runtime.config.sessionMaxAgeSeconds, policy)];
  if (r.deviceToken) setCookies.push(deviceCookie(r.deviceToken, secure));
  return { setCookies, data: { username: r.username, expiresAt: r.expiresAt.toISOString() } };
}

/**
 * Ends the session of the cookie, if it is still one, and always clears the cookie: a browser
 * holding an expired session must be able to sign out too. Refused only from another site.
 */
export async function signOut(runtime: Runtime, req: Request) {
  assertNotCrossSite(req, runtime.config);
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie) await revokeSession(runtime, cookie);
  return { setCookie: clearedSessionCookie(cookieIsSecure(req, runtime.config)), data: { signedOut: true } };
}

/** Changes the caller's password; every session ends, so the caller's cookie is cleared too. */
export async function changeOwnPassword(runtime: Runtime, req: Request, principal: Principal, input: ChangePasswordInput, requestId: string) {
  // An admin-scope token acts for the one configured admin.
  const username = principal.kind === "session" ? principal.name : runtime.config.adminUsername;
  await changePassword(runtime, username, input, { ip: clientIp(req, runtime.config), requestId, callerId: `${principal.kind}:${principal.id}` });
  return { setCookie: clearedSessionCookie(cookieIsSecure(req, runtime.config)), data: { changed: true, signedOut: true } };
}
