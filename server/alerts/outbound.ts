import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { isIP } from "node:net";
import { performance } from "node:perf_hooks";
import ipaddr from "ipaddr.js";
import { logger } from "../logger";

/**
 * The one HTTP client of alert deliveries: a POST an admin can aim anywhere, so it refuses every
 * address that is not public unicast (loopback, RFC 1918, CGNAT, link-local and the cloud metadata
 * address, unique-local, multicast, IPv4-mapped / NAT64 / 6to4 forms of those …) unless
 * ALERT_ALLOW_PRIVATE_TARGETS lets it through.
 *
 * The check runs in the socket's own `lookup`, on the addresses the socket then connects to, so a
 * name cannot resolve to a public address when checked and a private one when used (DNS
 * rebinding). IP literals skip lookup in node:net, so they are checked before the request. Every
 * redirect hop goes through the same path. ipaddr.js (the range table behind express's
 * proxy-addr) classifies addresses; anything it does not call "unicast" is refused.
 */

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to every address (tests inject one; the default is the system resolver). */
export type Resolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface OutboundOptions {
  /** Total time for every hop, the body read included. */
  timeoutMs: number;
  /** Addresses / CIDR ranges reachable although not public (ALERT_ALLOW_PRIVATE_TARGETS). */
  allowPrivate: readonly string[];
  resolve?: Resolver;
  /** Redirects followed (each re-validated); default 3. */
  maxRedirects?: number;
  /** Bytes of the response body kept; the rest is dropped. Default 64 KiB. */
  maxBodyBytes?: number;
}

export interface OutboundRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface OutboundResponse {
  status: number;
  /** The body as UTF-8, at most maxBodyBytes. */
  body: string;
  truncated: boolean;
}

export type OutboundErrorKind = "refused" | "timeout" | "network" | "redirect" | "invalid_url";

/** A failed send. The message names the host at most, never the path or query (tokens live there). */
export class OutboundError extends Error {
  constructor(
    readonly kind: OutboundErrorKind,
    message: string,
  ) {
    super(message);
    this.name = "OutboundError";
  }
}

const RANGE_LABEL: Record<string, string> = {
  unspecified: "unspecified",
  broadcast: "broadcast",
  multicast: "multicast",
  linkLocal: "link-local",
  loopback: "loopback",
  carrierGradeNat: "carrier-grade NAT",
  private: "private",
  uniqueLocal: "unique-local",
  reserved: "reserved",
};

type Cidr = [ipaddr.IPv4 | ipaddr.IPv6, number];

const parsedAllowances = new Map<string, Cidr[]>();

function allowances(list: readonly string[]): Cidr[] {
  const key = list.join(",");
  let parsed = parsedAllowances.get(key);
  if (!parsed) {
    parsed = [];
    for (const entry of list) {
      try {
        const addr = entry.includes("/") ? undefined : ipaddr.parse(entry);
        parsed.push(addr ? [addr, addr.kind() === "ipv4" ? 32 : 128] : ipaddr.parseCIDR(entry));
      } catch {
        // config.ts checks the shape only; an entry ipaddr.js cannot read allows nothing.
        logger.warn(`[alerts] ALERT_ALLOW_PRIVATE_TARGETS: "${entry}" is not an address or CIDR range; ignored`);
      }
    }
    parsedAllowances.set(key, parsed);
  }
  return parsed;
}

/**
 * Why an address may not be reached, or undefined when it may: public unicast, or inside one of
 * the allowed ranges. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.
 */
export function refusalReason(address: string, allowPrivate: readonly string[]): string | undefined {
  if (!ipaddr.isValid(address)) return `${address} is not an IP address`;
  const addr = ipaddr.process(address);
  for (const [net, bits] of allowances(allowPrivate)) {
    if (net.kind() === addr.kind() && addr.match([net, bits] as never)) return undefined;
  }
  const range = addr.range();
  if (range === "unicast") return undefined;
  const what = RANGE_LABEL[range] ?? `special-purpose (${range})`;
  return `${address} is a ${what} address; set ALERT_ALLOW_PRIVATE_TARGETS to allow it`;
}

const systemResolver: Resolver = async (hostname) =>
  (await dnsLookup(hostname, { all: true, verbatim: true })).map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));

