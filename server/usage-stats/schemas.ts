import { z } from "zod";
import { MEASURES, type Figure } from "../../db/measures";
import { isValidTimeZone } from "../config";
import { accountId } from "../ids";
import { isStorableText } from "../usage/schemas";
import { MAX_AVAILABLE_SOURCES, NO_SOURCE, SOURCE_NAME } from "./source-filter";
import { isCalendarDate, MAX_LOCAL_DATE, MAX_LOCAL_MONTH, MIN_LOCAL_DATE, MIN_LOCAL_MONTH } from "../calendar";
import { DEFAULT_KEY_LIMIT, DEFAULT_KEY_SORT, defaultKeyOrder, KEY_USAGE_SORTS, MAX_KEY_ACCOUNTS, MAX_KEY_LIMIT, type KeyUsageSort } from "./key-sorts";
import { firstEndPastLimit, isRangeTooLong, MAX_RANGE_YEARS } from "./range-limit";

export { MAX_RANGE_YEARS };

/**
 * Inputs and outputs of the usage read path. Each input schema is shared by the tRPC procedure and
 * the REST route (which parses its query string with it); the output schemas type the service and
 * feed the OpenAPI document.
 */

const unknownParams = (iss: { code?: string; keys?: string[] }) =>
  iss.code === "unrecognized_keys" && iss.keys ? `Unknown parameter(s): ${iss.keys.join(", ")}` : undefined;

const isoDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, "expected a date as YYYY-MM-DD")
  .refine(isCalendarDate, "not a calendar date")
  .refine((s) => s >= MIN_LOCAL_DATE && s <= MAX_LOCAL_DATE, `must be from ${MIN_LOCAL_DATE} to ${MAX_LOCAL_DATE}`);

const isoMonth = z
  .string()
  .regex(/^\d{4}-(0[1-9]|1[0-2])$/, "expected a month as YYYY-MM")
  .refine((s) => s >= MIN_LOCAL_MONTH && s <= MAX_LOCAL_MONTH, `must be from ${MIN_LOCAL_MONTH} to ${MAX_LOCAL_MONTH}`);

/** Query strings carry numbers as text; defaults are applied by the service (see DEFAULT_LIMITS). */
const intParam = (min: number, max: number, dflt: number, description: string) =>
  z.coerce.number<number | string>().int().min(min).max(max).optional().meta({ default: dflt, description });

export const DEFAULT_LIMITS = { accounts: 100, breakdown: 20 } as const;

/** CSV exports every row, so a page is refused rather than silently ignored. */
function checkCsvPaging(v: { format: "json" | "csv"; limit?: number; offset?: number; headers?: string }, ctx: z.RefinementCtx) {
  if (v.format !== "csv") {
    if (v.headers !== undefined) ctx.addIssue({ code: "custom", path: ["headers"], message: "headers applies to format=csv only" });
    return;
  }
  for (const key of ["limit", "offset"] as const) {
    if (v[key] !== undefined) ctx.addIssue({ code: "custom", path: [key], message: `${key} does not apply to format=csv, which exports every row` });
  }
}

// PostgreSQL text cannot hold NUL (or unpaired surrogates): refuse them here, not with a 500 there.
const storable = { error: "must not contain NUL bytes or unpaired surrogates" };
const text = (max: number) => z.string().trim().min(1).max(max).refine(isStorableText, storable);

export const RANGE_NAMES = ["daily", "monthly", "total", "custom"] as const;
export type RangeName = (typeof RANGE_NAMES)[number];

const rangeFields = {
  range: z.enum(RANGE_NAMES).default("total").meta({
    description: "daily (one local day), monthly (one local month), total (all time) or custom (start..end, inclusive)",
  }),
  date: isoDate.optional().meta({ description: "range=daily: the local day, default today" }),
  month: isoMonth.optional().meta({ description: "range=monthly: the local month, default this month" }),
  start: isoDate.optional().meta({ description: "range=custom: first local day (inclusive)" }),
  end: isoDate.optional().meta({ description: "range=custom: last local day (inclusive)" }),
  tz: z
    .string()
    .max(64)
    .refine(isValidTimeZone, "unknown IANA time zone")
    .optional()
    .meta({
      description:
        "Answer in another IANA zone. Accepted only when its UTC offset equals USAGE_TIMEZONE's at every local midnight the answer depends on (e.g. Asia/Hong_Kong for Asia/Shanghai).",
    }),
};

