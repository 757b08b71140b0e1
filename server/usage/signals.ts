import type { Runtime } from "../runtime";

/**
 * Set by the background work of a runtime (server/usage/background.ts): called when a request
 * had to bypass Redis, so the counters are rebuilt once Redis answers again.
 */
const redisBypassed = new WeakMap<Runtime, () => void>();

export function onRedisBypassed(runtime: Runtime, fn: (() => void) | undefined): void {
  if (fn) redisBypassed.set(runtime, fn);
  else redisBypassed.delete(runtime);
}

export function noteRedisBypassed(runtime: Runtime): void {
  redisBypassed.get(runtime)?.();
}
