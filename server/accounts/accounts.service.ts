import type { Account } from "../../db/types";
import { AppError } from "../errors";
import { logger } from "../logger";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import {
  allAccountIndex,
  allApiKeyIndex,
  findAccountIndex,
  findApiKeyIndex,
  setAccountIndex,
  setApiKeyIndex,
  type AccountIndexEntry,
  type ApiKeyIndexEntry,
} from "../usage/hot-index";
import { isDatabaseUnavailable } from "../../db/errors";
import * as repo from "./accounts.repository";
import { ACCOUNT_LIST_SORTS, API_KEY_LIST_SORTS, indexOrder } from "./list-order";
import type {
  AccountView,
  ApiKeyView,
  DeleteByIdInput,
  ListAccountsInput,
  ListApiKeysInput,
  Pagination,
  UpsertAccountInput,
  UpsertApiKeyInput,
} from "./schemas";

/**
 * Account and API key metadata. PostgreSQL is the record; the Redis index (name, status …) is
 * kept alongside so that the Redis-only mode can still name accounts and keys. With
 * POSTGRES_ENABLED=false the index is the only store (no metadata, limits or key hashes).
 * The key hash is written, never read back, returned or logged.
 */

export interface Page<T> {
  items: T[];
  pagination: Pagination;
}

function accountView(a: Account): AccountView {
  return {
    id: a.id,
    name: a.name,
    platform: a.platform,
    type: a.type,
    status: a.status,
    priority: a.priority,
    metadata: a.metadata,
    sources: a.sources,
    createdAt: a.created_at.toISOString(),
    updatedAt: a.updated_at.toISOString(),
    deletedAt: a.deleted_at ? new Date(a.deleted_at).toISOString() : null,
  };
}

function apiKeyView(k: repo.ApiKeyRow): ApiKeyView {
  return {
    id: k.id,
    name: k.name,
    accountId: k.account_id,
    status: k.status,
    hasHashedKey: k.has_hashed_key,
    dailyCostLimit: k.daily_cost_limit,
    totalCostLimit: k.total_cost_limit,
    totalCostAccumulated: k.total_cost_accumulated,
    lastUsedAt: k.last_used_at ? new Date(k.last_used_at).toISOString() : null,
    metadata: k.metadata,
    source: k.source,
    createdAt: k.created_at.toISOString(),
    updatedAt: k.updated_at.toISOString(),
    deletedAt: k.deleted_at ? new Date(k.deleted_at).toISOString() : null,
  };
}

// With PostgreSQL disabled the Redis index is all there is: what it does not hold reads as empty.
function accountViewOfIndex(id: string, e: AccountIndexEntry, at: string): AccountView {
  return { id, ...e, metadata: {}, sources: [], createdAt: at, updatedAt: at, deletedAt: null };
}

function apiKeyViewOfIndex(id: string, e: ApiKeyIndexEntry, at: string): ApiKeyView {
  return {
    id,
    ...e,
    hasHashedKey: false,
    dailyCostLimit: null,
    totalCostLimit: null,
    totalCostAccumulated: "0",
    lastUsedAt: null,
    metadata: {},
    source: null,
    createdAt: at,
    updatedAt: at,
    deletedAt: null,
  };
}

function pagination(page: number, pageSize: number, total: number): Pagination {
  return { page, pageSize, total, totalPages: Math.ceil(total / pageSize) };
}

/** Database calls that fail because PostgreSQL is unreachable answer 503, not 500. */
async function inDatabase<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (isDatabaseUnavailable(err)) throw new AppError("UNAVAILABLE", "PostgreSQL is unavailable; retry later", { retryAfterSeconds: 5 });
    throw err;
  }
}

/** Best effort: the index only serves the Redis-only fallback, PostgreSQL holds the record. */
async function mirror(runtime: Runtime, what: string, fn: (redis: NonNullable<Runtime["redis"]>) => Promise<void>): Promise<void> {
  if (!isRedisReady(runtime.redis)) return;
  await fn(runtime.redis).catch((err: Error) => logger.warn(`[accounts] could not update the Redis index for ${what}: ${err.message}`));
}

