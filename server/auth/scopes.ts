/** What a caller may do. `admin` includes the others; `metrics` is GET /metrics only (for Prometheus). */
export const SCOPES = ["usage:read", "usage:write", "metrics", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  kind: "session" | "token";
  /** Admin username or token name, for logs. */
  name: string;
  scopes: Scope[];
  /** Token id or session id hash: never the secret. */
  id: string;
}

export function hasScope(principal: Principal, required: Scope): boolean {
  return principal.scopes.includes("admin") || principal.scopes.includes(required);
}
