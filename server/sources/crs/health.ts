import type { Runtime } from "../../runtime";
import { keysWithGaps, SOURCE_KIND } from "./crs.repository";
import { findStatuses } from "../shared/status.repository";
import { FAILING_AFTER_ERRORS, STALE_READ_SECONDS } from "../shared/health";


/** The CRS follower in /admin/health: per source its leader, lag, last read, gaps and errors. */
export interface CrsFollowerHealth {
  configured: boolean;
  ok: boolean;
  sources: {
    source: string;
    leader: string | null;
    startedAt: string;
    lastReadAt: string | null;
    lagSeconds: number | null;
    lastEventAt: string | null;
    eventsRecorded: number;
    gapsFilled: number;
    gapRequests: number;
    gapsPending: number;
    errors: number;
    /** Polls in a row that failed: 3 or more and the source is failing (health degraded). */
    consecutiveErrors: number;
    lastError: string | null;
    lastErrorAt: string | null;
    /** Records and keys skipped (the run went on), per reason, and the last one with its Redis key. */
    rejected: number;
    rejectionsByReason: Record<string, number>;
    lastRejection: string | null;
    lastRejectionAt: string | null;
  }[];
}

const iso = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());

export async function crsFollowerHealth(runtime: Runtime, postgresOk: boolean, nowMs = Date.now()): Promise<CrsFollowerHealth> {
  const configured = Boolean(runtime.config.crsRedisUrl);
  const out: CrsFollowerHealth = { configured, ok: !configured, sources: [] };
  if (!runtime.db || !postgresOk) return out;
  try {
    for (const s of await findStatuses(runtime.db.db, SOURCE_KIND)) {
      const leaseValid = s.lease_until !== null && new Date(s.lease_until).getTime() > nowMs;
      out.sources.push({
        source: s.source,
        leader: leaseValid ? s.lease_owner : null,
        startedAt: iso(s.started_at)!,
        lastReadAt: iso(s.last_read_at),
        lagSeconds: s.last_read_at === null ? null : Math.max(0, Math.round((nowMs - new Date(s.last_read_at).getTime()) / 1000)),
        lastEventAt: iso(s.last_event_at),
        eventsRecorded: Number(s.events_recorded),
        gapsFilled: Number(s.gaps_filled),
        gapRequests: Number(s.gap_requests),
        gapsPending: (await keysWithGaps(runtime.db.db, s.source)).length,
        errors: Number(s.errors),
        consecutiveErrors: Number(s.consecutive_errors),
        lastError: s.last_error,
        lastErrorAt: iso(s.last_error_at),
        rejected: Number(s.rejected),
        rejectionsByReason: Object.fromEntries(Object.entries(s.rejections ?? {}).map(([k, v]) => [k, Number(v)])),
        lastRejection: s.last_rejection,
        lastRejectionAt: iso(s.last_rejection_at),
      });
    }
  } catch {
    return out;
  }
  if (configured) out.ok = out.sources.some((s) => s.leader !== null && (s.lagSeconds ?? Infinity) <= STALE_READ_SECONDS && s.consecutiveErrors < FAILING_AFTER_ERRORS);
  // Any source that keeps failing degrades health, even beside one that works.
  if (out.sources.some((s) => s.consecutiveErrors >= FAILING_AFTER_ERRORS)) out.ok = false;
  return out;
}
