import { AppError } from "../errors";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import * as repo from "./auth.repository";
import * as hot from "./hot-store";
import type { AdminUser, ApiTokenRecord } from "./types";

/**
 * Where the admin user and the API tokens live: PostgreSQL, or Redis when PostgreSQL is disabled
 * (the degraded Redis-only mode). Services call this instead of choosing a store themselves.
 */
export interface CredentialStore {
  findAdmin(username: string): Promise<AdminUser | undefined>;
  insertAdmin(user: AdminUser): Promise<boolean>;
  updateAdminPassword(user: AdminUser): Promise<boolean>;
  insertToken(token: ApiTokenRecord): Promise<void>;
  findActiveTokenByHash(tokenHash: string): Promise<ApiTokenRecord | undefined>;
  activeTokens(): Promise<ApiTokenRecord[]>;
  revokeToken(id: string, at: Date): Promise<ApiTokenRecord | undefined>;
  touchToken(id: string, at: Date): Promise<void>;
}

export function credentialStore(runtime: Runtime): CredentialStore {
  const handle = runtime.db;
  if (handle) {
    const db = handle.db;
    return {
      findAdmin: (u) => repo.findAdminUser(db, u),
      insertAdmin: (u) => repo.insertAdminUser(db, u),
      updateAdminPassword: (u) => repo.updateAdminPassword(db, u.username, u.passwordHash, u.passwordSource, u.passwordChangedAt),
      insertToken: (t) => repo.insertApiToken(db, t),
      findActiveTokenByHash: (h) => repo.findActiveApiTokenByHash(db, h),
      activeTokens: () => repo.activeApiTokens(db),
      revokeToken: (id, at) => repo.revokeApiToken(db, id, at),
      touchToken: (id, at) => repo.updateApiTokenLastUsed(db, id, at),
    };
  }
  const prefix = runtime.config.redisKeyPrefix;
  const redis = () => {
    if (!isRedisReady(runtime.redis)) {
      throw new AppError("UNAVAILABLE", "Sign-in is unavailable: Redis, the only store configured, is not reachable", { retryAfterSeconds: 5 });
    }
    return runtime.redis;
  };
  return {
    findAdmin: async (u) => hot.findAdminUser(redis(), prefix, u),
    insertAdmin: async (u) => hot.insertAdminUser(redis(), prefix, u),
    updateAdminPassword: async (u) => hot.updateAdminPassword(redis(), prefix, u),
    insertToken: async (t) => hot.insertApiToken(redis(), prefix, t),
    findActiveTokenByHash: async (h) => hot.findActiveApiTokenByHash(redis(), prefix, h),
    activeTokens: async () => hot.activeApiTokens(redis(), prefix),
    revokeToken: async (id, at) => hot.revokeApiToken(redis(), prefix, id, at),
    touchToken: async (id, at) => hot.updateApiTokenLastUsed(redis(), prefix, id, at),
  };
}
