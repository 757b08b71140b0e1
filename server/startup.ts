import { ConfigError, getConfig, type AppConfig } from "./config";
import { getRuntime, StartupError, type Runtime } from "./runtime";
import { startUsageBackground, type UsageBackground } from "./usage/background";
import { startAlertsBackground, type AlertsBackground } from "./alerts/background";
import { startRetentionBackground, type RetentionBackground } from "./maintenance/retention.background";

const g = globalThis as unknown as { __usageBackground?: UsageBackground; __alertsBackground?: AlertsBackground; __retentionBackground?: RetentionBackground; __crsFollower?: Promise<unknown>; __sub2apiFollower?: Promise<unknown>; __newapiFollower?: Promise<unknown> };

/**
 * Start-up of a Next.js server process (called from instrumentation.ts): validates the
 * configuration (a bad value stops start-up with a message naming the variable) and installs the
 * request guards, then — without waiting, see below — opens the stores, applies migrations
 * (seeding an empty embedded database), starts background work (the outbox drainer and counter
 * rebuilds, once per process) and makes sure the admin user exists.
 *
 * Next.js holds every request until register() returns, so the stores are not awaited here: the
 * probes (/livez, /readyz) answer while migrations run, and a request that needs the stores waits
 * for getRuntime() itself.
 */
export async function startServer(): Promise<void> {
  let config: AppConfig;
  try {
    config = getConfig();
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
  } catch (err) {
    return exitOnStartupError(err);
  }
  void startStores(config).catch(exitOnStartupError);
}

/** A store that is down at start-up (not a bad setting) is waited for: this often, until it answers. */
const STORE_RETRY_MS = 5_000;

async function openRuntime(): Promise<Runtime> {
  for (;;) {
    try {
      return await getRuntime();
    } catch (err) {
      if (isFatal(err)) throw err;
      console.error(`[startup] the stores are not ready (${(err as Error).message}); trying again in ${STORE_RETRY_MS / 1000} s`);
      await new Promise((r) => setTimeout(r, STORE_RETRY_MS));
    }
  }
}

async function startStores(config: AppConfig): Promise<void> {
  const runtime = await openRuntime();
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
}

/** A bad setting, a failed migration or a busy embedded database: waiting would not help. */
function isFatal(err: unknown): boolean {
  return err instanceof ConfigError || err instanceof StartupError || ["EmbeddedDatabaseBusyError", "MigrationError"].includes((err as Error)?.name);
}

function exitOnStartupError(err: unknown): never {
  console.error(`\n[startup] ${isFatal(err) ? (err as Error).message : String((err as Error)?.stack ?? err)}\n`);
  process.exit(1);
}
