import { defaultAccountOrder } from "@/server/usage-stats/order";
import type { AccountSort, Figure, RangeName, WindowName } from "@/server/usage-stats/schemas";

/**
 * The page's state lives in the URL (shareable, survives a reload). The server page and the
 * client view parse it with the same function, so both build the same query inputs and the
 * client finds the server's prefetched data under the same query keys.
 */

export const WINDOW_NAMES = ["daily", "monthly", "total"] as const satisfies readonly WindowName[];
export const FIGURE_NAMES = [
  "cost",
  "allTokens",
  "requests",
  "inputTokens",
  "outputTokens",
  "cacheCreateTokens",
  "cacheReadTokens",
] as const satisfies readonly Figure[];
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

export interface AccountsUrlState {
  search: string;
  platform: string;
  status: string;
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

type RawParams = Record<string, string | string[] | undefined> | URLSearchParams;

function get(params: RawParams, key: string): string | undefined {
  const v = params instanceof URLSearchParams ? params.get(key) : params[key];
  const s = Array.isArray(v) ? v[0] : v;
  return s === null || s === undefined ? undefined : s;
}

const isDate = (s: string | undefined): s is string => !!s && /^\d{4}-\d{2}-\d{2}$/.test(s);

/** name/priority read naturally ascending; usage figures and recency descending. */
/** The server's default (schemas.ts), so that a URL without order means what the API means. */
export const defaultOrder: (sort: AccountSort) => Order = defaultAccountOrder;

export function parseAccountsUrl(params: RawParams): AccountsUrlState {
  const sortRaw = get(params, "sort");
  const sort = SORTS.includes(sortRaw as AccountSort) ? (sortRaw as AccountSort) : DEFAULTS.sort;
  const orderRaw = get(params, "order");
  const order: Order = orderRaw === "asc" || orderRaw === "desc" ? orderRaw : defaultOrder(sort);
  const page = Math.max(1, Math.min(1_000_000, Math.floor(Number(get(params, "page") ?? 1)) || 1));
  const sizeRaw = Number(get(params, "size"));
  const pageSize = (PAGE_SIZES as readonly number[]).includes(sizeRaw) ? sizeRaw : DEFAULTS.pageSize;
  const rangeRaw = get(params, "range");
  let range: RangeName = (RANGES as readonly string[]).includes(rangeRaw ?? "") ? (rangeRaw as RangeName) : DEFAULTS.range;
  let from = get(params, "from");
  let to = get(params, "to");
  if (range === "custom" && (!isDate(from) || !isDate(to) || from > to)) range = DEFAULTS.range;
  if (range !== "custom") {
    from = undefined;
    to = undefined;
  }
  return {
    search: (get(params, "q") ?? "").trim().slice(0, 200),
    platform: (get(params, "platform") ?? "").trim().slice(0, 64),
    status: (get(params, "status") ?? "").trim().slice(0, 32),
    sort,
    order,
    page,
    pageSize,
    account: get(params, "account")?.slice(0, 200) || undefined,
    range,
    from,
    to,
  };
}

/** The URL query for a state; defaults are left out so that links stay short. */
export function serializeAccountsUrl(state: AccountsUrlState): string {
  const p = new URLSearchParams();
  if (state.search) p.set("q", state.search);
  if (state.platform) p.set("platform", state.platform);
  if (state.status) p.set("status", state.status);
  if (state.sort !== DEFAULTS.sort) p.set("sort", state.sort);
  if (state.order !== defaultOrder(state.sort)) p.set("order", state.order);
  if (state.page > 1) p.set("page", String(state.page));
  if (state.pageSize !== DEFAULTS.pageSize) p.set("size", String(state.pageSize));
  if (state.account) {
    p.set("account", state.account);
    if (state.range !== DEFAULTS.range) p.set("range", state.range);
    if (state.range === "custom" && state.from && state.to) {
      p.set("from", state.from);
      p.set("to", state.to);
    }
  }
  return p.toString();
}

export function listInput(state: AccountsUrlState) {
  return {
    ...(state.search ? { search: state.search } : {}),
    ...(state.platform ? { platform: state.platform } : {}),
    ...(state.status ? { status: state.status } : {}),
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

export type BreakdownSortName = "allTokens" | "cost" | "ratedCost" | "requests" | "lastUsedAt";

export function breakdownInput(
  id: string,
  state: Pick<AccountsUrlState, "range" | "from" | "to">,
  sort: { sort: BreakdownSortName; order: Order } = { sort: "allTokens", order: "desc" },
) {
  return { id, ...rangeInput(state), sort: sort.sort, order: sort.order, limit: BREAKDOWN_PAGE_SIZE };
}

/** The REST CSV of the account list with the current filters and sort (every row, no paging). */
export function listCsvHref(state: AccountsUrlState): string {
  const p = new URLSearchParams({ format: "csv" });
  if (state.search) p.set("search", state.search);
  if (state.platform) p.set("platform", state.platform);
  if (state.status) p.set("status", state.status);
  p.set("sort", state.sort);
  p.set("order", state.order);
  return `/admin/accounts/usage-stats?${p}`;
}

export function breakdownCsvHref(id: string, state: Pick<AccountsUrlState, "range" | "from" | "to">, sort?: { sort: BreakdownSortName; order: Order }): string {
  const p = new URLSearchParams({ format: "csv", range: state.range });
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
