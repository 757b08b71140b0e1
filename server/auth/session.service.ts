import { AppError } from "../errors";
import { logger } from "../logger";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import * as repo from "./auth.repository";
import { credentialStore } from "./credential-store";
import * as hot from "./hot-store";
import { digestsEqual, looksLikeSessionId, randomSecret, sha256Hex } from "./secrets";
import type { SessionRecord } from "./types";

/**
 * Browser sessions of the admin. The cookie holds 256 random bits; the stores hold their SHA-256,
 * in Redis when it is up, else in PostgreSQL. A session ends after SESSION_IDLE_TIMEOUT_SECONDS
 * without a request, SESSION_MAX_AGE_SECONDS after sign-in, on sign-out, or when the password
 * changes. Every function takes `now` so that tests move the clock instead of waiting.
 */

/** last_seen is written at most this often, not on every request. */
const TOUCH_INTERVAL_MS = 60_000;

export interface VerifiedSession {
  username: string;
  /** Short, non-secret handle for logs (a prefix of the stored hash). */
  id: string;
  /** When the session ends if it stays idle from now on. */
  expiresAt: Date;
}

function limits(runtime: Runtime) {
  return { idleMs: runtime.config.sessionIdleTimeoutSeconds * 1000, maxAgeMs: runtime.config.sessionMaxAgeSeconds * 1000 };
}

function ttlMs(runtime: Runtime, s: SessionRecord, now: Date): number {
  return Math.min(limits(runtime).idleMs, s.expiresAt.getTime() - now.getTime());
}

export async function createSession(
  runtime: Runtime,
  username: string,
  now = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const token = randomSecret();
  const { maxAgeMs, idleMs } = limits(runtime);
  const s: SessionRecord = {
    tokenHash: sha256Hex(token),
    username,
    createdAt: now,
    lastSeenAt: now,
    expiresAt: new Date(now.getTime() + maxAgeMs),
  };
  const prefix = runtime.config.redisKeyPrefix;
  let stored = false;
  if (isRedisReady(runtime.redis)) {
    try {
      await hot.insertSession(runtime.redis, prefix, s, ttlMs(runtime, s, now));
      stored = true;
    } catch (err) {
      if (!runtime.db) throw err;
      logger.warn(`[auth] Redis refused the session (${(err as Error).message}); storing it in PostgreSQL`);
    }
  }
  if (!stored) {
    if (!runtime.db) throw new AppError("UNAVAILABLE", "Sign-in is unavailable: no session store is reachable", { retryAfterSeconds: 5 });
    await repo.deleteStaleSessions(runtime.db.db, now, new Date(now.getTime() - idleMs));
    await repo.insertSession(runtime.db.db, s);
  }
  return { token, expiresAt: new Date(Math.min(s.expiresAt.getTime(), now.getTime() + idleMs)) };
}

async function findStored(runtime: Runtime, tokenHash: string): Promise<{ s: SessionRecord; where: "redis" | "pg" } | undefined> {
  if (isRedisReady(runtime.redis)) {
    const s = await hot.findSession(runtime.redis, runtime.config.redisKeyPrefix, tokenHash).catch(() => undefined);
    if (s) return { s, where: "redis" };
  }
  // Sessions created while Redis was down live in PostgreSQL.
  if (runtime.db) {
    const s = await repo.findSession(runtime.db.db, tokenHash);
    if (s) return { s, where: "pg" };
  } else if (!isRedisReady(runtime.redis)) {
    throw new AppError("UNAVAILABLE", "Sessions are unavailable: no session store is reachable", { retryAfterSeconds: 5 });
  }
  return undefined;
}

/** The session a cookie value stands for, or undefined when it is unknown, expired or revoked. */
export async function verifySession(runtime: Runtime, token: string, now = new Date()): Promise<VerifiedSession | undefined> {
  if (!looksLikeSessionId(token)) return undefined;
  const tokenHash = sha256Hex(token);
  const found = await findStored(runtime, tokenHash);
  if (!found || !digestsEqual(found.s.tokenHash, tokenHash)) return undefined;
  const { s, where } = found;
  const { idleMs } = limits(runtime);
  if (now.getTime() >= s.expiresAt.getTime() || now.getTime() - s.lastSeenAt.getTime() >= idleMs) {
    await revokeStored(runtime, tokenHash, s.username, now).catch(() => {});
    return undefined;
  }
  // Only the configured admin signs in, and a password change ends every older session even
  // where the revocation itself could not reach a store (Redis down at that moment).
  if (s.username !== runtime.config.adminUsername) return undefined;
  const admin = await credentialStore(runtime).findAdmin(s.username);
  if (!admin || s.createdAt.getTime() < admin.passwordChangedAt.getTime()) return undefined;

  let lastSeen = s.lastSeenAt;
  if (now.getTime() - s.lastSeenAt.getTime() >= TOUCH_INTERVAL_MS) {
    lastSeen = now;
    const touched = { ...s, lastSeenAt: now };
    const write =
      where === "redis" && runtime.redis
        ? hot.updateSessionLastSeen(runtime.redis, runtime.config.redisKeyPrefix, touched, ttlMs(runtime, touched, now))
        : runtime.db
          ? repo.updateSessionLastSeen(runtime.db.db, tokenHash, now)
          : Promise.resolve();
    // A failed touch only shortens the idle window; the request itself is fine.
    await write.catch((err: Error) => logger.warn(`[auth] could not record session activity: ${err.message}`));
  }
  return {
    username: s.username,
    id: `s_${tokenHash.slice(0, 12)}`,
    expiresAt: new Date(Math.min(s.expiresAt.getTime(), lastSeen.getTime() + idleMs)),
  };
}

async function revokeStored(runtime: Runtime, tokenHash: string, username: string | undefined, now: Date): Promise<void> {
  const jobs: Promise<unknown>[] = [];
  if (isRedisReady(runtime.redis)) jobs.push(hot.revokeSession(runtime.redis, runtime.config.redisKeyPrefix, tokenHash, username));
  if (runtime.db) jobs.push(repo.revokeSession(runtime.db.db, tokenHash, now));
  await Promise.all(jobs);
}

/** Signs a cookie value out (wherever it is stored). Unknown values are ignored. */
export async function revokeSession(runtime: Runtime, token: string, now = new Date()): Promise<void> {
  if (!looksLikeSessionId(token)) return;
  const tokenHash = sha256Hex(token);
  const found = await findStored(runtime, tokenHash).catch(() => undefined);
  await revokeStored(runtime, tokenHash, found?.s.username, now);
}

/** Ends every session of a user; returns how many were found. */
export async function revokeAllSessions(runtime: Runtime, username: string, now = new Date()): Promise<number> {
  let n = 0;
  if (isRedisReady(runtime.redis)) {
    n += await hot.revokeUserSessions(runtime.redis, runtime.config.redisKeyPrefix, username).catch((err: Error) => {
      // verifySession still refuses them: they predate the password change.
      logger.warn(`[auth] could not delete sessions in Redis: ${err.message}`);
      return 0;
    });
  }
  if (runtime.db) n += await repo.revokeUserSessions(runtime.db.db, username, now);
  return n;
}
