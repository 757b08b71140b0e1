import type { Runtime } from "../../runtime";
import { keysWithGaps, SOURCE_KIND } from "./crs.repository";
import type { SourceStatusRow } from "../shared/status.repository";
import { FAILING_AFTER_ERRORS, STALE_READ_SECONDS, sourceHealthOf, type SourceHealth } from "../shared/health";

/**
 * The CRS follower in /admin/health (`crsFollower`, as before sources were general; `sources[]`
 * has every source): per CRS source what any source shows, and its gaps.
 */
export interface CrsFollowerHealth {
  configured: boolean;
  ok: boolean;
  sources: (Omit<SourceHealth, "kind" | "configured" | "ok" | "rowsRead" | "cursor" | "startedAt"> & {
    startedAt: string;
    gapsFilled: number;
    gapRequests: number;
    gapsPending: number;
  })[];
}

/** `rows`: every source's status row (read once for health), undefined while PostgreSQL cannot answer. */
export async function crsFollowerHealth(runtime: Runtime, rows: SourceStatusRow[] | undefined, nowMs: number): Promise<CrsFollowerHealth> {
  const configured = Boolean(runtime.config.crsRedisUrl);
  const out: CrsFollowerHealth = { configured, ok: !configured, sources: [] };
  if (!runtime.db || !rows) return out;
  try {
    for (const s of rows.filter((r) => r.kind === SOURCE_KIND)) {
      const { kind: _k, configured: _c, ok: _o, rowsRead: _r, cursor: _cu, startedAt, ...common } = sourceHealthOf(s, configured, nowMs);
      out.sources.push({
        ...common,
        startedAt: startedAt!,
        gapsFilled: Number(s.gaps_filled),
        gapRequests: Number(s.gap_requests),
        gapsPending: (await keysWithGaps(runtime.db.db, s.source)).length,
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
