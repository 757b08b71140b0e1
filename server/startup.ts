import { ConfigError, getConfig } from "./config";
import { getRuntime, StartupError } from "./runtime";
import { startUsageBackground, type UsageBackground } from "./usage/background";
import { startAlertsBackground, type AlertsBackground } from "./alerts/background";
import { startRetentionBackground, type RetentionBackground } from "./maintenance/retention.background";

const g = globalThis as unknown as { __usageBackground?: UsageBackground; __alertsBackground?: AlertsBackground; __retentionBackground?: RetentionBackground; __crsFollower?: Promise<unknown>; __sub2apiFollower?: Promise<unknown>; __newapiFollower?: Promise<unknown> };

/**
 * Start-up of a Next.js server process (called from instrumentation.ts): validates the
 * configuration (a bad value stops start-up with a message naming the variable), opens the stores,
 * applies migrations (seeding an empty embedded database), starts background work (the outbox
 * drainer and counter rebuilds, once per process) and makes sure the admin user exists.
 */
export async function startServer(): Promise<void> {
  try {
    const config = getConfig();
    // First, before any request is served: X-Forwarded-* from peers that are not TRUSTED_PROXIES,
    // and request bodies decided on their headers (credentials, length, how many, how slow).
    const [{ installForwardedHeaderGuard }, { installBodyGuard }, { DEFAULT_MAX_BODY_BYTES }] = await Promise.all([
      import("./http/forwarded"),
      import("./http/body-guard"),
      import("./http/limits"),
    ]);
    installForwardedHeaderGuard(config.trustedProxies);
    installBodyGuard({
      maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
      headersTimeoutMs: config.httpHeadersTimeoutMs,
      bodyTimeoutMs: config.httpBodyTimeoutMs,
      maxConcurrentBodies: config.httpMaxConcurrentBodies,
      development: config.nodeEnv === "development",
    });
    const runtime = await getRuntime();
    // Once per process, also when the development server evaluates this module again.
    g.__usageBackground ??= startUsageBackground(runtime);
    // Alerts: one evaluator among the processes (a lease), deliveries from every process.
    g.__alertsBackground ??= startAlertsBackground(runtime);
    // With USAGE_RAW_RETENTION_MONTHS: raw-record retention (one process at a time, an advisory lock).
    g.__retentionBackground ??= startRetentionBackground(runtime);
    // With CRS_REDIS_URL the app follows claude-relay-service too (unless CRS_FOLLOW_IN_APP=false;
    // `npm run worker` always does). Several processes share it through one lease.
    if (config.crsRedisUrl && config.crsFollowInApp) {
      const [{ startCrsFollower }, { createSingleRedis }] = await Promise.all([import("./sources/crs/follower"), import("./redis")]);
      g.__crsFollower ??= startCrsFollower(runtime, (url) => createSingleRedis(url, { name: "usage-breakdown-crs-follower" }));
    }
    // With SUB2API_DATABASE_URL the app follows sub2api too (unless SUB2API_FOLLOW_IN_APP=false).
    if (config.sub2apiDatabaseUrl && config.sub2apiFollowInApp) {
      const { startSub2apiFollower } = await import("./sources/sub2api/follower");
      g.__sub2apiFollower ??= startSub2apiFollower(runtime);
    }
    // With NEWAPI_DATABASE_URL the app follows new-api / one-api too (unless NEWAPI_FOLLOW_IN_APP=false).
    if (config.newapiDatabaseUrl && config.newapiFollowInApp) {
      const { startNewapiFollower } = await import("./sources/newapi/follower");
      g.__newapiFollower ??= startNewapiFollower(runtime);
    }
    // Creates the admin user on first start (printing a generated password once if none is set).
    // If a store is down now, the first sign-in retries it.
    const { ensureAdminUser } = await import("./auth/admin.service");
    await ensureAdminUser(runtime).catch((e: Error) => console.warn(`[startup] admin user not checked yet: ${e.message}`));
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StartupError || (err as Error)?.name === "EmbeddedDatabaseBusyError") {
      console.error(`\n[startup] ${(err as Error).message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