type RangeFieldValues = {
  range: RangeName;
  date?: string;
  month?: string;
  start?: string;
  end?: string;
};

function checkRange(v: RangeFieldValues, ctx: z.RefinementCtx) {
  const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });
  if (v.date !== undefined && v.range !== "daily") issue("date", `date applies only to range=daily (range is ${v.range})`);
  if (v.month !== undefined && v.range !== "monthly") issue("month", `month applies only to range=monthly (range is ${v.range})`);
  for (const key of ["start", "end"] as const) {
    if (v[key] !== undefined && v.range !== "custom") issue(key, `${key} applies only to range=custom (range is ${v.range})`);
  }
  if (v.range !== "custom") return;
  if (v.start === undefined) issue("start", "range=custom needs start=YYYY-MM-DD");
  if (v.end === undefined) issue("end", "range=custom needs end=YYYY-MM-DD");
  if (v.start === undefined || v.end === undefined) return;
  if (v.start > v.end) issue("start", `start (${v.start}) is after end (${v.end})`);
  else if (isRangeTooLong(v.start, v.end)) {
    issue("end", `a custom range may span at most ${MAX_RANGE_YEARS} years; end must be before ${firstEndPastLimit(v.start)}`);
  }
}

/** The measures the read API answers (db/measures.ts), in their order: figures, CSV columns, sort keys. */
export const FIGURES: readonly Figure[] = MEASURES.filter((m) => m.read).map((m) => m.name as Figure);
export type { Figure };
export const WINDOWS = ["daily", "monthly", "total"] as const;
export type WindowName = (typeof WINDOWS)[number];

type WindowSort = `${WindowName}.${Figure}`;
const ACCOUNT_SORT_FIGURES = MEASURES.filter((m) => "accountSort" in m).map((m) => m.name as Figure);
const windowSorts = WINDOWS.flatMap((w) => ACCOUNT_SORT_FIGURES.map((f) => `${w}.${f}` as WindowSort));
export const ACCOUNT_SORTS = ["name", "priority", "lastUsedAt", ...windowSorts] as [
  "name",
  "priority",
  "lastUsedAt",
  ...WindowSort[],
];
export type AccountSort = (typeof ACCOUNT_SORTS)[number];

const order = z.enum(["asc", "desc"]);
const format = z.enum(["json", "csv"]).default("json").meta({
  description: "csv: every row (no paging), streamed as text/csv with a UTF-8 BOM (REST only)",
});
/** The CSV's header row: absent, the stable English column names (README); a language, labels in it. */
export const CSV_HEADER_LANGUAGES = ["en", "zh-CN"] as const;
const csvHeaders = z.enum(CSV_HEADER_LANGUAGES).optional().meta({
  description: "With format=csv: a header row of labels in this language (en, zh-CN) instead of the stable column names",
});

/** GET /admin/accounts/usage-stats, accounts.usageStats */
export const accountUsageListInput = z.strictObject(
  {
    platform: text(64).optional(),
    status: text(32).optional(),
    search: text(200).optional().meta({ description: "Case-insensitive substring of the name or id" }),
    source: z
      .string()
      .regex(SOURCE_NAME, { error: `must be a source name (a lower-case letter, then up to 31 letters, digits or '-') or ${NO_SOURCE}` })
      .optional()
      .meta({
        description: `Accounts a relay source fed (crs, sub2api …: their \`sources\` contain it); ${NO_SOURCE}: accounts no relay fed (entered through the REST API only). Needs PostgreSQL (503 from the Redis fallback)`,
      }),
    sort: z.enum(ACCOUNT_SORTS).default("name").meta({
      description: "name, priority, lastUsedAt, or <daily|monthly|total>.<figure>",
    }),
    order: order.optional().meta({ description: "Default asc for name and priority, desc otherwise" }),
    limit: intParam(1, 500, DEFAULT_LIMITS.accounts, "Page size"),
    offset: intParam(0, 10_000_000, 0, "Rows to skip"),
    tz: rangeFields.tz,
    format,
    headers: csvHeaders,
  },
  { error: unknownParams },
).superRefine(checkCsvPaging);
export type AccountUsageListInput = z.infer<typeof accountUsageListInput>;

