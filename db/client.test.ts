import { sql } from "kysely";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../server/testing/stores";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(async () => {
  await t?.drop();
});

it("the app's PostgreSQL connections run without JIT (its statements are short; compiling cost more than running at 100M records)", async () => {
  const r = await sql<{ jit: string }>`SHOW jit`.execute(t.handle.db);
  expect(r.rows[0]?.jit).toBe("off");
});
