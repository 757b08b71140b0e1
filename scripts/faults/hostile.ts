import fc from "fast-check";
import { createSession } from "../../server/auth/session.service";
import { ensureAdminUser } from "../../server/auth/admin.service";
import { revokeApiToken, createApiToken } from "../../server/auth/token.service";
import { SESSION_COOKIE } from "../../server/auth/http";
import { sleep, World, type Servers } from "./harness";
import { reportOf, type ScenarioReport } from "./scenarios";

/**
 * Scenario 6: property-based hostile input. fast-check generates requests across every route,
 * each made invalid on purpose (or carrying bad credentials); every answer must be a 4xx with a
 * JSON error (401/403 for credentials), never a 5xx, the app must stay up, and the stored totals
 * must not move.
 */

/** A JSON token written verbatim (NaN, 1e400, a 30-decimal number …). */
class Raw {
  constructor(readonly text: string) {}
}

function serialize(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_, v) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `__RAW_${raws.length - 1}__`;
    }
    return v;
  });
  return text.replace(/"__RAW_(\d+)__"/g, (_, i) => raws[Number(i)]!);
}

const INJECTIONS = [
  "' OR '1'='1",
  "'; DROP TABLE usage_records; --",
  "\"; SELECT pg_sleep(10); --",
  "1 UNION SELECT * FROM api_tokens",
  "$(rm -rf /)",
  "`id`",
  "<script>alert(1)</script>",
  "{{7*7}}",
  "${jndi:ldap://x/a}",
  "../../../../etc/passwd",
  "%00",
  "\\x00",
  "*\r\nSET x 1\r\n",
  "EVAL \"return redis.call('FLUSHALL')\" 0",
  "{a:}",
  "a}:{b",
  "__proto__",
  "constructor",
];

const hostileText = fc.oneof(
  fc.constantFrom(...INJECTIONS),
  fc.constantFrom("\u0000", "a\u0000b", "\ud800", "x\udfffy", "\u202e\u0000", "\uffff"),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constant("x".repeat(5000)),
);

/** Values that are certainly not acceptable for the given event field. */
const badFor: Record<string, fc.Arbitrary<unknown>> = {
  requestId: fc.oneof(fc.constantFrom("", "a\u0000", "\ud800x", "r".repeat(129), null, 12, true, {}, []), fc.constant(new Raw("NaN"))),
  accountId: fc.constantFrom("", "acc\u0000", "\udc00", "a".repeat(129), null, 7, [], { $gt: "" }),
  apiKeyId: fc.constantFrom("", "k\u0000", "\ud83d", "k".repeat(129), null, false, ["x"]),
  model: fc.constantFrom("", "m\u0000", "\ud800", "m".repeat(129), 0, {}),
  occurredAt: fc.constantFrom(
    "2026-02-30T00:00:00Z",
    "2026-13-01T00:00:00Z",
    "2026-00-10T00:00:00Z",
    "2025-02-29T12:00:00Z",
    "2026-04-31T08:00:00+08:00",
    "2026-01-01T25:00:00Z",
    "2026-01-01T23:61:00Z",
    "2026-01-01T23:59:60Z",
    "0000-00-00T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2999-01-01T00:00:00Z",
    "2026-01-01",
    "2026-01-01T00:00:00",
    "yesterday",
    "",
    1767225600000,
    null,
  ),
  inputTokens: fc.oneof(
    fc.constantFrom(-1, -0.5, 1.5, 1e13, 1e300, "100", null, true, [], {}),
    fc.integer({ min: -1_000_000, max: -1 }),
    fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.constantFrom(new Raw("NaN"), new Raw("Infinity"), new Raw("-Infinity"), new Raw("1e400"), new Raw("9007199254740993"), new Raw("0x10"), new Raw("1e13")),
  ),
  outputTokens: fc.constantFrom(-7, 2.25, 1_000_000_000_001, "1", null, new Raw("1e400"), new Raw("-0.0001")),
  cacheCreateTokens: fc.constantFrom(-1, 0.1, Number.MAX_VALUE, "0", {}, new Raw("NaN")),
  cacheReadTokens: fc.constantFrom(-2, 3.5, 1e15, "", [1], new Raw("-Infinity")),
  requests: fc.constantFrom(-1, 0.5, 1_000_001, "2", {}, new Raw("1e400")),
  cost: fc.oneof(
    fc.constantFrom(
      "0.123456789012345678901234567890",
      // (A JSON *number* with 30 decimals is valid since issue 13: it is rounded to 8. The string stays strict.)
      "-0.01",
      -0.01,
      "1000000.00000001",
      1e7,
      "1e-3",
      "0x10",
      "NaN",
      "Infinity",
      " 1.5",
      "1.5 ",
      "1,5",
      "",
      ".5",
      "01.5",
      "0.000000001",
      null,
      true,
      {},
      [],
      new Raw("NaN"),
      new Raw("1e400"),
    ),
    fc.string({ maxLength: 10 }).filter((s) => !/^(0|[1-9]\d{0,6})(\.\d{1,8})?$/.test(s)),
  ),
  metadata: fc.constantFrom(
    "not an object",
    42,
    [1, 2],
    { "k\u0000": 1 },
    { v: "\ud800" },
    { big: "x".repeat(5000) },
    nested(40),
    nested(17),
  ),
  costBreakdown: fc.constantFrom("x", 1, [], { a: "\u0000" }, nested(30)),
  ephemeral5mTokens: fc.constantFrom(-1, 0.5, "5", new Raw("NaN")),
  ephemeral1hTokens: fc.constantFrom(-3, 7.7, "x"),
};
const UNKNOWN_KEYS = ["extra", "__proto__", "constructor", "accountID", "cost_usd", "$where", "requestid"];

