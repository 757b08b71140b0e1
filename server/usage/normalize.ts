import { counterField, MEASURES, type CounterField, type MeasureInput } from "../../db/measures";
import { localCalendar, utcMonthStart } from "./local-time";
import { parseCostUsd, type UsageEvent } from "./schemas";
import type { UsageBatchRow } from "./usage.repository";

/** A validated event in the shapes both stores need, computed once. */
export interface NormalizedEvent {
  requestId: string;
  accountId: string;
  apiKeyId: string;
  model: string;
  occurredAtMs: number;
  /** Local day / month in USAGE_TIMEZONE. */
  date: string;
  month: string;
  /** UTC month of the usage_records partition, 'YYYY-MM-01'. */
  partitionMonth: string;
  counters: Record<CounterField, number>;
  /** The row handed to insert_usage_batch (directly or through the outbox). */
  row: UsageBatchRow;
}

/** Decimal USD text with at most 8 decimals → integer nano-USD (exact: both parts < 2^53). */
export function costTextToNanos(text: string): number {
  const negative = text.startsWith("-");
  const [int = "0", frac = ""] = (negative ? text.slice(1) : text).split(".");
  const nanos = Number(int) * 1e9 + Number(frac.padEnd(9, "0"));
  return negative ? -nanos : nanos;
}

/** The measures an event gives, with how each is read (db/measures.ts); allTokens is derived. */
const INPUTS = MEASURES.map((m) => ({
  name: m.name,
  kind: m.kind,
  field: counterField(m),
  recordColumn: m.recordColumn,
  input: "input" in m ? (m.input as MeasureInput) : undefined,
  inAllTokens: "inAllTokens" in m,
}));
const ALL_TOKENS = INPUTS.filter((m) => m.inAllTokens);

export function normalizeEvent(e: UsageEvent, timeZone: string): NormalizedEvent {
  const given = e as unknown as Record<string, string | number | undefined>;
  const occurredAtMs = Date.parse(e.occurredAt);
  // One canonical instant (UTC, milliseconds) for both stores, so they agree on the day.
  const occurredAt = new Date(occurredAtMs).toISOString();
  const { date, month } = localCalendar(timeZone).at(occurredAtMs);
  const counters = {} as Record<CounterField, number>;
  const row: Record<string, unknown> = {
    request_id: e.requestId,
    occurred_at: occurredAt,
    account_id: e.accountId,
    api_key_id: e.apiKeyId,
    model: e.model,
  };
  const money = new Map<string, string>();
  for (const m of INPUTS) {
    if (!m.input) continue;
    const value = given[m.name];
    if (m.kind === "money") {
      const fallback = m.input.defaultsTo;
      const parsed = value === undefined && fallback !== undefined ? { ok: true as const, text: money.get(fallback)! } : parseCostUsd(value ?? 0, { signed: true });
      if (!parsed.ok) throw new Error(`unvalidated ${m.name}: ${parsed.message}`);
      money.set(m.name, parsed.text);
      counters[m.field] = costTextToNanos(parsed.text);
      // null: the same as the measure it defaults to (0006_rated_cost.sql), which keeps the ledger's rows small.
      row[m.recordColumn] = fallback !== undefined && parsed.text === money.get(fallback) ? null : parsed.text;
    } else {
      const n = (value as number | undefined) ?? m.input.default ?? 0;
      counters[m.field] = n;
      row[m.recordColumn] = n;
    }
  }
  for (const m of INPUTS) if (!m.input) counters[m.field] = ALL_TOKENS.reduce((sum, t) => sum + counters[t.field], 0);
  row.cost_breakdown = e.costBreakdown ?? null;
  row.metadata = e.metadata ?? null;
  return {
    requestId: e.requestId,
    accountId: e.accountId,
    apiKeyId: e.apiKeyId,
    model: e.model,
    occurredAtMs,
    date,
    month,
    partitionMonth: utcMonthStart(occurredAtMs),
    counters,
    row: row as unknown as UsageBatchRow,
  };
}
