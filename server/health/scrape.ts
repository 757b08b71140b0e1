import { health } from "./health.service";
import type { Runtime } from "../runtime";
import { metrics } from "../metrics/metrics";

const STATUS = { ok: 0, degraded: 1, down: 2 } as const;

/** Sets the gauges from the health service (stores, outbox, CRS follower, every source), then renders every metric. */
export async function scrapeMetrics(runtime: Runtime): Promise<{ body: string; contentType: string }> {
  const m = metrics();
  const h = await health(runtime);
  m.healthStatus.set(STATUS[h.status]);
  m.storeUp.reset();
  if (h.postgres.configured) m.storeUp.set({ store: "postgres" }, h.postgres.ok ? 1 : 0);
  if (h.redis.configured) m.storeUp.set({ store: "redis" }, h.redis.ok ? 1 : 0);
  const o = h.outbox;
  for (const [g, v] of [[m.outboxLength, o.length], [m.outboxOldestAge, o.oldestAgeSeconds], [m.outboxPending, o.pending], [m.outboxDead, o.deadLetters]] as const) {
    if (o.enabled && v !== null) g.set(v);
    else g.reset();
  }
  m.crsLag.reset();
  m.crsEvents.reset();
  m.crsGaps.reset();
  m.crsRejected.reset();
  m.crsFailing.reset();
  for (const s of h.crsFollower.sources) {
    if (s.lagSeconds !== null) m.crsLag.set({ source: s.source }, s.lagSeconds);
    m.crsEvents.set({ source: s.source }, s.eventsRecorded);
    m.crsGaps.set({ source: s.source }, s.gapsFilled);
    m.crsFailing.set({ source: s.source }, s.consecutiveErrors);
    for (const [reason, n] of Object.entries(s.rejectionsByReason)) m.crsRejected.set({ source: s.source, reason }, n);
  }
  for (const g of [m.sourceLag, m.sourceRows, m.sourceEvents, m.sourceRejected, m.sourceFailing, m.sourceUp]) g.reset();
  for (const s of h.sources) {
    const l = { source: s.source, kind: s.kind };
    if (s.lagSeconds !== null) m.sourceLag.set(l, s.lagSeconds);
    m.sourceRows.set(l, s.rowsRead);
    m.sourceEvents.set(l, s.eventsRecorded);
    m.sourceFailing.set(l, s.consecutiveErrors);
    m.sourceUp.set(l, s.ok ? 1 : 0);
    for (const [reason, n] of Object.entries(s.rejectionsByReason)) m.sourceRejected.set({ ...l, reason }, n);
  }
  return { body: await m.registry.metrics(), contentType: m.registry.contentType };
}