const summaryFields = { ...rangeFields };

/** GET /admin/accounts/:id/usage-stats (the id comes from the path). */
export const accountSummaryQuery = z.strictObject(summaryFields, { error: unknownParams }).superRefine(checkRange);
/** accounts.summary */
export const accountSummaryInput = z
  .strictObject({ id: accountId, ...summaryFields }, { error: unknownParams })
  .superRefine(checkRange);
export type AccountSummaryInput = z.infer<typeof accountSummaryInput>;

type BreakdownFigure = Extract<(typeof MEASURES)[number], { breakdownSort: true }>["name"];
export type BreakdownSort = BreakdownFigure | "lastUsedAt";
export const BREAKDOWN_SORTS = [...MEASURES.filter((m) => "breakdownSort" in m).map((m) => m.name as BreakdownFigure), "lastUsedAt"] as unknown as [BreakdownSort, ...BreakdownSort[]];

const breakdownFields = {
  ...rangeFields,
  limit: intParam(1, 100, DEFAULT_LIMITS.breakdown, "Page size"),
  offset: intParam(0, 10_000_000, 0, "Keys to skip (the previous page's nextOffset)"),
  sort: z.enum(BREAKDOWN_SORTS).default("allTokens"),
  order: order.default("desc"),
  format,
  headers: csvHeaders,
};

/** GET /admin/accounts/:id/usage-breakdown (the id comes from the path). */
export const accountBreakdownQuery = z
  .strictObject(breakdownFields, { error: unknownParams })
  .superRefine(checkRange)
  .superRefine(checkCsvPaging);
/** The breakdown of one account as the service takes it (the REST query plus the id from the path). */
export const accountBreakdownInput = z
  .strictObject({ id: accountId, ...breakdownFields }, { error: unknownParams })
  .superRefine(checkRange)
  .superRefine(checkCsvPaging);
export type AccountBreakdownInput = z.infer<typeof accountBreakdownInput>;

const { offset: _offset, ...breakdownPageFields } = breakdownFields;
/**
 * accounts.breakdown (tRPC): pages by `cursor`, the previous page's nextOffset, so that tRPC's
 * `infiniteQueryOptions` / `prefetchInfiniteQuery` drive it; tRPC also sends the `direction`.
 */
export const accountBreakdownPageInput = z
  .strictObject(
    {
      id: accountId,
      ...breakdownPageFields,
      cursor: z.number().int().min(0).max(10_000_000).nullish().meta({ description: "Keys to skip (the previous page's nextOffset)" }),
      direction: z.enum(["forward", "backward"]).optional(),
    },
    { error: unknownParams },
  )
  .superRefine(checkRange)
  .superRefine((v, ctx) => checkCsvPaging({ ...v, offset: v.cursor ?? undefined }, ctx))
  .transform(({ cursor, direction: _direction, ...rest }): AccountBreakdownInput => ({ ...rest, offset: cursor ?? 0 }));

// ---- outputs

/** One number per answered measure: counts as integers, money as USD rounded to 6 decimals. */
export const usageTotals = z
  .object(
    Object.fromEntries(
      MEASURES.filter((m) => m.read).map((m) => {
        const n = m.kind === "money" ? z.number() : z.number().int();
        return [m.name, "description" in m ? n.meta({ description: m.description }) : n];
      }),
    ) as Record<Figure, z.ZodNumber>,
  )
  .meta({ id: "UsageTotals" });
export type UsageTotals = z.infer<typeof usageTotals>;

const windows = z.object({ daily: usageTotals, monthly: usageTotals, total: usageTotals }).meta({
  description: "Today, this month and all time, in the answer's time zone",
});

const isoInstant = z.string().meta({ description: "ISO 8601 instant", format: "date-time" });

const accountFields = {
  id: z.string(),
  name: z.string(),
  platform: z.string(),
  type: z.string(),
  status: z.string(),
  priority: z.number().int(),
  lastUsedAt: isoInstant.nullable(),
  sources: z.array(z.string()).meta({
    description: "The relay sources that fed this account (crs, sub2api …), sorted; empty: the REST API alone. Always empty from the Redis fallback, which does not know them",
  }),
};

export const accountInfo = z.object(accountFields).meta({ id: "AccountInfo" });
export type AccountInfo = z.infer<typeof accountInfo>;

