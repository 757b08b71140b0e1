import { multiBySlot, type RedisClient, type SlotOp } from "../redis";
import type { Scope } from "./scopes";
import type { AdminUser, ApiTokenRecord, SessionRecord } from "./types";

/**
 * Redis side of authentication, every key under the configured prefix: sessions (when Redis is
 * up), login rate-limit counters, and — only when PostgreSQL is disabled — the admin user and
 * the API tokens.
 */

const k = {
  session: (p: string, hash: string) => `${p}auth:session:${hash}`,
  userSessions: (p: string, username: string) => `${p}auth:user-sessions:${username}`,
  admin: (p: string, username: string) => `${p}auth:admin:${username}`,
  tokens: (p: string) => `${p}auth:tokens`,
  tokenByHash: (p: string) => `${p}auth:token-by-hash`,
  // Kept apart from the token records so that a last-used write never races a revocation.
  tokenLastUsed: (p: string) => `${p}auth:token-last-used`,
  counter: (p: string, name: string, window: number) => `${p}auth:rl:${name}:${window}`,
};

interface StoredSession {
  u: string;
  c: number;
  l: number;
  e: number;
}

export async function insertSession(redis: RedisClient, prefix: string, s: SessionRecord, ttlMs: number): Promise<void> {
  const value: StoredSession = { u: s.username, c: s.createdAt.getTime(), l: s.lastSeenAt.getTime(), e: s.expiresAt.getTime() };
  const setKey = k.userSessions(prefix, s.username);
  const session = k.session(prefix, s.tokenHash);
  await multiBySlot(redis, [
    { key: session, add: (m) => void m.set(session, JSON.stringify(value), "PX", Math.max(1, ttlMs)) },
    { key: setKey, add: (m) => void m.sadd(setKey, s.tokenHash) },
    // The index outlives every session in it; stale members are dropped on revokeUserSessions.
    { key: setKey, add: (m) => void m.pexpire(setKey, Math.max(1, s.expiresAt.getTime() - s.createdAt.getTime()) + 60_000) },
  ]);
}

export async function findSession(redis: RedisClient, prefix: string, tokenHash: string): Promise<SessionRecord | undefined> {
  const raw = await redis.get(k.session(prefix, tokenHash));
  if (!raw) return undefined;
  const v = JSON.parse(raw) as StoredSession;
  return { tokenHash, username: v.u, createdAt: new Date(v.c), lastSeenAt: new Date(v.l), expiresAt: new Date(v.e) };
}

export async function updateSessionLastSeen(redis: RedisClient, prefix: string, s: SessionRecord, ttlMs: number): Promise<void> {
  const value: StoredSession = { u: s.username, c: s.createdAt.getTime(), l: s.lastSeenAt.getTime(), e: s.expiresAt.getTime() };
  // XX: a session revoked meanwhile stays revoked.
  await redis.set(k.session(prefix, s.tokenHash), JSON.stringify(value), "PX", Math.max(1, ttlMs), "XX");
}

export async function revokeSession(redis: RedisClient, prefix: string, tokenHash: string, username?: string): Promise<void> {
  const ops: SlotOp[] = [{ key: k.session(prefix, tokenHash), add: (m) => void m.del(k.session(prefix, tokenHash)) }];
  if (username) ops.push({ key: k.userSessions(prefix, username), add: (m) => void m.srem(k.userSessions(prefix, username), tokenHash) });
  await multiBySlot(redis, ops);
}

export async function revokeUserSessions(redis: RedisClient, prefix: string, username: string): Promise<number> {
  const setKey = k.userSessions(prefix, username);
  const hashes = await redis.smembers(setKey);
  const results = await multiBySlot(redis, [
    ...hashes.map((h): SlotOp => ({ key: k.session(prefix, h), add: (m) => void m.del(k.session(prefix, h)) })),
    { key: setKey, add: (m) => void m.del(setKey) },
  ]);
  return results.slice(0, hashes.length).reduce((n, [, deleted]) => n + Number(deleted ?? 0), 0);
}

/**
 * Fixed-window counter: adds `delta` to the counter of the window and returns the new count.
 * The window number is part of the key, so the caller's clock decides when a window ends.
 */
export async function addToCounter(
  redis: RedisClient,
  prefix: string,
  name: string,
  window: number,
  delta: number,
  ttlMs: number,
): Promise<number> {
  const key = k.counter(prefix, name, window);
  const res = await redis.multi().incrby(key, delta).pexpire(key, ttlMs).exec();
  return Number(res?.[0]?.[1] ?? 0);
}

// --- Credentials, used only when PostgreSQL is disabled (POSTGRES_ENABLED=false). ---

interface StoredAdmin {
  h: string;
  s: AdminUser["passwordSource"];
  c: number;
}

