import { AppError } from "../errors";

/**
 * CSV exports running in this process, in all and per caller (an API token, or a session). Each
 * holds a database connection and a transaction for up to REQUEST_TIMEOUT_MS, so they are bounded
 * (CSV_MAX_CONCURRENT_EXPORTS, CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN) and the reads sharing the pool
 * stay fast. Past a bound the answer is 429 at once, never a wait.
 */

interface Slots {
  total: number;
  byCaller: Map<string, number>;
}

// On globalThis: Next.js may evaluate this module once per route bundle; the bound is per process.
const g = globalThis as unknown as { __csvExportSlots?: Slots };

export interface ExportLimits {
  perProcess: number;
  perCaller: number;
}

/** Takes a slot or throws TOO_MANY_REQUESTS; the returned function gives it back (once). */
export function takeExportSlot(caller: string, limits: ExportLimits): () => void {
  const slots = (g.__csvExportSlots ??= { total: 0, byCaller: new Map() });
  const mine = slots.byCaller.get(caller) ?? 0;
  if (mine >= limits.perCaller) {
    throw new AppError(
      "TOO_MANY_REQUESTS",
      `This caller already runs ${mine} CSV export${mine === 1 ? "" : "s"}, the most per token (CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN); retry when one has finished`,
      { retryAfterSeconds: 5 },
    );
  }
  if (slots.total >= limits.perProcess) {
    throw new AppError("TOO_MANY_REQUESTS", `${slots.total} CSV exports are running, the most this server runs at once (CSV_MAX_CONCURRENT_EXPORTS); retry shortly`, {
      retryAfterSeconds: 5,
    });
  }
  slots.total++;
  slots.byCaller.set(caller, mine + 1);
  let held = true;
  return () => {
    if (!held) return;
    held = false;
    slots.total--;
    const left = (slots.byCaller.get(caller) ?? 1) - 1;
    if (left > 0) slots.byCaller.set(caller, left);
    else slots.byCaller.delete(caller);
  };
}
