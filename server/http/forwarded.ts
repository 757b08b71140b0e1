import http from "node:http";
import { isTrusted, type TrustedProxies } from "../trusted-proxies";


/**
 * Which peers may speak for a client. `next start` fills X-Forwarded-For/-Host/-Proto only when a
 * request does not carry them, so without this guard any client could claim any address (and
 * defeat the per-address sign-in limit), any host (and pass the Origin check) or HTTPS. The guard
 * removes those headers from every request whose socket peer is not one of TRUSTED_PROXIES, before
 * Next.js sees it; Next.js then sets them from the socket itself. Pure parts are exported for tests.
 */

/** The headers a proxy may set about the client; dropped when the peer is not a trusted proxy. */
export const FORWARDING_HEADERS = ["x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded", "x-real-ip"] as const;

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
