import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import { addToCounter } from "./hot-store";

/**
 * Fixed-window counters for login attempts: in Redis when it is up (shared by every node), in this
 * process otherwise. The window number comes from the caller's clock, so tests move time instead
 * of waiting.
 */

const memory = new Map<string, { window: number; count: number }>();
const MEMORY_MAX_ENTRIES = 10_000;

function addInMemory(key: string, window: number, delta: number): number {
  const e = memory.get(key);
  const count = Math.max(0, (e && e.window === window ? e.count : 0) + delta);
  memory.set(key, { window, count });
  if (memory.size > MEMORY_MAX_ENTRIES) {
    for (const [k, v] of memory) if (v.window < window || v.count === 0) memory.delete(k);
    // Still full (an attack from very many addresses in one window): forget the oldest.
    for (const k of memory.keys()) {
      if (memory.size <= MEMORY_MAX_ENTRIES) break;
      memory.delete(k);
    }
  }
  return count;
}

export interface Window {
  number: number;
  /** Seconds until the window ends (at least 1): the Retry-After of a refusal. */
  secondsLeft: number;
}

export function windowAt(nowMs: number, windowSeconds: number): Window {
  const size = windowSeconds * 1000;
  const number = Math.floor(nowMs / size);
  return { number, secondsLeft: Math.max(1, Math.ceil(((number + 1) * size - nowMs) / 1000)) };
}

/** Adds delta (1 to count an attempt, -1 to take one back) and returns the window's count. */
export async function addToLimit(runtime: Runtime, name: string, window: Window, delta: number): Promise<number> {
  const prefix = runtime.config.redisKeyPrefix;
  if (isRedisReady(runtime.redis)) {
    try {
      const ttlMs = (window.secondsLeft + 5) * 1000;
      return Math.max(0, await addToCounter(runtime.redis, prefix, name, window.number, delta, ttlMs));
    } catch {
      // Redis failed mid-request: this process's own count still limits the attempts it serves.
    }
  }
  return addInMemory(`${prefix}${name}`, window.number, delta);
}