function requireRedisIndex(runtime: Runtime): NonNullable<Runtime["redis"]> {
  if (!isRedisReady(runtime.redis)) throw new AppError("UNAVAILABLE", "Redis is unavailable and PostgreSQL is disabled; retry later", { retryAfterSeconds: 5 });
  return runtime.redis;
}

const indexEntryOfAccount = (a: AccountView): AccountIndexEntry => ({ name: a.name, platform: a.platform, type: a.type, status: a.deletedAt ? "deleted" : a.status, priority: a.priority });
const indexEntryOfKey = (k: ApiKeyView): ApiKeyIndexEntry => ({ name: k.name, accountId: k.accountId, status: k.deletedAt ? "deleted" : k.status });

/** `origin.source`: the relay source writing it (server/sources/), recorded in the account's `sources`. */
export async function upsertAccount(runtime: Runtime, input: UpsertAccountInput, origin: repo.UpsertOrigin = {}): Promise<AccountView> {
  const prefix = runtime.config.redisKeyPrefix;
  if (runtime.db) {
    const view = accountView(await inDatabase(() => repo.upsertAccount(runtime.db!.db, input, origin)));
    await mirror(runtime, `account ${input.id}`, (r) => setAccountIndex(r, prefix, view.id, indexEntryOfAccount(view)));
    return view;
  }
  const redis = requireRedisIndex(runtime);
  const old = await findAccountIndex(redis, prefix, input.id);
  const entry: AccountIndexEntry = {
    name: input.name ?? old?.name ?? input.id,
    platform: input.platform ?? old?.platform ?? "unknown",
    type: input.type ?? old?.type ?? "shared",
    status: input.status ?? (!old || old.status === "unknown" || old.status === "deleted" ? "active" : old.status),
    priority: input.priority ?? old?.priority ?? 50,
  };
  await setAccountIndex(redis, prefix, input.id, entry);
  return accountViewOfIndex(input.id, entry, new Date().toISOString());
}

/** `origin.source`: the relay source writing it (server/sources/), recorded as the key's `source`. */
export async function upsertApiKey(runtime: Runtime, input: UpsertApiKeyInput, origin: repo.UpsertOrigin = {}): Promise<ApiKeyView> {
  const prefix = runtime.config.redisKeyPrefix;
  if (runtime.db) {
    const view = apiKeyView(await inDatabase(() => repo.upsertApiKey(runtime.db!.db, input, origin)));
    await mirror(runtime, `API key ${input.id}`, (r) => setApiKeyIndex(r, prefix, view.id, indexEntryOfKey(view)));
    return view;
  }
  const redis = requireRedisIndex(runtime);
  const old = await findApiKeyIndex(redis, prefix, input.id);
  const entry: ApiKeyIndexEntry = {
    name: input.name ?? old?.name ?? input.id,
    accountId: input.accountId !== undefined ? input.accountId : (old?.accountId ?? null),
    status: input.status ?? (!old || old.status === "unknown" || old.status === "deleted" ? "active" : old.status),
  };
  await setApiKeyIndex(redis, prefix, input.id, entry);
  return apiKeyViewOfIndex(input.id, entry, new Date().toISOString());
}

export async function deleteAccount(runtime: Runtime, input: DeleteByIdInput): Promise<{ id: string; deletedAt: string }> {
  const prefix = runtime.config.redisKeyPrefix;
  if (runtime.db) {
    const row = await inDatabase(() => repo.softDeleteAccount(runtime.db!.db, input.id));
    if (!row) throw new AppError("NOT_FOUND", `Account ${JSON.stringify(input.id)} does not exist`);
    const view = accountView(row);
    await mirror(runtime, `account ${input.id}`, (r) => setAccountIndex(r, prefix, view.id, indexEntryOfAccount(view)));
    return { id: view.id, deletedAt: view.deletedAt! };
  }
  const redis = requireRedisIndex(runtime);
  const old = await findAccountIndex(redis, prefix, input.id);
  if (!old) throw new AppError("NOT_FOUND", `Account ${JSON.stringify(input.id)} does not exist`);
  await setAccountIndex(redis, prefix, input.id, { ...old, status: "deleted" });
  return { id: input.id, deletedAt: new Date().toISOString() };
}

