import type { RedisClient } from "../redis";
import type { Kysely } from "kysely";
import { expect } from "vitest";
import type { Database } from "../../db/types";
import { pgFigures, plain, redisFigures, usdText, withoutModelTotals, type Expected } from "./usage.fixtures";

/** Assertions of the recording tests: a store holds exactly the figures the events add up to. */

export async function expectPgFigures(db: Kysely<Database>, expected: Expected): Promise<void> {
  const pg = await pgFigures(db);
  expect(pg.rows).toBe(expected.rows);
  expect(pg.costNanos).toBe(expected.costNanos);
  expect(plain(pg.account)).toEqual(plain(expected.account));
  expect(plain(pg.key)).toEqual(plain(expected.key));
  expect(plain(pg.model)).toEqual(plain(expected.model));
  for (const [keyId, nanos] of expected.keyCostNanos) expect([keyId, usdText(pg.keyCostNanos.get(keyId) ?? 0n)]).toEqual([keyId, usdText(nanos)]);
}

/** Redis keeps no all-time figures per model, and its hashes must have the documented layout. */
export async function expectRedisFigures(redis: RedisClient, prefix: string, expected: Expected): Promise<void> {
  const hot = await redisFigures(redis, prefix, expected);
  expect(plain(hot.figures.account)).toEqual(plain(expected.account));
  expect(plain(hot.figures.key)).toEqual(plain(expected.key));
  expect(plain(hot.figures.model)).toEqual(plain(withoutModelTotals(expected)));
  expect(hot.layoutMismatches).toEqual([]);
}
