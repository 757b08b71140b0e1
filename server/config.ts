import { z } from "zod";
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "./password-policy";
import { parseTrustedProxies, type TrustedProxies } from "./trusted-proxies";

/**
 * The one place that reads process.env. Everything else imports `getConfig()`.
 * A bad value throws ConfigError naming the variable and what was expected, so start-up stops.
 * The bottom layer of server/: it imports only two leaf modules (password-policy.ts,
 * trusted-proxies.ts), so every other module may import it.
 */

const bool = (name: string, dflt: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return dflt;
      const s = v.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(s)) return true;
      if (["0", "false", "no", "off"].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be true or false, got "${v}"` });
      return z.NEVER;
    });

const int = (name: string, dflt: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return dflt;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `${name} must be an integer from ${min} to ${max}, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

function checkUrl(name: string, protocols: string[], v: string | undefined, ctx: z.RefinementCtx): string | undefined {
  if (v === undefined || v.trim() === "") return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    ctx.addIssue({ code: "custom", message: `${name} must be a URL like ${protocols[0]}//host:port/…` });
    return z.NEVER;
  }
  if (!protocols.includes(url.protocol)) {
    ctx.addIssue({ code: "custom", message: `${name} must use ${protocols.join(" or ")}, got "${url.protocol}"` });
    return z.NEVER;
  }
  return v;
}

const optionalUrl = (name: string, protocols: string[]) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => checkUrl(name, protocols, v, ctx));

/**
 * A relay database of new-api / one-api: postgres://…, mysql://…, the relay's own Go DSN
 * (user:pass@tcp(host:port)/db), sqlite:///path or a path to the SQLite file.
 */
const relayDsn = (name: string) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      const t = v?.trim();
      if (!t) return undefined;
      if (/^(postgres(ql)?|mysql):\/\/[^\s]+$/i.test(t) || /^[^\s]*@tcp\([^)\s]+\)\/[^\s]*$/.test(t) || /^(sqlite|file):[^\s]+$/i.test(t) || /^\/[^\s]*$/.test(t)) return t;
      ctx.addIssue({ code: "custom", message: `${name} must be postgres://…, mysql://… (or the relay's user:pass@tcp(host:port)/db), sqlite:///path/to/one-api.db or an absolute path to it` });
      return z.NEVER;
    });

/** A source's name: lower-case, not one the read API or another relay uses. */
const sourceName = (name: string, fallback: string) =>
  z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,31}$/, { error: `${name} must be a lower-case name (letters, digits, '-'; at most 32)` })
    .refine((s) => s !== "none", { error: `${name} cannot be 'none': the usage API's source filter uses it for accounts without a relay source` })
    .refine((s) => s !== "crs", { error: `${name} cannot be 'crs': that is claude-relay-service's source` })
    .default(fallback);

/** The URL form of a cluster (server/redis.ts's CLUSTER_SCHEME; config stays free of ioredis). */
const CLUSTER_URL_SCHEME = "redis-cluster://";
/** An IPv4 / IPv6 address, optionally with a /prefix (checked again with ipaddr.js where it is used). */
function isCidr(v: string): boolean {
  const [addr, prefix, ...rest] = v.split("/");
  if (rest.length || !addr) return false;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(addr);
  const isV4 = !!v4 && v4.slice(1).every((o) => Number(o) <= 255);
  const isV6 = !isV4 && addr.includes(":") && /^[0-9a-fA-F:.]+$/.test(addr);
  if (!isV4 && !isV6) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (isV4 ? 32 : 128);
}

const isNodeList = (v: string) => v.split(",").every((n) => /^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$/.test(n.trim()));

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
    return tz.length > 0;
  } catch {
    return false;
  }
}

/**
 * The fewest months of raw records USAGE_RAW_RETENTION_MONTHS may keep besides the current one:
 * the product's own reads of raw records reach back at most 151 days (a spike alert's baseline: a
 * 90-day window 60 days back, whose first partial day comes from usage_records; the hourly trend
 * and the last hour stay within today). 6 whole months are at least 181 days; 5 can be 150.
 */
