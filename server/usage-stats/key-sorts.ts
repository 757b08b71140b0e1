import { MEASURES, type Figure } from "../../db/measures";

/**
 * The sort keys of the API key usage list (every answered measure, the name, the last use) and
 * their default directions. Plain data over db/measures.ts, no runtime imports: the console's URL
 * state reads it too, so a URL without `order` means what the API means.
 */

export const KEY_FIGURE_SORTS = MEASURES.filter((m) => m.read).map((m) => m.name as Figure);
export type KeyUsageSort = Figure | "name" | "lastUsedAt";
export const KEY_USAGE_SORTS = [...KEY_FIGURE_SORTS, "name", "lastUsedAt"] as unknown as [KeyUsageSort, ...KeyUsageSort[]];

export const DEFAULT_KEY_SORT: KeyUsageSort = "cost";
export const DEFAULT_KEY_LIMIT = 50;
export const MAX_KEY_LIMIT = 500;

/** Names ascending, figures and last use descending. */
export function defaultKeyOrder(sort: KeyUsageSort): "asc" | "desc" {
  return sort === "name" ? "asc" : "desc";
}

/** A key lists at most this many of the accounts that used it (and how many there were). */
export const MAX_KEY_ACCOUNTS = 5;
