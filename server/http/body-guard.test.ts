import http from "node:http";
import net from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApiToken } from "../auth/token.service";
import { createRuntime, type Runtime } from "../runtime";
import { buildOnce, startNextServer, type NextServer } from "../testing/next-server";
import { createTestDatabase, testConfig, type TestDatabase } from "../testing/stores";
import { judgeBody, PUBLIC_MAX_BODY_BYTES } from "./body-guard";
import { DEFAULT_MAX_BODY_BYTES } from "./limits";

/**
 * Issue 19, item 1, against the production server (`next start`, NODE_ENV=production) on
 * loopback: a stranger cannot make it hold request bodies. Bodies without credentials are refused
 * (401) before a byte of them is read, a body past the API's limit is refused on its declared
 * length (413), slow bodies are cut at HTTP_BODY_TIMEOUT_MS (408) and at most
 * HTTP_MAX_CONCURRENT_BODIES are read at once (429) — and signed-in work goes on meanwhile.
 */

const BODY_TIMEOUT_MS = 2_000;
const MAX_BODIES = 8;
const TEN_MB = 10 * 1024 * 1024;

let tdb: TestDatabase;
let runtime: Runtime;
let server: NextServer;
let read: string;
let write: string;

beforeAll(async () => {
  buildOnce();
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, REDIS_URL: "" }), { ownDatabase: true });
  read = (await createApiToken(runtime, { name: "flood reader", scope: "usage:read" })).token;
  write = (await createApiToken(runtime, { name: "flood writer", scope: "usage:write" })).token;
  server = await startNextServer({
    DATABASE_URL: tdb.url,
    REDIS_URL: "",
    ADMIN_PASSWORD: "body-guard-Passw0rd!",
    LOG_LEVEL: "warn",
    HTTP_HEADERS_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    HTTP_BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS),
    HTTP_MAX_CONCURRENT_BODIES: String(MAX_BODIES),
  });
}, 600_000);

afterAll(async () => {
  if (process.env.BODY_GUARD_SERVER_LOG) console.info(server?.output());
  await server?.stop();
  await runtime?.close();
  await tdb?.drop();
});

interface RawResult {
  status?: number;
  headers: Record<string, string>;
  body: string;
  /** ms from connecting until the answer was complete or the connection ended. */
  endedAfterMs: number;
  /** The server closed the connection (rather than we, after a complete answer). */
  closedByServer: boolean;
}

interface RawRequest {
  done: Promise<RawResult>;
  destroy(): void;
}

/**
 * One HTTP/1.1 request on a socket of its own: the head, then `send` body bytes as fast as the
 * server takes them (or one byte per `trickleMs`), and never the rest.
 */
function rawRequest(head: string, o: { send: number; trickleMs?: number }): RawRequest {
  const socket = net.connect(server.port, "127.0.0.1");
  const started = Date.now();
  let raw = "";
  let closedByUs = false;
  let sent = 0;
  let timer: NodeJS.Timeout | undefined;
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  const pump = () => {
    while (sent < o.send && !socket.destroyed) {
      const n = Math.min(chunk.length, o.send - sent);
      sent += n;
      if (!socket.write(chunk.subarray(0, n))) return void socket.once("drain", pump);
    }
  };
  socket.on("connect", () => {
    socket.write(head);
    if (o.trickleMs === undefined) return pump();
    timer = setInterval(() => {
      if (sent >= o.send || socket.destroyed) return clearInterval(timer);
      sent++;
      socket.write(" ");
    }, o.trickleMs);
  });
  socket.on("data", (b: Buffer) => {
    raw += b.toString("latin1");
    // A complete answer on a connection the server keeps: we are done with it.
    if (parse(raw).complete) {
      closedByUs = true;
      socket.destroy();
    }
  });
  socket.on("error", () => {});
  const done = new Promise<RawResult>((resolve) =>
    socket.on("close", () => {
      clearInterval(timer);
      const p = parse(raw);
      resolve({ status: p.status, headers: p.headers, body: p.body, endedAfterMs: Date.now() - started, closedByServer: !closedByUs });
    }),
  );
  return {
    done,
    destroy: () => {
      closedByUs = true;
      socket.destroy();
    },
  };
}