function nested(depth: number): Record<string, unknown> {
  let v: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < depth; i++) v = { n: v };
  return v;
}

/** Percent-encoding that also takes lone surrogates (sent as the bytes of U+FFFD). */
function enc(s: string): string {
  try {
    return encodeURIComponent(s);
  } catch {
    return [...Buffer.from(s, "utf8")].map((b) => "%" + b.toString(16).padStart(2, "0").toUpperCase()).join("");
  }
}

let hostileSeq = 0;
function validEvent(w: World): Record<string, unknown> {
  const acc = w.accounts[hostileSeq % w.accounts.length]!;
  return {
    requestId: `hostile-${++hostileSeq}`,
    occurredAt: new Date(Date.now() - 60_000).toISOString(),
    accountId: acc,
    apiKeyId: w.keysOf.get(acc)![0]!,
    model: "claude-sonnet-4",
    inputTokens: 10,
    outputTokens: 5,
    cacheCreateTokens: 0,
    cacheReadTokens: 0,
    cost: "0.001",
  };
}

/** One invalid event: a valid one with 1-3 fields broken (or an unknown field / a missing one). */
const brokenEvent = (w: World) =>
  fc
    .array(
      fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom(...Object.keys(badFor)).chain((f) => badFor[f]!.map((v) => ({ kind: "set" as const, f, v }))) },
        { weight: 1, arbitrary: fc.constantFrom(...UNKNOWN_KEYS).map((f) => ({ kind: "unknown" as const, f, v: 1 as unknown })) },
        { weight: 1, arbitrary: fc.constantFrom("requestId", "occurredAt", "accountId", "apiKeyId", "model", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "cost").map((f) => ({ kind: "drop" as const, f, v: undefined as unknown })) },
      ),
      { minLength: 1, maxLength: 3 },
    )
    .map((muts) => () => {
      const e = validEvent(w);
      for (const m of muts) {
        if (m.kind === "drop") delete e[m.f];
        else if (m.kind === "unknown") Object.defineProperty(e, m.f, { value: m.v, enumerable: true, configurable: true, writable: true });
        else e[m.f] = m.v;
      }
      return e;
    });

type Expect = "4xx" | "auth" | "no5xx";
interface Case {
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: () => string | Buffer | ReadableStream<Uint8Array>;
  expect: Expect;
}

interface Creds {
  write: string;
  read: string;
  admin: string;
  revoked: string;
  expiredCookie: string;
}

const READ_PATHS = (w: World) => {
  const acc = w.accounts[0]!;
  return [
    "/admin/accounts/usage-stats",
    `/admin/accounts/${acc}/usage-stats`,
    `/admin/accounts/${acc}/usage-breakdown`,
    "/admin/accounts",
    "/admin/api-keys",
  ];
};

const BAD_QUERIES = [
  "range=custom",
  "range=custom&start=2026-01-10&end=2026-01-01",
  "range=custom&start=2020-01-01&end=2026-01-01",
  "range=daily&date=2026-02-30",
  "range=daily&date=2026-13-01",
  "range=monthly&month=2026-13",
  "range=weekly",
  "range=daily&month=2026-01",
  "limit=-1",
  "limit=0",
  "limit=1.5",
  "limit=1e400",
  "limit=NaN",
  "limit=99999999999999999999",
  "offset=-5",
  "offset=abc",
  "sort=password",
  "sort=name;DROP TABLE accounts",
  "order=sideways",
  "tz=Mars/Phobos",
  "tz=" + "A".repeat(100),
  "format=xml",
  "format=csv&limit=10",
  "unknown=1",
  "limit=10&limit=20",
  "page=0",
  "page=-1",
  "pageSize=100000",
  "includeDeleted=maybe",
  "search=%00",
  "search=" + "s".repeat(300),
  "status=%00",
];

