import {
  createLoader,
  createParser,
  createSerializer,
  parseAsInteger,
  parseAsNumberLiteral,
  parseAsString,
  parseAsStringLiteral,
  type inferParserType,
} from "nuqs/server";
import { MEASURES } from "@/db/measures";
import { defaultAccountOrder } from "@/server/usage-stats/order";
import { isRangeTooLong } from "@/server/usage-stats/range-limit";
import { SOURCE_NAME } from "@/server/usage-stats/source-filter";
import type { AccountSort, BreakdownSort, CSV_HEADER_LANGUAGES, RangeName, WindowName } from "@/server/usage-stats/schemas";

type CsvHeaderLanguage = (typeof CSV_HEADER_LANGUAGES)[number];

/**
 * The page's state lives in the URL (shareable, survives a reload), read and written with nuqs.
 * The server page (createLoader) and the client view (useQueryStates) use the same parsers and
 * the same `resolveAccountsState`, so both build the same query inputs and the client finds the
 * server's prefetched data under the same query keys.
 */

export const WINDOW_NAMES = ["daily", "monthly", "total"] as const satisfies readonly WindowName[];
/** The figures the list sorts by (db/measures.ts, accountSort). */
export const FIGURE_NAMES = MEASURES.filter((m) => "accountSort" in m).map((m) => m.name) as readonly Extract<(typeof MEASURES)[number], { accountSort: true }>["name"][];
export const SORTS: readonly AccountSort[] = [
  "name",
  "priority",
  "lastUsedAt",
  ...WINDOW_NAMES.flatMap((w) => FIGURE_NAMES.map((f) => `${w}.${f}` as const)),
];
export const RANGES = ["daily", "monthly", "total", "custom"] as const satisfies readonly RangeName[];
export const PAGE_SIZES = [20, 50, 100, 200] as const;
export const BREAKDOWN_PAGE_SIZE = 20;

export const DEFAULTS = {
  sort: "total.cost" as AccountSort,
  pageSize: 50,
  range: "total" as RangeName,
};

export type Order = "asc" | "desc";

const isDate = (s: string | null | undefined): s is string => !!s && /^\d{4}-\d{2}-\d{2}$/.test(s) && !Number.isNaN(Date.parse(`${s}T00:00:00Z`));
const parseAsLocalDate = createParser({ parse: (v) => (isDate(v) ? v : null), serialize: (v: string) => v });

/** The URL keys and their parsers; a value a parser does not accept reads as its default. */
export const accountsParsers = {
  q: parseAsString.withDefault(""),
  platform: parseAsString.withDefault(""),
  status: parseAsString.withDefault(""),
  source: parseAsString.withDefault(""),
  sort: parseAsStringLiteral(SORTS).withDefault(DEFAULTS.sort),
  order: parseAsStringLiteral(["asc", "desc"] as const),
  page: parseAsInteger.withDefault(1),
  size: parseAsNumberLiteral(PAGE_SIZES).withDefault(DEFAULTS.pageSize as (typeof PAGE_SIZES)[number]),
  account: parseAsString,
  range: parseAsStringLiteral(RANGES).withDefault(DEFAULTS.range),
  from: parseAsLocalDate,
  to: parseAsLocalDate,
};
export type RawAccountsParams = inferParserType<typeof accountsParsers>;

export const loadAccountsParams = createLoader(accountsParsers);
const serialize = createSerializer(accountsParsers, { clearOnDefault: true });

export interface AccountsUrlState {
  search: string;
  platform: string;
  status: string;
  /** A relay source name, NO_SOURCE ("none"), or "" for every account. */
  source: string;
  sort: AccountSort;
  order: Order;
  page: number;
  pageSize: number;
  /** The account whose drawer is open. */
  account: string | undefined;
  range: RangeName;
  from: string | undefined;
  to: string | undefined;
}

/** The server's default (usage-stats/order.ts), so that a URL without order means what the API means. */
export const defaultOrder: (sort: AccountSort) => Order = defaultAccountOrder;

