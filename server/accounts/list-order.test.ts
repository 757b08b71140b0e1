import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../errors";
import { createRuntime, type Runtime } from "../runtime";
import { createTestRuntime, type TestRuntime } from "../testing/runtime";
import { testConfig } from "../testing/stores";
import { compareText } from "../sort-order";
import { deleteAccount, listAccounts, listApiKeys, upsertAccount, upsertApiKey } from "./accounts.service";
import { listAccountsInput, listApiKeysInput } from "./schemas";

/**
 * The Redis-only lists (POSTGRES_ENABLED=false) against PostgreSQL's on the same accounts and keys:
 * the index is the one PostgreSQL's runtime keeps beside its rows. Every sort the schema allows
 * gives PostgreSQL's order, page by page, or a 400 naming the sorts the index can answer.
 */

// Names that order differently by case, by locale and by UTF-16 code unit: "ｚ" is U+FF5A, "😀" a
// surrogate pair (after U+FF5A in code point order, before it by code unit).
const ACCOUNTS = [
  { id: "acc-a", name: "alpha", priority: 5 },
  { id: "acc-B", name: "Alpha", priority: 5 },
  { id: "acc-c", name: "ALPHA", priority: 7 },
  { id: "acc-d", name: "beta", priority: 1 },
  { id: "acc-e", name: "Émile", priority: 9 },
  { id: "acc-f", name: "zeta", priority: 5 },
  { id: "acc-g", name: "Zed", priority: 3 },
  { id: "acc-h", name: "ｚ fullwidth", priority: 2 },
  { id: "acc-i", name: "😀 emoji", priority: 2 },
  { id: "acc-j", name: "_under", priority: 8 },
  { id: "acc-k", name: "-dash", priority: 0 },
  { id: "acc-l", name: "10", priority: 4 },
  { id: "acc-m", name: "9", priority: 4 },
  { id: "ACC-n", name: "beta", priority: 1 },
];
const DELETED = { id: "acc-gone", name: "Gone", priority: 6 };
const KEYS = ACCOUNTS.map((a, i) => ({ id: `key-${a.id}`, name: a.name, accountId: ACCOUNTS[i % 3]!.id }));

const ACCOUNT_SORTS = listAccountsInput.shape.sort.unwrap().options;
const KEY_SORTS = listApiKeysInput.shape.sort.unwrap().options;
/** What the Redis index does not hold (server/usage/hot-index.ts): these must be refused. */
const NOT_IN_INDEX = new Set(["createdAt", "updatedAt", "lastUsedAt", "totalCost"]);

let ledger: TestRuntime;
let pg: Runtime;
let redisOnly: Runtime;

beforeAll(async () => {
  ledger = await createTestRuntime();
  pg = ledger.runtime;
  for (const a of [...ACCOUNTS, DELETED]) await upsertAccount(pg, { ...a, platform: a.priority % 2 ? "claude" : "openai" });
  await deleteAccount(pg, { id: DELETED.id });
  for (const k of KEYS) await upsertApiKey(pg, k);
  redisOnly = await createRuntime(testConfig({ POSTGRES_ENABLED: "false", REDIS_KEY_PREFIX: pg.config.redisKeyPrefix }), { ownDatabase: true });
});

afterAll(async () => {
  await redisOnly?.close();
  await ledger?.close();
});

async function refusal(call: () => Promise<unknown>): Promise<AppError> {
  const err = await call().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppError);
  return err as AppError;
}

describe("the lists with POSTGRES_ENABLED=false answer PostgreSQL's question", () => {
  it("accounts: every sort and order, every page, in PostgreSQL's order or refused with 400", async () => {
    for (const sort of ACCOUNT_SORTS) {
      for (const order of ["asc", "desc"] as const) {
        for (const extra of [{}, { includeDeleted: "true" }, { platform: "claude" }, { search: "ALPHA" }]) {
          const label = JSON.stringify({ sort, order, ...extra });
          const all = listAccountsInput.parse({ sort, order, pageSize: "200", ...extra });
          const fromPg = await listAccounts(pg, all);
          if (NOT_IN_INDEX.has(sort)) {
            const err = await refusal(() => listAccounts(redisOnly, all));
            expect(err.code, label).toBe("BAD_REQUEST");
            expect(err.message, label).toBe(
              `sort=${sort} needs PostgreSQL: with POSTGRES_ENABLED=false the Redis index holds no ${sort} of accounts; sort by name or priority`,
            );
            expect(err.extra.issues?.[0]?.path).toBe("sort");
            continue;
          }
          const fromRedis = await listAccounts(redisOnly, all);
          expect(fromRedis.items.map((a) => a.id), label).toEqual(fromPg.items.map((a) => a.id));
          expect(fromRedis.pagination, label).toEqual(fromPg.pagination);
          for (const page of [1, 2, 3, 4]) {
            const q = listAccountsInput.parse({ sort, order, pageSize: "4", page: String(page), ...extra });
            const [a, b] = await Promise.all([listAccounts(pg, q), listAccounts(redisOnly, q)]);
            expect(b.items.map((x) => x.id), `${label} page ${page}`).toEqual(a.items.map((x) => x.id));
          }
        }
      }
    }
  });

  it("API keys: every sort and order in PostgreSQL's order or refused with 400", async () => {
    for (const sort of KEY_SORTS) {
      for (const order of ["asc", "desc"] as const) {
        for (const extra of [{}, { accountId: "acc-a" }, { search: "beta" }]) {
          const label = JSON.stringify({ sort, order, ...extra });
          const q = listApiKeysInput.parse({ sort, order, pageSize: "200", ...extra });
          const fromPg = await listApiKeys(pg, q);
          if (NOT_IN_INDEX.has(sort)) {
            const err = await refusal(() => listApiKeys(redisOnly, q));
            expect(err.code, label).toBe("BAD_REQUEST");
            expect(err.message, label).toBe(`sort=${sort} needs PostgreSQL: with POSTGRES_ENABLED=false the Redis index holds no ${sort} of API keys; sort by name`);
            continue;
          }
          const fromRedis = await listApiKeys(redisOnly, q);
          expect(fromRedis.items.map((k) => k.id), label).toEqual(fromPg.items.map((k) => k.id));
          expect(fromRedis.pagination, label).toEqual(fromPg.pagination);
        }
      }
    }
  });

  it("sorts names case-insensitively in code point order in PostgreSQL too, ties by id", async () => {
    const q = listAccountsInput.parse({ pageSize: "200" });
    const names = (await listAccounts(pg, q)).items.map((a) => [a.name, a.id] as const);
    expect(names.slice(0, 5)).toEqual([
      ["-dash", "acc-k"],
      ["10", "acc-l"],
      ["9", "acc-m"],
      ["_under", "acc-j"],
      ["Alpha", "acc-B"],
    ]);
    expect(names.slice(-3).map(([n]) => n)).toEqual(["Émile", "ｚ fullwidth", "😀 emoji"]);
    // A plain JavaScript comparison would put the emoji (a surrogate pair) before U+FF5A.
    expect("😀" < "ｚ").toBe(true);
    expect(compareText("😀", "ｚ")).toBeGreaterThan(0);
  });
});
