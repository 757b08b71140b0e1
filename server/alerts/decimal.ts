/**
 * Exact decimals of the alerts (amounts, percents, factors): a bigint scaled by 10^9, the scale of
 * the rollups' nano-USD. Never a float: a budget of $0.1 is 100000000 nano-USD, not 0.1000000000000000055.
 */

export const SCALE = 1_000_000_000n;
export const MAX_DECIMALS = 9;
const DECIMAL = /^(\d{1,15})(?:\.(\d{1,9}))?$/;

/** "12.5" → 12500000000n; undefined when it is not a plain non-negative decimal of ≤ 15 + 9 digits. */
export function parseScaled(text: string): bigint | undefined {
  const m = DECIMAL.exec(text);
  if (!m) return undefined;
  return BigInt(m[1]!) * SCALE + BigInt((m[2] ?? "").padEnd(MAX_DECIMALS, "0"));
}

/** 12500000000n → "12.5" (trailing zeros dropped); negative values keep their sign. */
export function formatScaled(v: bigint): string {
  const neg = v < 0n;
  const a = neg ? -v : v;
  const whole = a / SCALE;
  const frac = (a % SCALE).toString().padStart(MAX_DECIMALS, "0").replace(/0+$/, "");
  return `${neg ? "-" : ""}${whole}${frac ? `.${frac}` : ""}`;
}

/** A PostgreSQL numeric as text ("12.500000000") → scaled; it is always within the column's scale. */
export function scaledFromNumeric(text: string): bigint {
  const v = parseScaled(text.startsWith("-") ? text.slice(1) : text);
  if (v === undefined) throw new RangeError(`not a decimal: ${text}`);
  return text.startsWith("-") ? -v : v;
}

/** A rational number num/den (den > 0): thresholds such as 80 % of a budget or k × a median stay exact. */
export interface Ratio {
  num: bigint;
  den: bigint;
}

/** num/den as a decimal rounded half up to 9 decimals (for display and the notification). */
export function formatRatio(r: Ratio): string {
  const scaled = (r.num * SCALE * 2n + r.den) / (2n * r.den);
  return formatScaled(scaled);
}

/** value ≥ r (or > r when strict), exactly. */
export function reaches(value: bigint, r: Ratio, strict = false): boolean {
  const lhs = value * r.den;
  return strict ? lhs > r.num : lhs >= r.num;
}
