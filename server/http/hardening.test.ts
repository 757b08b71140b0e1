import { NextRequest } from "next/server";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as summaryRoute } from "@/app/admin/accounts/[id]/usage-stats/route";
import { GET as listRoute } from "@/app/admin/accounts/usage-stats/route";
import { POST as trpcPost, GET as trpcGet } from "@/app/api/trpc/[trpc]/route";
import { authTestStores, bearerHeader, type AuthTestStores } from "../auth/testing";
import { setRuntime } from "../runtime";
import { csvCell } from "../usage-stats/csv";
import { eachDay, eachMonth } from "../calendar";
import { costUsd, smallJsonObject } from "../usage/schemas";
import { withDeadline } from "./route";

vi.mock("server-only", () => ({}));

/** Issue 11: valid-but-extreme input, unbounded bodies, caching and the request deadline. */

let stores: AuthTestStores;
let read: string;
beforeAll(async () => {
  stores = await authTestStores("postgres");
  setRuntime(stores.runtime);
  await stores.runtime.db!.db.insertInto("accounts").values({ id: "acc-h", name: "H", platform: "claude", metadata: "{}" }).execute();
  read = await bearerHeader(stores.runtime, "usage:read");
});
afterAll(async () => {
  setRuntime(undefined);
  await stores.close();
});

const get = (path: string) => {
  const url = new URL(`http://localhost${path}`);
  return new NextRequest(url, { headers: { authorization: read } });
};

describe("dates at and past the edges of the calendar", () => {
  it.each([
    ["range=daily&date=9999-12-31", "date", "must be from 2000-01-01 to 2100-12-31"],
    ["range=monthly&month=9999-12", "month", "must be from 2000-01 to 2100-12"],
    ["range=daily&date=1999-12-31", "date", "must be from 2000-01-01 to 2100-12-31"],
    ["range=monthly&month=0001-01", "month", "must be from 2000-01 to 2100-12"],
    ["range=custom&start=2100-12-31&end=9999-12-31", "end", "must be from 2000-01-01 to 2100-12-31"],
  ])("%s → 400 naming %s", async (q, field, message) => {
    const res = await summaryRoute(get(`/admin/accounts/acc-h/usage-stats?${q}`), { params: Promise.resolve({ id: "acc-h" }) });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: { code: "BAD_REQUEST", issues: expect.arrayContaining([{ path: field, message }]) } });
  });

  it.each([
    ["range=daily&date=2100-12-31", "2100-12-31", "2100-12-31"],
    ["range=monthly&month=2100-12", "2100-12-01", "2100-12-31"],
    ["range=daily&date=2000-01-01", "2000-01-01", "2000-01-01"],
    ["range=custom&start=2098-01-01&end=2100-12-31", "2098-01-01", "2100-12-31"],
  ])("%s answers at once with the right range", async (q, start, end) => {
    const res = await summaryRoute(get(`/admin/accounts/acc-h/usage-stats?${q}`), { params: Promise.resolve({ id: "acc-h" }) });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(await res.json()).toMatchObject({ data: { range: { start, end } } });
  });

  it("walks days and months by count, never past a bound", () => {
    expect([...eachDay("2100-12-30", "2101-01-01")]).toEqual(["2100-12-30", "2100-12-31", "2101-01-01"]);
    expect([...eachMonth("2100-11", "2101-02")]).toEqual(["2100-11", "2100-12", "2101-01", "2101-02"]);
    expect([...eachDay("2026-01-02", "2026-01-01")]).toEqual([]);
    expect(() => [...eachDay("2000-01-01", "9999-12-31")]).toThrow(/refusing to walk/);
  });
});

describe("every authenticated answer is uncacheable", () => {
  it("REST and tRPC", async () => {
    expect((await listRoute(get("/admin/accounts/usage-stats"), { params: Promise.resolve({}) })).headers.get("cache-control")).toBe("no-store");
    const q = await trpcGet(new Request("http://localhost/api/trpc/auth.me", { headers: { authorization: read } }));
    expect(q.status).toBe(200);
    expect(q.headers.get("cache-control")).toBe("no-store");
  });
});