function caseArb(w: World, c: Creds): fc.Arbitrary<Case> {
  const json = { "content-type": "application/json" };
  const bearer = (t: string) => ({ authorization: `Bearer ${t}` });
  const ev = brokenEvent(w);
  const acc = w.accounts[0]!;

  // POST /admin/usage: a valid envelope whose every event is broken → 202 with everything rejected.
  const brokenBatch = fc.array(ev, { minLength: 1, maxLength: 30 }).map(
    (makers): Case => ({
      label: "usage: every event invalid",
      method: "POST",
      path: "/admin/usage",
      headers: { ...json, ...bearer(c.write) },
      body: () => serialize({ events: makers.map((m) => m()) }),
      expect: "4xx",
    }),
  );
  // Broken envelopes.
  const badEnvelope = fc
    .constantFrom<[string, () => string | Buffer]>(
      ["not json", () => "{events: [}"],
      ["truncated", () => '{"events":[{"requestId":"a"'],
      ["array body", () => "[]"],
      ["null body", () => "null"],
      ["number body", () => "42"],
      ["string body", () => '"events"'],
      ["events not array", () => '{"events":"x"}'],
      ["events object", () => '{"events":{"0":{}}}'],
      ["no events", () => "{}"],
      ["empty events", () => '{"events":[]}'],
      ["unknown top-level", () => '{"events":[{}],"dryRun":true}'],
      ["1001 events", () => serialize({ events: Array.from({ length: 1001 }, () => ({})) })],
      ["NaN literal", () => '{"events":[{"inputTokens":NaN}]}'],
      ["deeply nested array", () => "[".repeat(100_000) + "]".repeat(100_000)],
      ["deeply nested object", () => '{"a":'.repeat(50_000) + "1" + "}".repeat(50_000)],
      ["nested in events", () => '{"events":[' + "[".repeat(20_000) + "]".repeat(20_000) + "]}"],
      ["invalid UTF-8", () => Buffer.concat([Buffer.from('{"events":[{"requestId":"'), Buffer.from([0xff, 0xfe, 0xc3, 0x28]), Buffer.from('"}]}')])],
      ["overlong UTF-8 NUL", () => Buffer.concat([Buffer.from('{"events":[{"model":"'), Buffer.from([0xc0, 0x80]), Buffer.from('"}]}')])],
      ["lone surrogate bytes", () => Buffer.concat([Buffer.from('{"events":[{"model":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}]}')])],
      ["escaped NUL", () => '{"events":[{"requestId":"\\u0000"}]}'],
      ["proto pollution", () => '{"events":[{"__proto__":{"admin":true}}],"__proto__":{"x":1}}'],
      ["duplicate keys", () => '{"events":[],"events":[{}]}'],
      ["BOM", () => '\ufeff{"events":[{}]}'],
      ["empty", () => ""],
      ["whitespace", () => "   \n\t "],
    )
    .map(([label, body]): Case => ({ label: `usage envelope: ${label}`, method: "POST", path: "/admin/usage", headers: { ...json, ...bearer(c.write) }, body, expect: "4xx" }));
  const badContentType = fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/jsonp", "json").map(
    (type): Case => ({
      label: `usage content-type "${type}"`,
      method: "POST",
      path: "/admin/usage",
      headers: { ...(type ? { "content-type": type } : {}), ...bearer(c.write) },
      body: () => serialize({ events: [validEvent(w)].map((e) => ({ ...e, cost: -1 })) }),
      expect: "4xx",
    }),
  );

  // Credentials: missing, forged, revoked, expired, wrong scope; the body would be valid-looking.
  const authHeaders = fc.constantFrom<[string, Record<string, string>, Expect]>(
    ["no credentials", {}, "auth"],
    ["empty bearer", { authorization: "Bearer " }, "auth"],
    ["forged token", { authorization: "Bearer ubk_" + "A".repeat(43) }, "auth"],
    ["forged short token", { authorization: "Bearer ubk_x" }, "auth"],
    ["random bearer", { authorization: "Bearer eyJhbGciOiJub25lIn0.eyJzY29wZSI6ImFkbWluIn0." }, "auth"],
    ["basic auth", { authorization: "Basic YWRtaW46YWRtaW4=" }, "auth"],
    ["revoked token", { authorization: `Bearer ${c.revoked}` }, "auth"],
    ["expired session", { cookie: `${SESSION_COOKIE}=${c.expiredCookie}` }, "auth"],
    ["forged session", { cookie: `${SESSION_COOKIE}=${"f".repeat(64)}` }, "auth"],
    ["injection session", { cookie: `${SESSION_COOKIE}=' OR 1=1 --` }, "auth"],
    ["token case-changed", { authorization: `Bearer ${c.write.toUpperCase()}` }, "auth"],
    ["token in lowercase scheme", { authorization: `bearer ${c.write}x` }, "auth"],
  );
  const authCase = fc
    .tuple(
      authHeaders,
      fc.constantFrom<[string, string, boolean]>(
        ["POST", "/admin/usage", true],
        ["GET", "/admin/accounts/usage-stats", false],
        ["GET", `/admin/accounts/${acc}/usage-breakdown`, false],
        ["GET", `/admin/accounts/${acc}/usage-stats`, false],
        ["GET", "/admin/accounts", false],
        ["GET", "/admin/api-keys", false],
        ["PUT", `/admin/accounts/${acc}`, true],
        ["DELETE", `/admin/accounts/${acc}`, false],
        ["PUT", `/admin/api-keys/k-hostile`, true],
        ["DELETE", `/admin/api-keys/${w.keysOf.get(acc)![0]}`, false],
        ["GET", "/admin/health", false],
        ["GET", "/admin/openapi.json", false],
        ["GET", "/admin/tokens", false],
        ["POST", "/admin/tokens", true],
        ["DELETE", "/admin/tokens/00000000-0000-0000-0000-000000000000", false],
        ["GET", "/admin/auth/me", false],
        // (Logout is public since issue 11: it only ever ends the session it is sent with.)
        ["DELETE", "/admin/tokens", false],
        ["POST", "/admin/auth/password", true],
        ["GET", "/api/trpc/accounts.usageStats", false],
        ["POST", "/api/trpc/usage.record", true],
      ),
    )
    .map(([[label, headers, expect], [method, path, hasBody]]): Case => ({
      label: `auth ${label} ${method} ${path}`,
      method,
      path,
      headers: { ...headers, ...(hasBody ? json : {}) },
      body: hasBody ? () => serialize(path.includes("trpc") ? { events: [validEvent(w)] } : path === "/admin/usage" ? { events: [validEvent(w)] } : path === "/admin/tokens" ? { name: "evil", scope: "admin" } : path.endsWith("password") ? { currentPassword: "x", newPassword: "y".repeat(20) } : { name: "evil" }) : undefined,
      expect,
    }));
  // The wrong scope: 403.
  const scopeCase = fc
    .constantFrom<[string, string, string, boolean]>(
      ["read token writes usage", "POST", "/admin/usage", true],
      ["read token upserts account", "PUT", `/admin/accounts/${acc}`, true],
      ["write token lists tokens", "GET", "/admin/tokens", false],
      ["write token creates token", "POST", "/admin/tokens", true],
      ["read token deletes key", "DELETE", `/admin/api-keys/${w.keysOf.get(acc)![0]}`, false],
      ["write token changes password", "POST", "/admin/auth/password", true],
    )
    .map(([label, method, path, hasBody]): Case => ({
      label: `scope: ${label}`,
      method,
      path,
      headers: { ...(hasBody ? json : {}), ...bearer(label.startsWith("read") ? c.read : c.write) },
      body: hasBody ? () => serialize(path === "/admin/usage" ? { events: [validEvent(w)] } : path === "/admin/tokens" ? { name: "evil", scope: "admin" } : path.endsWith("password") ? { currentPassword: "x", newPassword: "y".repeat(20) } : { name: "evil" }) : undefined,
      expect: "auth",
    }));

  // Read routes with hostile query strings (certainly invalid) or injection in free text (valid).
  const badQuery = fc.tuple(fc.constantFrom(...READ_PATHS(w)), fc.constantFrom(...BAD_QUERIES)).map(
    ([path, q]): Case => ({ label: `query ${path}?${q.slice(0, 40)}`, method: "GET", path: `${path}?${q}`, headers: bearer(c.read), expect: "4xx" }),
  );
  const injectedQuery = fc
    .tuple(fc.constantFrom("/admin/accounts/usage-stats?search=", "/admin/accounts?search=", "/admin/api-keys?search=", "/admin/accounts/usage-stats?platform=", "/admin/api-keys?accountId="), hostileText)
    .map(([p, v]): Case => ({ label: `injection in ${p}`, method: "GET", path: p + enc(v), headers: bearer(c.read), expect: "no5xx" }));
  const injectedId = fc
    .tuple(fc.constantFrom("usage-stats", "usage-breakdown", "usage-stats?range=daily", "usage-breakdown?range=total&sort=cost"), hostileText.filter((s) => s.length > 0))
    .map(([tail, id]): Case => ({ label: `injection in account id (${tail})`, method: "GET", path: `/admin/accounts/${enc(id)}/${tail}`, headers: bearer(c.read), expect: "no5xx" }));
  // Next.js drops "__proto__" from the query before a handler runs: harmless, answered normally.
  const rawQuery = fc.constantFrom("__proto__=1", "constructor=1&limit=0", "search=%FF%FE", "search=%C0%80", "search=%ED%A0%80", "search=%", "%ZZ=1", "search=%00%00", "tz=%00", "range=%00").map(
    (q): Case => ({ label: `raw query ${q}`, method: "GET", path: `/admin/accounts/usage-stats?${q}`, headers: bearer(c.read), expect: "no5xx" }),
  );

  // Metadata routes: bodies that are certainly invalid, hostile ids.
  const badAccountBody = fc.constantFrom<unknown>(
    { priority: -1 },
    { priority: 1.5 },
    { priority: "1" },
    { priority: 1e300 },
    { name: "" },
    { name: "a\u0000b" },
    { name: "\ud800" },
    { name: "n".repeat(201) },
    { platform: "UPPER CASE" },
    { status: "' OR 1=1" },
    { metadata: nested(30) },
    { metadata: "x" },
    { metadata: { big: "x".repeat(5000) } },
    { unknownField: 1 },
    { __proto__: { admin: true }, evil: 1 },
    [],
    "str",
    null,
  );
  const badMetaWrite = fc
    .tuple(fc.constantFrom("accounts", "api-keys"), fc.oneof(fc.constant(acc), hostileText.filter((s) => s.length > 0)), badAccountBody)
    .map(([kind, id, body]): Case => ({
      label: `PUT ${kind} invalid body`,
      method: "PUT",
      path: `/admin/${kind}/${enc(id)}`,
      headers: { ...json, ...bearer(c.write) },
      body: () => (kind === "api-keys" && body && typeof body === "object" && !Array.isArray(body) ? serialize({ ...(body as object), hashedKey: "plain-key-not-a-hash" }) : serialize(body)),
      expect: "4xx",
    }));
  const badKeyBody = fc.constantFrom<unknown>(
    { hashedKey: "sk-live-plainkey" },
    { dailyCostLimit: -1 },
    { totalCostLimit: "0.123456789012345678901234567890" },
    { accountId: "" },
    { accountId: "a\u0000" },
    { status: 5 },
  ).map((body): Case => ({ label: "PUT api-key invalid body", method: "PUT", path: `/admin/api-keys/${w.keysOf.get(acc)![0]}`, headers: { ...json, ...bearer(c.write) }, body: () => serialize(body), expect: "4xx" }));
  const hostileDelete = fc
    .tuple(fc.constantFrom("accounts", "api-keys", "tokens"), hostileText.filter((s) => s.length > 0 && !s.startsWith("hostile")))
    .map(([kind, id]): Case => ({ label: `DELETE ${kind} hostile id`, method: "DELETE", path: `/admin/${kind}/${enc(id)}`, headers: bearer(kind === "tokens" ? c.admin : c.write), expect: "no5xx" }));
  const badTokenCreate = fc.constantFrom<unknown>({ name: "x", scope: "root" }, { name: "", scope: "admin" }, { name: "a\u0000", scope: "usage:read" }, { name: "<b>", scope: "admin" }, { name: "n".repeat(65), scope: "admin" }, {}, { scope: "admin" }, { name: "ok", scope: "admin", extra: 1 })
    .map((body): Case => ({ label: "POST tokens invalid body", method: "POST", path: "/admin/tokens", headers: { ...json, ...bearer(c.admin) }, body: () => serialize(body), expect: "4xx" }));
  const badLogin = fc
    .oneof(
      fc.record({ username: hostileText, password: hostileText }).map((b) => ({ ...b, password: b.password + "\u0000!" })),
      fc.constantFrom<unknown>({}, { username: "admin" }, { username: "admin", password: "" }, { username: "admin", password: "p".repeat(300) }, { username: 1, password: 2 }, { username: "admin", password: "wrong", extra: true }, "x"),
    )
    .map((body): Case => ({ label: "login invalid", method: "POST", path: "/admin/auth/login", headers: json, body: () => serialize(body), expect: "4xx" }));
  const badPassword = fc.constantFrom<unknown>({ currentPassword: "", newPassword: "short" }, { newPassword: "x".repeat(300) }, {}, { currentPassword: 1 })
    .map((body): Case => ({ label: "password change invalid", method: "POST", path: "/admin/auth/password", headers: { ...json, ...bearer(c.admin) }, body: () => serialize(body), expect: "4xx" }));

  // tRPC: invalid inputs.
  const trpcInput = fc.oneof(
    fc.constantFrom<unknown>({ sort: "x" }, { limit: -1 }, { tz: "Nowhere/Land" }, { unknown: 1 }, "str", 5, [], { range: "custom" }),
    hostileText.map((s) => ({ search: s, limit: 0 })),
  );
  const trpcGet = fc.tuple(fc.constantFrom("accounts.usageStats", "accounts.breakdown", "accounts.summary", "accounts.list", "apiKeys.list"), trpcInput).map(
    ([proc, input]): Case => ({ label: `tRPC GET ${proc}`, method: "GET", path: `/api/trpc/${proc}?input=${enc(serialize(input))}`, headers: bearer(c.read), expect: "4xx" }),
  );
  const trpcRecord = fc.array(ev, { minLength: 1, maxLength: 5 }).chain((makers) =>
    fc.constantFrom<[string, () => string]>(
      ["broken events", () => serialize({ events: makers.map((m) => m()) })],
      ["broken envelope", () => serialize({ events: "x" })],
      ["not json", () => "{"],
    ).map(([label, body]): Case => ({ label: `tRPC usage.record ${label}`, method: "POST", path: "/api/trpc/usage.record", headers: { ...json, ...bearer(c.write) }, body, expect: "4xx" })),
  );
  const trpcGarbage = fc.constantFrom("/api/trpc/nope.nothing", "/api/trpc/usage.record?batch=1&input=%7B", "/api/trpc/accounts.usageStats,accounts.list?batch=1&input=%7B%220%22%3A5%7D", "/api/trpc/__proto__").map(
    (path): Case => ({ label: `tRPC ${path.slice(0, 40)}`, method: "GET", path, headers: bearer(c.read), expect: "4xx" }),
  );

  return fc.oneof(
    { weight: 30, arbitrary: brokenBatch },
    { weight: 8, arbitrary: badEnvelope },
    { weight: 2, arbitrary: badContentType },
    { weight: 14, arbitrary: authCase },
    { weight: 4, arbitrary: scopeCase },
    { weight: 12, arbitrary: badQuery },
    { weight: 5, arbitrary: injectedQuery },
    { weight: 5, arbitrary: injectedId },
    { weight: 2, arbitrary: rawQuery },
    { weight: 6, arbitrary: badMetaWrite },
    { weight: 2, arbitrary: badKeyBody },
    { weight: 3, arbitrary: hostileDelete },
    { weight: 2, arbitrary: badTokenCreate },
    { weight: 3, arbitrary: badLogin },
    { weight: 1, arbitrary: badPassword },
    { weight: 4, arbitrary: trpcGet },
    { weight: 3, arbitrary: trpcRecord },
    { weight: 1, arbitrary: trpcGarbage },
  );
}

