import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { parseConfig } from "../server/config";
import { createDatabase, EmbeddedDatabaseBusyError } from "./client";
import { prepareDatabase } from "./index";
import { loadMigrations } from "./migrator";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ub-pglite-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe("embedded PostgreSQL (PGlite)", () => {
  it("starts, migrates, seeds an empty database and answers a query; a second process is refused", async () => {
    const pgliteDir = path.join(dir, "db");
    const config = parseConfig({ PGLITE_DIR: pgliteDir });
    const handle = await createDatabase({ databaseUrl: undefined, pgliteDir, statementTimeoutMs: 60_000 });
    try {
      expect(handle.kind).toBe("pglite");
      const logs: string[] = [];
      const first = await prepareDatabase(handle, config, (l) => logs.push(l));
      expect(first.applied).toEqual(loadMigrations().map((m) => m.name));
      expect(first.seeded).toBe(true);
      const row = await handle.db
        .selectFrom("usage_account_totals")
        .select((eb) => [eb.fn.sum<number>("requests").as("requests"), eb.fn.countAll<number>().as("accounts")])
        .executeTakeFirstOrThrow();
      expect(Number(row.accounts)).toBe(7);
      expect(Number(row.requests)).toBeGreaterThan(100);

      // Same process, second open: refused by the lock.
      await expect(createDatabase({ databaseUrl: undefined, pgliteDir, statementTimeoutMs: 1000 })).rejects.toBeInstanceOf(EmbeddedDatabaseBusyError);
      // Another process (a script while the server runs): refused with a clear message.
      const err = await promisify(execFile)("node_modules/.bin/tsx", ["scripts/db-migrate.ts", "--list"], {
        env: { ...process.env, DATABASE_URL: "", PGLITE_DIR: pgliteDir },
      }).catch((e: { code: number; stderr: string }) => e);
      expect((err as { code: number }).code).toBe(1);
      expect((err as { stderr: string }).stderr).toMatch(/is in use by another process/);

      const second = await prepareDatabase(handle, config, () => {});
      expect(second).toEqual({ applied: [], seeded: false });
    } finally {
      await handle.close();
    }
    // Once closed, the folder can be opened again.
    const again = await createDatabase({ databaseUrl: undefined, pgliteDir, statementTimeoutMs: 10_000 });
    await again.close();
  }, 120_000);
});
