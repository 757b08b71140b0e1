import { sql, type Insertable, type Selectable } from "kysely";
import type { AlertBudgetsTable, AlertEventsTable, AlertRulesTable, AlertSilencesTable, AlertStatesTable, Db } from "../../db/types";

/**
 * SQL of the alert rules, budgets, silences, states, events and notifications (migration 0016).
 * Channels and deliveries have theirs in channels.repository.ts and deliveries.repository.ts.
 */

export type RuleRow = Selectable<AlertRulesTable>;
export type BudgetRow = Selectable<AlertBudgetsTable>;
export type SilenceRow = Selectable<AlertSilencesTable>;
export type StateRow = Selectable<AlertStatesTable>;
export type EventRow = Selectable<AlertEventsTable>;

export const MAX_RULES = 1000;
export const MAX_BUDGETS = 1000;
export const MAX_ACTIVE_SILENCES = 1000;

// Leases

/** Takes or renews the evaluator's lease; true when this owner holds it now. */
export async function acquireAlertLease(db: Db, owner: string, until: Date, now: Date): Promise<boolean> {
  const r = await sql`UPDATE alert_leases SET owner = ${owner}, lease_until = ${until}
    WHERE name = 'evaluator' AND (owner = ${owner} OR owner IS NULL OR lease_until < ${now})`.execute(db);
  return Number(r.numAffectedRows ?? 0) > 0;
}

export async function releaseAlertLease(db: Db, owner: string): Promise<void> {
  await sql`UPDATE alert_leases SET owner = NULL, lease_until = NULL WHERE name = 'evaluator' AND owner = ${owner}`.execute(db);
}

// Rules

export function listRules(db: Db, opts: { enabledOnly?: boolean } = {}): Promise<RuleRow[]> {
  // A budget's rules share created_at (one transaction): its percents order them.
  let q = db.selectFrom("alert_rules").selectAll().orderBy("created_at").orderBy("threshold").orderBy("id").limit(MAX_RULES);
  if (opts.enabledOnly) q = q.where("enabled", "=", true);
  return q.execute();
}

export function findRule(db: Db, id: string): Promise<RuleRow | undefined> {
  return db.selectFrom("alert_rules").selectAll().where("id", "=", id).executeTakeFirst();
}

export function countRules(db: Db): Promise<number> {
  return db.selectFrom("alert_rules").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow().then((r) => Number(r.n));
}