/** The parsed URL as the page uses it: lengths bounded, a custom range only when it is valid. */
export function resolveAccountsState(raw: RawAccountsParams): AccountsUrlState {
  let range = raw.range;
  let from = raw.from ?? undefined;
  let to = raw.to ?? undefined;
  // A range the API would refuse (inverted, or longer than MAX_RANGE_YEARS) reads as the default.
  if (range === "custom" && (!from || !to || from > to || isRangeTooLong(from, to))) range = DEFAULTS.range;
  if (range !== "custom") {
    from = undefined;
    to = undefined;
  }
  return {
    search: raw.q.trim().slice(0, 200),
    platform: raw.platform.trim().slice(0, 64),
    status: raw.status.trim().slice(0, 32),
    // A value the API would refuse (400) reads as no filter, like an unknown sort.
    source: SOURCE_NAME.test(raw.source.trim()) ? raw.source.trim() : "",
    sort: raw.sort,
    order: raw.order ?? defaultOrder(raw.sort),
    page: Math.max(1, Math.min(1_000_000, raw.page)),
    pageSize: raw.size,
    account: raw.account?.slice(0, 200) || undefined,
    range,
    from,
    to,
  };
}

/** The URL values for a state: defaults become null, so that links stay short. */
export function toUrlParams(state: AccountsUrlState): RawAccountsParams {
  const drawer = !!state.account;
  return {
    q: state.search,
    platform: state.platform,
    status: state.status,
    source: state.source,
    sort: state.sort,
    order: state.order === defaultOrder(state.sort) ? null : state.order,
    page: state.page,
    size: state.pageSize as (typeof PAGE_SIZES)[number],
    account: state.account ?? null,
    range: drawer ? state.range : DEFAULTS.range,
    from: drawer && state.range === "custom" ? (state.from ?? null) : null,
    to: drawer && state.range === "custom" ? (state.to ?? null) : null,
  };
}

export function parseAccountsUrl(params: Record<string, string | string[] | undefined> | URLSearchParams): AccountsUrlState {
  return resolveAccountsState(loadAccountsParams(params));
}

/** The URL query for a state (without `?`). */
export function serializeAccountsUrl(state: AccountsUrlState): string {
  return serialize(toUrlParams(state)).replace(/^\?/, "");
}

export function listInput(state: AccountsUrlState) {
  return {
    ...(state.search ? { search: state.search } : {}),
    ...(state.platform ? { platform: state.platform } : {}),
    ...(state.status ? { status: state.status } : {}),
    ...(state.source ? { source: state.source } : {}),
    sort: state.sort,
    order: state.order,
    limit: state.pageSize,
    offset: (state.page - 1) * state.pageSize,
  };
}

export function rangeInput(state: Pick<AccountsUrlState, "range" | "from" | "to">) {
  return state.range === "custom" ? { range: state.range, start: state.from, end: state.to } : { range: state.range };
}

export function summaryInput(id: string, state: Pick<AccountsUrlState, "range" | "from" | "to">) {
  return { id, ...rangeInput(state) };
}

export type BreakdownSortName = BreakdownSort;

export function breakdownInput(
  id: string,
  state: Pick<AccountsUrlState, "range" | "from" | "to">,
  sort: { sort: BreakdownSortName; order: Order } = { sort: "allTokens", order: "desc" },
) {
  return { id, ...rangeInput(state), sort: sort.sort, order: sort.order, limit: BREAKDOWN_PAGE_SIZE };
}

/**
 * The REST CSV of the account list with the current filters and sort (every row, no paging); the
 * header row in the console's language (the API's default is the stable column names).
 */
export function listCsvHref(state: AccountsUrlState, headers?: CsvHeaderLanguage): string {
  const p = new URLSearchParams({ format: "csv" });
  if (headers) p.set("headers", headers);
  if (state.search) p.set("search", state.search);
  if (state.platform) p.set("platform", state.platform);
  if (state.status) p.set("status", state.status);
  if (state.source) p.set("source", state.source);
  p.set("sort", state.sort);
  p.set("order", state.order);
  return `/admin/accounts/usage-stats?${p}`;
}

export function breakdownCsvHref(id: string, state: Pick<AccountsUrlState, "range" | "from" | "to">, sort?: { sort: BreakdownSortName; order: Order }, headers?: CsvHeaderLanguage): string {
  const p = new URLSearchParams({ format: "csv", range: state.range });
  if (headers) p.set("headers", headers);
  if (state.range === "custom" && state.from && state.to) {
    p.set("start", state.from);
    p.set("end", state.to);
  }
  if (sort) {
    p.set("sort", sort.sort);
    p.set("order", sort.order);
  }
  return `/admin/accounts/${encodeURIComponent(id)}/usage-breakdown?${p}`;
}
