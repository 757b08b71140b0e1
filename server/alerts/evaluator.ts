import { randomUUID } from "node:crypto";
import type { Insertable } from "kysely";
import type { AlertEventsTable, AlertStatesTable, Db } from "../../db/types";
import { localDate } from "../calendar";
import { logger } from "../logger";
import { metrics } from "../metrics/metrics";
import type { Runtime } from "../runtime";
import {
  acquireAlertLease,
  activeSilences,
  budgetsByIds,
  channelsByIds,
  deleteState,
  insertEvents,
  listRules,
  lockEnabledRule,
  pruneAlertHistory,
  releaseAlertLease,
  statesOfRule,
  upsertState,
  type BudgetRow,
  type RuleRow,
  type SilenceRow,
  type EventRow,
  type StateRow,
} from "./alerts.repository";
import { formatRatio, formatScaled, reaches, scaledFromNumeric, SCALE, type Ratio } from "./decimal";
import { accountsOfKeys, subjectNames, type AlertSubject, type Values } from "./figures.repository";
import type { Condition, NotificationAlert, NotificationPayload, SubjectKind, WindowKind } from "./notification";
import { insertNotification } from "./deliveries.repository";
import { enqueueDeliveries } from "./delivery.service";
import { freshestValues } from "./live-values";
import { measureKind } from "./schemas";
import { currentSpan, currentValues, pastValues, type WindowSpec } from "./windows";

/**
 * The alert evaluator: each rule's measure over its window, per subject, against its condition;
 * each (rule, subject) moves ok → pending → firing → resolved (Alertmanager's semantics: `for`
 * before firing, a repeat interval, silences that mute notifications but not state). A rule's
 * transitions of one evaluation are grouped into one notification per kind, queued for each of
 * its channels in the same transaction as the states (server/alerts/delivery.service.ts sends).
 *
 * One process evaluates at a time (the lease of alert_leases); a transaction locks the rule row,
 * so even two evaluators overlapping at a lease hand-over take turns and the second finds the
 * first's states: a transition, and its notification, happens once.
 */

export interface EffectiveRule {
  rule: RuleRow;
  budget: BudgetRow | undefined;
  subject: AlertSubject;
  measure: string;
  window: WindowSpec;
}

export function effectiveRule(rule: RuleRow, budgets: Map<string, BudgetRow>): EffectiveRule | undefined {
  if (rule.condition === "budget") {
    const budget = rule.budget_id ? budgets.get(rule.budget_id) : undefined;
    if (!budget) return undefined;
    return {
      rule,
      budget,
      subject: { kind: budget.subject_kind, id: budget.subject_id },
      measure: budget.measure,
      window: { kind: budget.period === "day" ? "today" : "month", size: null },
    };
  }
  return {
    rule,
    budget: undefined,
    subject: { kind: rule.subject_kind!, id: rule.subject_id },
    measure: rule.measure!,
    window: { kind: rule.window_kind!, size: rule.window_size },
  };
}

/** Base units of a measure per unit of its amounts: nano-USD per USD, 1 per count. */
const unitOf = (measure: string) => (measureKind(measure) === "money" ? SCALE : 1n);

/** A value in base units as the measure's decimal (USD for money). */
export function unitValue(measure: string, v: bigint): string {
  return measureKind(measure) === "money" ? formatScaled(v) : v.toString();
}

/** A threshold in base units as the measure's decimal, rounded to 9 decimals. */
export function unitRatio(measure: string, r: Ratio): string {
  return measureKind(measure) === "money" ? formatRatio({ num: r.num, den: r.den * SCALE }) : formatRatio(r);
}

/** The median of n values as an exact ratio (the mean of the middle two when n is even). */
export function median(values: bigint[]): Ratio {
  const s = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const mid = Math.floor(s.length / 2);
  if (s.length === 0) return { num: 0n, den: 1n };
  return s.length % 2 ? { num: s[mid]!, den: 1n } : { num: s[mid - 1]! + s[mid]!, den: 2n };
}

interface Judgement {
  active: boolean;
  threshold: Ratio;
  spike?: { median: Ratio };
}

