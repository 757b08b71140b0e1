import { BlockList, isIP } from "node:net";

/**
 * TRUSTED_PROXIES: the peers whose X-Forwarded-* headers are believed, and the client address they
 * give. Parsed by server/config.ts, used by server/http/forwarded.ts (the guard) and auth's rate
 * limits; pure and below all of them, so config imports nothing above it.
 */

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

/**
 * The client address: the right-most X-Forwarded-For entry that is not a trusted proxy. With the
 * guard of server/http/forwarded.ts installed, an untrusted peer's header was replaced by its
 * socket address, so this is either that address or what the trusted proxies in front of us saw.
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