const lastHour = usageTotals.nullable().meta({
  description: "The 60 minutes up to `timestamp` (近1小时), from the ledger's records; null from the Redis fallback, whose counters keep days",
});

export const accountUsageRow = z.object({ ...accountFields, usage: windows, lastHour }).meta({ id: "AccountUsageRow" });
export type AccountUsageRow = z.infer<typeof accountUsageRow>;

const source = z.enum(["postgres", "redis"]).meta({ description: "The store that answered" });
const envelopeMeta = {
  source,
  timezone: z.string().meta({ description: "The IANA zone days and months are counted in" }),
  timestamp: isoInstant,
};

export const accountUsageListResult = z.object({
  data: z.array(accountUsageRow),
  summary: z.object({
    totalAccounts: z.number().int(),
    activeToday: z.number().int().meta({ description: "Accounts with at least one request today" }),
    daily: usageTotals,
    monthly: usageTotals,
    total: usageTotals,
    lastHour: lastHour.meta({ description: "Every account the filters select, over the 60 minutes up to `timestamp`; null from the Redis fallback" }),
  }),
  pagination: z.object({ total: z.number().int(), limit: z.number().int(), offset: z.number().int(), hasMore: z.boolean() }),
  availableSources: z.array(z.string()).meta({
    description: `Every relay source on a live account, whatever the filters, sorted (at most ${MAX_AVAILABLE_SOURCES}): the values \`source\` takes besides ${NO_SOURCE}. Empty from the Redis fallback`,
  }),
  ...envelopeMeta,
});
export type AccountUsageListResult = z.infer<typeof accountUsageListResult>;

export const resolvedRange = z.object({
  name: z.enum(RANGE_NAMES),
  start: z.string().nullable().meta({ description: "First local day, null for total" }),
  end: z.string().nullable().meta({ description: "Last local day, null for total" }),
  timezone: z.string(),
});
export type ResolvedRangeOut = z.infer<typeof resolvedRange>;

const modelUsage = usageTotals.extend({ model: z.string() });
export type ModelUsage = z.infer<typeof modelUsage>;
const seriesPoint = usageTotals.extend({ date: z.string().meta({ description: "YYYY-MM-DD (daily points) or YYYY-MM (monthly points)" }) });
export type SeriesPoint = z.infer<typeof seriesPoint>;

export const accountSummary = z.object({
  account: accountInfo,
  range: resolvedRange,
  usage: usageTotals,
  windows,
  lastHour,
  byModel: z.array(modelUsage).nullable().meta({ description: "null only from the Redis fallback for range=total" }),
  series: z.array(seriesPoint).nullable().meta({
    description: "Per day up to 92 days, per month beyond, zero-filled; null from the Redis fallback",
  }),
});
export type AccountSummary = z.infer<typeof accountSummary>;

export const accountSummaryResult = z.object({
  data: accountSummary,
  ...envelopeMeta,
  unavailable: z
    .array(z.string())
    .optional()
    .meta({ description: "Redis fallback only: the parts the live counters cannot answer, and why" }),
});
export type AccountSummaryResult = z.infer<typeof accountSummaryResult>;

export const breakdownItem = usageTotals
  .extend({
    apiKeyId: z.string(),
    apiKeyName: z.string(),
    share: z.object({
      tokens: z.number().meta({ description: "Fraction (0-1, 6 decimals) of the account's allTokens in the range" }),
      cost: z.number().meta({ description: "Fraction (0-1, 6 decimals) of the account's cost in the range" }),
    }),
    lastModel: z.string().nullable(),
    lastUsedAt: isoInstant.nullable(),
    source: z.string().nullable().meta({
      description: "The relay source this key came from (crs, sub2api …); null: the REST API, a key the ledger has no record of, or the Redis fallback",
    }),
  })
  .meta({ id: "BreakdownItem" });
export type BreakdownItem = z.infer<typeof breakdownItem>;

export const accountBreakdown = z.object({
  items: z.array(breakdownItem),
  totals: usageTotals,
  total: z.number().int().meta({ description: "Number of API keys with usage in the range" }),
  nextOffset: z.number().int().nullable(),
  hasMore: z.boolean(),
});
export type AccountBreakdown = z.infer<typeof accountBreakdown>;