/** The threshold of an above or budget rule, the same for every subject. */
function constantThreshold(e: EffectiveRule): Ratio | undefined {
  const unit = unitOf(e.measure);
  if (e.rule.condition === "above") return { num: scaledFromNumeric(e.rule.threshold) * unit, den: SCALE };
  if (e.rule.condition === "budget") return { num: scaledFromNumeric(e.budget!.amount) * unit * scaledFromNumeric(e.rule.threshold), den: SCALE * SCALE * 100n };
  return undefined;
}

export async function judge(db: Db, e: EffectiveRule, values: Values, now: Date, tz: string): Promise<Map<string, Judgement>> {
  const { rule } = e;
  const unit = unitOf(e.measure);
  const out = new Map<string, Judgement>();
  const constant = constantThreshold(e);
  if (constant) {
    for (const [k, v] of values) out.set(k, { active: reaches(v, constant), threshold: constant });
    return out;
  }
  const k = scaledFromNumeric(rule.threshold);
  const minimum = { num: scaledFromNumeric(rule.spike_min ?? "0") * unit, den: SCALE };
  const days = rule.spike_days ?? 7;
  const baselines = await Promise.all(Array.from({ length: days }, (_, i) => pastValues(db, e.subject, e.measure, e.window, now, tz, i + 1)));
  for (const [key, v] of values) {
    const m = median(baselines.map((b) => b.get(key) ?? 0n));
    const t = { num: k * m.num, den: SCALE * m.den };
    out.set(key, { active: reaches(v, minimum) && reaches(v, t, true), threshold: t, spike: { median: m } });
  }
  return out;
}

export interface EvaluationResult {
  rules: number;
  failed: number;
  transitions: number;
  notifications: number;
}

export interface EvaluateOptions {
  now: Date;
  /** Called after a notification was queued (the delivery loop's wake()). */
  onQueued?: () => void;
}

/** Evaluates every enabled rule once (the caller holds the lease). A rule that fails is logged and skipped. */
export async function evaluateRules(runtime: Runtime, opts: EvaluateOptions): Promise<EvaluationResult> {
  const db = runtime.db?.db;
  if (!db) throw new Error("alerts need PostgreSQL");
  const { now } = opts;
  const rules = await listRules(db, { enabledOnly: true });
  const budgets = new Map((await budgetsByIds(db, [...new Set(rules.map((r) => r.budget_id).filter((b): b is string => !!b))])).map((b) => [b.id, b]));
  const silences = await activeSilences(db, now);
  const result: EvaluationResult = { rules: 0, failed: 0, transitions: 0, notifications: 0 };
  for (const rule of rules) {
    const e = effectiveRule(rule, budgets);
    if (!e) continue;
    result.rules++;
    try {
      const r = await evaluateRule(runtime, db, e, silences, now);
      result.transitions += r.transitions;
      result.notifications += r.notifications;
    } catch (err) {
      result.failed++;
      logger.warn(`[alerts] evaluating rule "${rule.name}" (${rule.id}) failed: ${(err as Error).message}`);
    }
  }
  if (result.notifications) opts.onQueued?.();
  return result;
}

const isSilenced = (silences: SilenceRow[], ruleId: string, key: string) =>
  silences.some((s) => (s.rule_id === null || s.rule_id === ruleId) && (s.subject_key === null || s.subject_key === key));

type Transition = { key: string; kind: EventRow["kind"]; notify?: "firing" | "repeat" | "resolved"; silenced: boolean; judgement: Judgement; value: bigint; prior?: StateRow };

/**
 * What happens to one (rule, subject) at `now`. Silenced: the state moves, nothing is notified; a
 * firing alert not notified yet (a silence ended) is notified at the next evaluation. A resolve is
 * notified when the firing was.
 */