export const RAW_RETENTION_MIN_MONTHS = 6;
export const RAW_RETENTION_MAX_MONTHS = 1200;

const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: optionalUrl("DATABASE_URL", ["postgres:", "postgresql:"]),
  DATABASE_READ_URL: optionalUrl("DATABASE_READ_URL", ["postgres:", "postgresql:"]),
  POSTGRES_ENABLED: bool("POSTGRES_ENABLED", true),
  PGLITE_DIR: z.string().min(1).default(".data/pglite"),
  // redis://… or rediss://… (one server), or redis-cluster://host:port,host:port (a cluster).
  REDIS_URL: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (!v?.trim().startsWith(CLUSTER_URL_SCHEME)) return checkUrl("REDIS_URL", ["redis:", "rediss:"], v, ctx);
      if (isNodeList(v.trim().slice(CLUSTER_URL_SCHEME.length))) return v.trim();
      ctx.addIssue({ code: "custom", message: `REDIS_URL must be ${CLUSTER_URL_SCHEME}host:port,host:port (one or more cluster nodes), got "${v}"` });
      return z.NEVER;
    }),
  REDIS_CLUSTER_NODES: z
    .string()
    .optional()
    .transform((v) => (v?.trim() ? v.trim() : undefined))
    .refine((v) => v === undefined || isNodeList(v), {
      message: "REDIS_CLUSTER_NODES: expected host:port of one or more cluster nodes, comma-separated (e.g. 10.0.0.1:6379,10.0.0.2:6379)",
    }),
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,32}$/, "REDIS_KEY_PREFIX must be 1-32 characters of letters, digits, ':', '_' or '-'")
    .default("ub:"),
  USAGE_TIMEZONE: z
    .string()
    .default("Asia/Shanghai")
    .refine(isValidTimeZone, { message: "USAGE_TIMEZONE must be an IANA time zone such as Asia/Shanghai or UTC" }),
  USAGE_RAW_RETENTION_MONTHS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return undefined;
      const n = Number(v.trim());
      if (!/^\d+$/.test(v.trim()) || n < RAW_RETENTION_MIN_MONTHS || n > RAW_RETENTION_MAX_MONTHS) {
        ctx.addIssue({
          code: "custom",
          message: `USAGE_RAW_RETENTION_MONTHS must be a whole number of months from ${RAW_RETENTION_MIN_MONTHS} to ${RAW_RETENTION_MAX_MONTHS} (unset keeps every raw record), got "${v}"`,
        });
        return z.NEVER;
      }
      return n;
    }),
  PORT: int("PORT", 3000, 1, 65535),
  DB_POOL_MAX: int("DB_POOL_MAX", 10, 1, 200),
  DB_STATEMENT_TIMEOUT_MS: int("DB_STATEMENT_TIMEOUT_MS", 15000, 100, 600000),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  ADMIN_USERNAME: z
    .string()
    .regex(/^[A-Za-z0-9._@-]{1,64}$/, "ADMIN_USERNAME must be 1-64 characters of letters, digits, '.', '_', '@' or '-'")
    .default("admin"),
  ADMIN_PASSWORD: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return undefined;
      if (v.length < PASSWORD_MIN_LENGTH || v.length > PASSWORD_MAX_LENGTH) {
        // Never echo the value: this message ends up in the start-up log.
        ctx.addIssue({ code: "custom", message: `ADMIN_PASSWORD must be ${PASSWORD_MIN_LENGTH}-${PASSWORD_MAX_LENGTH} characters long` });
        return z.NEVER;
      }
      return v;
    }),
  SESSION_IDLE_TIMEOUT_SECONDS: int("SESSION_IDLE_TIMEOUT_SECONDS", 24 * 3600, 60, 30 * 86400),
  SESSION_MAX_AGE_SECONDS: int("SESSION_MAX_AGE_SECONDS", 7 * 86400, 60, 365 * 86400),
  LOGIN_RATE_WINDOW_SECONDS: int("LOGIN_RATE_WINDOW_SECONDS", 900, 1, 86400),
  LOGIN_MAX_FAILURES_PER_IP: int("LOGIN_MAX_FAILURES_PER_IP", 20, 1, 100000),
  LOGIN_MAX_FAILURES_PER_USERNAME: int("LOGIN_MAX_FAILURES_PER_USERNAME", 10, 1, 100000),
  LOGIN_MAX_CONCURRENT_CHECKS: int("LOGIN_MAX_CONCURRENT_CHECKS", 2, 1, 64),
  TRUSTED_PROXIES: z
    .string()
    .optional()
    .transform((v, ctx): TrustedProxies => {
      const parsed = parseTrustedProxies(v);
      if (typeof parsed === "string") {
        ctx.addIssue({ code: "custom", message: `TRUSTED_PROXIES: ${parsed}; expected addresses or CIDR ranges, comma-separated` });
        return z.NEVER;
      }
      return parsed;
    }),
  PUBLIC_URL: optionalUrl("PUBLIC_URL", ["https:", "http:"]),
  COOKIE_SECURE: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "" || v.trim().toLowerCase() === "auto") return undefined;
      const s = v.trim().toLowerCase();
      if (["1", "true", "yes", "on"].includes(s)) return true;
      if (["0", "false", "no", "off"].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: `COOKIE_SECURE must be true, false or auto, got "${v}"` });
      return z.NEVER;
    }),
  REQUEST_TIMEOUT_MS: int("REQUEST_TIMEOUT_MS", 30000, 1000, 600000),
  HTTP_HEADERS_TIMEOUT_MS: int("HTTP_HEADERS_TIMEOUT_MS", 10000, 1000, 600000),
  HTTP_BODY_TIMEOUT_MS: int("HTTP_BODY_TIMEOUT_MS", 10000, 500, 600000),
  HTTP_MAX_CONCURRENT_BODIES: int("HTTP_MAX_CONCURRENT_BODIES", 32, 1, 10000),
  CSV_MAX_CONCURRENT_EXPORTS: int("CSV_MAX_CONCURRENT_EXPORTS", 4, 1, 64),
  CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN: int("CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN", 2, 1, 64),
  CONSOLE_REFRESH_SECONDS: int("CONSOLE_REFRESH_SECONDS", 30, 5, 3600),
  CRS_REDIS_URL: optionalUrl("CRS_REDIS_URL", ["redis:", "rediss:"]),
  CRS_TIMEZONE_OFFSET: int("CRS_TIMEZONE_OFFSET", 8, -12, 14),
  CRS_FOLLOW_IN_APP: bool("CRS_FOLLOW_IN_APP", true),
  CRS_POLL_INTERVAL_MS: int("CRS_POLL_INTERVAL_MS", 2000, 100, 600000),
  SUB2API_DATABASE_URL: optionalUrl("SUB2API_DATABASE_URL", ["postgres:", "postgresql:"]),
  SUB2API_SOURCE: sourceName("SUB2API_SOURCE", "sub2api"),
  SUB2API_FOLLOW_IN_APP: bool("SUB2API_FOLLOW_IN_APP", true),
  SUB2API_POLL_INTERVAL_MS: int("SUB2API_POLL_INTERVAL_MS", 2000, 100, 600000),
  NEWAPI_DATABASE_URL: relayDsn("NEWAPI_DATABASE_URL"),
  NEWAPI_LOG_DATABASE_URL: relayDsn("NEWAPI_LOG_DATABASE_URL"),
  NEWAPI_SOURCE: sourceName("NEWAPI_SOURCE", "newapi"),
  NEWAPI_FOLLOW_IN_APP: bool("NEWAPI_FOLLOW_IN_APP", true),
  NEWAPI_POLL_INTERVAL_MS: int("NEWAPI_POLL_INTERVAL_MS", 2000, 100, 600000),
  ALERT_EVALUATE_SECONDS: int("ALERT_EVALUATE_SECONDS", 30, 1, 60),
  ALERT_DELIVERY_TIMEOUT_MS: int("ALERT_DELIVERY_TIMEOUT_MS", 10000, 100, 120000),
  ALERT_DELIVERY_MAX_ATTEMPTS: int("ALERT_DELIVERY_MAX_ATTEMPTS", 5, 1, 20),
  ALERT_RETRY_BASE_SECONDS: int("ALERT_RETRY_BASE_SECONDS", 30, 1, 3600),
  ALERT_ALLOW_PRIVATE_TARGETS: z
    .string()
    .optional()
    .transform((v, ctx) => {
      const list = (v ?? "").split(",").map((s) => s.trim()).filter(Boolean);
      for (const cidr of list) {
        if (!isCidr(cidr)) {
          ctx.addIssue({ code: "custom", message: `ALERT_ALLOW_PRIVATE_TARGETS must be comma-separated addresses or CIDR ranges (e.g. 10.0.0.0/8,127.0.0.1/32,::1/128), got "${cidr}"` });
          return z.NEVER;
        }
      }
      return list;
    }),
  ALERT_SECRETS_KEY: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return undefined;
      const key = Buffer.from(v.trim(), "base64");
      if (key.length !== 32) {
        ctx.addIssue({ code: "custom", message: "ALERT_SECRETS_KEY must be 32 random bytes in base64 (openssl rand -base64 32)" });
        return z.NEVER;
      }
      return key;
    }),
  DISPLAY_CNY_PER_USD: z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return undefined;
      const n = Number(v);
      if (!/^\d+(\.\d{1,6})?$/.test(v.trim()) || !(n >= 0.01 && n <= 1000)) {
        ctx.addIssue({ code: "custom", message: `DISPLAY_CNY_PER_USD must be a number of yuan per US dollar from 0.01 to 1000 with at most 6 decimals (e.g. 7.2), got "${v}"` });
        return z.NEVER;
      }
      return n;
    }),
})
  // Two relays of one name would share a lease, a cursor and ids.
  .superRefine((e, ctx) => {
    if (e.NEWAPI_DATABASE_URL && e.SUB2API_DATABASE_URL && e.NEWAPI_SOURCE === e.SUB2API_SOURCE) {
      ctx.addIssue({ code: "custom", path: ["NEWAPI_SOURCE"], message: `NEWAPI_SOURCE and SUB2API_SOURCE are both "${e.NEWAPI_SOURCE}": each relay needs a source name of its own` });
    }
  })
  // The names the code uses; AppConfig is this output, so no field is declared twice.
  .transform((e) => ({
    nodeEnv: e.NODE_ENV,
    /** undefined: the embedded PGlite database in `pgliteDir`. */
    databaseUrl: e.DATABASE_URL,
    /** A streaming replica for the read path (stats, CSV); writes and the drainer stay on databaseUrl. */
    databaseReadUrl: e.DATABASE_READ_URL,
    postgresEnabled: e.POSTGRES_ENABLED,
    pgliteDir: e.PGLITE_DIR,
    /** REDIS_CLUSTER_NODES (when REDIS_URL is unset) becomes `redis-cluster://host:port,…`: server/redis.ts connects a Cluster. */
    redisUrl: e.REDIS_URL ?? (e.REDIS_CLUSTER_NODES ? `redis-cluster://${e.REDIS_CLUSTER_NODES.split(",").map((n) => n.trim()).join(",")}` : undefined),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    usageTimezone: e.USAGE_TIMEZONE,
    /**
     * Whole UTC months of raw usage_records kept besides the current one (server/maintenance/
     * retention.service.ts); undefined: every raw record is kept. Rollups are kept forever.
     */
    usageRawRetentionMonths: e.USAGE_RAW_RETENTION_MONTHS,
    port: e.PORT,
    dbPoolMax: e.DB_POOL_MAX,
    dbStatementTimeoutMs: e.DB_STATEMENT_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
    adminUsername: e.ADMIN_USERNAME,
    /** undefined: the first start generates one and logs it once (see server/auth/admin.service.ts). */
    adminPassword: e.ADMIN_PASSWORD,
    sessionIdleTimeoutSeconds: e.SESSION_IDLE_TIMEOUT_SECONDS,
    sessionMaxAgeSeconds: e.SESSION_MAX_AGE_SECONDS,
    loginRateWindowSeconds: e.LOGIN_RATE_WINDOW_SECONDS,
    loginMaxFailuresPerIp: e.LOGIN_MAX_FAILURES_PER_IP,
    loginMaxFailuresPerUsername: e.LOGIN_MAX_FAILURES_PER_USERNAME,
    /** Password checks (argon2) running at once for sign-ins; more wait briefly, then get 429. */
    loginMaxConcurrentChecks: e.LOGIN_MAX_CONCURRENT_CHECKS,
    /** Peers whose X-Forwarded-* headers are believed (none by default: the socket address counts). */
    trustedProxies: e.TRUSTED_PROXIES,
    /** The origin browsers use (https://usage.example.com): CSRF origin, Secure cookies and HSTS. */
    publicUrl: e.PUBLIC_URL,
    /** undefined ("auto"): Secure when PUBLIC_URL is https or the request came over HTTPS. */
    cookieSecure: e.COOKIE_SECURE,
    /** Deadline of every API request; past it the client gets 503 and the work is abandoned. */
    requestTimeoutMs: e.REQUEST_TIMEOUT_MS,
    /** How long a client may take to send a request's headers (Node's headersTimeout). */
    httpHeadersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
    /** … and its body, from the end of the headers; then 408 and the connection is closed. */
    httpBodyTimeoutMs: e.HTTP_BODY_TIMEOUT_MS,
    /** Request bodies being received at once in this process; more get 429 before they are read. */
    httpMaxConcurrentBodies: e.HTTP_MAX_CONCURRENT_BODIES,
    /**
     * CSV exports running at once in this process; each holds a pool connection while it streams,
     * so never more than DB_POOL_MAX − 1 (reads keep one).
     */
    csvMaxConcurrentExports: Math.min(e.CSV_MAX_CONCURRENT_EXPORTS, Math.max(1, e.DB_POOL_MAX - 1)),
    /** … and per API token (or session). */
    csvMaxConcurrentExportsPerToken: e.CSV_MAX_CONCURRENT_EXPORTS_PER_TOKEN,
    /** How often the console refreshes figures that include today while its tab is visible. */
    consoleRefreshSeconds: e.CONSOLE_REFRESH_SECONDS,
    /** claude-relay-service's Redis to follow (server/sources/crs/follower.ts); undefined: no follower. */
    crsRedisUrl: e.CRS_REDIS_URL,
    /** CRS's TIMEZONE_OFFSET, used when its data cannot tell (CRS reads 0 as 8). */
    crsTimezoneOffset: e.CRS_TIMEZONE_OFFSET === 0 ? 8 : e.CRS_TIMEZONE_OFFSET,
    /** With CRS_REDIS_URL: the app process follows too (the worker always does). */
    crsFollowInApp: e.CRS_FOLLOW_IN_APP,
    crsPollIntervalMs: e.CRS_POLL_INTERVAL_MS,
    /** sub2api's PostgreSQL to follow, read-only (server/sources/sub2api/follower.ts); undefined: no follower. */
    sub2apiDatabaseUrl: e.SUB2API_DATABASE_URL,
    /** The source's name in the ledger (source_status, health, metrics, `sources` of accounts and keys). */
    sub2apiSource: e.SUB2API_SOURCE,
    /** With SUB2API_DATABASE_URL: the app process follows too (the worker always does). */
    sub2apiFollowInApp: e.SUB2API_FOLLOW_IN_APP,
    sub2apiPollIntervalMs: e.SUB2API_POLL_INTERVAL_MS,
    /** new-api's / one-api's database (MySQL, PostgreSQL or SQLite) to follow, read-only (server/sources/newapi/follower.ts); undefined: no follower. */
    newapiDatabaseUrl: e.NEWAPI_DATABASE_URL,
    /** Its logs' database when the relay keeps them apart (its LOG_SQL_DSN); undefined: in NEWAPI_DATABASE_URL. */
    newapiLogDatabaseUrl: e.NEWAPI_LOG_DATABASE_URL,
    /** The source name of its accounts, keys and events (ids `<source>-<id>`). */
    newapiSource: e.NEWAPI_SOURCE,
    /** With NEWAPI_DATABASE_URL: the app process follows too (the worker always does). */
    newapiFollowInApp: e.NEWAPI_FOLLOW_IN_APP,
    newapiPollIntervalMs: e.NEWAPI_POLL_INTERVAL_MS,
    /** Yuan per US dollar for the console's optional ¥ display; undefined: money is shown in USD only. Stored figures stay USD. */
    displayCnyPerUsd: e.DISPLAY_CNY_PER_USD,
    /** How often the one alert evaluator (a lease among the processes) evaluates the rules. */
    alertEvaluateSeconds: e.ALERT_EVALUATE_SECONDS,
    /** One delivery attempt's limit (connect, redirects and answer). */
    alertDeliveryTimeoutMs: e.ALERT_DELIVERY_TIMEOUT_MS,
    /** Attempts of a notification on a channel before it is marked failed. */
    alertDeliveryMaxAttempts: e.ALERT_DELIVERY_MAX_ATTEMPTS,
    /** Backoff before the 2nd attempt; doubled each time (capped at one hour). */
    alertRetryBaseSeconds: e.ALERT_RETRY_BASE_SECONDS,
    /** Addresses / CIDR ranges outbound alert requests may reach although private, loopback or link-local. */
    alertAllowPrivateTargets: e.ALERT_ALLOW_PRIVATE_TARGETS,
    /** AES-256-GCM key of the channels' secrets; undefined: a key generated once and kept in the database. */
    alertSecretsKey: e.ALERT_SECRETS_KEY,
  }));

