import type { Insertable } from "kysely";
import type { AlertRulesTable, Db } from "../../db/types";
import { localDate, firstDayOf, monthOf } from "../calendar";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";
import {
  countActiveSilences,
  countBudgets,
  countFailedDeliveries,
  countRules,
  countStates,
  deleteBudget,
  deleteRule,
  deleteStatesOfRule,
  deliveriesOfNotifications,
  expireSilence,
  findBudget,
  findRule,
  firingStatesOfAccounts,
  insertBudget,
  insertRule,
  insertSilence,
  listBudgets,
  listEvents,
  listRules,
  listSilences,
  MAX_ACTIVE_SILENCES,
  MAX_BUDGETS,
  MAX_RULES,
  missingChannels,
  rulesOfBudget,
  rulesOfBudgets,
  statesOfRules,
  updateBudget,
  updateRule,
  activeSilences,
  type BudgetRow,
  type RuleRow,
  type SilenceRow,
  type StateRow,
} from "./alerts.repository";
import { formatScaled, scaledFromNumeric, SCALE } from "./decimal";
import { percentOf, SUBJECT_OF_EACH } from "./evaluator";
import { rollupValues, subjectNames, accountsOfKeys } from "./figures.repository";
import { freshestValues } from "./live-values";
import {
  MAX_SILENCE_DAYS,
  measureKind,
  type BudgetView,
  type CreateBudgetInput,
  type CreateRuleInput,
  type CreateSilenceInput,
  type HistoryInput,
  type HistoryResult,
  type OverviewResult,
  type RuleView,
  type SilenceView,
  type StateView,
  type UpdateBudgetInput,
  type UpdateRuleInput,
} from "./schemas";

/**
 * The alerts' configuration and what they say: rules, budgets (each with its rules at 80 / 100 %),
 * silences, the state of every (rule, subject) and the history of transitions and deliveries.
 * The evaluation itself is evaluator.ts; deliveries are delivery.service.ts.
 */

function dbOf(runtime: Runtime): Db {
  if (!runtime.db) throw new AppError("UNAVAILABLE", "Alerts need PostgreSQL (POSTGRES_ENABLED=false)", { retryAfterSeconds: 60 });
  return runtime.db.db;
}

const nowOf = (runtime: Runtime) => new Date(runtime.clock.now());
const iso = (d: Date | string) => new Date(d).toISOString();

// Rules

async function checkChannels(db: Db, ids: readonly string[]): Promise<void> {
  const missing = await missingChannels(db, ids);
  if (missing.length) throw new AppError("BAD_REQUEST", `channelIds: no channel ${missing.join(", ")}`, { issues: [{ path: "channelIds", message: `no channel ${missing[0]}` }] });
}

function ruleRow(input: CreateRuleInput): Insertable<AlertRulesTable> {
  const c = input.condition;
  const base = {
    name: input.name,
    enabled: input.enabled ?? true,
    for_seconds: input.forSeconds ?? 0,
    repeat_seconds: input.repeatSeconds ?? 14_400,
    channel_ids: [...new Set(input.channelIds ?? [])],
  };
  if (c.type === "budget") {
    return { ...base, condition: "budget", budget_id: c.budgetId, threshold: c.percent, subject_kind: null, subject_id: null, measure: null, window_kind: null, window_size: null, spike_days: null, spike_min: null };
  }
  return {
    ...base,
    condition: c.type,
    budget_id: null,
    subject_kind: input.subject!.kind,
    subject_id: input.subject!.id ?? null,
    measure: input.measure!,
    window_kind: input.window!.kind,
    window_size: input.window!.size ?? null,
    threshold: c.type === "above" ? c.amount : c.factor,
    spike_days: c.type === "spike" ? c.days : null,
    spike_min: c.type === "spike" ? c.minimum : null,
  };
}

