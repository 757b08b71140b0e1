/**
 * What a source could not take, and why: a key of the wrong type, a record that is
 * not JSON, a negative token count, an account that is not CRS's own. Counted per reason, the
 * first few named with their Redis key, so that an import's report and /admin/health say what
 * was left and where — and one bad key or record never ends a run (CRS names its Redis keys,
 * sub2api its rows: `usage_logs#42`).
 */

/** How many named examples a log keeps (per log, not per reason). */
export const MAX_NAMED = 50;

export interface Rejection {
  reason: string;
  /** Where it came from: a Redis key (with `[i]` for the i-th record of a list) or a row (`usage_logs#42`). */
  key: string;
  /** What exactly was wrong there (a value, a type), already shortened. */
  detail?: string;
}

export interface RejectionSummary {
  total: number;
  byReason: Record<string, number>;
  named: Rejection[];
}

/**
 * The reason an event the ledger refused is counted under: one older than the raw-record retention
 * (USAGE_RAW_RETENTION_MONTHS; skipped, it could be counted twice) apart from invalid ones.
 */
export function refusedEventReason(code: string): string {
  return code === "RAW_RECORDS_EXPIRED" ? "an event older than the raw-record retention" : "an event the ledger refused";
}

/** Text taken from CRS, fit for a message or a log line: control characters escaped, bounded. */
export function visible(s: string, max = 300): string {
  const t = JSON.stringify(s).slice(1, -1);
  return t.length > max ? `${t.slice(0, max)}…` : t;
}

/** A value taken from CRS, as JSON, shortened: what a rejection's detail shows. */
export function quote(v: unknown, max = 80): string {
  let s: string;
  try {
    s = typeof v === "string" ? JSON.stringify(v) : (JSON.stringify(v) ?? String(v));
  } catch {
    s = String(v);
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** Bound of a `seen` set: past it, it starts again (a repeat is then counted once more). */
const MAX_SEEN = 100_000;

export class RejectionLog {
  private readonly counts = new Map<string, number>();
  readonly named: Rejection[] = [];
  total = 0;

  /**
   * `seen`: reason + key already counted by an earlier log (the follower's metadata, re-read every
   * few minutes, and the counters of keys it looks at again); those are not counted twice.
   */
  constructor(private readonly seen?: Set<string>) {}

  add(reason: string, key: string, detail?: string, count = 1): void {
    if (this.seen) {
      const id = `${reason}\n${key}`;
      if (this.seen.has(id)) return;
      if (this.seen.size >= MAX_SEEN) this.seen.clear();
      this.seen.add(id);
    }
    this.total += count;
    this.counts.set(reason, (this.counts.get(reason) ?? 0) + count);
    if (this.named.length < MAX_NAMED) this.named.push({ reason, key: visible(key), ...(detail ? { detail } : {}) });
  }

  merge(other: RejectionLog): void {
    for (const [reason, n] of other.counts) {
      this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
      this.total += n;
    }
    for (const r of other.named) if (this.named.length < MAX_NAMED) this.named.push(r);
  }

  get byReason(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => b[1] - a[1]));
  }

  summary(): RejectionSummary {
    return { total: this.total, byReason: this.byReason, named: [...this.named] };
  }
}