export const accountBreakdownResult = z.object({
  data: accountBreakdown,
  range: resolvedRange,
  ...envelopeMeta,
});
export type AccountBreakdownResult = z.infer<typeof accountBreakdownResult>;

// ---- API keys across accounts (GET /admin/api-keys/usage-stats, apiKeys.usageStats)

/**
 * The keyset cursor of the key list: the last row's sort value (as PostgreSQL printed it: an
 * integer, or for sort=name the lower-cased name) and its key id, with the sort and order it
 * belongs to, as base64url JSON. Opaque to clients: they pass nextCursor back as they got it.
 */
export interface KeyCursor {
  sort: KeyUsageSort;
  order: "asc" | "desc";
  value: string;
  id: string;
}

const MAX_KEY_CURSOR_LENGTH = 4096;

export function encodeKeyCursor(c: KeyCursor): string {
  return Buffer.from(JSON.stringify([c.sort, c.order, c.value, c.id]), "utf8").toString("base64url");
}

/** undefined: not a cursor this list wrote. */
export function decodeKeyCursor(s: string): KeyCursor | undefined {
  if (!/^[A-Za-z0-9_-]+$/.test(s)) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(s, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed) || parsed.length !== 4) return undefined;
  const [sort, ord, value, id] = parsed as unknown[];
  if (!(KEY_USAGE_SORTS as readonly unknown[]).includes(sort) || (ord !== "asc" && ord !== "desc")) return undefined;
  if (typeof value !== "string" || typeof id !== "string" || id.length === 0 || id.length > 128 || !isStorableText(id)) return undefined;
  if (sort === "name" ? value.length > 1000 || !isStorableText(value) : !/^-?\d{1,40}$/.test(value)) return undefined;
  return { sort: sort as KeyUsageSort, order: ord, value, id };
}

const keyUsageFields = {
  ...rangeFields,
  search: text(200).optional().meta({ description: "Case-insensitive substring of the key's name or id" }),
  sort: z.enum(KEY_USAGE_SORTS).default(DEFAULT_KEY_SORT).meta({ description: "A figure, name or lastUsedAt" }),
  order: order.optional().meta({ description: "Default asc for name, desc otherwise. Ties break on the key id (byte order, ascending)" }),
  limit: intParam(1, MAX_KEY_LIMIT, DEFAULT_KEY_LIMIT, "Page size"),
  cursor: z
    .string()
    .max(MAX_KEY_CURSOR_LENGTH)
    .refine((s) => decodeKeyCursor(s) !== undefined, "not a cursor of this list: pass the previous page's nextCursor as it was returned")
    .nullish()
    .meta({ description: "The previous page's nextCursor (keyset paging: stable while figures change)" }),
};

function checkKeyPaging(v: { format?: "json" | "csv"; sort: KeyUsageSort; order?: "asc" | "desc"; limit?: number; cursor?: string | null }, ctx: z.RefinementCtx) {
  if (v.format === "csv") {
    for (const key of ["limit", "cursor"] as const) {
      if (v[key] !== undefined && v[key] !== null) ctx.addIssue({ code: "custom", path: [key], message: `${key} does not apply to format=csv, which exports every key` });
    }
  }
  const c = v.cursor ? decodeKeyCursor(v.cursor) : undefined;
  if (!c) return;
  const order = v.order ?? defaultKeyOrder(v.sort);
  if (c.sort !== v.sort || c.order !== order) {
    ctx.addIssue({ code: "custom", path: ["cursor"], message: `this cursor pages sort=${c.sort}&order=${c.order}, not sort=${v.sort}&order=${order}` });
  }
}

/** GET /admin/api-keys/usage-stats */
export const keyUsageQuery = z
  .strictObject({ ...keyUsageFields, format, headers: csvHeaders }, { error: unknownParams })
  .superRefine(checkRange)
  .superRefine(checkKeyPaging)
  .superRefine((v, ctx) => {
    if (v.format !== "csv" && v.headers !== undefined) ctx.addIssue({ code: "custom", path: ["headers"], message: "headers applies to format=csv only" });
  });
export type KeyUsageInput = z.infer<typeof keyUsageQuery>;