function parse(raw: string): { status?: number; headers: Record<string, string>; body: string; complete: boolean } {
  const end = raw.indexOf("\r\n\r\n");
  if (end < 0) return { headers: {}, body: "", complete: false };
  const [statusLine = "", ...lines] = raw.slice(0, end).split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines) headers[l.slice(0, l.indexOf(":")).toLowerCase()] = l.slice(l.indexOf(":") + 1).trim();
  let rest = raw.slice(end + 4);
  let bytes = "";
  let complete: boolean;
  if (headers["transfer-encoding"] === "chunked") {
    complete = false;
    for (let eol = rest.indexOf("\r\n"); eol >= 0; eol = rest.indexOf("\r\n")) {
      const size = parseInt(rest.slice(0, eol), 16);
      if (size === 0) complete = true;
      if (!(size > 0) || rest.length < eol + 2 + size) break;
      bytes += rest.slice(eol + 2, eol + 2 + size);
      rest = rest.slice(eol + 4 + size);
    }
  } else {
    bytes = rest;
    complete = bytes.length >= Number(headers["content-length"] ?? Infinity);
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: Buffer.from(bytes, "latin1").toString("utf8"), complete };
}

/** The result of a raw request, or a failure naming what did not happen within `ms`. */
function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

const postHead = (path: string, length: number | "chunked", extra: Record<string, string> = {}) =>
  `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nContent-Type: application/json\r\n` +
  (length === "chunked" ? "Transfer-Encoding: chunked\r\n" : `Content-Length: ${length}\r\n`) +
  Object.entries(extra)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join("") +
  "\r\n";

const agent = new http.Agent({ keepAlive: true, maxSockets: 2 });