/** 10 MB bodies, declared (Content-Length) and streamed (chunked, no length). */
function hugeCases(c: Creds): Case[] {
  const tenMb = () => Buffer.alloc(10 * 1024 * 1024, 0x20);
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(ctl) {
        ctl.enqueue(new TextEncoder().encode('{"events":['));
      },
      pull: (() => {
        let sent = 0;
        return (ctl: ReadableStreamDefaultController<Uint8Array>) => {
          if (sent >= 10 * 1024 * 1024) return ctl.close();
          const chunk = new TextEncoder().encode('{"requestId":"' + "x".repeat(64 * 1024) + '"},');
          sent += chunk.byteLength;
          ctl.enqueue(chunk);
        };
      })(),
    });
  const json = { "content-type": "application/json" };
  const out: Case[] = [];
  for (const path of ["/admin/usage", "/admin/auth/login", "/admin/accounts/x", "/api/trpc/usage.record"]) {
    const method = path.includes("accounts") ? "PUT" : "POST";
    out.push({ label: `10 MB body ${path}`, method, path, headers: { ...json, authorization: `Bearer ${c.write}` }, body: tenMb, expect: "4xx" });
    out.push({ label: `10 MB chunked ${path}`, method, path, headers: { ...json, authorization: `Bearer ${c.write}` }, body: stream, expect: "4xx" });
  }
  out.push({ label: "10 MB body without credentials", method: "POST", path: "/admin/usage", headers: json, body: tenMb, expect: "auth" });
  return out;
}