/** apiKeys.usageStats (tRPC): the same fields; tRPC's infinite queries send `direction` too. */
export const keyUsagePageInput = z
  .strictObject({ ...keyUsageFields, direction: z.enum(["forward", "backward"]).optional() }, { error: unknownParams })
  .superRefine(checkRange)
  .superRefine(checkKeyPaging)
  .transform(({ direction: _direction, ...rest }): KeyUsageInput => ({ ...rest, format: "json" }));

export const keyUsageAccount = z.object({
  id: z.string(),
  name: z.string().meta({ description: "The account's name; its id when the ledger has no account of that id" }),
  deleted: z.boolean().meta({ description: "The account is soft-deleted (or unknown): the console's list does not show it" }),
});

export const keyUsageItem = usageTotals
  .extend({
    apiKeyId: z.string(),
    apiKeyName: z.string().meta({ description: "The key's name; its id when the ledger has no api_keys row of it" }),
    status: z.string().nullable().meta({ description: "api_keys.status; null when the ledger has no row of the key" }),
    source: z.string().nullable().meta({ description: "The relay source the key came from (crs, sub2api …); null: the REST API or unknown" }),
    deleted: z.boolean().meta({ description: "The key is soft-deleted; its usage stays counted" }),
    lastModel: z.string().nullable(),
    lastUsedAt: isoInstant.nullable(),
    accounts: z.array(keyUsageAccount).meta({
      description: `The accounts that used the key in the range, most tokens first (ties by id), at most ${MAX_KEY_ACCOUNTS}`,
    }),
    accountCount: z.number().int().meta({ description: "How many accounts used the key in the range" }),
  })
  .meta({ id: "KeyUsageItem" });
export type KeyUsageItem = z.infer<typeof keyUsageItem>;

export const keyUsageResult = z.object({
  data: z.object({
    items: z.array(keyUsageItem),
    totals: usageTotals.meta({ description: "Sums over every key that matches (search), not just the page" }),
    total: z.number().int().meta({ description: "Keys with usage in the range that match the search" }),
    nextCursor: z.string().nullable().meta({ description: "Pass as cursor for the next page; null on the last page" }),
    hasMore: z.boolean(),
  }),
  range: resolvedRange,
  ...envelopeMeta,
});
export type KeyUsageResult = z.infer<typeof keyUsageResult>;

// ---- the trend chart (accounts.trend, GET /admin/accounts/:id/usage-trend)

/**
 * today: per local hour of today (24 points, 23 or 25 on a DST change); 30d / 90d: per day, the
 * last 30 or 90 days including today; 12m: per month, the last 12 months including this one.
 */
export const TREND_SPANS = ["today", "30d", "90d", "12m"] as const;
export type TrendSpan = (typeof TREND_SPANS)[number];

const trendFields = {
  span: z.enum(TREND_SPANS).default("30d").meta({
    description:
      "today: per local hour of today (24 points; 23 or 25 on a day the clocks change); 30d / 90d: per day, the last 30 or 90 days including today; 12m: per month, the last 12 months including this one",
  }),
};

/** GET /admin/accounts/:id/usage-trend (the id comes from the path). */
export const accountTrendQuery = z.strictObject(trendFields, { error: unknownParams });
/** accounts.trend */
export const accountTrendInput = z.strictObject({ id: accountId, ...trendFields }, { error: unknownParams });
export type AccountTrendInput = z.infer<typeof accountTrendInput>;

const trendPoint = usageTotals
  .extend({
    bucket: z.string().meta({
      description: "The local hour as YYYY-MM-DDTHH:mm±hh:mm (unit hour), the day YYYY-MM-DD (unit day) or the month YYYY-MM (unit month)",
    }),
    start: isoInstant.meta({ description: "The instant the bucket begins" }),
  })
  .meta({ id: "TrendPoint" });
export type TrendPoint = z.infer<typeof trendPoint>;

export const accountTrend = z.object({
  account: accountInfo,
  span: z.enum(TREND_SPANS),
  unit: z.enum(["hour", "day", "month"]),
  start: z.string().meta({ description: "First local day of the span" }),
  end: z.string().meta({ description: "Last local day of the span (today)" }),
  points: z.array(trendPoint).meta({ description: "Every bucket of the span in order, zero-filled; future hours of today are zero" }),
});
export type AccountTrend = z.infer<typeof accountTrend>;

export const accountTrendResult = z.object({ data: accountTrend, ...envelopeMeta });
export type AccountTrendResult = z.infer<typeof accountTrendResult>;
