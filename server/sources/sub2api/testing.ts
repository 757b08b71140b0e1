import { sql, type Kysely } from "kysely";
import type { Database } from "../../../db/types";
import { rng } from "../../usage/usage.fixtures";
import { addLog, type LogFixture } from "./sub2api.fixtures";
import type pg from "pg";

/**
 * Tests only: usage rows written as sub2api writes them, and the figures they must give, worked
 * out here from what the test wrote (exact integer arithmetic), never read back from the ledger.
 */

export interface Figures {
  requests: number;
  inputTokens: number;
  outputTokens: number;
  cacheCreateTokens: number;
  cacheReadTokens: number;
  costNanos: bigint;
  ratedCostNanos: bigint;
}

export const zero = (): Figures => ({ requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, costNanos: 0n, ratedCostNanos: 0n });

/** A cost of 10 decimals (sub2api's DECIMAL(20,10)) as text, from an integer of 1e-10 USD. */
const dec10 = (units: bigint) => `${units / 10_000_000_000n}.${(units % 10_000_000_000n).toString().padStart(10, "0")}`;
/** Rounds a non-negative integer of 10^-scale USD to 8 decimals (half up, as PostgreSQL's round) and gives nanos. */
const nanos8 = (units: bigint, scale: number) => {
  const div = 10n ** BigInt(scale - 8);
  return ((units + div / 2n) / div) * 10n;
};

export interface GeneratedLog extends LogFixture {
  /** The ledger account it must land on. */
  ledgerAccount: string;
  ledgerKey: string;
  realNanos: bigint;
  ratedNanos: bigint;
}

/**
 * `n` rows spread over the hours before `endMs`, on the given accounts and keys, with costs of 10
 * decimals, and on some rows an account_stats_cost and an account rate multiplier.
 */
export function generateLogs(
  n: number,
  seed: number,
  endMs: number,
  spreadHours: number,
  accounts: { id: string; ledger: string }[],
  keys: { id: string; userId: string; ledger: string }[],
): GeneratedLog[] {
  const r = rng(seed);
  const int = (max: number) => Math.floor(r() * max);
  const out: GeneratedLog[] = [];
  for (let i = 0; i < n; i++) {
    const a = accounts[int(accounts.length)]!;
    const k = keys[int(keys.length)]!;
    const total = BigInt(int(50_000_000)) * 1000n + BigInt(int(1000)); // up to $5, 10 decimals
    const rate = BigInt(5_000 + int(20_000)); // 0.5000 … 2.4999
    const actual = (total * rate + 5_000n) / 10_000n; // what sub2api stores: total × rate to 10 decimals
    const hasStats = r() < 0.3;
    const stats = hasStats ? BigInt(int(30_000_000)) * 1000n + BigInt(int(1000)) : total;
    const accountRate = r() < 0.4 ? BigInt(1_000 + int(30_000)) : undefined; // 0.1000 … 3.0999
    const real = accountRate === undefined ? nanos8(stats, 10) : nanos8(stats * accountRate, 14);
    const cc = int(3000);
    const c5 = int(cc + 1);
    out.push({
      userId: k.userId,
      apiKeyId: k.id,
      accountId: a.id,
      model: ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5", "gemini-2.5-pro"][int(4)]!,
      createdAt: new Date(endMs - int(spreadHours * 3_600_000)).toISOString(),
      input: int(20_000),
      output: int(8_000),
      cacheCreate: cc,
      cacheRead: int(50_000),
      cache5m: c5,
      cache1h: cc - c5,
      totalCost: dec10(total),
      actualCost: dec10(actual),
      rateMultiplier: `${rate / 10_000n}.${(rate % 10_000n).toString().padStart(4, "0")}`,
      accountStatsCost: hasStats ? dec10(stats) : null,
      ...(accountRate !== undefined ? { accountRateMultiplier: `${accountRate / 10_000n}.${(accountRate % 10_000n).toString().padStart(4, "0")}` } : {}),
      requestId: r() < 0.8 ? `req_${seed}_${i}` : null,
      stream: r() < 0.5,
      durationMs: int(60_000),
      ledgerAccount: a.ledger,
      ledgerKey: k.ledger,
      realNanos: real,
      ratedNanos: nanos8(actual, 10),
    });
  }
  return out;
}

export async function writeLogs(db: Pick<pg.Pool, "query">, logs: GeneratedLog[]): Promise<string[]> {
  const ids: string[] = [];
  for (const l of logs) ids.push(await addLog(db, l));
  return ids;
}

export function add(f: Figures, l: GeneratedLog): void {
  f.requests++;
  f.inputTokens += l.input ?? 0;
  f.outputTokens += l.output ?? 0;
  f.cacheCreateTokens += l.cacheCreate ?? 0;
  f.cacheReadTokens += l.cacheRead ?? 0;
  f.costNanos += l.realNanos;
  f.ratedCostNanos += l.ratedNanos;
}

export function figuresBy(logs: GeneratedLog[], keyOf: (l: GeneratedLog) => string): Map<string, Figures> {
  const m = new Map<string, Figures>();
  for (const l of logs) {
    const k = keyOf(l);
    if (!m.has(k)) m.set(k, zero());
    add(m.get(k)!, l);
  }
  return m;
}

/** A rollup table's figures per id (and bucket, for daily tables), exact. */
export async function ledgerFigures(db: Kysely<Database>, table: string, idColumn: string, bucket?: string): Promise<Map<string, Figures>> {
  const r = await sql<Record<string, string>>`
    select ${sql.raw(idColumn)} as id, ${sql.raw(bucket ?? "''")} as bucket, sum(requests)::text as requests, sum(input_tokens)::text as input,
      sum(output_tokens)::text as output, sum(cache_create_tokens)::text as cc, sum(cache_read_tokens)::text as cr,
      sum(cost_nanos)::text as cost, sum(rated_cost_nanos)::text as rated
      from ${sql.table(table)} group by 1, 2`.execute(db);
  return new Map(
    r.rows.map((x) => [
      bucket ? `${x.id}|${x.bucket}` : x.id!,
      {
        requests: Number(x.requests),
        inputTokens: Number(x.input),
        outputTokens: Number(x.output),
        cacheCreateTokens: Number(x.cc),
        cacheReadTokens: Number(x.cr),
        costNanos: BigInt(x.cost!),
        ratedCostNanos: BigInt(x.rated!),
      },
    ]),
  );
}
