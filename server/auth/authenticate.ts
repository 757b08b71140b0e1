import type { Runtime } from "../runtime";
import { AppError } from "../errors";
import { assertSameOrigin, readBearer, readCookie, SESSION_COOKIE } from "./http";
import { hasScope, type Principal, type Scope } from "./scopes";
import { verifySession } from "./session.service";
import { verifyApiToken } from "./token.service";

const identified = new WeakMap<Request, Promise<Principal>>();

/**
 * Resolves the caller of a request (session cookie or Bearer token) and checks the scope.
 * Throws UNAUTHORIZED (no or bad credentials) or FORBIDDEN (wrong scope, or a cookie-authenticated
 * state change from another site). The REST wrapper and every tRPC procedure call this; nothing
 * else decides who is let in.
 */
export async function authenticateRequest(req: Request, scope: Scope | "public", runtime: Runtime): Promise<Principal> {
  if (scope === "public") return { kind: "session", name: "anonymous", scopes: [], id: "anonymous" };
  // One lookup per request, however many procedures a tRPC batch carries.
  let resolved = identified.get(req);
  if (!resolved) {
    resolved = identify(req, runtime);
    identified.set(req, resolved);
  }
  const principal = await resolved;
  if (!hasScope(principal, scope)) {
    const what = principal.kind === "token" ? `API token "${principal.name}"` : "session";
    throw new AppError("FORBIDDEN", `This needs the ${scope} scope; the ${what} has ${principal.scopes.join(", ") || "none"}`);
  }
  return principal;
}

export async function identify(req: Request, runtime: Runtime): Promise<Principal> {
  const bearer = readBearer(req);
  if (bearer !== undefined) {
    const token = await verifyApiToken(runtime, bearer);
    if (!token) throw new AppError("UNAUTHORIZED", "The API token is invalid or was revoked");
    return { kind: "token", name: token.name, scopes: [token.scope], id: token.id };
  }
  const cookie = readCookie(req, SESSION_COOKIE);
  if (cookie) {
    const session = await verifySession(runtime, cookie);
    if (!session) throw new AppError("UNAUTHORIZED", "The session has expired or was signed out; sign in again");
    assertSameOrigin(req, runtime.config);
    return { kind: "session", name: session.username, scopes: ["admin"], id: session.id };
  }
  throw new AppError("UNAUTHORIZED", "Authentication required: send a session cookie or an Authorization: Bearer token");
}
