import { randomUUID } from "node:crypto";
import { AppError } from "../errors";
import { logger } from "../logger";
import type { Runtime } from "../runtime";
import { credentialStore } from "./credential-store";
import type { CreateTokenInput } from "./schemas";
import { digestsEqual, looksLikeApiToken, newApiToken, sha256Hex } from "./secrets";
import type { ApiTokenInfo, ApiTokenRecord } from "./types";
import { isDatabaseUnavailable } from "../../db/errors";

/**
 * API tokens for scripts and the relay: "ubk_" + 256 random bits, shown once at creation and
 * stored as SHA-256. One scope each; revoked tokens stop working at once.
 */

const TOUCH_INTERVAL_MS = 60_000;
const PREFIX_SHOWN = 8;

/**
 * Tokens this process verified recently, by hash. Consulted only when the credential store cannot
 * be reached, so that ingest (which needs only Redis) keeps answering 2xx through a PostgreSQL
 * outage; a revoked token is refused again as soon as PostgreSQL answers.
 */
const OUTAGE_GRACE_MS = 15 * 60_000;
const MAX_REMEMBERED = 10_000;
const recentlyVerified = new WeakMap<Runtime, Map<string, { token: ApiTokenInfo; at: number }>>();

function remembered(runtime: Runtime): Map<string, { token: ApiTokenInfo; at: number }> {
  let m = recentlyVerified.get(runtime);
  if (!m) recentlyVerified.set(runtime, (m = new Map()));
  return m;
}

const info = (t: ApiTokenRecord): ApiTokenInfo => ({
  id: t.id,
  name: t.name,
  scope: t.scope,
  tokenPrefix: t.tokenPrefix,
  createdAt: t.createdAt,
  lastUsedAt: t.lastUsedAt,
});

export async function createApiToken(
  runtime: Runtime,
  input: CreateTokenInput,
  now = new Date(),
): Promise<{ token: string; info: ApiTokenInfo }> {
  const token = newApiToken();
  const record: ApiTokenRecord = {
    id: randomUUID(),
    name: input.name,
    scope: input.scope,
    tokenHash: sha256Hex(token),
    tokenPrefix: token.slice(0, PREFIX_SHOWN),
    createdAt: now,
    lastUsedAt: null,
    revokedAt: null,
  };
  await credentialStore(runtime).insertToken(record);
  logger.info(`[auth] API token created`, { id: record.id, name: record.name, scope: record.scope });
  return { token, info: info(record) };
}

export async function listApiTokens(runtime: Runtime): Promise<ApiTokenInfo[]> {
  return (await credentialStore(runtime).activeTokens()).map(info);
}

export async function revokeApiToken(runtime: Runtime, id: string, now = new Date()): Promise<ApiTokenInfo> {
  const t = await credentialStore(runtime).revokeToken(id, now);
  if (!t) throw new AppError("NOT_FOUND", `No API token with id ${id}`);
  remembered(runtime).delete(t.tokenHash);
  logger.info(`[auth] API token revoked`, { id: t.id, name: t.name });
  return info(t);
}

/**
 * Revokes every active token (after a leak, or with a password change: changing the password ends
 * sessions, not tokens). One revocation per token, so both stores and the outage cache follow.
 */
export async function revokeAllApiTokens(runtime: Runtime, now = new Date()): Promise<{ revoked: number }> {
  const tokens = await credentialStore(runtime).activeTokens();
  for (const t of tokens) await revokeApiToken(runtime, t.id, now);
  logger.info(`[auth] every API token revoked`, { revoked: tokens.length });
  return { revoked: tokens.length };
}

/** The active token a Bearer value stands for, or undefined. Records when it was last used. */
export async function verifyApiToken(runtime: Runtime, token: string, now = new Date()): Promise<ApiTokenInfo | undefined> {
  if (!looksLikeApiToken(token)) return undefined;
  const tokenHash = sha256Hex(token);
  const store = credentialStore(runtime);
  const recent = remembered(runtime);
  let t: ApiTokenRecord | undefined;
  try {
    t = await store.findActiveTokenByHash(tokenHash);
  } catch (err) {
    if (!isDatabaseUnavailable(err) || err instanceof AppError) throw err;
    const known = recent.get(tokenHash);
    if (known && now.getTime() - known.at < OUTAGE_GRACE_MS) return known.token;
    throw new AppError("UNAVAILABLE", "The API token cannot be checked: PostgreSQL is unreachable. Retry later.", { retryAfterSeconds: 5 });
  }
  if (!t || !digestsEqual(t.tokenHash, tokenHash)) {
    recent.delete(tokenHash);
    return undefined;
  }
  if (recent.size >= MAX_REMEMBERED && !recent.has(tokenHash)) recent.delete(recent.keys().next().value!);
  recent.set(tokenHash, { token: info(t), at: now.getTime() });
  if (!t.lastUsedAt || now.getTime() - t.lastUsedAt.getTime() >= TOUCH_INTERVAL_MS) {
    await store.touchToken(t.id, now).catch((err: Error) => logger.warn(`[auth] could not record token use: ${err.message}`));
    return info({ ...t, lastUsedAt: now });
  }
  return info(t);
}