async function checkBudget(db: Db, input: CreateRuleInput): Promise<void> {
  if (input.condition.type !== "budget") return;
  if (!(await findBudget(db, input.condition.budgetId))) {
    throw new AppError("BAD_REQUEST", `condition.budgetId: no budget ${input.condition.budgetId}`, { issues: [{ path: "condition.budgetId", message: "no such budget" }] });
  }
}

export async function createRule(runtime: Runtime, input: CreateRuleInput): Promise<RuleView> {
  const db = dbOf(runtime);
  if ((await countRules(db)) >= MAX_RULES) throw new AppError("CONFLICT", `There are already ${MAX_RULES} rules, the most this ledger evaluates: delete some first`);
  await checkChannels(db, input.channelIds ?? []);
  await checkBudget(db, input);
  const row = await insertRule(db, ruleRow(input));
  return (await ruleViews(runtime, [row]))[0]!;
}

const DEFINITION: (keyof RuleRow)[] = ["budget_id", "subject_kind", "subject_id", "measure", "window_kind", "window_size", "condition", "threshold", "spike_days", "spike_min"];

export async function replaceRule(runtime: Runtime, input: UpdateRuleInput): Promise<RuleView> {
  const db = dbOf(runtime);
  const before = await getRuleRow(db, input.id);
  await checkChannels(db, input.channelIds ?? []);
  await checkBudget(db, input);
  const next = ruleRow(input);
  const row = await db.transaction().execute(async (trx) => {
    const r = await updateRule(trx, input.id, next);
    if (!r) throw notFound("rule", input.id);
    // What is measured changed: the states of the old definition mean nothing now.
    if (DEFINITION.some((k) => String(before[k]) !== String(r[k])) || !r.enabled) await deleteStatesOfRule(trx, r.id);
    return r;
  });
  return (await ruleViews(runtime, [row]))[0]!;
}

export async function setRuleEnabled(runtime: Runtime, input: { id: string; enabled: boolean }): Promise<RuleView> {
  const db = dbOf(runtime);
  const row = await db.transaction().execute(async (trx) => {
    const r = await updateRule(trx, input.id, { enabled: input.enabled });
    if (!r) throw notFound("rule", input.id);
    if (!input.enabled) await deleteStatesOfRule(trx, r.id);
    return r;
  });
  return (await ruleViews(runtime, [row]))[0]!;
}

export async function removeRule(runtime: Runtime, input: { id: string }): Promise<{ id: string; deleted: true }> {
  if (!(await deleteRule(dbOf(runtime), input.id))) throw notFound("rule", input.id);
  return { id: input.id, deleted: true };
}

async function getRuleRow(db: Db, id: string): Promise<RuleRow> {
  const r = await findRule(db, id);
  if (!r) throw notFound("rule", id);
  return r;
}

function notFound(what: string, id: string): AppError {
  return new AppError("NOT_FOUND", `No ${what} ${id}`);
}

export async function getRule(runtime: Runtime, input: { id: string }): Promise<RuleView> {
  const row = await getRuleRow(dbOf(runtime), input.id);
  return (await ruleViews(runtime, [row]))[0]!;
}

export async function listAlertRules(runtime: Runtime): Promise<RuleView[]> {
  return ruleViews(runtime, await listRules(dbOf(runtime)));
}

