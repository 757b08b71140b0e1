import type { Selectable } from "kysely";
import type { AdminSessionsTable, AdminUsersTable, ApiTokensTable, Db } from "../../db/types";
import type { AdminUser, ApiTokenRecord, PasswordSource, SessionRecord } from "./types";

/** PostgreSQL side of authentication: the admin user, API tokens, and sessions when Redis is down. */

const toAdmin = (r: Selectable<AdminUsersTable>): AdminUser => ({
  username: r.username,
  passwordHash: r.password_hash,
  passwordSource: r.password_source,
  passwordChangedAt: r.password_changed_at,
});

const toSession = (r: Selectable<AdminSessionsTable>): SessionRecord => ({
  tokenHash: r.token_hash,
  username: r.username,
  createdAt: r.created_at,
  lastSeenAt: r.last_seen_at,
  expiresAt: r.expires_at,
});

const toToken = (r: Selectable<ApiTokensTable>): ApiTokenRecord => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  tokenHash: r.token_hash,
  tokenPrefix: r.token_prefix,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
  revokedAt: r.revoked_at,
});

export async function findAdminUser(db: Db, username: string): Promise<AdminUser | undefined> {
  const row = await db.selectFrom("admin_users").selectAll().where("username", "=", username).executeTakeFirst();
  return row && toAdmin(row);
}

/** Inserts unless the user exists (two nodes starting at once); true when this call inserted. */
export async function insertAdminUser(db: Db, user: AdminUser): Promise<boolean> {
  const rows = await db
    .insertInto("admin_users")
    .values({
      username: user.username,
      password_hash: user.passwordHash,
      password_source: user.passwordSource,
      password_changed_at: user.passwordChangedAt,
    })
    .onConflict((oc) => oc.column("username").doNothing())
    .returning("username")
    .execute();
  return rows.length > 0;
}

export async function updateAdminPassword(
  db: Db,
  username: string,
  passwordHash: string,
  source: PasswordSource,
  changedAt: Date,
): Promise<boolean> {
  const r = await db
    .updateTable("admin_users")
    .set({ password_hash: passwordHash, password_source: source, password_changed_at: changedAt })
    .where("username", "=", username)
    .executeTakeFirst();
  return r.numUpdatedRows > 0n;
}

export async function insertSession(db: Db, s: SessionRecord): Promise<void> {
  await db
    .insertInto("admin_sessions")
    .values({ token_hash: s.tokenHash, username: s.username, created_at: s.createdAt, last_seen_at: s.lastSeenAt, expires_at: s.expiresAt })
    .execute();
}

export async function findSession(db: Db, tokenHash: string): Promise<SessionRecord | undefined> {
  const row = await db
    .selectFrom("admin_sessions")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return row && toSession(row);
}

export async function updateSessionLastSeen(db: Db, tokenHash: string, at: Date): Promise<void> {
  await db.updateTable("admin_sessions").set({ last_seen_at: at }).where("token_hash", "=", tokenHash).execute();
}

export async function revokeSession(db: Db, tokenHash: string, at: Date): Promise<void> {
  await db
    .updateTable("admin_sessions")
    .set({ revoked_at: at })
    .where("token_hash", "=", tokenHash)
    .where("revoked_at", "is", null)
    .execute();
}

export async function revokeUserSessions(db: Db, username: string, at: Date): Promise<number> {
  const r = await db
    .updateTable("admin_sessions")
    .set({ revoked_at: at })
    .where("username", "=", username)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(r.numUpdatedRows);
}

/** Removes sessions past their absolute limit, idle too long, or revoked before `before`. */
export async function deleteStaleSessions(db: Db, now: Date, idleBefore: Date): Promise<void> {
  await db
    .deleteFrom("admin_sessions")
    .where((eb) =>
      eb.or([eb("expires_at", "<", now), eb("last_seen_at", "<", idleBefore), eb("revoked_at", "<", idleBefore)]),
    )
    .execute();
}

export async function insertApiToken(db: Db, t: ApiTokenRecord): Promise<void> {
  await db
    .insertInto("api_tokens")
    .values({
      id: t.id,
      name: t.name,
      scope: t.scope,
      token_hash: t.tokenHash,
      token_prefix: t.tokenPrefix,
      created_at: t.createdAt,
      last_used_at: t.lastUsedAt,
      revoked_at: t.revokedAt,
    })
    .execute();
}

export async function findActiveApiTokenByHash(db: Db, tokenHash: string): Promise<ApiTokenRecord | undefined> {
  const row = await db
    .selectFrom("api_tokens")
    .selectAll()
    .where("token_hash", "=", tokenHash)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return row && toToken(row);
}

export async function activeApiTokens(db: Db): Promise<ApiTokenRecord[]> {
  const rows = await db
    .selectFrom("api_tokens")
    .selectAll()
    .where("revoked_at", "is", null)
    .orderBy("created_at", "desc")
    .orderBy("id")
    .execute();
  return rows.map(toToken);
}

/** Returns the token as it was before (undefined: no such id); revoking twice changes nothing. */
export async function revokeApiToken(db: Db, id: string, at: Date): Promise<ApiTokenRecord | undefined> {
  const row = await db.selectFrom("api_tokens").selectAll().where("id", "=", id).executeTakeFirst();
  if (!row) return undefined;
  await db.updateTable("api_tokens").set({ revoked_at: at }).where("id", "=", id).where("revoked_at", "is", null).execute();
  return toToken(row);
}

export async function updateApiTokenLastUsed(db: Db, id: string, at: Date): Promise<void> {
  await db.updateTable("api_tokens").set({ last_used_at: at }).where("id", "=", id).execute();
}
