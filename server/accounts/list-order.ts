import { AppError } from "../errors";
import { compareBy, type SortValue } from "../sort-order";
import type { AccountIndexEntry, ApiKeyIndexEntry } from "../usage/hot-index";
import type { ListAccountsInput, ListApiKeysInput } from "./schemas";

/**
 * Every sort of the account and API key lists, read by both stores: the column PostgreSQL orders
 * by (accounts.repository.ts) and the same value in the Redis index entry that the Redis-only
 * list (POSTGRES_ENABLED=false) sorts in memory. Text sorts lower-cased in code point order, like
 * lower(column) COLLATE "C"; then nulls last, ties by id (server/sort-order.ts). A sort whose value
 * the index does not hold is refused there, never answered in another order.
 */
export interface ListSort<Column extends string, Entry> {
  column: Column;
  text: boolean;
  /** The value in an index entry, or null when the index does not hold it. */
  inIndex: ((e: Entry) => string | number) | null;
}

export const ACCOUNT_LIST_SORTS: Record<ListAccountsInput["sort"], ListSort<"name" | "priority" | "created_at" | "updated_at", AccountIndexEntry>> = {
  name: { column: "name", text: true, inIndex: (e) => e.name },
  priority: { column: "priority", text: false, inIndex: (e) => e.priority },
  createdAt: { column: "created_at", text: false, inIndex: null },
  updatedAt: { column: "updated_at", text: false, inIndex: null },
};

export const API_KEY_LIST_SORTS: Record<
  ListApiKeysInput["sort"],
  ListSort<"name" | "created_at" | "updated_at" | "last_used_at" | "total_cost_accumulated", ApiKeyIndexEntry>
> = {
  name: { column: "name", text: true, inIndex: (e) => e.name },
  createdAt: { column: "created_at", text: false, inIndex: null },
  updatedAt: { column: "updated_at", text: false, inIndex: null },
  lastUsedAt: { column: "last_used_at", text: false, inIndex: null },
  totalCost: { column: "total_cost_accumulated", text: false, inIndex: null },
};

/**
 * The order of `sort` over index entries, or 400 naming the sorts the index can answer. With
 * PostgreSQL disabled the index is the only store, so retrying would not help: a 4xx, not a 503.
 */
export function indexOrder<S extends string, Entry>(
  what: string,
  sorts: Record<S, ListSort<string, Entry>>,
  sort: S,
  order: "asc" | "desc",
): (a: Entry & { id: string }, b: Entry & { id: string }) => number {
  const s = sorts[sort];
  const inIndex = s.inIndex;
  if (!inIndex) {
    const possible = (Object.keys(sorts) as S[]).filter((k) => sorts[k].inIndex);
    const message = `sort=${sort} needs PostgreSQL: with POSTGRES_ENABLED=false the Redis index holds no ${sort} of ${what}; sort by ${possible.join(" or ")}`;
    throw new AppError("BAD_REQUEST", message, { issues: [{ path: "sort", message }] });
  }
  const key = (e: Entry & { id: string }): SortValue => {
    const v = inIndex(e);
    return s.text && typeof v === "string" ? v.toLowerCase() : v;
  };
  return compareBy<Entry & { id: string }>(key, (e) => e.id, order);
}
