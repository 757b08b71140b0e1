import { health } from "./health.service";
import type { Runtime } from "../runtime";
import { metrics } from "../metrics/metrics";
import { alertGaugeFigures } from "../alerts/alerts.repository";
import { logger } from "../logger";

const DELIVERY_STATUSES = ["pending", "sending", "sent", "failed"] as const;

/** Firing alerts and deliveries from PostgreSQL; when it does not answer, the gauges are left out rather than wrong. */
async function alertGauges(runtime: Runtime): Promise<void> {
  const m = metrics();
  m.alertsFiring.reset();
  m.alertsPending.reset();
  m.alertDeliveries.reset();
  if (!runtime.db) return;
  try {
    const f = await alertGaugeFigures(runtime.db.db);
    for (const r of f.firing) m.alertsFiring.set({ rule_id: r.rule_id, rule: r.name }, Number(r.n));
    m.alertsPending.set(f.pending);
    for (const s of DELIVERY_STATUSES) m.alertDeliveries.set({ status: s }, Number(f.deliveries.find((d) => d.status === s)?.n ?? 0));
  } catch (err) {
    logger.warn(`[metrics] alert gauges unavailable: ${(err as Error).message}`);
  }
}

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
  await alertGauges(runtime);
  return { body: await m.registry.metrics(), contentType: m.registry.contentType };
}