export function insertRule(db: Db, row: Insertable<AlertRulesTable>): Promise<RuleRow> {
  return db.insertInto("alert_rules").values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateRule(db: Db, id: string, row: Partial<Insertable<AlertRulesTable>>): Promise<RuleRow | undefined> {
  return db.updateTable("alert_rules").set({ ...row, updated_at: new Date() }).where("id", "=", id).returningAll().executeTakeFirst();
}

export async function deleteRule(db: Db, id: string): Promise<boolean> {
  const r = await db.deleteFrom("alert_rules").where("id", "=", id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** Locks the rule for one evaluation's transitions: two evaluators take turns, the second sees the first's states. */
export async function lockEnabledRule(db: Db, id: string): Promise<RuleRow | undefined> {
  return db.selectFrom("alert_rules").selectAll().where("id", "=", id).where("enabled", "=", true).forUpdate().executeTakeFirst();
}

export function rulesOfBudget(db: Db, budgetId: string): Promise<RuleRow[]> {
  return db.selectFrom("alert_rules").selectAll().where("budget_id", "=", budgetId).orderBy("threshold").execute();
}

export function rulesOfBudgets(db: Db, budgetIds: readonly string[]): Promise<RuleRow[]> {
  if (budgetIds.length === 0) return Promise.resolve([]);
  return db.selectFrom("alert_rules").selectAll().where("budget_id", "in", [...budgetIds]).orderBy("threshold").orderBy("id").execute();
}

/** Channel ids no longer present are dropped from every rule (a channel was deleted). */
export async function missingChannels(db: Db, ids: readonly string[]): Promise<string[]> {
  if (ids.length === 0) return [];
  const found = await db.selectFrom("alert_channels").select("id").where("id", "in", [...ids]).execute();
  const have = new Set(found.map((r) => r.id));
  return ids.filter((i) => !have.has(i));
}

export async function channelsByIds(db: Db, ids: readonly string[]): Promise<{ id: string; name: string; enabled: boolean }[]> {
  if (ids.length === 0) return [];
  return db.selectFrom("alert_channels").select(["id", "name", "enabled"]).where("id", "in", [...ids]).execute();
}

// Budgets

/** Budgets, or those of the given accounts: set on the account, or on one of its API keys. */
export function listBudgets(db: Db, filter: { accountIds?: readonly string[] } = {}): Promise<BudgetRow[]> {
  let q = db.selectFrom("alert_budgets").selectAll().orderBy("created_at").orderBy("id").limit(MAX_BUDGETS);
  if (filter.accountIds) {
    const ids = [...filter.accountIds];
    if (ids.length === 0) return Promise.resolve([]);
    q = q.where((eb) =>
      eb.or([
        eb.and([eb("subject_kind", "=", "account"), eb("subject_id", "in", ids)]),
        eb.and([eb("subject_kind", "=", "api_key"), eb("subject_id", "in", eb.selectFrom("api_keys").select("id").where("account_id", "in", ids))]),
      ]),
    );
  }
  return q.execute();
}

export function findBudget(db: Db, id: string): Promise<BudgetRow | undefined> {
  return db.selectFrom("alert_budgets").selectAll().where("id", "=", id).executeTakeFirst();
}

export function budgetsByIds(db: Db, ids: readonly string[]): Promise<BudgetRow[]> {
  if (ids.length === 0) return Promise.resolve([]);
  return db.selectFrom("alert_budgets").selectAll().where("id", "in", [...ids]).execute();
}

export function countBudgets(db: Db): Promise<number> {
  return db.selectFrom("alert_budgets").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow().then((r) => Number(r.n));
}

export function insertBudget(db: Db, row: Insertable<AlertBudgetsTable>): Promise<BudgetRow> {
  return db.insertInto("alert_budgets").values(row).returningAll().executeTakeFirstOrThrow();
}

export function updateBudget(db: Db, id: string, row: Partial<Insertable<AlertBudgetsTable>>): Promise<BudgetRow | undefined> {
  return db.updateTable("alert_budgets").set({ ...row, updated_at: new Date() }).where("id", "=", id).returningAll().executeTakeFirst();
}

export async function deleteBudget(db: Db, id: string): Promise<boolean> {
  const r = await db.deleteFrom("alert_budgets").where("id", "=", id).executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

// Silences

export function activeSilences(db: Db, now: Date): Promise<SilenceRow[]> {
  return db
    .selectFrom("alert_silences")
    .selectAll()
    .where("starts_at", "<=", now)
    .where("ends_at", ">", now)
    .orderBy("ends_at")
    .limit(MAX_ACTIVE_SILENCES)
    .execute();
}

/** Silences not ended yet (active or to come), then the last ended ones, at most `limit`. */
export function listSilences(db: Db, now: Date, limit: number): Promise<(SilenceRow & { rule_name: string | null })[]> {
  return db
    .selectFrom("alert_silences as s")
    .leftJoin("alert_rules as r", "r.id", "s.rule_id")
    .selectAll("s")
    .select("r.name as rule_name")
    .orderBy(sql`(s.ends_at > ${now})`, "desc")
    .orderBy("s.ends_at", "desc")
    .limit(limit)
    .execute();
}

export function countActiveSilences(db: Db, now: Date): Promise<number> {
  return db
    .selectFrom("alert_silences")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("ends_at", ">", now)
    .executeTakeFirstOrThrow()
    .then((r) => Number(r.n));
}

export function insertSilence(db: Db, row: Insertable<AlertSilencesTable>): Promise<SilenceRow> {
  return db.insertInto("alert_silences").values(row).returningAll().executeTakeFirstOrThrow();
}

/** Ends a silence now (kept in the list as ended). */
export function expireSilence(db: Db, id: string, now: Date): Promise<SilenceRow | undefined> {
  return db
    .updateTable("alert_silences")
    .set({ ends_at: sql<Date>`greatest(starts_at + interval '1 millisecond', least(ends_at, ${now}::timestamptz))` })
    .where("id", "=", id)
    .returningAll()
    .executeTakeFirst();
}

// States

export function statesOfRule(db: Db, ruleId: string): Promise<StateRow[]> {
  return db.selectFrom("alert_states").selectAll().where("rule_id", "=", ruleId).execute();
}

export function statesOfRules(db: Db, ruleIds: readonly string[], perRule = 100): Promise<StateRow[]> {
  if (ruleIds.length === 0) return Promise.resolve([]);
  return sql<StateRow>`SELECT s.* FROM unnest(${[...ruleIds]}::uuid[]) AS q(id)
    CROSS JOIN LATERAL (SELECT * FROM alert_states st WHERE st.rule_id = q.id ORDER BY st.state DESC, st.since LIMIT ${perRule}) s`
    .execute(db)
    .then((r) => r.rows);
}

export function countStates(db: Db): Promise<{ firing: number; pending: number }> {
  return db
    .selectFrom("alert_states")
    .select([sql<string>`count(*) FILTER (WHERE state = 'firing')`.as("firing"), sql<string>`count(*) FILTER (WHERE state = 'pending')`.as("pending")])
    .executeTakeFirstOrThrow()
    .then((r) => ({ firing: Number(r.firing), pending: Number(r.pending) }));
}

/** Firing states whose subject is an account: an account rule, an account budget, or an each_account rule's account. */
export function firingStatesOfAccounts(db: Db, accountIds: readonly string[] | undefined): Promise<{ account_id: string; n: string }[]> {
  const filter = accountIds ? sql`AND x.account_id = ANY(${[...accountIds]}::text[])` : sql``;
  return sql<{ account_id: string; n: string }>`SELECT x.account_id, count(*)::text AS n FROM (
      SELECT CASE WHEN r.subject_kind = 'each_account' THEN s.subject_key
                  WHEN r.subject_kind = 'account' THEN r.subject_id
                  WHEN b.subject_kind = 'account' THEN b.subject_id END AS account_id
        FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id LEFT JOIN alert_budgets b ON b.id = r.budget_id
       WHERE s.state = 'firing') x
    WHERE x.account_id IS NOT NULL ${filter} GROUP BY x.account_id`
    .execute(db)
    .then((r) => r.rows);
}

export async function upsertState(db: Db, row: Insertable<AlertStatesTable>): Promise<void> {
  await db
    .insertInto("alert_states")
    .values(row)
    .onConflict((oc) =>
      oc.columns(["rule_id", "subject_key"]).doUpdateSet((eb) => ({
        state: eb.ref("excluded.state"),
        value: eb.ref("excluded.value"),
        threshold: eb.ref("excluded.threshold"),
        since: eb.ref("excluded.since"),
        firing_since: eb.ref("excluded.firing_since"),
        notified_at: eb.ref("excluded.notified_at"),
        evaluated_at: eb.ref("excluded.evaluated_at"),
        version: sql`alert_states.version + 1`,
      })),
    )
    .execute();
}

export async function deleteState(db: Db, ruleId: string, subjectKey: string): Promise<void> {
  await db.deleteFrom("alert_states").where("rule_id", "=", ruleId).where("subject_key", "=", subjectKey).execute();
}

export async function deleteStatesOfRule(db: Db, ruleId: string): Promise<void> {
  await db.deleteFrom("alert_states").where("rule_id", "=", ruleId).execute();
}

// Events and notifications

export async function insertEvents(db: Db, rows: Insertable<AlertEventsTable>[]): Promise<void> {
  if (rows.length) await db.insertInto("alert_events").values(rows).execute();
}

export interface HistoryFilter {
  ruleId?: string;
  subjectKey?: string;
  kind?: EventRow["kind"];
  before?: { at: Date; id: number };
  limit: number;
}

export function listEvents(db: Db, f: HistoryFilter): Promise<EventRow[]> {
  let q = db.selectFrom("alert_events").selectAll().orderBy("at", "desc").orderBy("id", "desc").limit(f.limit);
  if (f.ruleId) q = q.where("rule_id", "=", f.ruleId);
  if (f.subjectKey) q = q.where("subject_key", "=", f.subjectKey);
  if (f.kind) q = q.where("kind", "=", f.kind);
  if (f.before) {
    const b = f.before;
    q = q.where((eb) => eb.or([eb("at", "<", b.at), eb.and([eb("at", "=", b.at), eb("id", "<", b.id)])]));
  }
  return q.execute();
}

export function deliveriesOfNotifications(db: Db, ids: readonly number[]) {
  if (ids.length === 0) return Promise.resolve([]);
  return db
    .selectFrom("alert_deliveries")
    .select(["id", "notification_id", "channel_id", "channel_name", "status", "attempts", "last_error", "sent_at"])
    .where("notification_id", "in", [...ids])
    .orderBy("id")
    .execute();
}

export function countFailedDeliveries(db: Db, since: Date): Promise<number> {
  return db
    .selectFrom("alert_deliveries")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where("status", "=", "failed")
    .where("created_at", ">=", since)
    .executeTakeFirstOrThrow()
    .then((r) => Number(r.n));
}


/** What /metrics shows: firing alerts by rule, pending ones, and deliveries by status. */
export async function alertGaugeFigures(db: Db): Promise<{ firing: { rule_id: string; name: string; n: string }[]; pending: number; deliveries: { status: string; n: string }[] }> {
  const [firing, counts, deliveries] = await Promise.all([
    sql<{ rule_id: string; name: string; n: string }>`SELECT s.rule_id, r.name, count(*)::text AS n FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id
      WHERE s.state = 'firing' GROUP BY s.rule_id, r.name ORDER BY s.rule_id LIMIT 1000`.execute(db).then((r) => r.rows),
    countStates(db),
    sql<{ status: string; n: string }>`SELECT status, count(*)::text AS n FROM alert_deliveries GROUP BY status`.execute(db).then((r) => r.rows),
  ]);
  return { firing, pending: counts.pending, deliveries };
}

/** Deletes history older than `before`: transitions, and notifications with their deliveries and attempts. */
export async function pruneAlertHistory(db: Db, before: Date): Promise<{ events: number; notifications: number }> {
  const e = await db.deleteFrom("alert_events").where("at", "<", before).executeTakeFirst();
  const n = await db.deleteFrom("alert_notifications").where("created_at", "<", before).executeTakeFirst();
  return { events: Number(e.numDeletedRows), notifications: Number(n.numDeletedRows) };
}
