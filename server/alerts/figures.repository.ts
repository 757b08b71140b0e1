import { sql, type RawBuilder } from "kysely";
import { MEASURES, recordValueSql, type MeasureSpec } from "../../db/measures";
import type { Db } from "../../db/types";
import type { SubjectKind } from "./notification";

/**
 * The SQL of the alerts' figures: a measure of a subject over a window, in base units (nano-USD
 * for money, counts), per subject key ('' for one subject; the account's / key's id for an "each"
 * subject). Whole local days and months come from the rollups; a part of a day (a rolling window's
 * first day, a past window's last day) from usage_records through its (account_id, usage_date,
 * usage_hour) or (api_key_id, usage_date) index, bounded by the local hours the part can touch, so
 * no read visits more than a day of records per subject.
 */

export interface AlertSubject {
  kind: SubjectKind;
  id: string | null;
}

export type Values = Map<string, bigint>;

type Level = "account" | "key" | "model";
const LEVEL: Record<SubjectKind, Level> = {
  all: "account",
  account: "account",
  platform: "account",
  each_account: "account",
  api_key: "key",
  each_api_key: "key",
  model: "model",
};

function spec(measure: string): MeasureSpec {
  const m = MEASURES.find((x) => x.name === measure);
  if (!m) throw new Error(`unknown measure ${measure}`);
  return m;
}

const groupKey = (kind: SubjectKind, alias: string) =>
  kind === "each_account" ? sql.raw(`${alias}.account_id`) : kind === "each_api_key" ? sql.raw(`${alias}.api_key_id`) : sql.lit("");

async function run(query: RawBuilder<{ k: string; v: string }>, db: Db): Promise<Values> {
  const out: Values = new Map();
  for (const r of (await query.execute(db)).rows) out.set(r.k, BigInt(r.v));
  return out;
}

/** The rollup of whole local days [fromDate, toDate] or one month (usage_month = its first day). */
export function rollupValues(
  db: Db,
  subject: AlertSubject,
  measure: string,
  period: { days: [string, string] } | { month: string },
): Promise<Values> {
  const m = spec(measure);
  const level = LEVEL[subject.kind];
  const table = sql.table(`usage_${level}_${"month" in period ? "monthly" : "daily"}`);
  const when = "month" in period ? sql`d.usage_month = ${period.month}::date` : sql`d.usage_date BETWEEN ${period.days[0]}::date AND ${period.days[1]}::date`;
  const who =
    subject.kind === "account"
      ? sql`AND d.account_id = ${subject.id}`
      : subject.kind === "platform"
        ? sql`AND d.account_id IN (SELECT a.id FROM accounts a WHERE a.platform = ${subject.id})`
        : subject.kind === "api_key"
          ? sql`AND d.api_key_id = ${subject.id}`
          : subject.kind === "model"
            ? sql`AND d.model = ${subject.id}`
            : sql``;
  const k = groupKey(subject.kind, "d");
  return run(
    sql<{ k: string; v: string }>`SELECT ${k} AS k, coalesce(sum(d.${sql.raw(m.column)}), 0)::text AS v
      FROM ${table} d WHERE ${when} ${who} GROUP BY 1`,
    db,
  );
}

/** A part of one local day of usage_records: occurred_at in (after, upTo], local hours [lowHour, highHour]. */
export interface DayPart {
  date: string;
  after?: Date;
  upTo?: Date;
  lowHour: number;
  highHour: number;
}

export function recordValues(db: Db, subject: AlertSubject, measure: string, part: DayPart): Promise<Values> {
  const m = spec(measure);
  const sum =
    m.kind === "money"
      ? sql.raw(`(coalesce(sum(${recordValueSql(m)}), 0) * 1000000000)::numeric(40, 0)::text`)
      : sql.raw(`coalesce(sum(${recordValueSql(m)}), 0)::text`);
  const bounds = sql`r.usage_date = ${part.date}::date AND r.usage_hour BETWEEN ${part.lowHour}::smallint AND ${part.highHour}::smallint
    ${part.after ? sql`AND r.occurred_at > ${part.after}` : sql``} ${part.upTo ? sql`AND r.occurred_at <= ${part.upTo}` : sql``}`;
  // Accounts with usage that day name the index probes of subjects that span accounts.
  const accountsOfDay = (extra: RawBuilder<unknown>) =>
    sql`r.account_id IN (SELECT d.account_id FROM usage_account_daily d WHERE d.usage_date = ${part.date}::date ${extra})`;
  const who =
    subject.kind === "account"
      ? sql`r.account_id = ${subject.id}`
      : subject.kind === "api_key"
        ? sql`r.api_key_id = ${subject.id}`
        : subject.kind === "platform"
          ? accountsOfDay(sql`AND d.account_id IN (SELECT a.id FROM accounts a WHERE a.platform = ${subject.id})`)
          : subject.kind === "model"
            ? sql`r.model = ${subject.id} AND r.account_id IN (SELECT md.account_id FROM usage_model_daily md WHERE md.usage_date = ${part.date}::date AND md.model = ${subject.id})`
            : accountsOfDay(sql``);
  const k = groupKey(subject.kind, "r");
  return run(sql<{ k: string; v: string }>`SELECT ${k} AS k, ${sum} AS v FROM usage_records r WHERE ${who} AND ${bounds} GROUP BY 1`, db);
}

export function addValues(into: Values, more: Values): Values {
  for (const [k, v] of more) into.set(k, (into.get(k) ?? 0n) + v);
  return into;
}

/** Names of the subjects the alerts show: accounts' and keys' names (absent ids have none). */
export async function subjectNames(db: Db, kind: "account" | "api_key", ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const table = kind === "account" ? "accounts" : "api_keys";
  const rows = await db.selectFrom(table).select(["id", "name"]).where("id", "in", [...ids]).execute();
  return new Map(rows.map((r) => [r.id, r.name]));
}

/** The account of each key (for the console's link and badge). */
export async function accountsOfKeys(db: Db, keyIds: readonly string[]): Promise<Map<string, string>> {
  if (keyIds.length === 0) return new Map();
  const rows = await db.selectFrom("api_keys").select(["id", "account_id"]).where("id", "in", [...keyIds]).where("account_id", "is not", null).execute();
  return new Map(rows.map((r) => [r.id, r.account_id!]));
}

/** Every account's id (of a platform), for reading their live counters; bounded like the accounts list. */
export async function accountIdsOf(db: Db, platform: string | undefined): Promise<string[]> {
  let q = db.selectFrom("accounts").select("id").where("deleted_at", "is", null).orderBy("id").limit(100_000);
  if (platform !== undefined) q = q.where("platform", "=", platform);
  return (await q.execute()).map((r) => r.id);
}
