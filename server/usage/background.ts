import { logger } from "../logger";
import { isRedisReady } from "../redis";
import type { Runtime } from "../runtime";
import { Drainer } from "./drainer";
import { findCountersRebuiltAt } from "./hot-reconcile";
import { reconcileHotCounters } from "./reconcile";

/**
 * Background work of a process that serves usage, started where the process starts (the app's
 * server/startup.ts, `npm run worker`): the outbox drainer, and rebuilding the Redis counters
 * from PostgreSQL when Redis comes back after being down, when a request had to bypass it (the
 * runtime's "redisBypassed" event), or when it has never been rebuilt (a flushed Redis).
 */
export interface UsageBackground {
  drainer: Drainer | undefined;
  stop(): Promise<void>;
}

export function startUsageBackground(runtime: Runtime): UsageBackground {
  const { db, redis, config } = runtime;
  if (!db || !redis) return { drainer: undefined, stop: async () => {} };

  const drainer = new Drainer(config, db);
  drainer.start();

  let stopped = false;
  let running: Promise<void> | undefined;
  let again = false;
  let retryTimer: NodeJS.Timeout | undefined;
  let retryDelay = 5_000;
  let redisWasDown = !isRedisReady(redis);

  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    clearTimeout(retryTimer);
    running = (async () => {
      do {
        again = false;
        if (!isRedisReady(redis)) {
          redisWasDown = true;
          return;
        }
        try {
          // First the dedupe keys of what this process wrote past Redis (also without traffic here).
          await runtime.bypassedIds.flush(redis, config.redisKeyPrefix);
          const r = await reconcileHotCounters(runtime);
          logger.info(`[reconcile] Redis counters rebuilt from PostgreSQL: ${r.accounts} account(s), days ${r.dates.join(", ")}, ${r.durationMs} ms`);
          retryDelay = 5_000;
        } catch (err) {
          if (stopped) return;
          logger.warn(`[reconcile] rebuilding the Redis counters failed (${(err as Error).message}); retrying in ${retryDelay / 1000} s`);
          retryTimer = setTimeout(run, retryDelay);
          retryTimer.unref();
          retryDelay = Math.min(retryDelay * 2, 120_000);
          return;
        }
      } while (again && !stopped);
    })().finally(() => {
      running = undefined;
    });
  };

  const onClose = () => {
    if (!stopped) redisWasDown = true;
  };
  const onReady = () => {
    if (!redisWasDown || stopped) return;
    redisWasDown = false;
    logger.info("[reconcile] Redis is reachable again: rebuilding its counters from PostgreSQL");
    run();
  };
  redis.on("close", onClose);
  redis.on("ready", onReady);

  let bypassTimer: NodeJS.Timeout | undefined;
  const onBypassed = () => {
    if (!isRedisReady(redis)) {
      redisWasDown = true;
      return;
    }
    // Redis answered but a write failed: rebuild soon, once per burst of failures.
    bypassTimer ??= setTimeout(() => {
      bypassTimer = undefined;
      run();
    }, 5_000);
    bypassTimer.unref();
  };
  runtime.events.on("redisBypassed", onBypassed);

  if (isRedisReady(redis)) {
    void findCountersRebuiltAt(redis, config.redisKeyPrefix)
      .then((at) => {
        if (!at) {
          logger.info("[reconcile] Redis counters were never rebuilt from PostgreSQL (new or flushed Redis): rebuilding");
          run();
        }
      })
      .catch(() => {});
  }

  return {
    drainer,
    async stop() {
      stopped = true;
      clearTimeout(retryTimer);
      clearTimeout(bypassTimer);
      redis.off("close", onClose);
      redis.off("ready", onReady);
      runtime.events.off("redisBypassed", onBypassed);
      await drainer.stop();
      await running?.catch(() => {});
    },
  };
}
