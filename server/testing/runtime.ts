import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "./stores";

export interface TestRuntime {
  runtime: Runtime;
  database: TestDatabase;
  /** Closes the runtime, drops its database and deletes its Redis keys. */
  close(): Promise<void>;
}

/** A runtime on a migrated database of its own and a fresh Redis key prefix; `overrides` go into its config. */
export async function createTestRuntime(overrides: Record<string, string | undefined> = {}): Promise<TestRuntime> {
  const database = await createTestDatabase({ migrated: true });
  let runtime: Runtime;
  try {
    runtime = await createRuntime(testConfig({ DATABASE_URL: database.url, ...overrides }), { ownDatabase: true });
  } catch (err) {
    await database.drop();
    throw err;
  }
  return {
    runtime,
    database,
    async close() {
      await runtime.close();
      await database.drop();
      await dropRedisPrefix(runtime.config.redisKeyPrefix);
    },
  };
}
