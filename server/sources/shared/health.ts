import type { SourceStatusRow } from "./status.repository";

/**
 * Any source in /admin/health and /metrics, from its source_status row: who holds its lease, how
 * far behind it reads, what it read, recorded and skipped. A source kind adds its own details
 * (CRS: gaps; sub2api: its cursor) in `detail`.
 */
export interface SourceHealth {
  source: string;
  kind: string;
  /** This process is configured to read it (CRS_REDIS_URL, SUB2API_DATABASE_URL …). */
  configured: boolean;
  ok: boolean;
  leader: string | null;
  startedAt: string | null;
  lastReadAt: string | null;
  lagSeconds: number | null;
  lastEventAt: string | null;
  rowsRead: number;
  eventsRecorded: number;
  errors: number;
  consecutiveErrors: number;
  lastError: string | null;
  lastErrorAt: string | null;
  rejected: number;
  rejectionsByReason: Record<string, number>;
  lastRejection: string | null;
  lastRejectionAt: string | null;
  cursor: Record<string, unknown>;
}

/** A source that has not read its relay for this long is not keeping up (or not running). */
export const STALE_READ_SECONDS = 60;
/** Polls failing in a row before the source counts as failing (one error can be a blip). */
export const FAILING_AFTER_ERRORS = 3;

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export function sourceHealthOf(s: SourceStatusRow, configured: boolean, nowMs: number): SourceHealth {
  const leaseValid = s.lease_until !== null && new Date(s.lease_until).getTime() > nowMs;
  const lagSeconds = s.last_read_at === null ? null : Math.max(0, Math.round((nowMs - new Date(s.last_read_at).getTime()) / 1000));
  const leader = leaseValid ? s.lease_owner : null;
  const consecutiveErrors = Number(s.consecutive_errors);
  return {
    source: s.source,
    kind: s.kind,
    configured,
    // Failing (3 polls in a row) is never ok; otherwise a source read by this process must be read now.
    ok: consecutiveErrors < FAILING_AFTER_ERRORS && (!configured || (leader !== null && (lagSeconds ?? Infinity) <= STALE_READ_SECONDS)),
    leader,
    startedAt: iso(s.started_at),
    lastReadAt: iso(s.last_read_at),
    lagSeconds,
    lastEventAt: iso(s.last_event_at),
    rowsRead: Number(s.rows_read),
    eventsRecorded: Number(s.events_recorded),
    errors: Number(s.errors),
    consecutiveErrors,
    lastError: s.last_error,
    lastErrorAt: iso(s.last_error_at),
    rejected: Number(s.rejected),
    rejectionsByReason: Object.fromEntries(Object.entries(s.rejections ?? {}).map(([k, v]) => [k, Number(v)])),
    lastRejection: s.last_rejection,
    lastRejectionAt: iso(s.last_rejection_at),
    cursor: s.cursor ?? {},
  };
}

/** A source configured here that has never taken its lease: not ok until it reads. */
export function notStarted(source: string, kind: string): SourceHealth {
  return {
    source,
    kind,
    configured: true,
    ok: false,
    leader: null,
    startedAt: null,
    lastReadAt: null,
    lagSeconds: null,
    lastEventAt: null,
    rowsRead: 0,
    eventsRecorded: 0,
    errors: 0,
    consecutiveErrors: 0,
    lastError: null,
    lastErrorAt: null,
    rejected: 0,
    rejectionsByReason: {},
    lastRejection: null,
    lastRejectionAt: null,
    cursor: {},
  };
}