/**
 * Valid-but-extreme values for every read parameter (issue 11: one such GET once froze the whole
 * process): dates and months at the calendar's edges and just beyond, ranges of maximal length,
 * limits and offsets at their maxima, ids of maximal length, numbers at 2^53 ± 1. Each must come
 * back as a 2xx or a 4xx within the request deadline.
 */
export function extremeCases(w: World, c: Creds): Case[] {
  const acc = w.accounts[0]!;
  const dates = ["0001-01-01", "1999-12-31", "2000-01-01", "2100-12-31", "2101-01-01", "9999-12-31"];
  const months = ["0001-01", "1999-12", "2000-01", "2100-12", "2101-01", "9999-12"];
  const numbers = ["9007199254740991", "9007199254740992", "9007199254740993", "1000", "1001", "2147483647"];
  const queries = [
    ...dates.map((d) => `range=daily&date=${d}`),
    ...months.map((m) => `range=monthly&month=${m}`),
    "range=custom&start=2000-01-01&end=2002-12-31",
    "range=custom&start=2098-01-01&end=2100-12-31",
    "range=custom&start=2098-01-02&end=2100-12-31",
    "range=custom&start=2000-01-01&end=2100-12-31",
    "range=custom&start=9999-01-01&end=9999-12-31",
    "range=custom&start=0001-01-01&end=0001-12-31",
    ...numbers.flatMap((n) => [`limit=${n}`, `offset=${n}`]),
    "range=total&tz=Asia/Hong_Kong",
    "range=custom&start=2000-01-01&end=2002-12-31&tz=Asia/Hong_Kong",
  ];
  const bearer = { authorization: `Bearer ${c.read}` };
  const out: Case[] = [];
  const longId = "a".repeat(128);
  const paths = ["/admin/accounts/usage-stats", `/admin/accounts/${acc}/usage-stats`, `/admin/accounts/${acc}/usage-breakdown`, `/admin/accounts/${longId}/usage-stats`, `/admin/accounts/${"b".repeat(129)}/usage-breakdown`];
  for (const p of paths) for (const q of queries) out.push({ label: "extreme", method: "GET", path: `${p}?${q}`, headers: bearer, expect: "no5xx" });
  for (const p of paths.slice(0, 3)) for (const q of queries.slice(0, 14)) out.push({ label: "extreme csv", method: "GET", path: `${p}?${q}&format=csv`, headers: bearer, expect: "no5xx" });
  const trpcInputs = [
    ...dates.map((date) => ({ id: acc, range: "daily", date })),
    ...months.map((month) => ({ id: acc, range: "monthly", month })),
    { id: acc, range: "custom", start: "2098-01-01", end: "2100-12-31" },
    { id: longId, range: "total" },
  ];
  for (const input of trpcInputs) {
    out.push({ label: "extreme trpc", method: "GET", path: `/api/trpc/accounts.summary?input=${encodeURIComponent(JSON.stringify(input))}`, headers: bearer, expect: "no5xx" });
  }
  for (const p of ["/admin/tokens/%FF", "/admin/accounts/a%ED%A0%80b", "/api/trpc/%FF", "/accounts/%FF"]) out.push({ label: "malformed path", method: "GET", path: p, headers: bearer, expect: "4xx" });
  out.push({
    label: "extreme batch",
    method: "GET",
    path: `/api/trpc/${Array.from({ length: 1000 }, () => "auth.me").join(",")}?batch=1&input=%7B%7D`,
    headers: bearer,
    expect: "4xx",
  });
  return out;
}

