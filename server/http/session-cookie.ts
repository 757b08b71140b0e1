/**
 * The session cookie's name, at the HTTP layer: the body guard (body-guard.ts) must tell a request
 * carrying credentials before anything above it runs. server/auth/http.ts builds and reads it.
 */
export const SESSION_COOKIE = "ub_session";