describe("the tRPC endpoint before authentication", () => {
  it("refuses a body past 1 MiB while it streams in, without reading the rest", async () => {
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(c) {
        pulled++;
        c.enqueue(new Uint8Array(64 * 1024).fill(32));
        if (pulled > 3200) c.close(); // 200 MB if read whole
      },
    });
    const res = await trpcPost(new Request("http://localhost/api/trpc/auth.login", { method: "POST", headers: { "content-type": "application/json" }, body, duplex: "half" } as RequestInit));
    expect(res.status).toBe(413);
    expect(pulled).toBeLessThan(40);
    const declared = await trpcPost(new Request("http://localhost/api/trpc/auth.login", { method: "POST", headers: { "content-type": "application/json", "content-length": "209715200" }, body: "{}" }));
    expect(declared.status).toBe(413);
  });

  it("caps the batch size", async () => {
    const paths = Array.from({ length: 21 }, () => "auth.me").join(",");
    const res = await trpcGet(new Request(`http://localhost/api/trpc/${paths}?batch=1&input=${encodeURIComponent("{}")}`, { headers: { authorization: read } }));
    expect(res.status).toBe(400);
    const ok = await trpcGet(new Request(`http://localhost/api/trpc/${paths.split(",").slice(0, 20).join(",")}?batch=1&input=${encodeURIComponent("{}")}`, { headers: { authorization: read } }));
    expect(ok.status).toBe(200);
  });

  it("says what is wrong with an input in words, not as a JSON dump", async () => {
    const input = encodeURIComponent(JSON.stringify({ id: "acc-h", range: "daily", date: "9999-12-31" }));
    const res = await trpcGet(new Request(`http://localhost/api/trpc/accounts.summary?input=${input}`, { headers: { authorization: read } }));
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toBe("Invalid input: date: must be from 2000-01-01 to 2100-12-31");
  });

  it("refuses __proto__ keys in the body", async () => {
    const res = await trpcPost(new Request("http://localhost/api/trpc/auth.login", { method: "POST", headers: { "content-type": "application/json" }, body: '{"username":"a","password":"b","__proto__":{"x":1}}' }));
    expect(res.status).toBe(400);
  });
});

describe("small rules", () => {
  it("neutralises CSV cells a spreadsheet would read as a formula, and quotes ';'", () => {
    expect(csvCell(" =1+1")).toBe("' =1+1");
    expect(csvCell("＝1+1")).toBe("'＝1+1");
    expect(csvCell("＋x")).toBe("'＋x");
    expect(csvCell("－x")).toBe("'－x");
    expect(csvCell("＠x")).toBe("'＠x");
    expect(csvCell("a;b")).toBe('"a;b"');
    expect(csvCell("plain")).toBe("plain");
  });

  it("refuses reserved keys at any depth of metadata", () => {
    for (const text of ['{"a":{"__proto__":{"x":1}}}', '{"constructor":1}', '{"a":[{"prototype":1}]}']) {
      const r = smallJsonObject.safeParse(JSON.parse(text));
      expect(r.success, text).toBe(false);
      expect(r.error?.issues[0]?.message).toMatch(/^has the reserved key "(__proto__|constructor|prototype)"$/);
    }
  });

  it("names leading zeros in a cost for what they are", () => {
    const r = costUsd.safeParse("00.1");
    expect(r.error?.issues[0]?.message).toBe('must not have leading zeros (got "00.1")');
  });

  it("the deadline answers 503 when work never finishes", async () => {
    await expect(withDeadline(new Promise(() => {}), 20)).rejects.toMatchObject({ code: "UNAVAILABLE", message: expect.stringMatching(/did not finish within 20 ms/) });
    await expect(withDeadline(Promise.resolve(7), 20)).resolves.toBe(7);
  });
});
