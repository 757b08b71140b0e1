import { probe, readiness } from "@/server/health/probes";
import { runtimeStatus } from "@/server/runtime";

/** GET /readyz: 200 once migrations are applied and PostgreSQL (or, while it is down, Redis) answers; 503 otherwise. */
export const GET = probe(async () => {
  const r = await readiness(runtimeStatus());
  return { ok: r.ready, reason: r.reason };
});
