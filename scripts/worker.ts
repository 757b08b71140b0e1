/**
 * npm run worker — drains the Redis outbox into PostgreSQL and rebuilds the Redis counters when
 * Redis comes back, like the background work inside the app; with CRS_REDIS_URL it also follows
 * claude-relay-service (server/sources/crs/follower.ts), with SUB2API_DATABASE_URL sub2api
 * (server/sources/sub2api/follower.ts), with NEWAPI_DATABASE_URL new-api / one-api
 * (server/sources/newapi/follower.ts). Run as many as you like (on any host): they share the
 * outbox through one consumer group and each source through one lease.
 */
import { getConfig } from "../server/config";
import { createRuntime } from "../server/runtime";
import { startUsageBackground } from "../server/usage/background";
import { startAlertsBackground } from "../server/alerts/background";
import { startRetentionBackground } from "../server/maintenance/retention.background";
import { outboxStats } from "../server/usage/hot-outbox";
import { createSingleRedis, isRedisReady } from "../server/redis";
import { startCrsFollower } from "../server/sources/crs/follower";
import { startSub2apiFollower } from "../server/sources/sub2api/follower";
import { startNewapiFollower } from "../server/sources/newapi/follower";

async function main() {
  const config = getConfig();
  if (!config.postgresEnabled || !config.redisUrl) {
    throw new Error("The worker moves the Redis outbox into PostgreSQL: it needs REDIS_URL and PostgreSQL (POSTGRES_ENABLED=true).");
  }
  const runtime = await createRuntime(config, { ownDatabase: true, prepare: true });
  const background = startUsageBackground(runtime);
  const alerts = startAlertsBackground(runtime);
  const retention = startRetentionBackground(runtime);
  const follower = await startCrsFollower(runtime, (url) => createSingleRedis(url, { name: "usage-breakdown-crs-follower" }));
  const sub2api = await startSub2apiFollower(runtime);
  const newapi = await startNewapiFollower(runtime);
  console.log(`[worker] draining ${config.redisKeyPrefix}outbox into PostgreSQL (Ctrl-C to stop)`);
  if (config.crsRedisUrl) console.log("[worker] following claude-relay-service at CRS_REDIS_URL (one follower at a time holds the lease)");
  if (config.sub2apiDatabaseUrl) console.log(`[worker] following sub2api at SUB2API_DATABASE_URL as source "${config.sub2apiSource}" (one follower at a time holds the lease)`);
  if (config.usageRawRetentionMonths !== undefined) console.log(`[worker] raw-record retention: ${config.usageRawRetentionMonths} month(s) besides the current one (rollups are kept forever)`);
  if (config.newapiDatabaseUrl) console.log(`[worker] following new-api / one-api at NEWAPI_DATABASE_URL as source "${config.newapiSource}" (one follower at a time holds the lease)`);
  const report = setInterval(() => {
    if (!isRedisReady(runtime.redis)) return;
    outboxStats(runtime.redis, config.redisKeyPrefix)
      .then((s) => {
        if (s.length || s.deadLetters) {
          const age = s.oldestAgeMs === null ? "-" : `${Math.round(s.oldestAgeMs / 1000)} s`;
          console.log(`[worker] outbox backlog: ${s.length} batch(es), oldest ${age}, dead letters ${s.deadLetters}`);
        }
      })
      .catch(() => {});
  }, 60_000);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(report);
    console.log("[worker] stopping; unacknowledged batches stay in the outbox for the next drainer");
    await follower?.stop();
    await sub2api?.stop();
    await newapi?.stop();
    await alerts.stop();
    await retention.stop();
    await background.stop();
    await runtime.close();
    process.exit(0);
  };
  process.once("SIGTERM", () => void stop());
  process.once("SIGINT", () => void stop());
}

main().catch((err) => {
  console.error(`[worker] ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
