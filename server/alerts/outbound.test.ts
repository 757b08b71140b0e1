import { afterEach, describe, expect, it } from "vitest";
import { startReceiver, type Receiver } from "./channels/receiver.fixtures";
import { OutboundError, postOutbound, refusalReason, type Resolver } from "./outbound";

const LOOPBACK = ["127.0.0.1/32"];
const receivers: Receiver[] = [];
afterEach(async () => {
  for (const r of receivers.splice(0)) await r.close();
});

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

const post = (url: string, opts: Partial<Parameters<typeof postOutbound>[1]> = {}) =>
  postOutbound({ url, headers: { "content-type": "application/json" }, body: '{"a":1}' }, { timeoutMs: 15_000, allowPrivate: [], ...opts });

async function refusal(p: Promise<unknown>): Promise<OutboundError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundError);
  return err as OutboundError;
}

describe("refusalReason", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.0.9", "loopback"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "carrier-grade NAT"],
    ["169.254.169.254", "link-local"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["224.0.0.1", "multicast"],
    ["255.255.255.255", "broadcast"],
    ["::1", "loopback"],
    ["::", "unspecified"],
    ["fe80::1", "link-local"],
    ["fc00::1", "unique-local"],
    ["fd12:3456::1", "unique-local"],
    ["ff02::1", "multicast"],
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:169.254.169.254", "link-local"],
    ["::ffff:10.0.0.1", "private"],
  ])("refuses %s (%s)", (addr, what) => {
    expect(refusalReason(addr, [])).toBe(`${addr} is a ${what} address; set ALERT_ALLOW_PRIVATE_TARGETS to allow it`);
  });

  it("refuses NAT64, 6to4 and documentation ranges, which can hide an internal IPv4 address", () => {
    expect(refusalReason("64:ff9b::a00:1", [])).toMatch(/special-purpose \(rfc6052\)/);
    expect(refusalReason("2002:a00:1::1", [])).toMatch(/special-purpose \(6to4\)/);
    expect(refusalReason("2001:db8::1", [])).toMatch(/reserved/);
  });

  it("lets public unicast through", () => {
    for (const a of ["8.8.8.8", "1.1.1.1", "203.0.114.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) expect(refusalReason(a, [])).toBeUndefined();
  });

  it("lets the allowed ranges through, and only them", () => {
    const allow = ["10.0.0.0/8", "127.0.0.1", "fd00::/8"];
    expect(refusalReason("10.9.8.7", allow)).toBeUndefined();
    expect(refusalReason("::ffff:10.9.8.7", allow)).toBeUndefined();
    expect(refusalReason("127.0.0.1", allow)).toBeUndefined();
    expect(refusalReason("fd00::5", allow)).toBeUndefined();
    expect(refusalReason("127.0.0.2", allow)).toMatch(/loopback/);
    expect(refusalReason("192.168.0.1", allow)).toMatch(/private/);
    expect(refusalReason("169.254.169.254", allow)).toMatch(/link-local/);
  });
});