export type AppConfig = z.output<typeof envSchema>;

export class ConfigError extends Error {
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(
      "Invalid configuration:\n" + problems.map((p) => `  - ${p.variable}: ${p.message}`).join("\n"),
    );
    this.name = "ConfigError";
  }
}

export function parseConfig(env: Record<string, string | undefined>): AppConfig {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? "env"), message: i.message })),
    );
  }
  return parsed.data;
}

let cached: AppConfig | undefined;

export function getConfig(): AppConfig {
  cached ??= parseConfig(process.env);
  return cached;
}

/**
 * What a child server a test starts inherits from this process and nothing more (its own settings
 * are given explicitly): where its executables and home are.
 */
export function childProcessBaseEnv(env: Record<string, string | undefined> = process.env): Record<string, string> {
  return { PATH: env.PATH ?? "", HOME: env.HOME ?? "" };
}

/**
 * Where tests find the shared PostgreSQL and Redis; every run makes its own database and key
 * prefix there. Read here so that tests, too, take their environment from this one module.
 */
export function getTestStores(env: Record<string, string | undefined> = process.env) {
  return {
    databaseUrl: env.TEST_DATABASE_URL || "postgres://postgres@127.0.0.1:5432/postgres",
    redisUrl: env.TEST_REDIS_URL || "redis://127.0.0.1:6379",
  };
}
