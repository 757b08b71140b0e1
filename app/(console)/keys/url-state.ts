import { createLoader, createParser, createSerializer, parseAsString, parseAsStringLiteral, type inferParserType } from "nuqs/server";
import { DEFAULT_KEY_LIMIT, DEFAULT_KEY_SORT, defaultKeyOrder, KEY_USAGE_SORTS, type KeyUsageSort } from "@/server/usage-stats/key-sorts";
import type { RangeName } from "@/server/usage-stats/schemas";

/**
 * The key page's state in the URL (nuqs): the server page (createLoader) and the client view
 * (useQueryStates) read it with the same parsers and build the same query input, so the client
 * finds the server's prefetched pages under the same query key.
 */

export const RANGES = ["daily", "monthly", "total", "custom"] as const satisfies readonly RangeName[];
export type Order = "asc" | "desc";
export const KEYS_DEFAULT_RANGE: RangeName = "total";

const isDate = (s: string | null | undefined): s is string => !!s && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));
const parseAsLocalDate = createParser({ parse: (v) => (isDate(v) ? v : null), serialize: (v: string) => v });

export const keysParsers = {
  q: parseAsString.withDefault(""),
  range: parseAsStringLiteral(RANGES).withDefault(KEYS_DEFAULT_RANGE),
  from: parseAsLocalDate,
  to: parseAsLocalDate,
  sort: parseAsStringLiteral(KEY_USAGE_SORTS).withDefault(DEFAULT_KEY_SORT),
  order: parseAsStringLiteral(["asc", "desc"] as const),
};
export type RawKeysParams = inferParserType<typeof keysParsers>;
export const loadKeysParams = createLoader(keysParsers);
const serialize = createSerializer(keysParsers, { clearOnDefault: true });

export interface KeysUrlState {
  search: string;
  range: RangeName;
  from: string | undefined;
  to: string | undefined;
  sort: KeyUsageSort;
  order: Order;
}

/** A custom range only when both ends are valid and in order; lengths bounded like the API's. */
export function resolveKeysState(raw: RawKeysParams): KeysUrlState {
  let range = raw.range;
  let from = raw.from ?? undefined;
  let to = raw.to ?? undefined;
  if (range === "custom" && (!from || !to || from > to)) range = KEYS_DEFAULT_RANGE;
  if (range !== "custom") {
    from = undefined;
    to = undefined;
  }
  return { search: raw.q.trim().slice(0, 200), range, from, to, sort: raw.sort, order: raw.order ?? defaultKeyOrder(raw.sort) };
}

export function toKeysUrlParams(s: KeysUrlState): RawKeysParams {
  return {
    q: s.search,
    range: s.range,
    from: s.range === "custom" ? (s.from ?? null) : null,
    to: s.range === "custom" ? (s.to ?? null) : null,
    sort: s.sort,
    order: s.order === defaultKeyOrder(s.sort) ? null : s.order,
  };
}

export function serializeKeysUrl(s: KeysUrlState): string {
  return serialize(toKeysUrlParams(s)).replace(/^\?/, "");
}

function rangeParams(s: KeysUrlState) {
  return s.range === "custom" ? { range: s.range, start: s.from, end: s.to } : { range: s.range };
}

/** The input of apiKeys.usageStats (tRPC adds the cursor). */
export function keysInput(s: KeysUrlState) {
  return { ...rangeParams(s), ...(s.search ? { search: s.search } : {}), sort: s.sort, order: s.order, limit: DEFAULT_KEY_LIMIT };
}

/** The REST CSV of every key that matches, in the page's order. */
/** The CSV of the page's keys; `headers` labels the header row in the page's language. */
export function keysCsvHref(s: KeysUrlState, headers?: "zh-CN" | "en"): string {
  const p = new URLSearchParams({ format: "csv", range: s.range });
  if (headers) p.set("headers", headers);
  if (s.range === "custom" && s.from && s.to) {
    p.set("start", s.from);
    p.set("end", s.to);
  }
  if (s.search) p.set("search", s.search);
  p.set("sort", s.sort);
  p.set("order", s.order);
  return `/admin/api-keys/usage-stats?${p}`;
}

/** tRPC's infinite query options: the same on the server (prefetch) and in the browser. */
export const keysPaging = {
  initialCursor: null as string | null,
  getNextPageParam: (last: { data: { nextCursor: string | null } }) => last.data.nextCursor ?? undefined,
};