describe("postOutbound", () => {
  it("refuses 127.0.0.1 without the allowance, before any connection", async () => {
    const r = await receiver();
    const err = await refusal(post(`${r.origin}/hook?token=s3cr3t`));
    expect(err.kind).toBe("refused");
    expect(err.message).toBe("refused: 127.0.0.1 is a loopback address; set ALERT_ALLOW_PRIVATE_TARGETS to allow it");
    expect(r.connections).toBe(0);
  });

  it("refuses ::1 (http://[::1]/) before any connection", async () => {
    const r = await receiver(undefined, "::1").catch(() => undefined);
    const origin = r ? r.origin : "http://[::1]:9";
    const err = await refusal(post(`${origin}/`));
    expect(err.message).toBe("refused: ::1 is a loopback address; set ALERT_ALLOW_PRIVATE_TARGETS to allow it");
    if (r) expect(r.connections).toBe(0);
  });

  it("refuses the metadata address 169.254.169.254", async () => {
    const err = await refusal(post("http://169.254.169.254/latest/meta-data/"));
    expect(err.kind).toBe("refused");
    expect(err.message).toMatch(/^refused: 169\.254\.169\.254 is a link-local address/);
  });

  it("refuses a name that resolves to 10.x, checking the address the socket would connect to", async () => {
    const asked: string[] = [];
    const resolve: Resolver = async (host) => {
      asked.push(host);
      return [{ address: "10.1.2.3", family: 4 }];
    };
    const err = await refusal(post("https://hooks.internal.example/x?key=abcdef", { resolve }));
    expect(err.kind).toBe("refused");
    expect(err.message).toBe("refused hooks.internal.example: 10.1.2.3 is a private address; set ALERT_ALLOW_PRIVATE_TARGETS to allow it");
    expect(err.message).not.toContain("abcdef");
    expect(asked).toEqual(["hooks.internal.example"]);
  });

  it("refuses a name when any of its addresses is internal", async () => {
    const resolve: Resolver = async () => [
      { address: "93.184.216.34", family: 4 },
      { address: "127.0.0.1", family: 4 },
    ];
    const err = await refusal(post("http://mixed.example/", { resolve }));
    expect(err.message).toMatch(/^refused mixed\.example: 127\.0\.0\.1 is a loopback address/);
  });

  it("refuses localhost by resolution", async () => {
    const r = await receiver();
    const port = new URL(r.origin).port;
    const err = await refusal(post(`http://localhost:${port}/`, { resolve: async () => [{ address: "127.0.0.1", family: 4 }] }));
    expect(err.kind).toBe("refused");
    expect(r.connections).toBe(0);
  });

  it("sends to 127.0.0.1 when allowed, by IP and by a name resolving to it", async () => {
    const r = await receiver(() => ({ status: 201, body: "created" }));
    const res = await post(`${r.origin}/in?x=1`, { allowPrivate: LOOPBACK });
    expect(res).toEqual({ status: 201, body: "created", truncated: false });
    const port = new URL(r.origin).port;
    const named = await post(`http://receiver.test:${port}/named`, { allowPrivate: LOOPBACK, resolve: async () => [{ address: "127.0.0.1", family: 4 }] });
    expect(named.status).toBe(201);
    expect(r.received.map((x) => [x.method, x.url, x.body, x.headers["content-length"], x.headers.host])).toEqual([
      ["POST", "/in?x=1", '{"a":1}', "7", `127.0.0.1:${port}`],
      ["POST", "/named", '{"a":1}', "7", `receiver.test:${port}`],
    ]);
  });

  it("refuses a redirect from an allowed receiver to the metadata address", async () => {
    const r = await receiver(() => ({ status: 307, headers: { location: "http://169.254.169.254/latest/meta-data/" } }));
    const err = await refusal(post(`${r.origin}/hook`, { allowPrivate: LOOPBACK }));
    expect(err.kind).toBe("refused");
    expect(err.message).toMatch(/^refused: 169\.254\.169\.254 is a link-local address/);
    expect(r.received).toHaveLength(1);
  });

  it("refuses a redirect to a name resolving to a private address", async () => {
    const r = await receiver(() => ({ status: 302, headers: { location: "http://intranet.example/admin" } }));
    const err = await refusal(post(`${r.origin}/hook`, { allowPrivate: LOOPBACK, resolve: async () => [{ address: "192.168.1.10", family: 4 }] }));
    expect(err.message).toMatch(/^refused intranet\.example: 192\.168\.1\.10 is a private address/);
  });

  it("follows 308 with the same POST, 303 as a GET, at most 3 redirects", async () => {
    const r = await receiver((req) => {
      if (req.url === "/a") return { status: 308, headers: { location: "/b" } };
      if (req.url === "/b") return { status: 303, headers: { location: "/c" } };
      return { status: 200, body: "done" };
    });
    const res = await post(`${r.origin}/a`, { allowPrivate: LOOPBACK });
    expect(res.body).toBe("done");
    expect(r.received.map((x) => [x.method, x.url, x.body])).toEqual([
      ["POST", "/a", '{"a":1}'],
      ["POST", "/b", '{"a":1}'],
      ["GET", "/c", ""],
    ]);
    const loop = await receiver((req) => ({ status: 307, headers: { location: `${req.url}x` } }));
    const err = await refusal(post(`${loop.origin}/`, { allowPrivate: LOOPBACK }));
    expect(err.kind).toBe("redirect");
    expect(loop.received.map((x) => x.url)).toEqual(["/", "/x", "/xx", "/xxx"]);
  });

  it("refuses non-http schemes, also as a redirect target", async () => {
    expect((await refusal(post("ftp://example.com/x"))).kind).toBe("invalid_url");
    expect((await refusal(post("file:///etc/passwd"))).kind).toBe("invalid_url");
    const r = await receiver(() => ({ status: 302, headers: { location: "file:///etc/passwd" } }));
    expect((await refusal(post(`${r.origin}/`, { allowPrivate: LOOPBACK }))).kind).toBe("redirect");
  });

  it("gives up on a receiver that never answers, within the timeout", async () => {
    const r = await receiver(() => "hang");
    const started = Date.now();
    const err = await refusal(post(`${r.origin}/slow?token=zzz`, { allowPrivate: LOOPBACK, timeoutMs: 200 }));
    expect(err.kind).toBe("timeout");
    expect(err.message).toBe(`${new URL(r.origin).host}: no complete answer within 200 ms`);
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("keeps at most maxBodyBytes of the answer", async () => {
    const r = await receiver(() => ({ status: 200, body: "x".repeat(100_000) }));
    const res = await post(`${r.origin}/`, { allowPrivate: LOOPBACK, maxBodyBytes: 1024 });
    expect(res.body).toBe("x".repeat(1024));
    expect(res.truncated).toBe(true);
  });

  it("names the host, never the path or query, when the connection fails", async () => {
    const r = await receiver();
    const origin = r.origin;
    await r.close();
    receivers.length = 0;
    const err = await refusal(post(`${origin}/robot/send?access_token=TOPSECRET`, { allowPrivate: LOOPBACK }));
    expect(err.kind).toBe("network");
    expect(err.message).toBe(`${new URL(origin).host}: ECONNREFUSED`);
  });
});

describe("ALERT_ALLOW_PRIVATE_TARGETS entries ipaddr.js cannot read", () => {
  it("allow nothing, and do not break the check", () => {
    expect(refusalReason("127.0.0.1", ["1:2:3", "127.0.0.1/32"])).toBeUndefined();
    expect(refusalReason("10.0.0.1", ["1:2:3"])).toMatch(/private/);
    expect(refusalReason("not-an-ip", [])).toBe("not-an-ip is not an IP address");
  });
});
