import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/**
 * The process's Prometheus metrics (GET /metrics, app/metrics/route.ts). One registry per process,
 * kept on globalThis: Next.js may load a module once per bundle (instrumentation, route handlers),
 * and counters must not split between copies. Counters move where things happen (recording,
 * draining, HTTP); the gauges of the stores, the outbox and the CRS follower are read at scrape
 * time from the health service (server/health/health.service.ts).
 */

function build() {
  const registry = new Registry();
  registry.setDefaultLabels({ app: "usage-breakdown" });
  collectDefaultMetrics({ register: registry, prefix: "ub_" });
  const r = { registers: [registry] };
  return {
    registry,
    events: new Counter({ name: "ub_usage_events_total", help: "Usage events received, by result: accepted, duplicate, rejected", labelNames: ["result"] as const, ...r }),
    drainBatchEvents: new Histogram({
      name: "ub_drain_batch_events",
      help: "Events per drainer write into PostgreSQL (one transaction)",
      buckets: [1, 10, 100, 500, 1000, 5000, 10000, 50000],
      ...r,
    }),
    drainDuration: new Histogram({ name: "ub_drain_write_duration_seconds", help: "Duration of a drainer write into PostgreSQL", buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15], ...r }),
    drainInserted: new Counter({ name: "ub_drain_inserted_total", help: "Rows the drainer inserted into usage_records (redeliveries not counted twice)", ...r }),
    httpDuration: new Histogram({
      name: "ub_http_request_duration_seconds",
      help: "REST request durations by route template, method and status",
      labelNames: ["route", "method", "status"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30],
      ...r,
    }),
    reads: new Counter({ name: "ub_stats_reads_total", help: "Usage reads answered, by the store that answered: postgres (the primary), replica (DATABASE_READ_URL) or redis (the fallback)", labelNames: ["source"] as const, ...r }),
    redisBypassed: new Counter({ name: "ub_redis_bypassed_total", help: "Times Redis was bypassed while recording (its counters are then rebuilt from PostgreSQL)", ...r }),
    storeUp: new Gauge({ name: "ub_store_up", help: "1 when the store answers, 0 when it does not (configured stores only)", labelNames: ["store"] as const, ...r }),
    healthStatus: new Gauge({ name: "ub_health_status", help: "0 ok, 1 degraded, 2 down (as /admin/health)", ...r }),
    outboxLength: new Gauge({ name: "ub_outbox_length", help: "Recorded batches waiting in the Redis outbox for the drainer", ...r }),
    outboxOldestAge: new Gauge({ name: "ub_outbox_oldest_age_seconds", help: "Age of the oldest batch waiting in the outbox", ...r }),
    outboxPending: new Gauge({ name: "ub_outbox_pending", help: "Outbox entries delivered to a drainer and not acknowledged yet", ...r }),
    outboxDead: new Gauge({ name: "ub_outbox_dead_letters", help: "Outbox entries PostgreSQL refused (the dead-letter stream)", ...r }),
    crsLag: new Gauge({ name: "ub_crs_follower_lag_seconds", help: "Seconds since the CRS follower last read the relay's Redis", labelNames: ["source"] as const, ...r }),
    crsEvents: new Gauge({ name: "ub_crs_follower_events_recorded", help: "Events the CRS follower recorded since it first started (persisted)", labelNames: ["source"] as const, ...r }),
    crsGaps: new Gauge({ name: "ub_crs_follower_gaps_filled", help: "Bursts of more than 200 requests filled from CRS's aggregates", labelNames: ["source"] as const, ...r }),
    crsRejected: new Gauge({ name: "ub_crs_follower_rejected", help: "Records and keys the CRS follower skipped, by reason (persisted)", labelNames: ["source", "reason"] as const, ...r }),
    crsFailing: new Gauge({ name: "ub_crs_follower_consecutive_errors", help: "Polls of the CRS follower that failed in a row", labelNames: ["source"] as const, ...r }),
    sourceLag: new Gauge({ name: "ub_source_lag_seconds", help: "Seconds since a relay source (CRS, sub2api …) was last read", labelNames: ["source", "kind"] as const, ...r }),
    sourceRows: new Gauge({ name: "ub_source_rows_read", help: "Rows (records) a relay source read since it first started (persisted)", labelNames: ["source", "kind"] as const, ...r }),
    sourceEvents: new Gauge({ name: "ub_source_events_recorded", help: "Events a relay source recorded since it first started (persisted)", labelNames: ["source", "kind"] as const, ...r }),
    sourceRejected: new Gauge({ name: "ub_source_rejected", help: "Rows a relay source skipped, by reason (persisted)", labelNames: ["source", "kind", "reason"] as const, ...r }),
    sourceFailing: new Gauge({ name: "ub_source_consecutive_errors", help: "Polls of a relay source that failed in a row", labelNames: ["source", "kind"] as const, ...r }),
    sourceUp: new Gauge({ name: "ub_source_up", help: "1 when a relay source is ok (read recently by a leader, not failing)", labelNames: ["source", "kind"] as const, ...r }),
    alertsFiring: new Gauge({ name: "ub_alerts_firing", help: "Alerts firing now, by rule (one per subject of an each rule)", labelNames: ["rule_id", "rule"] as const, ...r }),
    alertsPending: new Gauge({ name: "ub_alerts_pending", help: "Alerts pending now (the condition holds, for not reached yet)", ...r }),
    alertDeliveries: new Gauge({ name: "ub_alert_deliveries", help: "Alert deliveries by status (persisted): pending, sending, sent, failed", labelNames: ["status"] as const, ...r }),
    alertEvaluations: new Counter({ name: "ub_alert_evaluations_total", help: "Evaluations of every alert rule by this process (it held the lease), by result: ok, failed", labelNames: ["result"] as const, ...r }),
    alertDeliveryAttempts: new Counter({
      name: "ub_alert_delivery_attempts_total",
      help: "Attempts to deliver an alert notification, by channel kind and result (ok, error)",
      labelNames: ["channel_kind", "result"] as const,
      ...r,
    }),
  };
}

export type Metrics = ReturnType<typeof build>;

const KEY = Symbol.for("usage-breakdown.metrics");

export function metrics(): Metrics {
  const g = globalThis as { [KEY]?: Metrics };
  return (g[KEY] ??= build());
}

// The alerts' ids (/admin/alerts/rules/{id}/enable …) too; channels is for their routes to come.
const ID_AFTER = new Set(["accounts", "api-keys", "tokens", "rules", "budgets", "silences", "channels"]);
const STATIC = new Set(["usage-stats"]);

/** A request path as its route template (/admin/accounts/:id/usage-stats), so labels stay few. */
export function routeLabel(pathname: string): string {
  const parts = pathname.split("/");
  return parts.map((p, i) => (i > 1 && ID_AFTER.has(parts[i - 1]!) && !STATIC.has(p) && p !== "" ? ":id" : p)).join("/");
}