async function ruleViews(runtime: Runtime, rows: RuleRow[]): Promise<RuleView[]> {
  const db = dbOf(runtime);
  const now = nowOf(runtime);
  const budgetIds = [...new Set(rows.map((r) => r.budget_id).filter((b): b is string => !!b))];
  const budgets = new Map((await Promise.all(budgetIds.map((id) => findBudget(db, id)))).filter((b): b is BudgetRow => !!b).map((b) => [b.id, b]));
  const states = await statesOfRules(db, rows.map((r) => r.id));
  const silences = await activeSilences(db, now);
  const named = await nameSubjects(db, rows, budgets, states);
  return rows.map((r) => {
    const b = r.budget_id ? budgets.get(r.budget_id) : undefined;
    const subject = b ? { kind: b.subject_kind, id: b.subject_id } : { kind: r.subject_kind!, id: r.subject_id };
    return {
      id: r.id,
      name: r.name,
      enabled: r.enabled,
      budgetId: r.budget_id,
      subject: { ...subject, name: subject.id ? (named.get(`${subject.kind}:${subject.id}`)?.name ?? null) : null },
      measure: b ? b.measure : r.measure!,
      window: b ? { kind: b.period === "day" ? "today" : "month", size: null } : { kind: r.window_kind!, size: r.window_size },
      condition: conditionOf(r),
      forSeconds: r.for_seconds,
      repeatSeconds: r.repeat_seconds,
      channelIds: r.channel_ids,
      states: states.filter((s) => s.rule_id === r.id).map((s) => stateView(s, subject, named, silences)),
      createdAt: iso(r.created_at),
      updatedAt: iso(r.updated_at),
    };
  });
}

function conditionOf(r: RuleRow): RuleView["condition"] {
  const t = formatScaled(scaledFromNumeric(r.threshold));
  if (r.condition === "budget") return { type: "budget", budgetId: r.budget_id!, percent: t };
  if (r.condition === "spike") return { type: "spike", factor: t, days: r.spike_days ?? 7, minimum: formatScaled(scaledFromNumeric(r.spike_min ?? "0")) };
  return { type: "above", amount: t };
}

type Named = Map<string, { name: string; accountId: string | null }>;

/** Names of the accounts and keys the rules and their states name, by "kind:id". */
async function nameSubjects(db: Db, rows: RuleRow[], budgets: Map<string, BudgetRow>, states: StateRow[]): Promise<Named> {
  const accounts = new Set<string>();
  const keys = new Set<string>();
  const add = (kind: string | null, id: string | null) => {
    if (!id) return;
    if (kind === "account" || kind === "each_account") accounts.add(id);
    if (kind === "api_key" || kind === "each_api_key") keys.add(id);
  };
  for (const r of rows) {
    const b = r.budget_id ? budgets.get(r.budget_id) : undefined;
    add(b?.subject_kind ?? r.subject_kind, b?.subject_id ?? r.subject_id);
  }
  const kindOf = new Map(rows.map((r) => [r.id, r.subject_kind]));
  for (const s of states) add(kindOf.get(s.rule_id) ?? null, s.subject_key);
  const [an, kn, ka] = await Promise.all([subjectNames(db, "account", [...accounts]), subjectNames(db, "api_key", [...keys]), accountsOfKeys(db, [...keys])]);
  const out: Named = new Map();
  for (const id of accounts) out.set(`account:${id}`, { name: an.get(id) ?? id, accountId: id });
  for (const id of keys) out.set(`api_key:${id}`, { name: kn.get(id) ?? id, accountId: ka.get(id) ?? null });
  for (const r of rows) {
    const id = r.subject_id;
    if (id && (r.subject_kind === "model" || r.subject_kind === "platform")) out.set(`${r.subject_kind}:${id}`, { name: id, accountId: null });
  }
  return out;
}

function stateView(s: StateRow, subject: { kind: string; id: string | null }, named: Named, silences: SilenceRow[]): StateView {
  const eachKind = SUBJECT_OF_EACH[subject.kind as keyof typeof SUBJECT_OF_EACH];
  const kind = (eachKind ?? subject.kind) as StateView["subject"]["kind"];
  const id = eachKind ? s.subject_key : subject.id;
  const n = id ? named.get(`${eachKind ?? subject.kind}:${id}`) : undefined;
  return {
    subjectKey: s.subject_key,
    subject: { kind, id, name: n?.name ?? null },
    state: s.state,
    value: formatScaled(scaledFromNumeric(s.value)),
    threshold: formatScaled(scaledFromNumeric(s.threshold)),
    since: iso(s.since),
    firingSince: s.firing_since ? iso(s.firing_since) : null,
    notifiedAt: s.notified_at ? iso(s.notified_at) : null,
    silenced: silences.some((x) => (x.rule_id === null || x.rule_id === s.rule_id) && (x.subject_key === null || x.subject_key === s.subject_key)),
    accountId: kind === "account" ? id : (n?.accountId ?? null),
  };
}

