import { Redis } from "ioredis";

/**
 * One ioredis client per process. Commands fail fast while Redis is down (no offline queue), so
 * callers can fall back to PostgreSQL instead of hanging; the client keeps reconnecting.
 */
export function createRedis(url: string, opts: { name?: string } = {}): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    commandTimeout: 5_000,
    connectionName: opts.name,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5_000),
  });
  // Without a listener, ioredis reports connection errors as unhandled; the health route and
  // the hot store read the client's status instead.
  client.on("error", () => {});
  return client;
}

export function isRedisReady(client: Redis | undefined): client is Redis {
  return client?.status === "ready";
}