export function decide(
  prior: StateRow | undefined,
  active: boolean,
  rule: { for_seconds: number; repeat_seconds: number },
  now: Date,
  silenced: boolean,
): { kind?: Transition["kind"]; notify?: Transition["notify"]; next?: "pending" | "firing" | "ok" } {
  const t = now.getTime();
  if (active) {
    if (!prior || prior.state === "pending") {
      const since = prior ? new Date(prior.since).getTime() : t;
      if (rule.for_seconds === 0 || t - since >= rule.for_seconds * 1000) return { kind: "firing", notify: silenced ? undefined : "firing", next: "firing" };
      return prior ? { next: "pending" } : { kind: "pending", next: "pending" };
    }
    if (silenced) return { next: "firing" };
    if (!prior.notified_at) return { kind: "repeat", notify: "firing", next: "firing" };
    if (rule.repeat_seconds > 0 && t - new Date(prior.notified_at).getTime() >= rule.repeat_seconds * 1000) return { kind: "repeat", notify: "repeat", next: "firing" };
    return { next: "firing" };
  }
  if (!prior) return {};
  if (prior.state === "pending") return { kind: "inactive", next: "ok" };
  return { kind: "resolved", notify: prior.notified_at ? "resolved" : undefined, next: "ok" };
}

async function evaluateRule(runtime: Runtime, db: Db, e: EffectiveRule, silences: SilenceRow[], now: Date): Promise<{ transitions: number; notifications: number }> {
  const tz = runtime.config.usageTimezone;
  const values = await freshestValues(runtime, db, e.subject, e.measure, e.window, now, await currentValues(db, e.subject, e.measure, e.window, now, tz));
  const each = e.subject.kind === "each_account" || e.subject.kind === "each_api_key";
  if (!each && !values.has("")) values.set("", 0n);
  const judgements = await judge(db, e, values, now, tz);

  return db.transaction().execute(async (trx) => {
    const rule = await lockEnabledRule(trx, e.rule.id);
    if (!rule || rule.updated_at.getTime() !== e.rule.updated_at.getTime()) return { transitions: 0, notifications: 0 };
    const priors = new Map((await statesOfRule(trx, rule.id)).map((s) => [s.subject_key, s]));
    const keys = new Set([...priors.keys(), ...[...judgements].filter(([, j]) => j.active).map(([k]) => k)]);
    const transitions: Transition[] = [];
    for (const key of keys) {
      const value = values.get(key) ?? 0n;
      // A subject of an each rule without usage now: its threshold is the rule's (a spike's, 0).
      const judgement = judgements.get(key) ?? { active: false, threshold: constantThreshold(e) ?? { num: 0n, den: 1n } };
      const prior = priors.get(key);
      const silenced = isSilenced(silences, rule.id, key);
      const d = decide(prior, judgement.active, rule, now, silenced);
      if (d.next === "ok") await deleteState(trx, rule.id, key);
      else if (d.next) {
        const firingNow = d.next === "firing";
        const notified = d.notify === "firing" || d.notify === "repeat" ? now : (prior?.notified_at ?? null);
        const row: Insertable<AlertStatesTable> = {
          rule_id: rule.id,
          subject_key: key,
          state: d.next,
          value: unitValue(e.measure, value),
          threshold: unitRatio(e.measure, judgement.threshold),
          since: prior && prior.state === d.next ? prior.since : now,
          firing_since: firingNow ? (prior?.firing_since ?? now) : null,
          notified_at: firingNow ? notified : null,
          evaluated_at: now,
        };
        await upsertState(trx, row);
      }
      if (d.kind) transitions.push({ key, kind: d.kind, notify: d.notify, silenced, judgement, value, prior });
    }
    if (transitions.length === 0) return { transitions: 0, notifications: 0 };

    const names = await namesOf(trx, e, transitions.map((t) => t.key));
    const eventRows: Insertable<AlertEventsTable>[] = [];
    let notifications = 0;
    const channels = (await channelsByIds(trx, rule.channel_ids)).filter((c) => c.enabled);
    for (const kind of ["firing", "repeat", "resolved"] as const) {
      const group = transitions.filter((t) => t.notify === kind);
      if (group.length === 0) continue;
      const payload = buildPayload(runtime, e, kind, group, names, now);
      const id = await insertNotification(trx, { ruleId: rule.id, kind, payload, createdAt: now });
      await enqueueDeliveries(trx, id, channels, now);
      notifications++;
      for (const t of group) eventRows.push(eventRow(e, t, names, now, id));
    }
    for (const t of transitions.filter((x) => !x.notify)) eventRows.push(eventRow(e, t, names, now, null));
    await insertEvents(trx, eventRows);
    return { transitions: transitions.length, notifications };
  });
}

