import http from "node:http";
import { BlockList, isIP } from "node:net";

/**
 * Which peers may speak for a client. `next start` fills X-Forwarded-For/-Host/-Proto only when a
 * request does not carry them, so without this guard any client could claim any address (and
 * defeat the per-address sign-in limit), any host (and pass the Origin check) or HTTPS. The guard
 * removes those headers from every request whose socket peer is not one of TRUSTED_PROXIES, before
 * Next.js sees it; Next.js then sets them from the socket itself. Pure parts are exported for tests.
 */

/** The headers a proxy may set about the client; dropped when the peer is not a trusted proxy. */
export const FORWARDING_HEADERS = ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded", "x-real-ip"] as const;

export interface TrustedProxies {
  list: BlockList;
  /** The configured entries, for messages and the README's examples. */
  entries: string[];
}

/**
 * Parses TRUSTED_PROXIES: a comma-separated list of addresses and CIDR ranges
 * ("10.0.0.0/8, 192.168.1.10, fd00::/8"); "loopback" stands for 127.0.0.0/8 and ::1.
 * Returns the problem as a string for config.ts to report.
 */
export function parseTrustedProxies(spec: string | undefined): TrustedProxies | string {
  const list = new BlockList();
  const entries: string[] = [];
  for (const raw of (spec ?? "").split(",")) {
    const entry = raw.trim();
    if (!entry) continue;
    if (entry === "loopback") {
      list.addSubnet("127.0.0.0", 8, "ipv4");
      list.addAddress("::1", "ipv6");
      entries.push(entry);
      continue;
    }
    const [addr = "", bits, extra] = entry.split("/");
    const family = isIP(addr);
    if (!family || extra !== undefined) return `"${entry}" is not an IP address or CIDR range`;
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(addr, type);
    else {
      const prefix = Number(bits);
      if (!/^\d{1,3}$/.test(bits) || prefix > (family === 4 ? 32 : 128)) return `"${entry}" has an invalid prefix length`;
      list.addSubnet(addr, prefix, type);
    }
    entries.push(entry);
  }
  return { list, entries };
}

/** "::ffff:10.0.0.1" (an IPv4 peer on a dual-stack socket) → "10.0.0.1". */
export function plainAddress(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

export function isTrusted(trusted: TrustedProxies, address: string | undefined): boolean {
  if (!address || trusted.entries.length === 0) return false;
  const a = plainAddress(address);
  const family = isIP(a);
  return family !== 0 && trusted.list.check(a, family === 4 ? "ipv4" : "ipv6");
}

/** Removes the forwarding headers of a request from an untrusted peer; true when it removed any. */
export function stripUntrustedForwarding(headers: http.IncomingHttpHeaders, peer: string | undefined, trusted: TrustedProxies): boolean {
  if (isTrusted(trusted, peer)) return false;
  let removed = false;
  for (const name of FORWARDING_HEADERS) {
    if (headers[name] !== undefined) {
      delete headers[name];
      removed = true;
    }
  }
  return removed;
}

/**
 * The client address: the right-most X-Forwarded-For entry that is not a trusted proxy. With the
 * guard installed, an untrusted peer's header was replaced by its socket address, so this is
 * either that address or what the trusted proxies in front of us saw.
 */
export function clientAddress(forwardedFor: string | null, trusted: TrustedProxies): string {
  const hops = (forwardedFor ?? "")
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = plainAddress(hops[i]!);
    if (i === 0 || !isTrusted(trusted, hop)) return hop.slice(0, 64);
  }
  return "unknown";
}

const INSTALLED = Symbol.for("usage-breakdown.forwarded-guard");

/**
 * Installs the guard on every HTTP server of this process (the one `next start` / `next dev`
 * created included): runs before the server's own request listeners. Called from
 * instrumentation.ts at start-up; a second call only replaces the trusted list.
 */
export function installForwardedHeaderGuard(trusted: TrustedProxies): void {
  const proto = http.Server.prototype as http.Server & { [INSTALLED]?: { trusted: TrustedProxies } };
  const existing = proto[INSTALLED];
  if (existing) {
    existing.trusted = trusted;
    return;
  }
  const state = { trusted };
  proto[INSTALLED] = state;
  const emit = proto.emit;
  proto.emit = function guardedEmit(this: http.Server, event: string | symbol, ...args: unknown[]) {
    if (event === "request") {
      const req = args[0] as http.IncomingMessage;
      stripUntrustedForwarding(req.headers, req.socket?.remoteAddress, state.trusted);
    }
    return emit.apply(this, [event, ...args] as Parameters<typeof emit>);
  } as typeof proto.emit;
}
