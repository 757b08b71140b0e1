/** Axis ticks on round steps for the trend chart (trend-chart.tsx). */

const NICE = [1, 2, 2.5, 5, 10];

/** The smallest 1, 2, 2.5 or 5 × 10^n at or above range / maxTicks: gridlines on round numbers. */
export function niceStep(range: number, maxTicks: number): number {
  if (!(range > 0)) return 1;
  const raw = range / maxTicks;
  const base = 10 ** Math.floor(Math.log10(raw));
  const m = NICE.find((x) => x * base >= raw * (1 - 1e-9)) ?? 10;
  return Number((m * base).toPrecision(12));
}

/** Ticks from a multiple of the step at or below min (and 0) to one at or above max. */
export function niceTicks(min: number, max: number, maxTicks = 4): { ticks: number[]; step: number } {
  const lo = Math.min(0, min);
  let hi = Math.max(0, max);
  if (hi === lo) hi = lo + 1;
  const step = niceStep(hi - lo, maxTicks);
  const first = Math.floor(lo / step + 1e-9);
  const last = Math.ceil(hi / step - 1e-9);
  const ticks: number[] = [];
  for (let k = first; k <= last; k++) ticks.push(Number((k * step).toPrecision(12)));
  return { ticks, step };
}
