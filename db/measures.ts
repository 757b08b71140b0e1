/**
 * The measures of the ledger, declared once. Everything that lists measures is derived from this
 * array: the event schema and its fast check (server/usage/schemas.ts), a normalized event's
 * counters and ledger row (normalize.ts), the Redis counter record and the Lua script's field
 * count (hot-keys.ts, hot-record.ts), the rollup snapshot (usage.repository.ts), the figures, their
 * adders and sort keys (server/usage-stats/figures.ts, schemas.ts, stats.repository.ts), the CSV
 * columns and the OpenAPI fields (from those zod schemas), the CRS mapping's counts and the
 * console's sortable columns and labels. The Kysely column types (db/types.ts) follow from it too.
 *
 * PostgreSQL holds the same list in `usage_measures` (migration 0011), from which the rollup
 * statement and insert_usage_batch are generated; db/measures.test.ts holds the two equal. Adding a
 * measure is one entry here and one migration line: `SELECT usage_add_measure(…)`.
 *
 * A module of plain data with no imports, so that every layer (db, server, the console) may read it.
 */

export type MeasureKind = "count" | "money";

/** How an event gives a measure: required, optional with a default, or derived (absent). */
export interface MeasureInput {
  required?: true;
  /** Count measures: the value when absent. */
  default?: number;
  /** Money measures: when absent, equal to this measure (and then stored as NULL in usage_records). */
  defaultsTo?: string;
  /** Count measures: the largest value of one event. */
  max?: number;
  description?: string;
}

export interface MeasureSpec {
  /** The API name (events, figures, CSV headers, sort keys). */
  name: string;
  /** count: an integer; money: USD, exact (decimal text in events and usage_records, integer nano-USD in rollups and Redis). */
  kind: MeasureKind;
  /** The column of the rollup tables (usage_{account,key,model}_{daily,monthly,totals}). */
  column: string;
  /** The column of usage_records, also the field of an insert_usage_batch JSON row. */
  recordColumn: string;
  /** Absent: derived by the ledger (allTokens: the sum of the measures with inAllTokens). */
  input?: MeasureInput;
  /** Counts into allTokens. */
  inAllTokens?: true;
  /** Answered by the read API (figures, CSV, OpenAPI); false: kept in the ledger only. */
  read: boolean;
  /** A sort key of the account list (per window) and a sortable column of the console's list. */
  accountSort?: true;
  /** A sort key of an account's API key breakdown. */
  breakdownSort?: true;
  /** The figure's description in the OpenAPI document. */
  description?: string;
  /** The console's name of the measure. */
  label: { "zh-CN": string; en: string };
}

/** Per-event bounds keep every sum exact in Lua doubles (< 2^52) and in PostgreSQL bigint. */
export const MAX_TOKENS_PER_FIELD = 1_000_000_000_000;
export const MAX_REQUESTS_PER_EVENT = 1_000_000;

/**
 * In the order of a Redis counter record (hot-keys.ts): a new measure goes at the end, and the
 * record's layout version follows from the list, so the counters are rebuilt once after a change.
 */
