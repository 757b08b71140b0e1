import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { clientAddress, parseTrustedProxies, type TrustedProxies } from "../trusted-proxies";
import { installForwardedHeaderGuard, stripUntrustedForwarding } from "./forwarded";

const trust = (spec: string) => parseTrustedProxies(spec) as TrustedProxies;

describe("TRUSTED_PROXIES", () => {
  it("parses addresses, CIDR ranges and 'loopback', and names what it cannot parse", () => {
    const t = trust("10.0.0.0/8, 192.168.1.10 ,fd00::/8,loopback");
    expect(t.entries).toEqual(["10.0.0.0/8", "192.168.1.10", "fd00::/8", "loopback"]);
    expect(parseTrustedProxies("10.0.0.0/33")).toBe('"10.0.0.0/33" has an invalid prefix length');
    expect(parseTrustedProxies("proxy.internal")).toBe('"proxy.internal" is not an IP address or CIDR range');
    expect(parseTrustedProxies("")).toMatchObject({ entries: [] });
  });

  it("strips forwarding headers unless the peer is trusted (IPv4-mapped peers too)", () => {
    const t = trust("10.0.0.0/8");
    const headers = () => ({ "x-forwarded-for": "1.2.3.4", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https", forwarded: "for=1.2.3.4", "x-real-ip": "1.2.3.4", host: "a" });
    const fromStranger = headers();
    expect(stripUntrustedForwarding(fromStranger, "203.0.113.5", t)).toBe(true);
    expect(fromStranger).toEqual({ host: "a" });
    const fromProxy = headers();
    expect(stripUntrustedForwarding(fromProxy, "::ffff:10.1.2.3", t)).toBe(false);
    expect(fromProxy).toEqual(headers());
    const noTrust = headers();
    stripUntrustedForwarding(noTrust, "10.1.2.3", trust(""));
    expect(noTrust).toEqual({ host: "a" });
  });

  it("finds the client behind a chain of trusted proxies", () => {
    const t = trust("10.0.0.0/8");
    expect(clientAddress("198.51.100.1, 10.0.0.5, 10.0.0.6", t)).toBe("198.51.100.1");
    expect(clientAddress("forged, 198.51.100.1, 10.0.0.6", t)).toBe("198.51.100.1");
    expect(clientAddress("10.0.0.5", t)).toBe("10.0.0.5");
    expect(clientAddress(null, t)).toBe("unknown");
  });
});

describe("the guard on a real HTTP server", () => {
  let server: http.Server;
  let port: number;
  beforeAll(async () => {
    installForwardedHeaderGuard(trust(""));
    server = http.createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(req.headers));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => server.close(r)));

  async function echo(localAddress: string): Promise<Record<string, string>> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port, path: "/", localAddress, headers: { "x-forwarded-for": "6.6.6.6", "x-forwarded-host": "evil.example", "x-forwarded-proto": "https" } },
        (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve(JSON.parse(body) as Record<string, string>));
        },
      );
      req.on("error", reject);
      req.end();
    });
  }

  it("drops what a client claims before any listener sees it, and believes a configured proxy", async () => {
    const stranger = await echo("127.0.0.2");
    expect(stranger["x-forwarded-for"]).toBeUndefined();
    expect(stranger["x-forwarded-host"]).toBeUndefined();
    expect(stranger["x-forwarded-proto"]).toBeUndefined();

    installForwardedHeaderGuard(trust("127.0.0.3"));
    const proxy = await echo("127.0.0.3");
    expect(proxy["x-forwarded-for"]).toBe("6.6.6.6");
    expect(proxy["x-forwarded-host"]).toBe("evil.example");
    expect((await echo("127.0.0.2"))["x-forwarded-for"]).toBeUndefined();
  });
});
