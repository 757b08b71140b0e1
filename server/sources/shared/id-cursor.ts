/**
 * Following a relay's table by its auto-increment id (sub2api's usage_logs, new-api's logs), O(new
 * rows) per poll. Ids are handed out when a row is inserted, not when its transaction commits: a
 * row with a lower id can become visible after a higher one was read. So every id skipped between
 * two read rows is an open gap, looked at again each poll (`id BETWEEN lo AND hi`, minus the rows
 * already read there) until its row appears or `waitMs` passed (a rolled-back insert leaves a hole
 * for good). The horizon — every id at or below it read or given up — is what a follower keeps in
 * PostgreSQL (source_status.cursor): a restart reads on from there, and what it reads twice is a
 * duplicate (events are keyed by the row id).
 */

/** How long an id skipped by a later row waits for its transaction to commit. */
export const GAP_WAIT_MS = 60_000;

export interface IdGap {
  lo: bigint;
  hi: bigint;
  since: number;
  /** Ids in [lo, hi] read already (rows that turned up). */
  seen: Set<string>;
}

export class IdGapCursor {
  private gaps: IdGap[] = [];

  constructor(
    /** The highest id read. */
    public maxRead: bigint,
    private readonly waitMs = GAP_WAIT_MS,
  ) {}

  /** Every id at or below it is read or given up: where a restart reads on from. */
  get horizon(): bigint {
    return this.gaps.length ? this.gaps.reduce((m, g) => (g.lo < m ? g.lo : m), this.gaps[0]!.lo) - 1n : this.maxRead;
  }

  get openGaps(): readonly IdGap[] {
    return this.gaps;
  }

  /** Rows found in gap `g` (a late commit). */
  sawInGap(g: IdGap, ids: string[]): void {
    for (const id of ids) g.seen.add(id);
  }

  /** Rows read above maxRead, in id order: every id skipped opens a gap. */
  sawFresh(ids: string[], nowMs: number): void {
    let prev = this.maxRead;
    for (const raw of ids) {
      const id = BigInt(raw);
      if (id > prev + 1n) this.gaps.push({ lo: prev + 1n, hi: id - 1n, since: nowMs, seen: new Set() });
      prev = id;
    }
    this.maxRead = prev;
  }

  /** Closes the gaps whose every id was read or that waited long enough; returns how many gave up. */
  settle(nowMs: number): { expired: number; open: number } {
    let expired = 0;
    this.gaps = this.gaps.filter((g) => {
      if (BigInt(g.seen.size) === g.hi - g.lo + 1n) return false;
      if (nowMs - g.since > this.waitMs) {
        expired++;
        return false;
      }
      return true;
    });
    return { expired, open: this.gaps.length };
  }

  /** The stored horizon of source_status.cursor, if it is one. */
  static parseHorizon(cursor: Record<string, unknown> | null | undefined): bigint | undefined {
    const h = cursor?.horizon;
    return typeof h === "string" && /^\d{1,19}$/.test(h) ? BigInt(h) : undefined;
  }
}