/** A socket lookup that only ever hands node:net addresses it may connect to. */
function guardedLookup(resolve: Resolver, allowPrivate: readonly string[]): LookupFunction {
  return (hostname, options, callback) => {
    // One refused address refuses the name: a name that points inside is not a public receiver.
    resolve(hostname).then(
      (all) => {
        const refused = all.map((a) => refusalReason(a.address, allowPrivate)).find((r) => r !== undefined);
        if (refused) return callback(new OutboundError("refused", `refused ${hostname}: ${refused}`), "", 4);
        if (all.length === 0) return callback(new OutboundError("network", `${hostname} has no address`), "", 4);
        const wanted = options.family === 4 || options.family === 6 ? all.filter((a) => a.family === options.family) : all;
        if (wanted.length === 0) return callback(new OutboundError("network", `${hostname} has no IPv${options.family} address`), "", 4);
        if (options.all) (callback as unknown as (e: null, list: ResolvedAddress[]) => void)(null, wanted);
        else callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(new OutboundError("network", `cannot resolve ${hostname} (${err.code ?? err.message})`), "", 4),
    );
  };
}

function parseTarget(raw: string | URL): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new OutboundError("invalid_url", "the target is not a valid URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new OutboundError("invalid_url", `only http: and https: targets are allowed, not ${url.protocol}`);
  if (url.username || url.password) throw new OutboundError("invalid_url", "the target URL must not carry a user name or password");
  return url;
}

/** The host of a URL without IPv6 brackets. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, "$1");

interface Hop {
  status: number;
  location: string | undefined;
  body: Buffer;
  truncated: boolean;
}

function oneHop(url: URL, method: "POST" | "GET", req: OutboundRequest, opts: Required<Omit<OutboundOptions, "resolve">> & { resolve: Resolver }, deadline: number): Promise<Hop> {
  const host = bareHost(url);
  if (isIP(host)) {
    const reason = refusalReason(host, opts.allowPrivate);
    if (reason) return Promise.reject(new OutboundError("refused", `refused: ${reason}`));
  }
  const remaining = Math.max(1, deadline - performance.now());
  return new Promise<Hop>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, hop?: Hop) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        r.destroy();
        reject(err instanceof OutboundError ? err : new OutboundError("network", `${url.host}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      } else resolve(hop!);
    };
    const headers: Record<string, string> = { ...req.headers };
    if (method === "GET") {
      for (const h of Object.keys(headers)) if (/^content-/i.test(h)) delete headers[h];
    } else headers["content-length"] = String(Buffer.byteLength(req.body));
    const client = url.protocol === "https:" ? https : http;
    // agent: false — a fresh socket per request, so every connection went through guardedLookup.
    const r = client.request(url, { method, headers, agent: false, lookup: guardedLookup(opts.resolve, opts.allowPrivate) }, (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let truncated = false;
      res.on("data", (chunk: Buffer) => {
        if (kept < opts.maxBodyBytes) {
          const part = chunk.subarray(0, opts.maxBodyBytes - kept);
          chunks.push(part);
          kept += part.length;
        }
        if (kept >= opts.maxBodyBytes && !truncated) {
          truncated = true;
          // Enough to judge the answer: stop reading a receiver that keeps talking.
          finish(undefined, { status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks), truncated });
          res.destroy();
        }
      });
      res.on("end", () => finish(undefined, { status: res.statusCode ?? 0, location: res.headers.location, body: Buffer.concat(chunks), truncated }));
      res.on("error", (err) => finish(err));
      res.on("close", () => finish(new OutboundError("network", `${url.host}: the connection closed before the answer ended`)));
    });
    r.on("error", (err) => finish(err));
    const timer = setTimeout(() => finish(new OutboundError("timeout", `${url.host}: no complete answer within ${opts.timeoutMs} ms`)), remaining);
    if (method === "POST") r.end(req.body);
    else r.end();
  });
}

/**
 * POSTs `req.body` to `req.url`, following up to `maxRedirects` redirects (307 / 308 repeat the
 * POST, 301 / 302 / 303 turn into a GET, as browsers do), each hop checked like the first.
 * Resolves with any HTTP answer (the caller judges the status); rejects with an OutboundError.
 */
export async function postOutbound(req: OutboundRequest, options: OutboundOptions): Promise<OutboundResponse> {
  const opts = {
    timeoutMs: options.timeoutMs,
    allowPrivate: options.allowPrivate,
    resolve: options.resolve ?? systemResolver,
    maxRedirects: options.maxRedirects ?? 3,
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
  };
  const deadline = performance.now() + opts.timeoutMs;
  let url = parseTarget(req.url);
  let method: "POST" | "GET" = "POST";
  for (let redirects = 0; ; redirects++) {
    const hop = await oneHop(url, method, req, opts, deadline);
    if (![301, 302, 303, 307, 308].includes(hop.status) || hop.location === undefined) {
      return { status: hop.status, body: hop.body.toString("utf8"), truncated: hop.truncated };
    }
    if (redirects >= opts.maxRedirects) throw new OutboundError("redirect", `more than ${opts.maxRedirects} redirects (last from ${url.host})`);
    let next: URL;
    try {
      next = new URL(hop.location, url);
    } catch {
      throw new OutboundError("redirect", `${url.host} redirected to an invalid URL`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new OutboundError("redirect", `${url.host} redirected to a ${next.protocol} URL`);
    url = parseTarget(next);
    if (hop.status !== 307 && hop.status !== 308) method = "GET";
  }
}
