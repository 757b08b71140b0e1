import path from "node:path";
import { sql } from "kysely";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, type TestDatabase } from "../server/testing/stores";

/**
 * db/types.ts is written by hand (ColumnType choices kysely-codegen cannot make), so this test
 * holds it to the migrated database: the same tables, the same columns, the same nullability, and
 * for each column the TypeScript type that db/client.ts's parsers return for its SQL type.
 */

/** SQL type → what a select returns (db/client.ts). */
const SELECT_TYPES: Record<string, RegExp> = {
  text: /^(string|"[^"]*"( \| "[^"]*")*)$/,
  "character varying": /^string$/,
  smallint: /^number$/,
  integer: /^number$/,
  bigint: /^number$/,
  numeric: /^string$/,
  date: /^string$/,
  "timestamp with time zone": /^Date$/,
  jsonb: /^Record<string, unknown>$/,
  // Generated<boolean> reads as its union.
  boolean: /^(boolean|false \| true)$/,
  uuid: /^string$/,
  // The array columns are text[] (accounts.sources) and uuid[] (alert_rules.channel_ids).
  ARRAY: /^string\[\]$/,
};

interface TsColumn {
  type: string;
  nullable: boolean;
}

/** Database's tables and columns as db/types.ts declares them: the select type of each column. */
function declaredTables(): Map<string, Map<string, TsColumn>> {
  const file = path.join(import.meta.dirname, "types.ts");
  const program = ts.createProgram([file], { strict: true, target: ts.ScriptTarget.ES2022, moduleResolution: ts.ModuleResolutionKind.Bundler, module: ts.ModuleKind.ESNext });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(file)!;
  const db = source.statements.find((s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "Database")!;
  const tables = new Map<string, Map<string, TsColumn>>();
  for (const table of checker.getTypeAtLocation(db).getProperties()) {
    const columns = new Map<string, TsColumn>();
    const tableType = checker.getTypeOfSymbolAtLocation(table, db);
    for (const column of tableType.getProperties()) {
      // A ColumnType<S, I, U> (also inside `X | null`) reads as S.
      const selectParts = (t: ts.Type): ts.Type[] => {
        if (t.isUnion()) return t.types.flatMap(selectParts);
        const select = t.getProperty("__select__");
        return select ? selectParts(checker.getTypeOfSymbolAtLocation(select, db)) : [t];
      };
      const parts = selectParts(checker.getTypeOfSymbolAtLocation(column, db));
      const nullable = parts.some((p) => p.flags & ts.TypeFlags.Null);
      const rest = parts.filter((p) => !(p.flags & ts.TypeFlags.Null)).map((p) => checker.typeToString(p));
      columns.set(column.name, { type: rest.join(" | "), nullable });
    }
    tables.set(table.name, columns);
  }
  return tables;
}

let tdb: TestDatabase;
beforeAll(async () => {
  tdb = await createTestDatabase({ migrated: true });
});
afterAll(async () => tdb?.drop());

describe("db/types.ts", () => {
  it("declares exactly the migrated tables and columns, with their nullability and select types", async () => {
    const rows = await sql<{ table_name: string; column_name: string; is_nullable: string; data_type: string }>`
      SELECT c.table_name, c.column_name, c.is_nullable, c.data_type
        FROM information_schema.columns c
        JOIN pg_class t ON t.relname = c.table_name AND t.relnamespace = 'public'::regnamespace
       WHERE c.table_schema = 'public' AND t.relkind IN ('r', 'p') AND NOT t.relispartition
       ORDER BY 1, 2`.execute(tdb.handle.db);
    const actual = new Map<string, Map<string, { sqlType: string; nullable: boolean }>>();
    for (const r of rows.rows) {
      if (!actual.has(r.table_name)) actual.set(r.table_name, new Map());
      actual.get(r.table_name)!.set(r.column_name, { sqlType: r.data_type, nullable: r.is_nullable === "YES" });
    }
    const declared = declaredTables();
    expect([...declared.keys()].sort()).toEqual([...actual.keys()].sort());
    const problems: string[] = [];
    for (const [table, columns] of actual) {
      const ts = declared.get(table)!;
      expect([...ts.keys()].sort(), table).toEqual([...columns.keys()].sort());
      for (const [name, col] of columns) {
        const d = ts.get(name)!;
        if (d.nullable !== col.nullable) problems.push(`${table}.${name}: nullable ${col.nullable} in SQL, ${d.nullable} in db/types.ts`);
        const want = SELECT_TYPES[col.sqlType];
        if (!want) problems.push(`${table}.${name}: no TypeScript type known for SQL ${col.sqlType}`);
        else if (!want.test(d.type)) problems.push(`${table}.${name}: ${col.sqlType} reads as ${want.source}, db/types.ts says ${d.type}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
