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
