import calculateSlot from "cluster-key-slot";
import { Cluster, Redis, type ChainableCommander } from "ioredis";

/**
 * Our Redis: one ioredis client per process, a plain `Redis` or, when REDIS_URL has the form
 * `redis-cluster://host:port,host:port,…` (REDIS_CLUSTER_NODES sets it), a `Cluster`. Commands fail
 * fast while Redis is down (no offline queue), so callers can fall back to PostgreSQL instead of
 * hanging; the client keeps reconnecting.
 *
 * On a cluster a pipeline or MULTI may only hold keys of one slot. Every per-account key carries
 * the account's hash tag (usage/hot-keys.ts), so one account's work is one slot; work that spans
 * accounts or global keys goes through pipelineBySlot / multiBySlot below, one group per slot.
 */
export type RedisClient = Redis | Cluster;

export const CLUSTER_SCHEME = "redis-cluster://";

const COMMON = { enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 2_000, commandTimeout: 5_000 } as const;

export function clusterNodesOf(url: string): { host: string; port: number }[] {
  return url
    .slice(CLUSTER_SCHEME.length)
    .split(",")
    .map((n) => n.trim())
    .filter(Boolean)
    .map((n) => {
      const i = n.lastIndexOf(":");
      return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
    });
}

const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 6), 5_000);

export function createRedis(url: string, opts: { name?: string } = {}): RedisClient {
  if (!url.startsWith(CLUSTER_SCHEME)) return createSingleRedis(url, opts);
  const client = new Cluster(clusterNodesOf(url), {
    lazyConnect: true,
    enableOfflineQueue: false,
    clusterRetryStrategy: retryStrategy,
    redisOptions: { ...COMMON, connectionName: opts.name },
  });
  client.on("error", () => {});
  return client;
}

/** A client of one Redis server (also the relay's Redis that the CRS follower reads). */
export function createSingleRedis(url: string, opts: { name?: string } = {}): Redis {
  const client = new Redis(url, { lazyConnect: true, ...COMMON, connectionName: opts.name, retryStrategy });
  // Without a listener, ioredis reports connection errors as unhandled; the health route and
  // the hot store read the client's status instead.
  client.on("error", () => {});
  return client;
}

/** How long a connect() may take before it is given up (server/redis.ts connectWithin). */
export const CONNECT_DEADLINE_MS = 10_000;

/**
 * connect(), bounded in time. A Cluster whose first connect meets CLUSTERDOWN (a master down)
 * waits for ever, even after the cluster has recovered (seen with ioredis 5 on a real cluster):
 * past the deadline the attempt is dropped (disconnect) and this rejects, so that the caller tries
 * again, with this client (keepConnecting) or a new one.
 */
export async function connectWithin(client: RedisClient, ms = CONNECT_DEADLINE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not become ready within ${ms} ms`)), ms);
  });
  try {
    await Promise.race([client.connect(), deadline]);
  } catch (err) {
    // A single Redis that refused keeps reconnecting on its own (retryStrategy); an attempt that
    // timed out is dropped.
    if ((err as Error).message.startsWith("Redis did not become ready")) client.disconnect();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * For a long-lived client that could not connect (start-up while Redis is down): tries again
 * every `everyMs` while it has given up (status "end" / "wait"). Returns a stop function.
 */
export function keepConnecting(client: RedisClient, everyMs = 5_000): () => void {
  let busy = false;
  const timer = setInterval(() => {
    if (busy || (client.status !== "end" && client.status !== "wait")) return;
    busy = true;
    connectWithin(client)
      .catch(() => {})
      .finally(() => (busy = false));
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

export function isRedisReady(client: RedisClient | undefined): client is RedisClient {
  return client?.status === "ready";
}

export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
}

export interface SlotOp {
  /** A key the command touches: the slot it goes to. */
  key: string;
  add(p: ChainableCommander): void;
}

type Reply = [Error | null, unknown];

/** The commands as one pipeline (a plain Redis) or one pipeline per slot (a cluster); replies in order. */
export async function pipelineBySlot(redis: RedisClient, ops: SlotOp[]): Promise<Reply[]> {
  if (!ops.length) return [];
  if (!isCluster(redis)) {
    const p = redis.pipeline();
    for (const op of ops) op.add(p);
    return ((await p.exec()) ?? []) as Reply[];
  }
  return bySlot(ops, async (group) => {
    const p = redis.pipeline();
    for (const op of group) op.add(p);
    return ((await p.exec()) ?? []) as Reply[];
  });
}

/**
 * The commands in MULTI/EXEC: atomic on a plain Redis and within a slot; on a cluster, keys of
 * different slots go in one transaction per slot (atomic per slot, not across them).
 */
export async function multiBySlot(redis: RedisClient, ops: SlotOp[]): Promise<Reply[]> {
  if (!ops.length) return [];
  const run = async (group: SlotOp[]) => {
    const m = redis.multi();
    for (const op of group) op.add(m);
    return ((await m.exec()) ?? []) as Reply[];
  };
  return isCluster(redis) ? bySlot(ops, run) : run(ops);
}

async function bySlot(ops: SlotOp[], run: (group: SlotOp[]) => Promise<Reply[]>): Promise<Reply[]> {
  const groups = new Map<number, number[]>();
  ops.forEach((op, i) => {
    const slot = calculateSlot(op.key);
    const g = groups.get(slot);
    if (g) g.push(i);
    else groups.set(slot, [i]);
  });
  const out: Reply[] = new Array(ops.length);
  await Promise.all(
    [...groups.values()].map(async (idx) => {
      const replies = await run(idx.map((i) => ops[i]!));
      idx.forEach((i, j) => (out[i] = replies[j] ?? [new Error("no reply"), null]));
    }),
  );
  return out;
}

/** Every key matching a pattern (SCAN; on a cluster, on each master). Maintenance and tests only. */
export async function* scanKeys(redis: RedisClient, pattern: string, count = 1000): AsyncGenerator<string[]> {
  const nodes: Redis[] = isCluster(redis) ? redis.nodes("master") : [redis];
  for (const node of nodes) {
    let cursor = "0";
    do {
      const [next, keys] = await node.scan(cursor, "MATCH", pattern, "COUNT", count);
      cursor = next;
      if (keys.length) yield keys;
    } while (cursor !== "0");
  }
}
