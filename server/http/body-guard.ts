import { randomUUID } from "node:crypto";
import http from "node:http";
import { SESSION_COOKIE } from "./session-cookie";

/**
 * Request bodies, decided on the headers before Next.js reads a byte. Next.js's proxy layer
 * (proxy.ts) buffers a body whole before any route or authentication runs (issue 19: 150
 * connections each sending 10 MB without credentials took the server from 188 MB to 1.69 GB), so
 * the guard sits below it, on the Node HTTP server's 'request' event, like the forwarded-header
 * guard (forwarded.ts):
 * - a body without credentials (no session cookie, no Bearer token) is answered 401 unread,
 *   except signing in and out, whose bodies may be small (PUBLIC_MAX_BODY_BYTES);
 * - a body must declare its length (411 otherwise) and the length must be within the API's limit
 *   (413 otherwise), so nothing is counted as it streams;
 * - at most `maxConcurrentBodies` bodies are being received at once (429 with Retry-After);
 * - a body must have arrived `bodyTimeoutMs` after its headers (408 and the connection closed);
 *   the server's headersTimeout / requestTimeout bound the headers (Node checks them every 30 s).
 * What it lets through is checked again by the routes (credentials, the per-route limits).
 *
 * It runs from instrumentation.ts, after `next start` is listening: a request that arrived before
 * is not guarded, but the proxy's own buffer limit (next.config.mjs, the API's limit) and, once the
 * guard is in, the server's timeouts still bound it.
 */

export interface BodyGuardLimits {
  /** The API's body limit (1 MiB): what a request with credentials may send. */
  maxBodyBytes: number;
  headersTimeoutMs: number;
  bodyTimeoutMs: number;
  maxConcurrentBodies: number;
  /** `next dev`: its own tools (the error overlay's /__nextjs_* endpoints) post without our cookie. */
  development?: boolean;
}

/** The bodies anyone may send without credentials: signing in and out. */
const PUBLIC_BODY_PATHS = new Set(["/admin/auth/login", "/admin/auth/logout", "/api/trpc/auth.login", "/api/trpc/auth.logout"]);
/** Their limit: a login form or its JSON is far smaller. */
export const PUBLIC_MAX_BODY_BYTES = 16 * 1024;
/**
 * A refused body up to this size is left for Node to read and drop after the answer, on a
 * connection it keeps, so the client surely reads the answer; a larger one closes the connection.
 */
const DRAIN_MAX_BYTES = 64 * 1024;

export interface Refusal {
  status: 401 | 411 | 413 | 429;
  code: "UNAUTHORIZED" | "LENGTH_REQUIRED" | "PAYLOAD_TOO_LARGE" | "TOO_MANY_REQUESTS";
  message: string;
  retryAfterSeconds?: number;
}

type Headers = http.IncomingHttpHeaders;

function hasCredentials(headers: Headers): boolean {
  if (/^Bearer +\S/i.test(headers.authorization ?? "")) return true;
  for (const part of (headers.cookie ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE && part.slice(eq + 1).trim() !== "") return true;
  }
  return false;
}

function pathOf(url: string | undefined): string {
  try {
    return new URL(url ?? "/", "http://guard.invalid").pathname;
  } catch {
    return "";
  }
}

/** The declared body length: 0 without a body, NaN for a body of unknown length (chunked). */
export function declaredLength(headers: Headers): number {
  if (headers["transfer-encoding"] !== undefined) return NaN;
  const n = Number(headers["content-length"] ?? 0);
  return Number.isSafeInteger(n) && n >= 0 ? n : NaN;
}

/** What to answer a request with a body before reading it, or undefined to let it through. */
export function judgeBody(req: Pick<http.IncomingMessage, "url" | "headers">, limits: BodyGuardLimits, bodiesInFlight: number): Refusal | undefined {
  const length = declaredLength(req.headers);
  if (length === 0) return undefined;
  const path = pathOf(req.url);
  const credentials = hasCredentials(req.headers) || (limits.development === true && path.startsWith("/__nextjs_"));
  if (!credentials && !PUBLIC_BODY_PATHS.has(path)) {
    return { status: 401, code: "UNAUTHORIZED", message: "Authentication required: send a session cookie or an Authorization: Bearer token (the body was not read)" };
  }
  if (Number.isNaN(length)) {
    return { status: 411, code: "LENGTH_REQUIRED", message: "A request body needs a Content-Length header (chunked bodies are not accepted)" };
  }
  const max = credentials ? limits.maxBodyBytes : PUBLIC_MAX_BODY_BYTES;
  if (length > max) return { status: 413, code: "PAYLOAD_TOO_LARGE", message: `Request body is ${length} bytes; the limit is ${max}` };
  if (bodiesInFlight >= limits.maxConcurrentBodies) {
    return {
      status: 429,
      code: "TOO_MANY_REQUESTS",
      message: `The server is receiving ${bodiesInFlight} request bodies, the most it takes at once (HTTP_MAX_CONCURRENT_BODIES); retry shortly`,
      retryAfterSeconds: 1,
    };
  }
  return undefined;
}

