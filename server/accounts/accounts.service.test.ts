import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AppError } from "../errors";
import { createRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { dropRedisPrefix, testConfig } from "../testing/stores";
import { hotKeys } from "../usage/hot-keys";
import { recordUsage } from "../usage/usage.service";
import {
  deleteAccount,
  deleteApiKey,
  listAccounts,
  listApiKeys,
  upsertAccount,
  upsertApiKey,
} from "./accounts.service";
import { listAccountsInput, listApiKeysInput, upsertApiKeyInput } from "./schemas";

vi.mock("server-only", () => ({}));

const HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const list = (q: Record<string, unknown> = {}) => listAccountsInput.parse(q);
const listKeys = (q: Record<string, unknown> = {}) => listApiKeysInput.parse(q);

describe("accounts and API keys with PostgreSQL", () => {
  let ledger: TestRuntime;
  let runtime: Runtime;
  beforeAll(async () => {
    ledger = await createTestRuntime();
    runtime = ledger.runtime;
  });
  afterAll(() => ledger?.close());

  it("upserts: creates with defaults, updates only the fields given, revives a deleted account", async () => {
    const created = await upsertAccount(runtime, { id: "acc-1", name: "Main", platform: "claude", priority: 10, metadata: { region: "us" } });
    expect(created).toMatchObject({ id: "acc-1", name: "Main", platform: "claude", type: "shared", status: "active", priority: 10, metadata: { region: "us" }, deletedAt: null });
    const updated = await upsertAccount(runtime, { id: "acc-1", status: "paused" });
    expect(updated).toMatchObject({ name: "Main", platform: "claude", priority: 10, status: "paused", metadata: { region: "us" } });
    expect(await deleteAccount(runtime, { id: "acc-1" })).toMatchObject({ id: "acc-1", deletedAt: expect.any(String) });
    expect((await listAccounts(runtime, list({ search: "acc-1" }))).items).toEqual([]);
    expect((await listAccounts(runtime, list({ search: "acc-1", includeDeleted: "true" }))).items[0]).toMatchObject({ id: "acc-1", deletedAt: expect.any(String) });
    expect(await upsertAccount(runtime, { id: "acc-1", name: "Main again" })).toMatchObject({ name: "Main again", status: "paused", deletedAt: null });
  });

  it("soft delete keeps usage history; deleting an unknown id is a 404", async () => {
    await upsertAccount(runtime, { id: "acc-hist", name: "History" });
    await recordUsage(runtime, {
      events: [{ requestId: "hist-1", occurredAt: new Date().toISOString(), accountId: "acc-hist", apiKeyId: "key-hist", model: "m", inputTokens: 1, outputTokens: 2, cacheCreateTokens: 0, cacheReadTokens: 0, cost: "1.5" }],
    });
    const { Drainer } = await import("../usage/drainer");
    const d = new Drainer(runtime.config, runtime.db!);
    await d.drainAll();
    await d.stop({ forget: true });
    await deleteAccount(runtime, { id: "acc-hist" });
    await deleteApiKey(runtime, { id: "key-hist" });
    const rows = await sql<{ n: number }>`select count(*)::int as n from usage_records where account_id = 'acc-hist'`.execute(runtime.db!.db);
    expect(rows.rows[0]!.n).toBe(1);
    const totals = await sql<{ c: number }>`select cost_nanos as c from usage_account_totals where account_id = 'acc-hist'`.execute(runtime.db!.db);
    expect(totals.rows[0]!.c).toBe(1_500_000_000);
    const err = await deleteAccount(runtime, { id: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({ code: "NOT_FOUND" });
    await expect(deleteApiKey(runtime, { id: "nope" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });

  it("stores the key hash but never returns it, in upserts or lists", async () => {
    const k = await upsertApiKey(runtime, { id: "key-1", name: "Alpha", accountId: "acc-1", hashedKey: HASH, dailyCostLimit: "50", totalCostLimit: "1000.5" });
    expect(k).toMatchObject({ id: "key-1", name: "Alpha", accountId: "acc-1", hasHashedKey: true, dailyCostLimit: "50.00000000", totalCostLimit: "1000.50000000", totalCostAccumulated: "0.00000000" });
    const page = await listApiKeys(runtime, listKeys({ accountId: "acc-1" }));
    expect(page.items.map((x) => x.id)).toEqual(["key-1"]);
    for (const payload of [k, page]) {
      expect(JSON.stringify(payload)).not.toContain(HASH);
      expect(JSON.stringify(payload)).not.toMatch(/"hashed_?key"/i);
    }
    const stored = await runtime.db!.db.selectFrom("api_keys").select("hashed_key").where("id", "=", "key-1").executeTakeFirst();
    expect(stored?.hashed_key).toBe(HASH);
    // Omitting hashedKey keeps it; null clears it.
    expect(await upsertApiKey(runtime, { id: "key-1", status: "disabled" })).toMatchObject({ hasHashedKey: true, status: "disabled" });
    expect(await upsertApiKey(runtime, { id: "key-1", hashedKey: null, dailyCostLimit: null })).toMatchObject({ hasHashedKey: false, dailyCostLimit: null });
  });

  it("refuses something that looks like a plain key instead of a hash", () => {
    for (const plainKey of ["cr_1234567890abcdef1234567890abcdef", "sk-ant-api03-abcdefghijklmnopqrstuvwxyz", "short"]) {
      const r = upsertApiKeyInput.safeParse({ id: "k", hashedKey: plainKey });
      expect(r.success).toBe(false);
      expect(JSON.stringify(r.error?.issues)).not.toContain(plainKey);
    }
    expect(upsertApiKeyInput.safeParse({ id: "k", hashedKey: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo" }).success).toBe(true);
  });

  it("lists accounts paged, filtered and sorted; search matches literally", async () => {
    for (let i = 0; i < 7; i++) await upsertAccount(runtime, { id: `page-${i}`, name: `Page ${i}%`, platform: i % 2 ? "gemini" : "openai", priority: 100 - i });
    const first = await listAccounts(runtime, list({ search: "Page", pageSize: "3", sort: "priority", order: "desc" }));
    expect(first.pagination).toEqual({ page: 1, pageSize: 3, total: 7, totalPages: 3 });
    expect(first.items.map((a) => a.id)).toEqual(["page-0", "page-1", "page-2"]);
    const third = await listAccounts(runtime, list({ search: "Page", pageSize: "3", page: "3", sort: "priority", order: "desc" }));
    expect(third.items.map((a) => a.id)).toEqual(["page-6"]);
    expect((await listAccounts(runtime, list({ search: "page", platform: "gemini" }))).items.map((a) => a.id)).toEqual(["page-1", "page-3", "page-5"]);
    // "%" is a character here, not a wildcard.
    expect((await listAccounts(runtime, list({ search: "6%" }))).items.map((a) => a.id)).toEqual(["page-6"]);
    expect((await listAccounts(runtime, list({ search: "e%6" }))).items).toEqual([]);
  });

  it("rejects bad list parameters with the field named", () => {
    expect(listAccountsInput.safeParse({ pageSize: "500" }).error?.issues[0]).toMatchObject({ path: ["pageSize"], message: "must be at most 200" });
    expect(listAccountsInput.safeParse({ page: "zero" }).error?.issues[0]?.path).toEqual(["page"]);
    expect(listAccountsInput.safeParse({ includeDeleted: "maybe" }).error?.issues[0]).toMatchObject({ path: ["includeDeleted"], message: "must be true or false" });
    expect(listAccountsInput.safeParse({ color: "red" }).success).toBe(false);
  });

  it("completes placeholders created by usage for unknown ids", async () => {
    await recordUsage(runtime, {
      events: [{ requestId: "ph-1", occurredAt: new Date().toISOString(), accountId: "acc-ph", apiKeyId: "key-ph", model: "m", inputTokens: 1, outputTokens: 1, cacheCreateTokens: 0, cacheReadTokens: 0, cost: 0 }],
    });
    const { Drainer } = await import("../usage/drainer");
    const d = new Drainer(runtime.config, runtime.db!);
    await d.drainAll();
    await d.stop({ forget: true });
    expect((await listAccounts(runtime, list({ search: "acc-ph" }))).items[0]).toMatchObject({ id: "acc-ph", name: "acc-ph", status: "unknown" });
    expect((await listApiKeys(runtime, listKeys({ search: "key-ph" }))).items[0]).toMatchObject({ id: "key-ph", name: "key-ph", status: "unknown", accountId: "acc-ph" });
    await upsertAccount(runtime, { id: "acc-ph", name: "Now known" });
    await upsertApiKey(runtime, { id: "key-ph", name: "Known key" });
    expect((await listAccounts(runtime, list({ search: "acc-ph" }))).items[0]).toMatchObject({ name: "Now known", status: "active" });
    expect((await listApiKeys(runtime, listKeys({ search: "key-ph" }))).items[0]).toMatchObject({ name: "Known key", status: "active", accountId: "acc-ph" });
  });

  it("serves accounts.* and apiKeys.* over tRPC with the scopes of the issue", async () => {
    const { appRouter } = await import("../trpc/routers/_app");
    const { createCallerFactory } = await import("../trpc/init");
    const as = (scopes: ("usage:read" | "usage:write")[]) =>
      createCallerFactory(appRouter)({ runtime, req: new Request("http://localhost/api/trpc"), requestId: "t", principal: { kind: "token", name: "t", scopes, id: "t" } });
    const writer = as(["usage:write"]);
    const reader = as(["usage:read"]);
    expect(await writer.accounts.upsert({ id: "acc-trpc", name: "Via tRPC" })).toMatchObject({ id: "acc-trpc", name: "Via tRPC" });
    expect(await writer.apiKeys.upsert({ id: "key-trpc", accountId: "acc-trpc", hashedKey: HASH })).toMatchObject({ hasHashedKey: true });
    expect((await reader.accounts.list({ search: "acc-trpc" })).items.map((a) => a.id)).toEqual(["acc-trpc"]);
    const keys = await reader.apiKeys.list({ accountId: "acc-trpc" });
    expect(JSON.stringify(keys)).not.toContain(HASH);
    await expect(reader.accounts.upsert({ id: "x" })).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(writer.accounts.upsert({ id: "", name: "x" })).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await writer.accounts.delete({ id: "acc-trpc" })).toMatchObject({ id: "acc-trpc" });
    expect(await writer.apiKeys.delete({ id: "key-trpc" })).toMatchObject({ id: "key-trpc" });
  });
});

describe("accounts with POSTGRES_ENABLED=false (Redis index only)", () => {
  let runtime: Runtime;
  beforeAll(async () => {
    runtime = await createRuntime(testConfig({ POSTGRES_ENABLED: "false" }), { ownDatabase: true });
  });
  afterAll(async () => {
    await runtime?.close();
    if (runtime) await dropRedisPrefix(runtime.config.redisKeyPrefix);
  });

  it("upserts, lists and soft-deletes in the Redis index", async () => {
    await upsertAccount(runtime, { id: "r-1", name: "Redis One", platform: "claude" });
    await upsertAccount(runtime, { id: "r-2", name: "Redis Two" });
    await upsertApiKey(runtime, { id: "rk-1", name: "Key", accountId: "r-1", hashedKey: HASH });
    const raw = await runtime.redis!.hget(hotKeys(runtime.config.redisKeyPrefix).apiKeyIndex(), "rk-1");
    expect(raw).not.toContain(HASH);
    expect((await listAccounts(runtime, list())).items.map((a) => [a.id, a.name, a.platform])).toEqual([
      ["r-1", "Redis One", "claude"],
      ["r-2", "Redis Two", "unknown"],
    ]);
    await deleteAccount(runtime, { id: "r-2" });
    expect((await listAccounts(runtime, list())).items.map((a) => a.id)).toEqual(["r-1"]);
    // What the index does not hold (limits, hashes, times) reads as empty, in full:
    expect((await listAccounts(runtime, list())).items).toEqual([
      { id: "r-1", name: "Redis One", platform: "claude", type: "shared", status: "active", priority: 50, metadata: {}, sources: [], createdAt: "", updatedAt: "", deletedAt: null },
    ]);
    expect((await listApiKeys(runtime, listKeys({ accountId: "r-1" }))).items).toEqual([
      {
        id: "rk-1",
        name: "Key",
        accountId: "r-1",
        status: "active",
        hasHashedKey: false,
        dailyCostLimit: null,
        totalCostLimit: null,
        totalCostAccumulated: "0",
        lastUsedAt: null,
        metadata: {},
        source: null,
        createdAt: "",
        updatedAt: "",
        deletedAt: null,
      },
    ]);
    await expect(deleteAccount(runtime, { id: "missing" })).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
