import { dehydrate, hydrate, QueryClient } from "@tanstack/react-query";
import { NextRequest } from "next/server";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { GET as summaryRoute } from "@/app/admin/accounts/[id]/usage-stats/route";
import { sessionCookieHeader } from "./auth/testing";
import { AppError } from "./errors";
import { logExpectedError } from "./logger";
import { createRuntime, setRuntime, type Runtime } from "./runtime";
import { createTestDatabase, testConfig, type TestDatabase } from "./testing/stores";
import { createCallerFactory } from "./trpc/init";
import { expectedFailure, makeQueryClient } from "./trpc/query-client";
import { appRouter } from "./trpc/routers/_app";

vi.mock("server-only", () => ({}));

/**
 * Issue 24, item 10: an expected error (an unknown account's 404) is one line in the terminal,
 * with its code and where, never a stack trace; unknown errors keep theirs.
 */

let tdb: TestDatabase;
let runtime: Runtime;

function capture() {
  const lines: string[] = [];
  for (const m of ["log", "info", "warn", "error"] as const) vi.spyOn(console, m).mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
  return lines;
}

beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
  runtime = await createRuntime(testConfig({ DATABASE_URL: tdb.url, REDIS_URL: "", LOG_LEVEL: "info" }), { ownDatabase: true });
  setRuntime(runtime);
}, 120_000);

afterAll(async () => {
  setRuntime(undefined);
  await runtime?.close();
  await tdb?.drop();
});

afterEach(() => vi.restoreAllMocks());

describe("expected errors", () => {
  it("logExpectedError writes one line: where, code, status, message", () => {
    const lines = capture();
    logExpectedError("[trpc] accounts.summary", new AppError("NOT_FOUND", 'Account "nope" does not exist'), { requestId: "r1" });
    expect(lines).toEqual(['[trpc] accounts.summary NOT_FOUND (404): Account "nope" does not exist {"requestId":"r1"}']);
  });

  it("an unknown account over tRPC logs one line without a stack", async () => {
    const lines = capture();
    const caller = createCallerFactory(appRouter)({ runtime, req: new Request("http://localhost/api/trpc"), requestId: "rq-404", principal: { kind: "token", name: "t", scopes: ["admin"], id: "t" } });
    await expect(caller.accounts.summary({ id: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(lines).toEqual(['[trpc] accounts.summary NOT_FOUND (404): Account "nope" does not exist {"requestId":"rq-404"}']);
  });

  it("… and over REST", async () => {
    const cookie = await sessionCookieHeader(runtime);
    const lines = capture();
    const res = await summaryRoute(new NextRequest("http://localhost/admin/accounts/nope/usage-stats", { headers: { cookie } }), { params: Promise.resolve({ id: "nope" }) });
    expect(res.status).toBe(404);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\[http\] GET \/admin\/accounts\/nope\/usage-stats NOT_FOUND \(404\): Account "nope" does not exist \{"requestId":"[^"]+"\}$/);
  });

  it("a server prefetch that failed as expected reaches the browser as a failed query, not a rejected promise", async () => {
    const server = new QueryClient();
    const key = ["accounts.summary", "nope"];
    void server.prefetchQuery({ queryKey: key, queryFn: () => new Promise<string>(() => {}), retry: false }); // pending when dehydrated; its promise is replaced below
    const state = dehydrate(server, { shouldDehydrateQuery: () => true });
    const q = state.queries[0]!;
    q.promise = Promise.resolve(expectedFailure("NOT_FOUND")) as typeof q.promise;
    const browser = makeQueryClient();
    browser.setQueryDefaults(key, { retry: false });
    hydrate(browser, state);
    await vi.waitFor(() => expect(browser.getQueryState(key)?.status).toBe("error"));
    expect(String(browser.getQueryState(key)?.error)).toContain("NOT_FOUND");
  });
});
