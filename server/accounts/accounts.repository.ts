import { sql, type Kysely } from "kysely";
import type { Account, ApiKey, Database } from "../../db/types";
import { ACCOUNT_LIST_SORTS, API_KEY_LIST_SORTS, type ListSort } from "./list-order";
import type { ListAccountsInput, ListApiKeysInput, UpsertAccountInput, UpsertApiKeyInput } from "./schemas";

/** An api_keys row without hashed_key: that column is never read back by this module. */
export type ApiKeyRow = Omit<ApiKey, "hashed_key"> & { has_hashed_key: boolean };

// A placeholder (created by usage for an unknown id) becomes active when the relay describes it.
const statusOnUpdate = (table: "accounts" | "api_keys") =>
  sql<string>`CASE WHEN ${sql.ref(`${table}.status`)} = 'unknown' THEN 'active' ELSE ${sql.ref(`${table}.status`)} END`;

/**
 * Creates the account or updates the fields given (omitted ones keep their value), and brings
 * a soft-deleted account back.
 */
/** What a relay source adds to an upsert: its name, kept in `sources` (accounts) or `source` (keys). */
export interface UpsertOrigin {
  source?: string;
}

export async function upsertAccount(db: Kysely<Database>, input: UpsertAccountInput, origin: UpsertOrigin = {}): Promise<Account> {
  return db
    .insertInto("accounts")
    .values({
      id: input.id,
      name: input.name ?? input.id,
      platform: input.platform ?? "unknown",
      type: input.type ?? "shared",
      status: input.status ?? "active",
      priority: input.priority ?? 50,
      metadata: JSON.stringify(input.metadata ?? {}),
      sources: origin.source ? [origin.source] : [],
    })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet((eb) => ({
        ...(origin.source && {
          sources: sql<string[]>`(SELECT array_agg(DISTINCT s ORDER BY s) FROM unnest(accounts.sources || excluded.sources) AS s)`,
        }),
        ...(input.name !== undefined && { name: eb.ref("excluded.name") }),
        ...(input.platform !== undefined && { platform: eb.ref("excluded.platform") }),
        ...(input.type !== undefined && { type: eb.ref("excluded.type") }),
        ...(input.priority !== undefined && { priority: eb.ref("excluded.priority") }),
        ...(input.metadata != null && { metadata: eb.ref("excluded.metadata") }),
        status: input.status !== undefined ? eb.ref("excluded.status") : statusOnUpdate("accounts"),
        updated_at: sql<Date>`now()`,
        deleted_at: null,
      })),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

const apiKeyColumns = [
  "id",
  "name",
  "account_id",
  "status",
  sql<boolean>`hashed_key IS NOT NULL`.as("has_hashed_key"),
  "daily_cost_limit",
  "total_cost_limit",
  "total_cost_accumulated",
  "last_used_at",
  "metadata",
  "source",
  "created_at",
  "updated_at",
  "deleted_at",
] as const;

export async function upsertApiKey(db: Kysely<Database>, input: UpsertApiKeyInput, origin: UpsertOrigin = {}): Promise<ApiKeyRow> {
  return db
    .insertInto("api_keys")
    .values({
      id: input.id,
      name: input.name ?? input.id,
      account_id: input.accountId ?? null,
      status: input.status ?? "active",
      hashed_key: input.hashedKey ?? null,
      daily_cost_limit: input.dailyCostLimit ?? null,
      total_cost_limit: input.totalCostLimit ?? null,
      metadata: JSON.stringify(input.metadata ?? {}),
      source: origin.source ?? null,
    })
    .onConflict((oc) =>
      oc.column("id").doUpdateSet((eb) => ({
        ...(origin.source && { source: eb.ref("excluded.source") }),
        ...(input.name !== undefined && { name: eb.ref("excluded.name") }),
        ...(input.accountId !== undefined && { account_id: eb.ref("excluded.account_id") }),
        ...(input.hashedKey !== undefined && { hashed_key: eb.ref("excluded.hashed_key") }),
        ...(input.dailyCostLimit !== undefined && { daily_cost_limit: eb.ref("excluded.daily_cost_limit") }),
        ...(input.totalCostLimit !== undefined && { total_cost_limit: eb.ref("excluded.total_cost_limit") }),
        ...(input.metadata != null && { metadata: eb.ref("excluded.metadata") }),
        status: input.status !== undefined ? eb.ref("excluded.status") : statusOnUpdate("api_keys"),
        updated_at: sql<Date>`now()`,
        deleted_at: null,
      })),
    )
    .returning(apiKeyColumns)
    .executeTakeFirstOrThrow();
}

/** Marks the account deleted (usage history stays). Undefined when there is no such account. */
export async function softDeleteAccount(db: Kysely<Database>, id: string): Promise<Account | undefined> {
  return db
    .updateTable("accounts")
    .set({ deleted_at: sql<Date>`coalesce(deleted_at, now())`, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}

export async function softDeleteApiKey(db: Kysely<Database>, id: string): Promise<ApiKeyRow | undefined> {
  return db
    .updateTable("api_keys")
    .set({ deleted_at: sql<Date>`coalesce(deleted_at, now())`, updated_at: sql<Date>`now()` })
    .where("id", "=", id)
    .returning(apiKeyColumns)
    .executeTakeFirst();
}

/** A sort of list-order.ts as SQL: the same order as its in-memory twin. */
function orderBy(s: Pick<ListSort<string, never>, "column" | "text">) {
  return s.text ? sql`lower(${sql.ref(s.column)}) COLLATE "C"` : sql.ref(s.column);
}
const byId = sql`id COLLATE "C"`;

/** ILIKE pattern matching `text` literally anywhere. */
function containsPattern(text: string): string {
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

export async function findAccountsPage(db: Kysely<Database>, f: ListAccountsInput): Promise<{ rows: Account[]; total: number }> {
  let q = db.selectFrom("accounts");
  if (!f.includeDeleted) q = q.where("deleted_at", "is", null);
  if (f.platform) q = q.where("platform", "=", f.platform);
  if (f.status) q = q.where("status", "=", f.status);
  if (f.search) {
    const p = containsPattern(f.search);
    q = q.where((eb) => eb.or([eb("id", "ilike", p), eb("name", "ilike", p)]));
  }
  const [count, rows] = await Promise.all([
    q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    q
      .selectAll()
      .orderBy(orderBy(ACCOUNT_LIST_SORTS[f.sort]), (ob) => (f.order === "asc" ? ob.asc().nullsLast() : ob.desc().nullsLast()))
      .orderBy(byId)
      .limit(f.pageSize)
      .offset((f.page - 1) * f.pageSize)
      .execute(),
  ]);
  return { rows, total: Number(count.n) };
}

export async function findApiKeysPage(db: Kysely<Database>, f: ListApiKeysInput): Promise<{ rows: ApiKeyRow[]; total: number }> {
  let q = db.selectFrom("api_keys");
  if (!f.includeDeleted) q = q.where("deleted_at", "is", null);
  if (f.accountId) q = q.where("account_id", "=", f.accountId);
  if (f.status) q = q.where("status", "=", f.status);
  if (f.search) {
    const p = containsPattern(f.search);
    q = q.where((eb) => eb.or([eb("id", "ilike", p), eb("name", "ilike", p)]));
  }
  const [count, rows] = await Promise.all([
    q.select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow(),
    q
      .select(apiKeyColumns)
      .orderBy(orderBy(API_KEY_LIST_SORTS[f.sort]), (ob) => (f.order === "asc" ? ob.asc().nullsLast() : ob.desc().nullsLast()))
      .orderBy(byId)
      .limit(f.pageSize)
      .offset((f.page - 1) * f.pageSize)
      .execute(),
  ]);
  return { rows, total: Number(count.n) };
}
