import { createInterface } from "node:readline";
import { openSqlite, sqliteInsertLogs, type LogRow, type NewapiVariant } from "./newapi.fixtures";

/**
 * Tests only: the relay as another process writing a SQLite one-api.db.
 * `node --import tsx sqlite-writer.fixtures.ts <file> [new-api|one-api]`; each stdin line is a JSON array of
 * log rows, inserted in one transaction, answered by "ok <lastId>" (or "error <message>").
 */

const [file, variant = "new-api"] = process.argv.slice(2);
if (!file || (variant !== "new-api" && variant !== "one-api")) {
  console.error("usage: sqlite-writer.fixtures.ts <file> [new-api|one-api]");
  process.exit(2);
}
const db = openSqlite(file);

for await (const line of createInterface({ input: process.stdin })) {
  if (!line.trim()) continue;
  try {
    const ids = sqliteInsertLogs(db, variant as NewapiVariant, JSON.parse(line) as LogRow[]);
    process.stdout.write(`ok ${ids.at(-1) ?? 0}\n`);
  } catch (e) {
    process.stdout.write(`error ${(e instanceof Error ? e.message : String(e)).replace(/\n/g, " ")}\n`);
  }
}
db.close();