function errorBody(code: string, message: string, requestId: string): string {
  return JSON.stringify({ success: false, error: { code, message, requestId } });
}

function requestIdOf(req: http.IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return (typeof given === "string" && given.slice(0, 64)) || randomUUID();
}

function refuse(req: http.IncomingMessage, res: http.ServerResponse, r: Refusal, bodyTimeoutMs: number): void {
  const requestId = requestIdOf(req);
  const body = errorBody(r.code, r.message, requestId);
  const length = declaredLength(req.headers);
  res.writeHead(r.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "x-request-id": requestId,
    ...(r.retryAfterSeconds !== undefined ? { "retry-after": String(r.retryAfterSeconds) } : {}),
    ...(length <= DRAIN_MAX_BYTES ? {} : { connection: "close" }),
  });
  res.end(body);
  if (length <= DRAIN_MAX_BYTES) {
    // The small body Node now reads and drops must not trickle for ever either.
    const timer = setTimeout(() => setImmediate(() => req.complete || req.socket.destroy()), bodyTimeoutMs);
    timer.unref();
    req.once("end", () => clearTimeout(timer));
    req.once("close", () => clearTimeout(timer));
  }
}

/** The raw 408 Node itself writes when requestTimeout passes, with our JSON body. */
function timedOut(req: http.IncomingMessage, res: http.ServerResponse, ms: number): void {
  const socket = req.socket;
  if (!res.headersSent && socket.writable) {
    const body = errorBody("REQUEST_TIMEOUT", `The request body did not arrive within ${ms} ms (HTTP_BODY_TIMEOUT_MS)`, requestIdOf(req));
    socket.write(
      `HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

interface GuardState {
  limits: BodyGuardLimits;
  inFlight: number;
  configured: WeakSet<http.Server>;
}

const INSTALLED = Symbol.for("usage-breakdown.body-guard");

/** Gives one request with a body a place among those being received, and a time limit. */
function admit(state: GuardState, req: http.IncomingMessage, res: http.ServerResponse): void {
  state.inFlight++;
  const ms = state.limits.bodyTimeoutMs;
  let counted = true;
  const release = () => {
    if (!counted) return;
    counted = false;
    state.inFlight--;
  };
  const timer = setTimeout(() => {
    release();
    // After this turn's I/O: a timer that fires late (a busy loop, a paused process) must not
    // blame the client for bytes already waiting in the socket. Arrived whole and not yet read
    // is the app's time, not the client's.
    setImmediate(() => req.complete || timedOut(req, res, ms));
  }, ms);
  timer.unref();
  const done = () => {
    release();
    clearTimeout(timer);
  };
  req.once("end", done);
  req.once("close", done);
  // Answered before the body ended: Node reads the rest to drop it, bounded by the timer.
  res.once("close", release);
}

/** The server's own timeouts, set once per server: Node checks them every 30 s. */
function configure(state: GuardState, server: http.Server): void {
  if (state.configured.has(server)) return;
  state.configured.add(server);
  server.headersTimeout = state.limits.headersTimeoutMs;
  server.requestTimeout = state.limits.headersTimeoutMs + state.limits.bodyTimeoutMs;
}

/**
 * Installs the guard on every HTTP server of this process (the one `next start` created
 * included), before the server's own request listeners; a second call only replaces the limits.
 */
export function installBodyGuard(limits: BodyGuardLimits): void {
  const proto = http.Server.prototype as http.Server & { [INSTALLED]?: GuardState };
  const existing = proto[INSTALLED];
  if (existing) {
    existing.limits = limits;
    return;
  }
  const state: GuardState = { limits, inFlight: 0, configured: new WeakSet() };
  proto[INSTALLED] = state;
  const emit = proto.emit;
  proto.emit = function guardedEmit(this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === "connection" || event === "request") configure(state, this);
    if (event === "request") {
      const [req, res] = args as [http.IncomingMessage, http.ServerResponse];
      if (declaredLength(req.headers) !== 0) {
        const refusal = judgeBody(req, state.limits, state.inFlight);
        if (refusal) {
          refuse(req, res, refusal, state.limits.bodyTimeoutMs);
          return true;
        }
        admit(state, req, res);
      }
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof proto.emit;
}
