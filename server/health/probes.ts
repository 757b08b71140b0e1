import { ping } from "../../db/client";
import { ROUTE_MARK } from "../http/route";
import { isRedisReady } from "../redis";
import type { Runtime, RuntimeStatus } from "../runtime";

/**
 * The orchestrator's probes (Kubernetes, Docker's HEALTHCHECK, compose): unauthenticated, cheap,
 * and saying nothing a stranger could use — no versions, hosts or error texts.
 *
 * - liveness: the process serves requests; no store is touched, so a database outage never gets
 *   the process restarted.
 * - readiness: the process can answer usage questions: migrations applied and PostgreSQL answering,
 *   or PostgreSQL down (or disabled) while Redis is there to take the fallback.
 */

export interface Readiness {
  ready: boolean;
  /** Short and fixed: which condition decided. */
  reason: "ok" | "starting" | "start-up failed" | "postgres unreachable, serving from redis" | "postgres unreachable, no redis" | "postgres and redis unreachable" | "redis unreachable";
}

/** Each store check gives up after this long: a probe's own timeout is typically 1 s. */
export const PROBE_CHECK_TIMEOUT_MS = 800;

function within(check: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)));
  return Promise.race([check.catch(() => false), late]).finally(() => clearTimeout(timer));
}

async function redisAnswers(runtime: Runtime, ms: number): Promise<boolean> {
  if (!isRedisReady(runtime.redis)) return false;
  const redis = runtime.redis;
  return within(redis.ping().then((r) => r === "PONG"), ms);
}

export async function readiness(status: RuntimeStatus, timeoutMs = PROBE_CHECK_TIMEOUT_MS): Promise<Readiness> {
  if (status.state === "idle" || status.state === "starting") return { ready: false, reason: "starting" };
  if (status.state === "failed") return { ready: false, reason: "start-up failed" };
  const { runtime } = status;
  // Both at once: the probe costs the slower of the two, never their sum.
  const [pg, redis] = await Promise.all([
    runtime.db ? within(ping(runtime.db.db), timeoutMs) : Promise.resolve(false),
    runtime.redis ? redisAnswers(runtime, timeoutMs) : Promise.resolve(false),
  ]);
  if (pg) return { ready: true, reason: "ok" };
  // POSTGRES_ENABLED=false: Redis alone is the service.
  if (redis) return { ready: true, reason: runtime.db ? "postgres unreachable, serving from redis" : "ok" };
  if (!runtime.db) return { ready: false, reason: "redis unreachable" };
  return { ready: false, reason: runtime.redis ? "postgres and redis unreachable" : "postgres unreachable, no redis" };
}

const PROBE_HEADERS = { "cache-control": "no-store" };

/**
 * A probe's route handler: public (the route-protection test knows it by this mark), GET only,
 * answering `{ status }` with 200 or 503.
 */
export function probe(check: () => Promise<{ ok: boolean; reason: string }>) {
  const handler = async (): Promise<Response> => {
    const { ok, reason } = await check();
    return Response.json({ status: ok ? "ok" : "unavailable", reason }, { status: ok ? 200 : 503, headers: PROBE_HEADERS });
  };
  return Object.defineProperty(handler, ROUTE_MARK, { value: "public" as const });
}