/** A signed-in read: the status and how long it took. */
function timedRead(): Promise<{ status: number; ms: number }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(`${server.baseUrl}/admin/accounts/usage-stats`, { agent, headers: { authorization: `Bearer ${read}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error("no answer in 10 s")));
    req.on("error", reject);
  });
}

interface FloodReport {
  statuses: Record<string, number>;
  elapsedMs: number;
  rssBeforeMiB: number;
  rssPeakMiB: number;
  reads: number[];
}

/**
 * `total` connections or more, `concurrent` at a time, each sending `head` and then `send` body
 * bytes, until at least MIN_READS signed-in reads (one after another) were answered meanwhile;
 * the server's memory is sampled every 50 ms. Ends when every connection has ended, or fails
 * after `boundMs` or once memory grew past `maxGrowthMiB`.
 */
const MIN_READS = 10;

async function flood(head: string, o: { send: number; concurrent: number; total: number; boundMs: number; maxGrowthMiB: number }): Promise<FloodReport> {
  for (let i = 0; i < 20; i++) await timedRead(); // JIT, pools and caches warm before the baseline
  const rssBefore = server.rssBytes();
  const t0 = Date.now();
  let rssPeak = rssBefore;
  const statuses: Record<string, number> = {};
  const open = new Set<RawRequest>();
  let started = 0;
  let stop: string | undefined;
  const reads: number[] = [];
  const connections = (async () => {
    await Promise.all(
      Array.from({ length: o.concurrent }, async () => {
        while (!stop && (started < o.total || reads.length < MIN_READS) && started < 5 * o.total) {
          started++;
          const r = rawRequest(head, { send: o.send });
          open.add(r);
          const result = await r.done;
          open.delete(r);
          const key = result.status ? String(result.status) : "closed without an answer";
          statuses[key] = (statuses[key] ?? 0) + 1;
        }
      }),
    );
  })();
  let finished = false;
  void connections.then(() => (finished = true));
  const reader = (async () => {
    while (!finished && !stop) {
      const r = await timedRead();
      expect(r.status).toBe(200);
      reads.push(r.ms);
    }
  })();
  const until = Date.now() + o.boundMs;
  while (!finished) {
    rssPeak = Math.max(rssPeak, server.rssBytes());
    if ((rssPeak - rssBefore) / 2 ** 20 > o.maxGrowthMiB) stop = `memory grew by more than ${o.maxGrowthMiB} MiB`;
    else if (Date.now() > until) stop = `the flood did not end within ${o.boundMs} ms (${open.size} connections still open)`;
    if (stop) {
      for (const r of open) r.destroy();
      break;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  await connections;
  await reader;
  const report = { statuses, elapsedMs: Date.now() - t0, rssBeforeMiB: Math.round(rssBefore / 2 ** 20), rssPeakMiB: Math.round(rssPeak / 2 ** 20), reads };
  console.info(`[body-guard] ${started} × ${head.split(" ")[1]}: ${JSON.stringify(statuses)}; memory ${report.rssBeforeMiB} → peak ${report.rssPeakMiB} MiB; ${reads.length} reads, slowest ${Math.round(Math.max(0, ...reads))} ms`);
  if (stop) throw new Error(`${stop}; answers so far ${JSON.stringify(statuses)}, memory ${report.rssBeforeMiB} → ${report.rssPeakMiB} MiB`);
  return report;
}

describe("what the guard decides on the headers", () => {
  const limits = { maxBodyBytes: DEFAULT_MAX_BODY_BYTES, headersTimeoutMs: 1000, bodyTimeoutMs: 1000, maxConcurrentBodies: 2 };
  const judge = (url: string, headers: Record<string, string>, inFlight = 0) => judgeBody({ url, headers }, limits, inFlight)?.status;

  it("lets requests without a body through, whoever sends them", () => {
    expect(judge("/admin/usage", {})).toBeUndefined();
    expect(judge("/admin/usage", { "content-length": "0" })).toBeUndefined();
  });

  it("refuses a body without a session cookie or Bearer token, but for signing in and out", () => {
    expect(judge("/admin/usage", { "content-length": "10" })).toBe(401);
    expect(judge("/admin/usage", { "content-length": "10", authorization: "Basic dXNlcjpwYXNz" })).toBe(401);
    expect(judge("/admin/usage", { "content-length": "10", cookie: "ub_session=; lang=en" })).toBe(401);
    expect(judge("/admin/usage", { "content-length": "10", cookie: "lang=en; ub_session=abc" })).toBeUndefined();
    expect(judge("/admin/usage", { "content-length": "10", authorization: "Bearer ubk_x" })).toBeUndefined();
    for (const url of ["/admin/auth/login", "/admin/auth/logout", "/api/trpc/auth.login?batch=1", "/api/trpc/auth.logout"]) expect(judge(url, { "content-length": "10" }), url).toBeUndefined();
    expect(judge("/admin/auth/login/../../usage", { "content-length": "10" })).toBe(401);
    expect(judge("/api/trpc/auth.login,usage.record", { "content-length": "10" })).toBe(401);
    // next dev's error overlay posts to its own endpoints without our cookie; production has none.
    expect(judge("/__nextjs_original-stack-frames", { "content-length": "10" })).toBe(401);
    expect(judgeBody({ url: "/__nextjs_original-stack-frames", headers: { "content-length": "10" } }, { ...limits, development: true }, 0)).toBeUndefined();
  });

  it("needs a length within the limit: the API's with credentials, a login's without", () => {
    const bearer = { authorization: "Bearer ubk_x" };
    expect(judge("/admin/usage", { ...bearer, "transfer-encoding": "chunked" })).toBe(411);
    expect(judge("/admin/usage", { ...bearer, "content-length": String(DEFAULT_MAX_BODY_BYTES) })).toBeUndefined();
    expect(judge("/admin/usage", { ...bearer, "content-length": String(DEFAULT_MAX_BODY_BYTES + 1) })).toBe(413);
    expect(judge("/admin/auth/login", { "content-length": String(PUBLIC_MAX_BODY_BYTES) })).toBeUndefined();
    expect(judge("/admin/auth/login", { "content-length": String(PUBLIC_MAX_BODY_BYTES + 1) })).toBe(413);
  });

  it("takes at most maxConcurrentBodies at once", () => {
    expect(judge("/admin/usage", { "content-length": "10", authorization: "Bearer ubk_x" }, 1)).toBeUndefined();
    expect(judgeBody({ url: "/admin/usage", headers: { "content-length": "10", authorization: "Bearer ubk_x" } }, limits, 2)).toMatchObject({ status: 429, retryAfterSeconds: 1 });
  });
});

describe("request bodies on the production server", () => {
  it("the proxy buffers no more than the API's body limit", async () => {
    const mod = (await import(pathToFileURL(path.resolve(import.meta.dirname, "../../next.config.mjs")).href)) as { default: (phase: string) => unknown };
    const config = mod.default("phase-production-server") as { experimental?: { proxyClientMaxBodySize?: unknown } };
    expect(config.experimental?.proxyClientMaxBodySize).toBe(DEFAULT_MAX_BODY_BYTES);
  });

  it("a flood of 10 MB bodies without credentials is refused unread: memory stays flat, signed-in reads answer in < 1 s", async () => {
    // The review's flood: 150 connections at once, each declaring 10 MB and sending 10 MB − 1.
    const report = await flood(postHead("/admin/usage", TEN_MB), { send: TEN_MB - 1, concurrent: 150, total: 600, boundMs: 60_000, maxGrowthMiB: 150 });
    // Every connection ended at once; those whose client was still uploading when the server
    // closed may miss the answer (the reset discards it), the others read 401.
    expect(Object.keys(report.statuses).filter((s) => s !== "401" && s !== "closed without an answer")).toEqual([]);
    expect(report.statuses["401"]).toBeGreaterThan(0);
    expect(report.rssPeakMiB - report.rssBeforeMiB).toBeLessThan(150);
    expect(report.reads.length).toBeGreaterThanOrEqual(MIN_READS);
    expect(Math.max(...report.reads)).toBeLessThan(1000);
  }, 120_000);

  it("with a Bearer header (checked only after the body), at most HTTP_MAX_CONCURRENT_BODIES are read; the rest get 429 at once", async () => {
    // Declared at the limit, sent but for its last byte: the admitted ones are cut at the timeout.
    const report = await flood(postHead("/admin/usage", DEFAULT_MAX_BODY_BYTES, { authorization: "Bearer ubk_not_a_real_token" }), {
      send: DEFAULT_MAX_BODY_BYTES - 1,
      concurrent: 150,
      total: 300,
      boundMs: 60_000,
      maxGrowthMiB: 150,
    });
    expect(Object.keys(report.statuses).filter((s) => !["408", "429", "closed without an answer"].includes(s))).toEqual([]);
    expect(report.statuses["429"]).toBeGreaterThan(0);
    // Each admitted body is cut at the timeout: per timeout period, at most MAX_BODIES were read.
    expect(report.statuses["408"]).toBeGreaterThanOrEqual(1);
    expect(report.statuses["408"]).toBeLessThanOrEqual(MAX_BODIES * (Math.floor(report.elapsedMs / BODY_TIMEOUT_MS) + 1));
    expect(report.rssPeakMiB - report.rssBeforeMiB).toBeLessThan(150);
    expect(Math.max(...report.reads)).toBeLessThan(1000);
  }, 120_000);

  it("cuts a body trickling in a byte at a time at HTTP_BODY_TIMEOUT_MS (408)", async () => {
    const trickle = rawRequest(postHead("/admin/usage", 1000, { authorization: `Bearer ${write}` }), { send: 1000, trickleMs: 100 });
    const r = await within(20_000, "a trickling body", trickle.done).finally(() => trickle.destroy());
    // 2 s plus the server's reaction; it was 300 s and more (Node's requestTimeout).
    expect(r.endedAfterMs).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS);
    expect(r.endedAfterMs).toBeLessThan(BODY_TIMEOUT_MS + 5_000);
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body)).toMatchObject({ success: false, error: { code: "REQUEST_TIMEOUT", message: expect.stringMatching(/HTTP_BODY_TIMEOUT_MS/) } });
  });

  it("refuses at once, on the headers alone, a declared body past the limit (413) and one without a length (411)", async () => {
    const answer = async (head: string) => {
      const r = rawRequest(head, { send: 0 });
      return within(10_000, head.split("\r\n")[0]!, r.done).finally(() => r.destroy());
    };
    const tooLarge = await answer(postHead("/admin/usage", TEN_MB, { authorization: `Bearer ${write}` }));
    expect(tooLarge.status).toBe(413);
    expect(JSON.parse(tooLarge.body)).toMatchObject({ error: { code: "PAYLOAD_TOO_LARGE", message: expect.stringMatching(/1048576/) } });
    const oneOver = await answer(postHead("/admin/usage", DEFAULT_MAX_BODY_BYTES + 1, { authorization: `Bearer ${write}` }));
    expect(oneOver.status).toBe(413);
    const loginTooLarge = await answer(postHead("/admin/auth/login", 64 * 1024));
    expect(loginTooLarge.status).toBe(413);
    const chunked = await answer(postHead("/admin/usage", "chunked", { authorization: `Bearer ${write}` }));
    expect(chunked.status).toBe(411);
    expect(JSON.parse(chunked.body)).toMatchObject({ error: { code: "LENGTH_REQUIRED" } });
  });

  it("answers a small body without credentials with a complete 401 on a connection it keeps", async () => {
    const body = JSON.stringify({ events: [] });
    const r = rawRequest(postHead("/admin/usage", Buffer.byteLength(body)) + body, { send: 0 });
    const answered = await within(10_000, "a small unauthenticated body", r.done);
    // Closed by us once the answer was complete: the server kept the connection.
    expect(answered.closedByServer).toBe(false);
    expect(answered.status).toBe(401);
    expect(answered.headers.connection).not.toBe("close");
    expect(JSON.parse(answered.body)).toMatchObject({ success: false, error: { code: "UNAUTHORIZED" } });
  });

  it("lets signed-in and signing-in clients through: sign-in, sign-out with a cookie, ingest", async () => {
    const login = await fetch(`${server.baseUrl}/admin/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.baseUrl },
      body: JSON.stringify({ username: "admin", password: "body-guard-Passw0rd!" }),
    });
    expect(login.status).toBe(200);
    const cookie = login.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
    expect(cookie).toMatch(/ub_session=/);
    const logout = await fetch(`${server.baseUrl}/admin/auth/logout`, { method: "POST", headers: { cookie, origin: server.baseUrl, "content-type": "application/json" }, body: "{}" });
    expect(logout.status).toBe(200);
    const event = { requestId: "guard-1", accountId: "acc-guard", apiKeyId: "k", model: "m", occurredAt: new Date().toISOString(), inputTokens: 1, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "0.01" };
    const ingest = await fetch(`${server.baseUrl}/admin/usage`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${write}` }, body: JSON.stringify({ events: [event] }) });
    expect(ingest.status).toBe(202);
  });
});