export async function findAdminUser(redis: RedisClient, prefix: string, username: string): Promise<AdminUser | undefined> {
  const raw = await redis.get(k.admin(prefix, username));
  if (!raw) return undefined;
  const v = JSON.parse(raw) as StoredAdmin;
  return { username, passwordHash: v.h, passwordSource: v.s, passwordChangedAt: new Date(v.c) };
}

export async function insertAdminUser(redis: RedisClient, prefix: string, user: AdminUser): Promise<boolean> {
  const value: StoredAdmin = { h: user.passwordHash, s: user.passwordSource, c: user.passwordChangedAt.getTime() };
  return (await redis.set(k.admin(prefix, user.username), JSON.stringify(value), "NX")) === "OK";
}

export async function updateAdminPassword(redis: RedisClient, prefix: string, user: AdminUser): Promise<boolean> {
  const value: StoredAdmin = { h: user.passwordHash, s: user.passwordSource, c: user.passwordChangedAt.getTime() };
  return (await redis.set(k.admin(prefix, user.username), JSON.stringify(value), "XX")) === "OK";
}

interface StoredToken {
  id: string;
  n: string;
  s: Scope;
  h: string;
  p: string;
  c: number;
  u: number | null;
  r: number | null;
}

const toStored = (t: ApiTokenRecord): StoredToken => ({
  id: t.id,
  n: t.name,
  s: t.scope,
  h: t.tokenHash,
  p: t.tokenPrefix,
  c: t.createdAt.getTime(),
  u: t.lastUsedAt?.getTime() ?? null,
  r: t.revokedAt?.getTime() ?? null,
});

const fromStored = (v: StoredToken): ApiTokenRecord => ({
  id: v.id,
  name: v.n,
  scope: v.s,
  tokenHash: v.h,
  tokenPrefix: v.p,
  createdAt: new Date(v.c),
  lastUsedAt: v.u === null ? null : new Date(v.u),
  revokedAt: v.r === null ? null : new Date(v.r),
});

export async function insertApiToken(redis: RedisClient, prefix: string, t: ApiTokenRecord): Promise<void> {
  await multiBySlot(redis, [
    { key: k.tokens(prefix), add: (m) => void m.hset(k.tokens(prefix), t.id, JSON.stringify(toStored(t))) },
    { key: k.tokenByHash(prefix), add: (m) => void m.hset(k.tokenByHash(prefix), t.tokenHash, t.id) },
  ]);
}

async function findApiToken(redis: RedisClient, prefix: string, id: string): Promise<ApiTokenRecord | undefined> {
  const [raw, lastUsed] = await Promise.all([redis.hget(k.tokens(prefix), id), redis.hget(k.tokenLastUsed(prefix), id)]);
  if (!raw) return undefined;
  const t = fromStored(JSON.parse(raw) as StoredToken);
  return lastUsed ? { ...t, lastUsedAt: new Date(Number(lastUsed)) } : t;
}

export async function findActiveApiTokenByHash(redis: RedisClient, prefix: string, tokenHash: string): Promise<ApiTokenRecord | undefined> {
  const id = await redis.hget(k.tokenByHash(prefix), tokenHash);
  if (!id) return undefined;
  const t = await findApiToken(redis, prefix, id);
  return t && !t.revokedAt ? t : undefined;
}

export async function activeApiTokens(redis: RedisClient, prefix: string): Promise<ApiTokenRecord[]> {
  const [records, lastUsed] = await Promise.all([redis.hgetall(k.tokens(prefix)), redis.hgetall(k.tokenLastUsed(prefix))]);
  return Object.values(records)
    .map((raw) => fromStored(JSON.parse(raw) as StoredToken))
    .filter((t) => !t.revokedAt)
    .map((t) => (lastUsed[t.id] ? { ...t, lastUsedAt: new Date(Number(lastUsed[t.id])) } : t))
    .sort((a, b) => b.createdAt.getTime() - a.createdAt.getTime() || a.id.localeCompare(b.id));
}

export async function revokeApiToken(redis: RedisClient, prefix: string, id: string, at: Date): Promise<ApiTokenRecord | undefined> {
  const t = await findApiToken(redis, prefix, id);
  if (!t) return undefined;
  if (!t.revokedAt) {
    await multiBySlot(redis, [
      { key: k.tokens(prefix), add: (m) => void m.hset(k.tokens(prefix), id, JSON.stringify(toStored({ ...t, revokedAt: at }))) },
      { key: k.tokenByHash(prefix), add: (m) => void m.hdel(k.tokenByHash(prefix), t.tokenHash) },
    ]);
  }
  return t;
}

export async function updateApiTokenLastUsed(redis: RedisClient, prefix: string, id: string, at: Date): Promise<void> {
  await redis.hset(k.tokenLastUsed(prefix), id, String(at.getTime()));
}
