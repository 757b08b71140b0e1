/**
 * What a PostgreSQL error means for the caller, by SQLSTATE (and the driver's own codes): every
 * service that falls back or retries asks these, so the classification is one definition.
 */

/**
 * True when an error means "PostgreSQL is unreachable or refusing work for now" (retry later),
 * as opposed to an error about the statement or its data.
 */
export function isDatabaseUnavailable(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === "string" ? e.code : "";
  // SQLSTATE classes: 08 connection exception, 57 operator intervention (shutdown), 53 resources.
  if (/^[0-9A-Z]{5}$/.test(code)) return /^(08|57|53)/.test(code);
  if (code) return true; // ECONNREFUSED, ECONNRESET, ETIMEDOUT, …
  const msg = String(e?.message ?? "");
  return /connect|connection|terminat|timeout|socket|ended|not queryable/i.test(msg);
}

/** True for "no partition of relation … found for row" (the partition cache is stale). */
export function isMissingPartition(err: unknown): boolean {
  return /no partition of relation/i.test(String((err as Error)?.message ?? ""));
}

/** ensure_usage_partition refused a month raw-record retention dropped (0017_raw_retention.sql). */
export function isExpiredRawMonth(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "22008" && /raw usage records before .* have expired/.test(String((err as Error)?.message ?? ""));
}

/** "canceling statement due to statement timeout" (SQLSTATE 57014). */
export function isStatementTimeout(err: unknown): boolean {
  return (err as { code?: unknown })?.code === "57014";
}

/** Data errors (SQLSTATE class 22 / 23): retrying the same rows cannot succeed. */
export function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && /^(22|23)/.test(code) && !isMissingPartition(err);
}