// Budgets

export async function createBudget(runtime: Runtime, input: CreateBudgetInput): Promise<BudgetView> {
  const db = dbOf(runtime);
  if ((await countBudgets(db)) >= MAX_BUDGETS) throw new AppError("CONFLICT", `There are already ${MAX_BUDGETS} budgets: delete some first`);
  if ((await countRules(db)) + input.alertPercents.length > MAX_RULES) throw new AppError("CONFLICT", `A budget's rules would pass ${MAX_RULES} rules: delete some first`);
  await checkChannels(db, input.channelIds);
  const budget = await db.transaction().execute(async (trx) => {
    const b = await insertBudget(trx, {
      name: input.name,
      subject_kind: input.subject.kind,
      subject_id: input.subject.id ?? null,
      measure: input.measure,
      period: input.period,
      amount: input.amount,
    });
    for (const p of [...new Set(input.alertPercents)]) {
      await insertRule(trx, {
        name: `${input.name} ≥ ${p}%`,
        condition: "budget",
        budget_id: b.id,
        threshold: p,
        channel_ids: [...new Set(input.channelIds)],
      });
    }
    return b;
  });
  return (await budgetViews(runtime, [budget]))[0]!;
}

export async function replaceBudget(runtime: Runtime, input: UpdateBudgetInput): Promise<BudgetView> {
  const db = dbOf(runtime);
  const budget = await db.transaction().execute(async (trx) => {
    const b = await updateBudget(trx, input.id, {
      name: input.name,
      subject_kind: input.subject.kind,
      subject_id: input.subject.id ?? null,
      measure: input.measure,
      period: input.period,
      amount: input.amount,
    });
    if (!b) throw notFound("budget", input.id);
    // Its rules now measure something else: they start over.
    for (const r of await rulesOfBudget(trx, b.id)) await deleteStatesOfRule(trx, r.id);
    return b;
  });
  return (await budgetViews(runtime, [budget]))[0]!;
}

export async function removeBudget(runtime: Runtime, input: { id: string }): Promise<{ id: string; deleted: true }> {
  if (!(await deleteBudget(dbOf(runtime), input.id))) throw notFound("budget", input.id);
  return { id: input.id, deleted: true };
}

export async function listAlertBudgets(runtime: Runtime, filter: { accountIds?: string[] } = {}): Promise<BudgetView[]> {
  return budgetViews(runtime, await listBudgets(dbOf(runtime), filter));
}