export const MEASURES = [
  {
    name: "requests",
    kind: "count",
    column: "requests",
    recordColumn: "requests",
    input: { default: 1, max: MAX_REQUESTS_PER_EVENT },
    read: true,
    accountSort: true,
    breakdownSort: true,
    label: { "zh-CN": "请求数", en: "requests" },
  },
  {
    name: "inputTokens",
    kind: "count",
    column: "input_tokens",
    recordColumn: "input_tokens",
    input: { required: true, max: MAX_TOKENS_PER_FIELD },
    inAllTokens: true,
    read: true,
    accountSort: true,
    label: { "zh-CN": "输入 tokens", en: "input tokens" },
  },
  {
    name: "outputTokens",
    kind: "count",
    column: "output_tokens",
    recordColumn: "output_tokens",
    input: { required: true, max: MAX_TOKENS_PER_FIELD },
    inAllTokens: true,
    read: true,
    accountSort: true,
    label: { "zh-CN": "输出 tokens", en: "output tokens" },
  },
  {
    name: "cacheCreateTokens",
    kind: "count",
    column: "cache_create_tokens",
    recordColumn: "cache_create_tokens",
    input: { required: true, max: MAX_TOKENS_PER_FIELD },
    inAllTokens: true,
    read: true,
    accountSort: true,
    label: { "zh-CN": "缓存创建 tokens", en: "cache create tokens" },
  },
  {
    name: "cacheReadTokens",
    kind: "count",
    column: "cache_read_tokens",
    recordColumn: "cache_read_tokens",
    input: { required: true, max: MAX_TOKENS_PER_FIELD },
    inAllTokens: true,
    read: true,
    accountSort: true,
    label: { "zh-CN": "缓存读取 tokens", en: "cache read tokens" },
  },
  {
    name: "ephemeral5mTokens",
    kind: "count",
    column: "ephemeral_5m_tokens",
    recordColumn: "ephemeral_5m_tokens",
    input: { default: 0, max: MAX_TOKENS_PER_FIELD },
    read: false,
    label: { "zh-CN": "5 分钟缓存 tokens", en: "5-minute cache tokens" },
  },
  {
    name: "ephemeral1hTokens",
    kind: "count",
    column: "ephemeral_1h_tokens",
    recordColumn: "ephemeral_1h_tokens",
    input: { default: 0, max: MAX_TOKENS_PER_FIELD },
    read: false,
    label: { "zh-CN": "1 小时缓存 tokens", en: "1-hour cache tokens" },
  },
  {
    name: "allTokens",
    kind: "count",
    column: "total_tokens",
    recordColumn: "total_tokens",
    read: true,
    accountSort: true,
    breakdownSort: true,
    description: "input + output + cache create + cache read",
    label: { "zh-CN": "总 tokens", en: "all tokens" },
  },
  {
    name: "cost",
    kind: "money",
    column: "cost_nanos",
    recordColumn: "total_cost",
    input: { required: true },
    read: true,
    accountSort: true,
    breakdownSort: true,
    description: "Real cost: what the upstream accounts cost, USD, rounded to 6 decimals",
    label: { "zh-CN": "费用", en: "cost" },
  },
  {
    name: "ratedCost",
    kind: "money",
    column: "rated_cost_nanos",
    recordColumn: "rated_cost",
    input: {
      defaultsTo: "cost",
      description: "USD charged to the key holder (the real cost × the relay's rates); absent: equal to cost.",
    },
    read: true,
    accountSort: true,
    breakdownSort: true,
    description:
      "Rated cost: what the API keys' holders are charged (the relay's rates applied to the real cost; equal to cost for events without ratedCost), USD, rounded to 6 decimals",
    label: { "zh-CN": "计费成本", en: "rated cost" },
  },
] as const satisfies readonly MeasureSpec[];

type Spec = (typeof MEASURES)[number];
export type MeasureName = Spec["name"];
export type MoneyMeasure = Extract<Spec, { kind: "money" }>["name"];
export type CountMeasure = Extract<Spec, { kind: "count" }>["name"];
/** The measures the read API answers. */
export type Figure = Extract<Spec, { read: true }>["name"];
/** The field of a measure in a Redis counter record and in a Fig: money in nano-USD as `<name>Nanos`. */
export type CounterField = CountMeasure | `${MoneyMeasure}Nanos`;
/** The column of a measure in the rollups. */
export type RollupColumn = Spec["column"];
export type RecordColumn = Spec["recordColumn"];
export type MoneyRecordColumn = Extract<Spec, { kind: "money" }>["recordColumn"];
export type CountRecordColumn = Extract<Spec, { kind: "count" }>["recordColumn"];

/** The field of a measure in a Redis counter record (and a Fig). */
export function counterField(m: Pick<MeasureSpec, "name" | "kind">): CounterField {
  return (m.kind === "money" ? `${m.name}Nanos` : m.name) as CounterField;
}

/**
 * The SQL expression of a measure's value in a usage_records row (alias `r`): its column, or for a
 * money measure stored as NULL when equal to another, that other column in its place.
 */
export function recordValueSql(m: MeasureSpec, alias = "r"): string {
  const fallback = m.kind === "money" ? m.input?.defaultsTo : undefined;
  const other = fallback === undefined ? undefined : MEASURES.find((x) => x.name === fallback);
  return other ? `coalesce(${alias}.${m.recordColumn}, ${alias}.${other.recordColumn})` : `${alias}.${m.recordColumn}`;
}
