import type { CounterField } from "./hot-keys";
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
  const [int = "0", frac = ""] = text.split(".");
  return Number(int) * 1e9 + Number(frac.padEnd(9, "0"));
}

export function normalizeEvent(e: UsageEvent, timeZone: string): NormalizedEvent {
  const cost = parseCostUsd(e.cost);
  if (!cost.ok) throw new Error(`unvalidated cost: ${cost.message}`);
  const rated = e.ratedCost === undefined ? cost : parseCostUsd(e.ratedCost);
  if (!rated.ok) throw new Error(`unvalidated ratedCost: ${rated.message}`);
  const occurredAtMs = Date.parse(e.occurredAt);
  // One canonical instant (UTC, milliseconds) for both stores, so they agree on the day.
  const occurredAt = new Date(occurredAtMs).toISOString();
  const { date, month } = localCalendar(timeZone).at(occurredAtMs);
  const requests = e.requests ?? 1;
  const ephemeral5mTokens = e.ephemeral5mTokens ?? 0;
  const ephemeral1hTokens = e.ephemeral1hTokens ?? 0;
  const allTokens = e.inputTokens + e.outputTokens + e.cacheCreateTokens + e.cacheReadTokens;
  return {
    requestId: e.requestId,
    accountId: e.accountId,
    apiKeyId: e.apiKeyId,
    model: e.model,
    occurredAtMs,
    date,
    month,
    partitionMonth: utcMonthStart(occurredAtMs),
    counters: {
      requests,
      inputTokens: e.inputTokens,
      outputTokens: e.outputTokens,
      cacheCreateTokens: e.cacheCreateTokens,
      cacheReadTokens: e.cacheReadTokens,
      ephemeral5mTokens,
      ephemeral1hTokens,
      allTokens,
      costNanos: costTextToNanos(cost.text),
      ratedCostNanos: costTextToNanos(rated.text),
    },
    row: {
      request_id: e.requestId,
      occurred_at: occurredAt,
      account_id: e.accountId,
      api_key_id: e.apiKeyId,
      model: e.model,
      requests,
      input_tokens: e.inputTokens,
      output_tokens: e.outputTokens,
      cache_create_tokens: e.cacheCreateTokens,
      cache_read_tokens: e.cacheReadTokens,
      ephemeral_5m_tokens: ephemeral5mTokens,
      ephemeral_1h_tokens: ephemeral1hTokens,
      total_cost: cost.text,
      // null: the same as total_cost (0006_rated_cost.sql), which keeps the ledger's rows small.
      rated_cost: e.ratedCost === undefined || rated.text === cost.text ? null : rated.text,
      cost_breakdown: e.costBreakdown ?? null,
      metadata: e.metadata ?? null,
    },
  };
}
