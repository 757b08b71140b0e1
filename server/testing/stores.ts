import { randomBytes } from "node:crypto";
import pg from "pg";
import { createDatabase, type DbHandle } from "../../db/client";
import { migrate } from "../../db/migrator";
import { getTestStores, parseConfig, type AppConfig } from "../config";
import { createRedis, type RedisClient } from "../redis";

/**
 * Test isolation: a database of its own on the shared PostgreSQL (dropped afterwards) and a Redis
 * key prefix of its own (deleted afterwards). No mocks of our stores.
 */
export interface TestDatabase {
  name: string;
  url: string;
  handle: DbHandle;
  drop(): Promise<void>;
}

export function uniqueName(prefix: string): string {
  return `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function adminQuery(text: string): Promise<void> {
  const client = new pg.Client({ connectionString: getTestStores().databaseUrl });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

/** Creates an empty database; `migrated` also applies every migration. */
export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const name = uniqueName("ub_test");
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = withDatabase(getTestStores().databaseUrl, name);
  const handle = await createDatabase({ databaseUrl: url, pgliteDir: "", statementTimeoutMs: 30_000, poolMax: 5 });
  if (opts.migrated) await migrate(handle);
  return {
    name,
    url,
    handle,
    async drop() {
      await handle.close().catch(() => {});
      await adminQuery(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}

/** A config for tests: the given database, a fresh Redis prefix, and overrides. */
export function testConfig(overrides: Record<string, string | undefined> = {}): AppConfig {
  return parseConfig({
    NODE_ENV: "test",
    REDIS_URL: getTestStores().redisUrl,
    REDIS_KEY_PREFIX: `${uniqueName("t").slice(0, 28)}:`,
    LOG_LEVEL: "warn",
    ...overrides,
  });
}

/** Deletes every Redis key under a prefix (SCAN, so only for tests). */
export async function dropRedisPrefix(prefix: string): Promise<void> {
  const redis = createRedis(getTestStores().redisUrl);
  await redis.connect();
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
}

/** Runs `fn` with a Redis client of its own on the runtime's Redis (the runtime's may be the one a test takes down). */
export async function withRedis<T>(runtime: { config: AppConfig }, fn: (client: RedisClient) => Promise<T>): Promise<T> {
  const client = createRedis(runtime.config.redisUrl!);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    client.disconnect();
  }
}
