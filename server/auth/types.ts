import type { Scope } from "./scopes";

export type PasswordSource = "env" | "generated" | "set";

export interface AdminUser {
  username: string;
  passwordHash: string;
  passwordSource: PasswordSource;
  passwordChangedAt: Date;
}

/** A session as stored: the SHA-256 of the cookie value, never the value. */
export interface SessionRecord {
  tokenHash: string;
  username: string;
  createdAt: Date;
  lastSeenAt: Date;
  /** The absolute limit (created + SESSION_MAX_AGE_SECONDS). */
  expiresAt: Date;
}

export interface ApiTokenInfo {
  id: string;
  name: string;
  scope: Scope;
  /** The first characters of the token ("ubk_AbCd"), to recognise it; not enough to use it. */
  tokenPrefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
}

export interface ApiTokenRecord extends ApiTokenInfo {
  tokenHash: string;
  revokedAt: Date | null;
}
