import { sql, type Kysely } from "kysely";
import type { Database } from "../../../db/types";

/**
 * What the ledger knows of where its accounts came from, for a relay deciding whether an account
 * is its to write: the relays that fed it (`sources`), whether it is CRS's — imported or followed
 * from CRS, or created by sub2api under a CRS id (`metadata.crsAccountId` = its id) — and whether
 * it is a bare placeholder (created by an event naming it: name = id, status 'unknown', no
 * metadata). An account with none of these was entered through the REST API.
 */
export interface AccountOrigin {
  sources: string[];
  fromCrs: boolean;
  placeholder: boolean;
}

export async function findAccountOrigins(db: Kysely<Database>, ids: readonly string[]): Promise<Map<string, AccountOrigin>> {
  if (!ids.length) return new Map();
  const r = await sql<{ id: string; sources: string[]; from_crs: boolean; placeholder: boolean }>`
    select id, sources,
           (metadata->>'source' = 'crs' or 'crs' = any(sources) or metadata->>'crsAccountId' = id) is true as from_crs,
           (status = 'unknown' and name = id and metadata = '{}'::jsonb) as placeholder
      from accounts where id = any(${[...ids]}::text[])`.execute(db);
  return new Map(r.rows.map((x) => [x.id, { sources: x.sources, fromCrs: x.from_crs, placeholder: x.placeholder }]));
}
