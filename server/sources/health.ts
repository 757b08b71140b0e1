import type { Runtime } from "../runtime";
import { SOURCE_KIND as CRS_KIND } from "./crs/crs.repository";
import { DEFAULT_SOURCE as CRS_SOURCE } from "./crs/follower";
import { crsFollowerHealth, type CrsFollowerHealth } from "./crs/health";
import { notStarted, sourceHealthOf, type SourceHealth } from "./shared/health";
import { findStatuses } from "./shared/status.repository";
import { SOURCE_KIND as SUB2API_KIND } from "./sub2api/follower";
import { SOURCE_KIND as NEWAPI_KIND } from "./newapi/follower";

/**
 * Every source the ledger reads, for /admin/health and /metrics: each source_status row, and a
 * source this process is configured to read that has not started yet; and CRS's own view
 * (`crsFollower`, with its gaps), from the same rows. A source configured here
 * must be read now (a leader, a recent read); any source failing 3 polls in a row is not ok.
 */
export async function sourcesHealth(runtime: Runtime, postgresOk: boolean, nowMs = Date.now()): Promise<{ sources: SourceHealth[]; crsFollower: CrsFollowerHealth }> {
  const configured = new Map<string, string>();
  if (runtime.config.crsRedisUrl) configured.set(CRS_SOURCE, CRS_KIND);
  if (runtime.config.sub2apiDatabaseUrl) configured.set(runtime.config.sub2apiSource, SUB2API_KIND);
  if (runtime.config.newapiDatabaseUrl) configured.set(runtime.config.newapiSource, NEWAPI_KIND);
  // One read of source_status serves both views.
  const rows = runtime.db && postgresOk ? await findStatuses(runtime.db.db).catch(() => undefined) : undefined;
  const sources = (rows ?? []).map((r) => sourceHealthOf(r, configured.get(r.source) === r.kind, nowMs));
  for (const [source, kind] of configured) if (!rows?.some((r) => r.source === source)) sources.push(notStarted(source, kind));
  sources.sort((a, b) => a.source.localeCompare(b.source));
  return { sources, crsFollower: await crsFollowerHealth(runtime, rows, nowMs) };
}
