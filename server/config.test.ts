import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "./config";

describe("configuration", () => {
  it("has working defaults", () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      databaseUrl: undefined,
      postgresEnabled: true,
      redisUrl: undefined,
      usageTimezone: "Asia/Shanghai",
      port: 3000,
      pgliteDir: ".data/pglite",
    });
  });

  it.each([
    ["USAGE_TIMEZONE", "Mars/Olympus_Mons", /USAGE_TIMEZONE: .*IANA time zone/],
    ["PORT", "70000", /PORT: PORT must be an integer from 1 to 65535, got "70000"/],
    ["POSTGRES_ENABLED", "maybe", /POSTGRES_ENABLED: POSTGRES_ENABLED must be true or false, got "maybe"/],
    ["DATABASE_URL", "mysql://x@y/z", /DATABASE_URL: DATABASE_URL must use postgres: or postgresql:/],
    ["REDIS_URL", "not a url", /REDIS_URL: REDIS_URL must be a URL/],
    ["REDIS_CLUSTER_NODES", "10.0.0.1,10.0.0.2:6379", /REDIS_CLUSTER_NODES: expected host:port of one or more cluster nodes/],
    ["REDIS_URL", "redis-cluster://10.0.0.1,10.0.0.2:6379", /REDIS_URL: REDIS_URL must be redis-cluster:\/\/host:port,host:port .*got "redis-cluster:\/\/10.0.0.1,10.0.0.2:6379"/],
    ["DATABASE_READ_URL", "redis://x", /DATABASE_READ_URL: DATABASE_READ_URL must use postgres: or postgresql:/],
    ["SUB2API_SOURCE", "none", /SUB2API_SOURCE: SUB2API_SOURCE cannot be 'none'/],
    ["SUB2API_SOURCE", "crs", /SUB2API_SOURCE: SUB2API_SOURCE cannot be 'crs'/],
    ["SUB2API_SOURCE", "Bad Name", /SUB2API_SOURCE must be a lower-case name/],
    ["SUB2API_DATABASE_URL", "mysql://x", /SUB2API_DATABASE_URL/],
    ["NEWAPI_SOURCE", "none", /NEWAPI_SOURCE: NEWAPI_SOURCE cannot be 'none'/],
    ["NEWAPI_SOURCE", "crs", /NEWAPI_SOURCE: NEWAPI_SOURCE cannot be 'crs'/],
    ["NEWAPI_SOURCE", "Bad Name", /NEWAPI_SOURCE must be a lower-case name/],
    ["NEWAPI_DATABASE_URL", "redis://x", /NEWAPI_DATABASE_URL must be postgres:\/\/…, mysql:\/\/…/],
    ["NEWAPI_LOG_DATABASE_URL", "one-api.db", /NEWAPI_LOG_DATABASE_URL must be/],
    ["NEWAPI_POLL_INTERVAL_MS", "10", /NEWAPI_POLL_INTERVAL_MS/],
  ])("a bad %s names the variable", (variable, value, message) => {
    let err: unknown;
    try {
      parseConfig({ [variable]: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.variable)).toEqual([variable]);
    expect((err as Error).message).toMatch(message);
  });

  it("takes new-api's database in each form the relay's operators have it, and one source name per relay", () => {
    const forms = [
      "mysql://reader:pw@db:3306/new-api",
      "postgres://reader@db:5432/newapi",
      "postgresql://reader@db/newapi",
      "reader:pw@tcp(db:3306)/new-api?charset=utf8mb4&parseTime=True",
      "sqlite:///data/one-api.db",
      "/data/one-api.db",
    ];
    for (const url of forms) expect(parseConfig({ NEWAPI_DATABASE_URL: url })).toMatchObject({ newapiDatabaseUrl: url, newapiSource: "newapi", newapiFollowInApp: true, newapiPollIntervalMs: 2000 });
    expect(parseConfig({})).toMatchObject({ newapiDatabaseUrl: undefined, newapiLogDatabaseUrl: undefined });
    let err: unknown;
    try {
      parseConfig({ NEWAPI_DATABASE_URL: forms[0], SUB2API_DATABASE_URL: "postgres://x@y/z", SUB2API_SOURCE: "relay", NEWAPI_SOURCE: "relay" });
    } catch (e) {
      err = e;
    }
    expect((err as ConfigError).problems.map((p) => p.variable)).toEqual(["NEWAPI_SOURCE"]);
    expect((err as Error).message).toMatch(/each relay needs a source name of its own/);
  });

  it("bounds request headers, bodies and bodies at once", () => {
    expect(parseConfig({})).toMatchObject({ httpHeadersTimeoutMs: 10000, httpBodyTimeoutMs: 10000, httpMaxConcurrentBodies: 32 });
    expect(() => parseConfig({ HTTP_BODY_TIMEOUT_MS: "10" })).toThrow(/HTTP_BODY_TIMEOUT_MS must be an integer from 500 to 600000/);
    expect(() => parseConfig({ HTTP_MAX_CONCURRENT_BODIES: "0" })).toThrow(/HTTP_MAX_CONCURRENT_BODIES/);
  });

  it("bounds CSV exports per process below the pool, and per token", () => {
    expect(parseConfig({})).toMatchObject({ csvMaxConcurrentExports: 4, csvMaxConcurrentExportsPerToken: 2 });
    // Each export holds a pool connection while it streams: reads always keep one.
    expect(parseConfig({ DB_POOL_MAX: "3", CSV_MAX_CONCURRENT_EXPORTS: "8" }).csvMaxConcurrentExports).toBe(2);
    expect(parseConfig({ DB_POOL_MAX: "1" }).csvMaxConcurrentExports).toBe(1);
    expect(() => parseConfig({ CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN: "0" })).toThrow(/CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN must be an integer from 1 to 64/);
  });

  it("DISPLAY_CNY_PER_USD: a positive, bounded rate for the console's ¥ display, off by default", () => {
    expect(parseConfig({}).displayCnyPerUsd).toBeUndefined();
    expect(parseConfig({ DISPLAY_CNY_PER_USD: "7.2" }).displayCnyPerUsd).toBe(7.2);
    for (const bad of ["0", "-7", "abc", "7,2", "1e3", "1000.5", "7.1234567"]) {
      expect(() => parseConfig({ DISPLAY_CNY_PER_USD: bad }), bad).toThrow(/DISPLAY_CNY_PER_USD must be a number of yuan per US dollar/);
    }
  });

  it("ALERT_ALLOW_PRIVATE_TARGETS: addresses or CIDR ranges, none by default", () => {
    expect(parseConfig({}).alertAllowPrivateTargets).toEqual([]);
    expect(parseConfig({ ALERT_ALLOW_PRIVATE_TARGETS: " 10.0.0.0/8, 127.0.0.1/32,::1/128,192.168.1.5 " }).alertAllowPrivateTargets).toEqual(["10.0.0.0/8", "127.0.0.1/32", "::1/128", "192.168.1.5"]);
    for (const bad of ["10.0.0.0/33", "300.1.1.1", "example.com", "::1/129", "10.0.0.0/8/1"]) {
      expect(() => parseConfig({ ALERT_ALLOW_PRIVATE_TARGETS: bad }), bad).toThrow(/ALERT_ALLOW_PRIVATE_TARGETS must be comma-separated addresses or CIDR ranges/);
    }
  });

  it("ALERT_SECRETS_KEY: 32 bytes of base64, or unset", () => {
    expect(parseConfig({}).alertSecretsKey).toBeUndefined();
    expect(parseConfig({ ALERT_SECRETS_KEY: Buffer.alloc(32, 7).toString("base64") }).alertSecretsKey).toEqual(Buffer.alloc(32, 7));
    expect(() => parseConfig({ ALERT_SECRETS_KEY: Buffer.alloc(16, 7).toString("base64") })).toThrow(/ALERT_SECRETS_KEY must be 32 random bytes in base64/);
  });

  it("REDIS_CLUSTER_NODES selects a cluster (REDIS_URL, when set, wins)", () => {
    expect(parseConfig({ REDIS_CLUSTER_NODES: " 10.0.0.1:7000, 10.0.0.2:7001 " }).redisUrl).toBe("redis-cluster://10.0.0.1:7000,10.0.0.2:7001");
    expect(parseConfig({ REDIS_URL: "redis://r:6379", REDIS_CLUSTER_NODES: "10.0.0.1:7000" }).redisUrl).toBe("redis://r:6379");
    // The URL form README documents is the same thing.
    expect(parseConfig({ REDIS_URL: "redis-cluster://10.0.0.1:7000,10.0.0.2:7001" }).redisUrl).toBe("redis-cluster://10.0.0.1:7000,10.0.0.2:7001");
  });

  it("a CLI started with a bad value stops with a message naming it", async () => {
    const err = await promisify(execFile)("node_modules/.bin/tsx", ["scripts/db-migrate.ts", "--list"], {
      env: { ...process.env, USAGE_TIMEZONE: "Nowhere/Land" },
    }).catch((e: { code: number; stderr: string }) => e);
    expect((err as { code: number }).code).toBe(1);
    expect((err as { stderr: string }).stderr).toContain("USAGE_TIMEZONE");
  }, 30_000);
});