interface Names {
  subject: Map<string, { kind: NotificationAlert["subjectKind"]; id: string; name: string; accountId: string | null }>;
}

async function namesOf(db: Db, e: EffectiveRule, keys: string[]): Promise<Names> {
  const subject: Names["subject"] = new Map();
  const kind = e.subject.kind;
  if (kind === "each_account" || kind === "account") {
    const ids = kind === "account" ? [e.subject.id!] : keys;
    const n = await subjectNames(db, "account", ids);
    for (const key of keys) {
      const id = kind === "account" ? e.subject.id! : key;
      subject.set(key, { kind: "account", id, name: n.get(id) ?? id, accountId: id });
    }
  } else if (kind === "each_api_key" || kind === "api_key") {
    const ids = kind === "api_key" ? [e.subject.id!] : keys;
    const [n, acc] = await Promise.all([subjectNames(db, "api_key", ids), accountsOfKeys(db, ids)]);
    for (const key of keys) {
      const id = kind === "api_key" ? e.subject.id! : key;
      subject.set(key, { kind: "api_key", id, name: n.get(id) ?? id, accountId: acc.get(id) ?? null });
    }
  } else {
    for (const key of keys) subject.set(key, { kind: kind as "all" | "model" | "platform", id: e.subject.id ?? "", name: e.subject.id ?? "", accountId: null });
  }
  return { subject };
}

function eventRow(e: EffectiveRule, t: Transition, names: Names, now: Date, notificationId: number | null): Insertable<AlertEventsTable> {
  const s = names.subject.get(t.key)!;
  return {
    rule_id: e.rule.id,
    rule_name: e.rule.name,
    subject_kind: s.kind,
    subject_key: t.key,
    subject_name: s.name,
    kind: t.kind,
    value: unitValue(e.measure, t.value),
    threshold: unitRatio(e.measure, t.judgement.threshold),
    silenced: t.silenced,
    notification_id: notificationId,
    at: now,
  };
}

const CONSOLE_RANGE: Record<WindowKind, string> = { today: "daily", month: "monthly", hours: "custom", days: "custom" };

/** The console at a subject and the rule's window: the account's drawer, the key page, or the accounts list. */
export function consoleLink(publicUrl: string | undefined, s: { kind: string; id: string; accountId: string | null }, w: WindowSpec, now: Date, tz: string): string | null {
  if (!publicUrl) return null;
  const params = new URLSearchParams();
  let path = "/accounts";
  if (s.kind === "api_key") {
    path = "/keys";
    params.set("q", s.id);
  } else if (s.accountId) params.set("account", s.accountId);
  else if (s.kind === "platform") params.set("platform", s.id);
  params.set("range", CONSOLE_RANGE[w.kind]);
  if (w.kind === "hours" || w.kind === "days") {
    const span = currentSpan(w, now, tz);
    params.set("from", localDate(span.from, tz));
    params.set("to", localDate(span.to, tz));
  }
  return `${publicUrl.replace(/\/+$/, "")}${path}?${params.toString()}`;
}

