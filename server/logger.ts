/**
 * Minimal structured logger. Never pass secrets (passwords, tokens, session ids, hashed keys):
 * redact() masks any value whose key looks like one.
 */
import { getConfig } from "./config";
import { HTTP_STATUS, type AppError } from "./errors";

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40 } as const;
type Level = keyof typeof LEVELS;
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|session|hashed_?key|api_?key$/i;

export function redact(value: unknown, depth = 0): unknown {
  if (depth > 4 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEY.test(k) ? "[redacted]" : redact(v, depth + 1);
  return out;
}

/**
 * A connection URL fit for a log: the password of `user:pass@` and every query parameter that
 * looks like a secret (`?password=…`, which ioredis honours) masked.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) if (SECRET_KEY.test(k) || /^(pass|pwd|auth)$/i.test(k)) u.searchParams.set(k, "***");
    return u.toString().replace(/%2A%2A%2A/g, "***");
  } catch {
    return url.replace(/\/\/[^@/]*@/, "//***@").replace(/([?&][^=&]*(pass|pwd|auth|secret|token)[^=&]*=)[^&#]*/gi, "$1***");
  }
}

function threshold(): number {
  try {
    return LEVELS[getConfig().logLevel];
  } catch {
    return LEVELS.info;
  }
}

function write(level: Level, msg: string, fields?: Record<string, unknown>) {
  if (LEVELS[level] < threshold()) return;
  const line = fields ? `${msg} ${JSON.stringify(redact(fields))}` : msg;
  if (level === "error") console.error(line);
  else if (level === "warn") console.warn(line);
  else console.log(line);
}

export const logger = {
  debug: (msg: string, fields?: Record<string, unknown>) => write("debug", msg, fields),
  info: (msg: string, fields?: Record<string, unknown>) => write("info", msg, fields),
  warn: (msg: string, fields?: Record<string, unknown>) => write("warn", msg, fields),
  error: (msg: string, fields?: Record<string, unknown>) => write("error", msg, fields),
};

/**
 * One line for a request that ended with an error the code meant to answer (an AppError other than
 * INTERNAL: unknown account, bad input, 401 …): its code, status and message, no stack — a 404 is
 * a visitor's mistake, not a bug, and the terminal it lands in may show the admin password. An
 * UNAVAILABLE store is worth a warning. Unknown errors are logged by their callers with the stack.
 */
export function logExpectedError(where: string, err: AppError, fields?: Record<string, unknown>): void {
  const line = `${where} ${err.code} (${HTTP_STATUS[err.code]}): ${err.message}`;
  if (err.code === "UNAVAILABLE") logger.warn(line, fields);
  else logger.info(line, fields);
}