async function budgetViews(runtime: Runtime, budgets: BudgetRow[]): Promise<BudgetView[]> {
  const db = dbOf(runtime);
  const now = nowOf(runtime);
  const tz = runtime.config.usageTimezone;
  const today = localDate(now, tz);
  const accounts = budgets.filter((b) => b.subject_kind === "account").map((b) => b.subject_id!);
  const keys = budgets.filter((b) => b.subject_kind === "api_key").map((b) => b.subject_id!);
  const [an, kn, ka] = await Promise.all([subjectNames(db, "account", accounts), subjectNames(db, "api_key", keys), accountsOfKeys(db, keys)]);
  // A budget's rules have one subject: each has at most one state.
  const allRules = await rulesOfBudgets(db, budgets.map((b) => b.id));
  const states = new Map((await statesOfRules(db, allRules.map((r) => r.id), 1)).map((st) => [st.rule_id, st]));
  const rulesByBudget = new Map<string, RuleRow[]>();
  for (const r of allRules) rulesByBudget.set(r.budget_id!, [...(rulesByBudget.get(r.budget_id!) ?? []), r]);
  return Promise.all(
    budgets.map(async (b) => {
      const subject = { kind: b.subject_kind, id: b.subject_id };
      const period = b.period === "day" ? { days: [today, today] as [string, string] } : { month: firstDayOf(monthOf(today)) };
      const window = { kind: b.period === "day" ? "today" : "month", size: null } as const;
      const used = (await freshestValues(runtime, db, subject, b.measure, window, now, await rollupValues(db, subject, b.measure, period))).get("") ?? 0n;
      const unit = measureKind(b.measure) === "money" ? SCALE : 1n;
      const amount = scaledFromNumeric(b.amount);
      const rules = rulesByBudget.get(b.id) ?? [];
      const name = b.subject_kind === "account" ? an.get(b.subject_id!) : b.subject_kind === "api_key" ? kn.get(b.subject_id!) : b.subject_id;
      return {
        id: b.id,
        name: b.name,
        subject: { kind: b.subject_kind, id: b.subject_id, name: name ?? b.subject_id },
        measure: b.measure,
        period: b.period,
        amount: formatScaled(amount),
        used: unit === SCALE ? formatScaled(used) : used.toString(),
        usedPercent: percentOf(used, (amount * unit) / SCALE),
        rules: rules.map((r) => ({ id: r.id, percent: formatScaled(scaledFromNumeric(r.threshold)), state: states.get(r.id)?.state ?? "ok", enabled: r.enabled })),
        accountId: b.subject_kind === "account" ? b.subject_id : b.subject_kind === "api_key" ? (ka.get(b.subject_id!) ?? null) : null,
        createdAt: iso(b.created_at),
        updatedAt: iso(b.updated_at),
      };
    }),
  );
}

// Silences

export async function createSilence(runtime: Runtime, input: CreateSilenceInput, createdBy: string): Promise<SilenceView> {
  const db = dbOf(runtime);
  const now = nowOf(runtime);
  const startsAt = input.startsAt ? new Date(input.startsAt) : now;
  const endsAt = new Date(input.endsAt);
  if (endsAt <= startsAt) throw new AppError("BAD_REQUEST", "endsAt: must be after startsAt (or now)", { issues: [{ path: "endsAt", message: "must be after startsAt" }] });
  if (endsAt.getTime() - now.getTime() > MAX_SILENCE_DAYS * 86_400_000) {
    throw new AppError("BAD_REQUEST", `endsAt: a silence lasts at most ${MAX_SILENCE_DAYS} days from now`, { issues: [{ path: "endsAt", message: `at most ${MAX_SILENCE_DAYS} days from now` }] });
  }
  if (input.ruleId && !(await findRule(db, input.ruleId))) throw new AppError("BAD_REQUEST", `ruleId: no rule ${input.ruleId}`, { issues: [{ path: "ruleId", message: "no such rule" }] });
  if ((await countActiveSilences(db, now)) >= MAX_ACTIVE_SILENCES) throw new AppError("CONFLICT", `There are already ${MAX_ACTIVE_SILENCES} silences not ended: end some first`);
  const row = await insertSilence(db, { rule_id: input.ruleId ?? null, subject_key: input.subjectKey ?? null, starts_at: startsAt, ends_at: endsAt, comment: input.comment ?? "", created_by: createdBy });
  const rule = row.rule_id ? await findRule(db, row.rule_id) : undefined;
  return silenceView({ ...row, rule_name: rule?.name ?? null }, now);
}

export async function endSilence(runtime: Runtime, input: { id: string }): Promise<SilenceView> {
  const db = dbOf(runtime);
  const now = nowOf(runtime);
  const row = await expireSilence(db, input.id, now);
  if (!row) throw notFound("silence", input.id);
  const rule = row.rule_id ? await findRule(db, row.rule_id) : undefined;
  return silenceView({ ...row, rule_name: rule?.name ?? null }, now);
}

