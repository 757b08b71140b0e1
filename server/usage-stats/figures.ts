import type { HotFigures } from "./hot-reader";
import type { Figure, UsageTotals } from "./schemas";
import type { FigureRow } from "./stats.repository";

/**
 * The measures every usage figure is made of: integer token counts and the real and rated costs in
 * nano-USD, added
 * exactly and rounded once for output (UsageTotals). Shared by the read service, the Redis
 * fallback reader and the bench's baseline check.
 */
export interface Fig {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  costNanos: bigint;
  /** What the key holders are charged (the real cost × the relay's rates). */
  ratedCostNanos: bigint;
}

export const ZERO_FIG: Fig = { requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, costNanos: 0n, ratedCostNanos: 0n };

export function addFig(a: Fig, b: Fig): Fig {
  return {
    requests: a.requests + b.requests,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheCreateTokens: a.cacheCreateTokens + b.cacheCreateTokens,
    cacheReadTokens: a.cacheReadTokens + b.cacheReadTokens,
    costNanos: a.costNanos + b.costNanos,
    ratedCostNanos: a.ratedCostNanos + b.ratedCostNanos,
  };
}

// ---- the figures of each source, and as answered

export function figFromRow(r: FigureRow): Fig {
  return {
    requests: r.requests,
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    cacheCreateTokens: r.cache_create_tokens,
    cacheReadTokens: r.cache_read_tokens,
    costNanos: BigInt(String(r.cost_nanos)),
    ratedCostNanos: BigInt(String(r.rated_cost_nanos)),
  };
}

export function figFromHot(h: HotFigures): Fig {
  const { lastUsedAt: _lastUsedAt, lastModel: _lastModel, ...fig } = h;
  return fig;
}

export function allTokens(f: Fig): number {
  return f.inputTokens + f.outputTokens + f.cacheCreateTokens + f.cacheReadTokens;
}

/** nano-USD → USD rounded half-up to 6 decimals (micro-USD), in exact integer arithmetic. */
export function nanosToUsd(nanos: bigint): number {
  return Number((nanos + 500n) / 1000n) / 1e6;
}

export function totals(f: Fig): UsageTotals {
  return {
    requests: f.requests,
    inputTokens: f.inputTokens,
    outputTokens: f.outputTokens,
    cacheCreateTokens: f.cacheCreateTokens,
    cacheReadTokens: f.cacheReadTokens,
    allTokens: allTokens(f),
    cost: nanosToUsd(f.costNanos),
    ratedCost: nanosToUsd(f.ratedCostNanos),
  };
}

export function figValue(f: Fig, figure: Figure): number | bigint {
  return figure === "cost" ? f.costNanos : figure === "ratedCost" ? f.ratedCostNanos : figure === "allTokens" ? allTokens(f) : f[figure];
}

export function fraction(part: number | bigint, whole: number | bigint): number {
  const w = Number(whole);
  return w > 0 ? Math.round((Number(part) / w) * 1e6) / 1e6 : 0;
}
