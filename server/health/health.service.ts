import { ping } from "../../db/client";
import type { Runtime } from "../runtime";

export interface StoreHealth {
  configured: boolean;
  ok: boolean;
  kind?: string;
  error?: string;
}

export interface Health {
  status: "ok" | "degraded" | "down";
  postgres: StoreHealth;
  redis: StoreHealth;
  timezone: string;
}

export async function health(runtime: Runtime): Promise<Health> {
  const postgres: StoreHealth = runtime.db
    ? { configured: true, kind: runtime.db.kind, ok: await ping(runtime.db.db) }
    : { configured: false, ok: false };
  const redis: StoreHealth = runtime.redis
    ? { configured: true, ok: await runtime.redis.ping().then(() => true, () => false) }
    : { configured: false, ok: false };
  const up = [postgres, redis].filter((s) => s.configured && s.ok).length;
  const configured = [postgres, redis].filter((s) => s.configured).length;
  return {
    status: up === 0 ? "down" : up < configured ? "degraded" : "ok",
    postgres,
    redis,
    timezone: runtime.config.usageTimezone,
  };
}