export async function listAlertSilences(runtime: Runtime): Promise<SilenceView[]> {
  const now = nowOf(runtime);
  return (await listSilences(dbOf(runtime), now, 200)).map((s) => silenceView(s, now));
}

function silenceView(s: SilenceRow & { rule_name: string | null }, now: Date): SilenceView {
  return {
    id: s.id,
    ruleId: s.rule_id,
    ruleName: s.rule_name,
    subjectKey: s.subject_key,
    startsAt: iso(s.starts_at),
    endsAt: iso(s.ends_at),
    active: new Date(s.starts_at) <= now && new Date(s.ends_at) > now,
    comment: s.comment,
    createdBy: s.created_by,
    createdAt: iso(s.created_at),
  };
}

// History and overview

function encodeCursor(at: Date, id: number): string {
  return Buffer.from(`${at.toISOString()}|${id}`).toString("base64url");
}

function decodeCursor(c: string): { at: Date; id: number } {
  const [at, id] = Buffer.from(c, "base64url").toString().split("|");
  const d = new Date(at ?? "");
  const n = Number(id);
  if (!at || Number.isNaN(d.getTime()) || !Number.isSafeInteger(n) || n <= 0) {
    throw new AppError("BAD_REQUEST", "cursor: not a cursor this API gave (use nextCursor of the previous page)", { issues: [{ path: "cursor", message: "invalid cursor" }] });
  }
  return { at: d, id: n };
}

export async function alertHistory(runtime: Runtime, input: HistoryInput): Promise<HistoryResult> {
  const db = dbOf(runtime);
  const rows = await listEvents(db, { ruleId: input.ruleId, subjectKey: input.subjectKey, kind: input.kind, before: input.cursor ? decodeCursor(input.cursor) : undefined, limit: input.limit + 1 });
  const page = rows.slice(0, input.limit);
  const deliveries = await deliveriesOfNotifications(db, [...new Set(page.map((r) => r.notification_id).filter((n): n is number => n !== null))]);
  const last = page[page.length - 1];
  return {
    items: page.map((r) => ({
      id: r.id,
      ruleId: r.rule_id,
      ruleName: r.rule_name,
      subjectKind: r.subject_kind,
      subjectKey: r.subject_key,
      subjectName: r.subject_name,
      kind: r.kind,
      value: formatScaled(scaledFromNumeric(r.value)),
      threshold: formatScaled(scaledFromNumeric(r.threshold)),
      silenced: r.silenced,
      notificationId: r.notification_id,
      deliveries: deliveries
        .filter((d) => d.notification_id === r.notification_id)
        .map((d) => ({ id: d.id, channelId: d.channel_id, channelName: d.channel_name, status: d.status, attempts: d.attempts, lastError: d.last_error, sentAt: d.sent_at ? iso(d.sent_at) : null })),
      at: iso(r.at),
    })),
    nextCursor: rows.length > input.limit && last ? encodeCursor(new Date(last.at), last.id) : null,
  };
}

export async function alertOverview(runtime: Runtime, input: { accountIds?: string[] }): Promise<OverviewResult> {
  const db = dbOf(runtime);
  const now = nowOf(runtime);
  const [counts, failed, firingByAccount, budgets] = await Promise.all([
    countStates(db),
    countFailedDeliveries(db, new Date(now.getTime() - 7 * 86_400_000)),
    firingStatesOfAccounts(db, input.accountIds),
    listAlertBudgets(runtime, { accountIds: input.accountIds }),
  ]);
  const ids = new Set([...firingByAccount.map((f) => f.account_id), ...budgets.map((b) => b.accountId).filter((a): a is string => !!a)]);
  return {
    firing: counts.firing,
    pending: counts.pending,
    failedDeliveries: failed,
    accounts: [...ids].sort().map((accountId) => ({
      accountId,
      firing: Number(firingByAccount.find((f) => f.account_id === accountId)?.n ?? 0),
      budgets: budgets.filter((b) => b.accountId === accountId),
    })),
  };
}
