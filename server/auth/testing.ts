import { createRuntime, type Runtime } from "../runtime";
import { createTestDatabase, dropRedisPrefix, testConfig, type TestDatabase } from "../testing/stores";
import { ensureAdminUser } from "./admin.service";
import { SESSION_COOKIE } from "./http";
import type { Scope } from "./scopes";
import { createSession } from "./session.service";
import { createApiToken } from "./token.service";

/** Test stores for authentication: each mode the app can run in, isolated per test file. */

export const TEST_ADMIN_PASSWORD = "correct horse battery staple";
export type StoreMode = "postgres+redis" | "postgres" | "redis";
export const STORE_MODES: StoreMode[] = ["postgres+redis", "postgres", "redis"];

export interface AuthTestStores {
  runtime: Runtime;
  close(): Promise<void>;
}

export async function authTestStores(
  mode: StoreMode = "postgres+redis",
  overrides: Record<string, string | undefined> = {},
): Promise<AuthTestStores> {
  const database: TestDatabase | undefined = mode === "redis" ? undefined : await createTestDatabase({ migrated: true });
  const config = testConfig({
    ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
    ...(database ? { DATABASE_URL: database.url } : { POSTGRES_ENABLED: "false" }),
    ...(mode === "postgres" ? { REDIS_URL: undefined } : {}),
    ...overrides,
  });
  const runtime = await createRuntime(config, { ownDatabase: true });
  return {
    runtime,
    async close() {
      await runtime.close();
      await database?.drop();
      if (config.redisUrl) await dropRedisPrefix(config.redisKeyPrefix);
    },
  };
}

/** Before every clock the tests use, so that no session or sign-in predates the password. */
const ADMIN_SINCE = new Date(Date.UTC(2020, 0, 1));

/** authTestStores with the admin user already created (as of ADMIN_SINCE). */
export async function adminTestStores(mode: StoreMode = "postgres+redis", overrides: Record<string, string | undefined> = {}): Promise<AuthTestStores> {
  const stores = await authTestStores(mode, overrides);
  await ensureAdminUser(stores.runtime, { now: ADMIN_SINCE });
  return stores;
}

/**
 * A session cookie header for the admin. The admin user is created as of `adminSince` so that
 * sessions backdated to test expiry are not older than the password.
 */
export async function sessionCookieHeader(runtime: Runtime, now = new Date(), adminSince = new Date(0)): Promise<string> {
  await ensureAdminUser(runtime, { now: adminSince });
  const { token } = await createSession(runtime, runtime.config.adminUsername, now);
  return `${SESSION_COOKIE}=${token}`;
}

export async function bearerHeader(runtime: Runtime, scope: Scope, name = `test ${scope}`): Promise<string> {
  const { token } = await createApiToken(runtime, { name, scope });
  return `Bearer ${token}`;
}