interface Outcome {
  ok: boolean;
  status: number;
  why?: string;
}

async function send(w: World, c: Case, timeoutMs = 60_000): Promise<Outcome> {
  const body = c.body?.();
  let res: Response;
  try {
    res = await fetch(`${w.app.baseUrl}${c.path}`, {
      method: c.method,
      headers: c.headers,
      body: body as BodyInit | undefined,
      signal: AbortSignal.timeout(timeoutMs),
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? "";
    // The server answered 413 and closed while the client was still uploading 10 MB.
    if (c.label.includes("10 MB") && /EPIPE|ECONNRESET|UND_ERR_SOCKET/.test(cause + String(err))) return { ok: true, status: 413 };
    return { ok: false, status: 0, why: `request failed: ${(err as Error).message} ${cause}` };
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const s = res.status;
  if (s >= 500) return { ok: false, status: s, why: `5xx: ${text.slice(0, 300)}` };
  if (s >= 200 && s < 300) {
    if (c.label === "extreme csv") return { ok: (res.headers.get("content-type") ?? "").startsWith("text/csv"), status: s, why: "2xx CSV without text/csv" };
    if (c.expect === "no5xx") return { ok: parsed !== undefined, status: s, why: parsed === undefined ? "2xx without a JSON body" : undefined };
    // 202 with every event rejected counts as refused; nothing may be accepted.
    const d = (parsed as { data?: { accepted?: number; duplicates?: number; rejected?: unknown[] } } | undefined)?.data;
    const trpc = (parsed as { result?: { data?: { accepted?: number; duplicates?: number; rejected?: unknown[] } } } | undefined)?.result?.data;
    const r = d ?? trpc;
    if (s === 202 || r?.rejected) {
      if (r && r.accepted === 0 && r.duplicates === 0 && (r.rejected?.length ?? 0) > 0) return { ok: true, status: s };
      return { ok: false, status: s, why: `accepted something: ${text.slice(0, 300)}` };
    }
    return { ok: false, status: s, why: `expected a 4xx, got ${s}: ${text.slice(0, 200)}` };
  }
  if (parsed === undefined || typeof parsed !== "object") return { ok: false, status: s, why: `${s} without a JSON error body: ${text.slice(0, 120)}` };
  const err = (parsed as { error?: unknown }).error ?? (Array.isArray(parsed) ? (parsed[0] as { error?: unknown })?.error : undefined);
  if (!err) return { ok: false, status: s, why: `${s} JSON without an error: ${text.slice(0, 120)}` };
  if (c.expect === "auth" && s !== 401 && s !== 403) return { ok: false, status: s, why: `bad credentials answered ${s}, expected 401/403` };
  if (s >= 300 && s < 400) return { ok: false, status: s, why: `redirect ${s}` };
  return { ok: true, status: s };
}

export async function hostile(servers: Servers, runs: number): Promise<ScenarioReport> {
  const started = Date.now();
  const w = await World.create(servers, "hostile", { accounts: 3, keysPerAccount: 2 });
  const extra: string[] = [];
  try {
    // A known ledger first; the hostile traffic must not change it.
    for (let i = 0; i < 4; i++) await w.ingest(w.makeBatch(500));
    await w.waitDrained();
    const revoked = await createApiToken(w.runtime, { name: "faults revoked", scope: "usage:write" });
    await revokeApiToken(w.runtime, revoked.info.id);
    await ensureAdminUser(w.runtime, { now: new Date(Date.now() - 400 * 86400_000) });
    const old = await createSession(w.runtime, w.runtime.config.adminUsername, new Date(Date.now() - 30 * 86400_000));
    const creds: Creds = { write: w.writeToken, read: w.readToken, admin: w.adminToken, revoked: revoked.token, expiredCookie: old.token };

    // Valid but extreme values first, one at a time, each against the deadline (30 s) with margin.
    const extremes = extremeCases(w, creds);
    const rssBefore = w.app.rssMiB();
    let slowest = 0;
    let extremeFailures = 0;
    const byStatusExtreme = new Map<number, number>();
    for (const c of extremes) {
      const t0 = performance.now();
      const o = await send(w, c, 35_000);
      const ms = performance.now() - t0;
      slowest = Math.max(slowest, ms);
      byStatusExtreme.set(o.status, (byStatusExtreme.get(o.status) ?? 0) + 1);
      if (o.status >= 500) w.counts.unexpected5xx++;
      if (!o.ok) {
        extremeFailures++;
        if (extra.length < 30) extra.push(`extreme ${c.method} ${c.path.slice(0, 140)} → ${o.why}`);
      }
    }
    const rssAfter = w.app.rssMiB();
    w.notes.push(
      `${extremes.length} valid-but-extreme requests (calendar edges 0001…9999, maximal ranges, limits/offsets up to 2^53+1, ids of 128/129 characters, malformed percent-encoding, a batch of 1,000): ` +
        `${[...byStatusExtreme].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(", ")}; ${extremeFailures} failed; slowest ${Math.round(slowest)} ms; app memory ${rssBefore} → ${rssAfter} MiB`,
    );
    if (rssAfter > rssBefore + 512) extra.push(`app memory grew from ${rssBefore} to ${rssAfter} MiB during the extreme requests`);

    const seed = Number(process.env.FAULTS_SEED ?? 20261126);
    const cases = [...hugeCases(creds), ...fc.sample(caseArb(w, creds), { numRuns: runs, seed })];
    w.notes.push(`fast-check seed ${seed} (set FAULTS_SEED to replay): ${cases.length} requests incl. ${hugeCases(creds).length} bodies of 10 MB`);
    const byStatus = new Map<number, number>();
    const failures: string[] = [];
    let next = 0;
    let refused202 = 0;
    const workers = Array.from({ length: 12 }, async () => {
      for (;;) {
        const i = next++;
        if (i >= cases.length) return;
        const c = cases[i]!;
        const o = await send(w, c);
        byStatus.set(o.status, (byStatus.get(o.status) ?? 0) + 1);
        if (o.status === 202) refused202++;
        if (o.status >= 500) w.counts.unexpected5xx++;
        if (!o.ok && failures.length < 30) failures.push(`#${i} ${c.label} ${c.method} ${c.path.slice(0, 120)} → ${o.why}`);
        if (!o.ok && failures.length >= 30) failures.push("…");
      }
    });
    await Promise.all(workers);
    const statusLine = [...byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}: ${n}`).join(", ");
    w.notes.push(`answers by status: ${statusLine} (202 = a valid envelope whose every event was rejected: nothing accepted)`);
    w.notes.push(`${refused202} batches answered 202 with every event in "rejected" and accepted = duplicates = 0`);
    w.notes.push(
      "2xx other than those: valid requests carrying hostile text where free text is allowed (search, platform, account ids in paths, `__proto__` in a query, which Next.js drops), answered with JSON and matching nothing",
    );
    w.notes.push(`sent / acknowledged / stored count the ${w.acked.size} valid baseline events recorded before the hostile traffic; the audit shows the hostile requests stored nothing`);
    extra.push(...[...new Set(failures)]);
    const crashed = w.app.crashed();
    if (crashed) extra.push(`the app process died: ${crashed}`);
    await sleep(500);
    const health = await w.read("/admin/health");
    if (health.status !== 200) extra.push(`health after the hostile run → ${health.status}`);
    await w.waitDrained();
    const audit = await w.audit();
    const report = reportOf(6, `Hostile input: ${cases.length} generated malformed requests`, w, audit, started, extra);
    (report as ScenarioReport & { hostileRequests?: number }).hostileRequests = cases.length;
    return report;
  } finally {
    await w.close();
  }
}
