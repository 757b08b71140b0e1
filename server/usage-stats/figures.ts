import { counterField, MEASURES, type CounterField, type Figure } from "../../db/measures";
import type { UsageTotals } from "./schemas";
import type { FigureRow } from "./stats.repository";

/**
 * The figures every usage answer is made of: the measures the read API answers (db/measures.ts,
 * `read: true`), counts as integers and money as integer nano-USD, added exactly and rounded once
 * for output (UsageTotals). Shared by the read service, the Redis fallback reader and the bench's
 * baseline check.
 */

type Spec = Extract<(typeof MEASURES)[number], { read: true }>;
type FieldOf<K extends Spec> = K["kind"] extends "money" ? `${K["name"]}Nanos` : K["name"];

/** One figure per answered measure, under its counter name (money: `<name>Nanos`, nano-USD). */
export type Fig = { [K in Spec as FieldOf<K>]: K["kind"] extends "money" ? bigint : number };

/** The answered measures: API name, counter field, rollup column, kind. */
export const FIGURE_MEASURES: readonly { name: Figure; field: CounterField & keyof Fig; column: string; kind: "count" | "money" }[] = MEASURES.filter(
  (m) => m.read,
).map((m) => ({ name: m.name as Figure, field: counterField(m) as CounterField & keyof Fig, column: m.column, kind: m.kind }));

type Loose = Record<string, number | bigint>;

export const ZERO_FIG: Fig = Object.fromEntries(FIGURE_MEASURES.map((m) => [m.field, m.kind === "money" ? 0n : 0])) as Fig;

export function addFig(a: Fig, b: Fig): Fig {
  const x = a as unknown as Loose;
  const y = b as unknown as Loose;
  const out: Loose = {};
  for (const m of FIGURE_MEASURES) out[m.field] = m.kind === "money" ? (x[m.field] as bigint) + (y[m.field] as bigint) : (x[m.field] as number) + (y[m.field] as number);
  return out as Fig;
}

// ---- the figures of each source, and as answered

/** A rollup row's sums: counts are int8 (numbers), money sums numeric (exact decimal strings). */
export function figFromRow(r: FigureRow): Fig {
  const row = r as unknown as Record<string, unknown>;
  const out: Loose = {};
  for (const m of FIGURE_MEASURES) out[m.field] = m.kind === "money" ? BigInt(String(row[m.column])) : Number(row[m.column]);
  return out as Fig;
}

/** A Redis counter record's sums (bigint, exact) as figures. */
export function figFromCounters(r: Record<CounterField, bigint>): Fig {
  const out: Loose = {};
  for (const m of FIGURE_MEASURES) out[m.field] = m.kind === "money" ? r[m.field] : Number(r[m.field]);
  return out as Fig;
}

/** nano-USD → USD rounded half-up to 6 decimals (micro-USD), in exact integer arithmetic; a sum with corrections may be negative. */
export function nanosToUsd(nanos: bigint): number {
  const shifted = nanos + 500n;
  // Floor division (BigInt division truncates toward zero).
  const micros = shifted / 1000n - (shifted < 0n && shifted % 1000n !== 0n ? 1n : 0n);
  return Number(micros) / 1e6;
}

export function totals(f: Fig): UsageTotals {
  const fig = f as unknown as Loose;
  const out: Record<string, number> = {};
  for (const m of FIGURE_MEASURES) out[m.name] = m.kind === "money" ? nanosToUsd(fig[m.field] as bigint) : (fig[m.field] as number);
  return out as UsageTotals;
}

const FIELD_OF = new Map(FIGURE_MEASURES.map((m) => [m.name, m.field]));

export function figValue(f: Fig, figure: Figure): number | bigint {
  return (f as unknown as Loose)[FIELD_OF.get(figure)!]!;
}

export function fraction(part: number | bigint, whole: number | bigint): number {
  const w = Number(whole);
  return w > 0 ? Math.round((Number(part) / w) * 1e6) / 1e6 : 0;
}