export async function deleteApiKey(runtime: Runtime, input: DeleteByIdInput): Promise<{ id: string; deletedAt: string }> {
  const prefix = runtime.config.redisKeyPrefix;
  if (runtime.db) {
    const row = await inDatabase(() => repo.softDeleteApiKey(runtime.db!.db, input.id));
    if (!row) throw new AppError("NOT_FOUND", `API key ${JSON.stringify(input.id)} does not exist`);
    const view = apiKeyView(row);
    await mirror(runtime, `API key ${input.id}`, (r) => setApiKeyIndex(r, prefix, view.id, indexEntryOfKey(view)));
    return { id: view.id, deletedAt: view.deletedAt! };
  }
  const redis = requireRedisIndex(runtime);
  const old = await findApiKeyIndex(redis, prefix, input.id);
  if (!old) throw new AppError("NOT_FOUND", `API key ${JSON.stringify(input.id)} does not exist`);
  await setApiKeyIndex(redis, prefix, input.id, { ...old, status: "deleted" });
  return { id: input.id, deletedAt: new Date().toISOString() };
}

const contains = (haystack: string, needle: string | undefined) => !needle || haystack.toLowerCase().includes(needle.toLowerCase());

function pageOf<T>(all: T[], page: number, pageSize: number): Page<T> {
  return { items: all.slice((page - 1) * pageSize, page * pageSize), pagination: pagination(page, pageSize, all.length) };
}

export async function listAccounts(runtime: Runtime, f: ListAccountsInput): Promise<Page<AccountView>> {
  if (runtime.db) {
    const { rows, total } = await inDatabase(() => repo.findAccountsPage(runtime.db!.db, f));
    return { items: rows.map(accountView), pagination: pagination(f.page, f.pageSize, total) };
  }
  const order = indexOrder("accounts", ACCOUNT_LIST_SORTS, f.sort, f.order);
  const index = await allAccountIndex(requireRedisIndex(runtime), runtime.config.redisKeyPrefix);
  const all = [...index]
    .map(([id, e]) => ({ id, ...e }))
    .filter((a) => (f.includeDeleted || a.status !== "deleted") && (!f.platform || a.platform === f.platform) && (!f.status || a.status === f.status))
    .filter((a) => contains(a.id, f.search) || contains(a.name, f.search))
    .sort(order)
    .map(({ id, ...e }) => accountViewOfIndex(id, e, ""));
  return pageOf(all, f.page, f.pageSize);
}

export async function listApiKeys(runtime: Runtime, f: ListApiKeysInput): Promise<Page<ApiKeyView>> {
  if (runtime.db) {
    const { rows, total } = await inDatabase(() => repo.findApiKeysPage(runtime.db!.db, f));
    return { items: rows.map(apiKeyView), pagination: pagination(f.page, f.pageSize, total) };
  }
  const order = indexOrder("API keys", API_KEY_LIST_SORTS, f.sort, f.order);
  const index = await allApiKeyIndex(requireRedisIndex(runtime), runtime.config.redisKeyPrefix);
  const all = [...index]
    .map(([id, e]) => ({ id, ...e }))
    .filter((k) => (f.includeDeleted || k.status !== "deleted") && (!f.accountId || k.accountId === f.accountId) && (!f.status || k.status === f.status))
    .filter((k) => contains(k.id, f.search) || contains(k.name, f.search))
    .sort(order)
    .map(({ id, ...e }) => apiKeyViewOfIndex(id, e, ""));
  return pageOf(all, f.page, f.pageSize);
}