function buildPayload(runtime: Runtime, e: EffectiveRule, kind: "firing" | "repeat" | "resolved", group: Transition[], names: Names, now: Date): NotificationPayload {
  const tz = runtime.config.usageTimezone;
  const publicUrl = runtime.config.publicUrl;
  const span = currentSpan(e.window, now, tz);
  const alerts = group.map((t): NotificationAlert => {
    const s = names.subject.get(t.key)!;
    const alert: NotificationAlert = {
      subjectKind: s.kind,
      subjectId: s.id,
      subjectName: s.name,
      value: unitValue(e.measure, t.value),
      threshold: unitRatio(e.measure, t.judgement.threshold),
      firingSince: new Date(t.prior?.firing_since ?? now).toISOString(),
      consoleUrl: consoleLink(publicUrl, s, e.window, now, tz),
    };
    if (kind === "resolved") alert.resolvedAt = now.toISOString();
    if (e.budget) {
      const amount = scaledFromNumeric(e.budget.amount);
      alert.budget = {
        name: e.budget.name,
        amount: formatScaled(amount),
        usedPercent: percentOf(t.value, (amount * unitOf(e.measure)) / SCALE),
        alertPercent: formatScaled(scaledFromNumeric(e.rule.threshold)),
      };
    }
    if (t.judgement.spike) {
      alert.spike = {
        median: unitRatio(e.measure, t.judgement.spike.median),
        factor: formatScaled(scaledFromNumeric(e.rule.threshold)),
        days: e.rule.spike_days ?? 7,
        minimum: formatScaled(scaledFromNumeric(e.rule.spike_min ?? "0")),
      };
    }
    return alert;
  });
  return {
    kind,
    rule: {
      id: e.rule.id,
      name: e.rule.name,
      condition: e.rule.condition as Condition,
      measure: e.measure,
      measureKind: measureKind(e.measure),
      window: { kind: e.window.kind, size: e.window.size, from: span.from.toISOString(), to: span.to.toISOString() },
    },
    alerts,
    at: now.toISOString(),
    timeZone: tz,
    consoleUrl: publicUrl ? `${publicUrl.replace(/\/+$/, "")}/alerts` : null,
  };
}

/** used / amount in percent with one decimal, rounded half up ("83.2"). */
export function percentOf(used: bigint, amount: bigint): string {
  if (amount <= 0n) return "0";
  const tenths = (used * 1000n * 2n + amount) / (2n * amount);
  return `${tenths / 10n}.${tenths % 10n}`;
}

/** Subjects of the "each" kinds that the console shows as a subject kind. */
export const SUBJECT_OF_EACH: Partial<Record<SubjectKind, "account" | "api_key">> = { each_account: "account", each_api_key: "api_key" };

/** How long the history (transitions, notifications, deliveries and attempts) is kept. */
export const HISTORY_DAYS = 400;

/**
 * The evaluation loop of a process: every ALERT_EVALUATE_SECONDS, under the lease (held for three
 * intervals, renewed each time), so one process among the app's nodes and workers evaluates.
 */
export class AlertEvaluator {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private stopped = false;
  private prunedAt = 0;
  /** Rounds this process finished (evaluating or standing by): tests wait on it instead of on time. */
  rounds = 0;
  readonly owner = `alerts-${randomUUID()}`;

  constructor(
    private readonly runtime: Runtime,
    private readonly opts: { onQueued?: () => void } = {},
  ) {}

  /** One round: take or renew the lease, evaluate when held. */
  async tick(): Promise<EvaluationResult & { leader: boolean }> {
    const db = this.runtime.db?.db;
    if (!db) return { leader: false, rules: 0, failed: 0, transitions: 0, notifications: 0 };
    const now = new Date(this.runtime.clock.now());
    const leaseMs = Math.max(30_000, this.runtime.config.alertEvaluateSeconds * 3000);
    if (!(await acquireAlertLease(db, this.owner, new Date(now.getTime() + leaseMs), now))) return { leader: false, rules: 0, failed: 0, transitions: 0, notifications: 0 };
    const r = await evaluateRules(this.runtime, { now, onQueued: this.opts.onQueued });
    if (now.getTime() - this.prunedAt >= 3_600_000) {
      this.prunedAt = now.getTime();
      await pruneAlertHistory(db, new Date(now.getTime() - HISTORY_DAYS * 86_400_000));
    }
    metrics().alertEvaluations.inc({ result: "ok" }, r.rules - r.failed);
    if (r.failed) metrics().alertEvaluations.inc({ result: "failed" }, r.failed);
    return { leader: true, ...r };
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.running = this.tick()
        .catch((err) => logger.warn(`[alerts] evaluation failed: ${(err as Error).message}`))
        .finally(() => {
          this.rounds++;
          if (this.stopped) return;
          this.timer = setTimeout(loop, this.runtime.config.alertEvaluateSeconds * 1000);
          this.timer.unref();
        });
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running?.catch(() => {});
    const db = this.runtime.db?.db;
    if (db) await releaseAlertLease(db, this.owner).catch(() => {});
  }
}
