import { z } from "zod";
import { MEASURES } from "../../db/measures";
import { relayId } from "../ids";
import { storableText } from "../text";
import { FIGURES, type Figure } from "../usage-stats/schemas";
import { parseScaled } from "./decimal";
import { CONDITIONS, NOTIFICATION_KINDS, SUBJECT_KINDS, WINDOW_KINDS } from "./notification";

/**
 * Inputs and answers of the alerts (rules, budgets, silences, state and history), shared by tRPC
 * (alerts.*), REST (/admin/alerts/…) and the OpenAPI document. Channels have theirs in
 * channels.schemas.ts.
 */

export const MAX_WINDOW_HOURS = 24 * 31;
export const MAX_WINDOW_DAYS = 90;
export const MAX_CHANNELS_PER_RULE = 20;
export const MAX_ALERT_PERCENTS = 5;
export const MAX_SILENCE_DAYS = 366;

const uuid = (what: string) => z.uuid({ error: `must be ${what} (a UUID)` });
export const ruleId = uuid("a rule id").meta({ description: "Alert rule id" });
export const budgetId = uuid("a budget id").meta({ description: "Budget id" });
export const silenceId = uuid("a silence id").meta({ description: "Silence id" });
export const channelId = uuid("a channel id").meta({ description: "Channel id" });

/** A positive exact decimal (≤ 15 digits, ≤ 9 decimals), as a string or a number; kept as text. */
const positiveDecimal = (what: string, opts: { min?: bigint; allowZero?: boolean } = {}) =>
  z
    .union([z.string(), z.number()], { error: `must be ${what}` })
    .transform((v, ctx) => {
      const text = typeof v === "number" ? (Number.isFinite(v) && v >= 0 && v < 1e15 ? v.toFixed(9).replace(/\.?0+$/, "") : "") : v.trim();
      const scaled = parseScaled(text);
      if (scaled === undefined) {
        ctx.addIssue({ code: "custom", message: `must be ${what}: a decimal such as "12.5" (at most 15 digits and 9 decimals)` });
        return z.NEVER;
      }
      if (scaled === 0n && !opts.allowZero) {
        ctx.addIssue({ code: "custom", message: `must be ${what} greater than 0` });
        return z.NEVER;
      }
      if (opts.min !== undefined && scaled < opts.min) {
        ctx.addIssue({ code: "custom", message: `must be ${what} of at least ${Number(opts.min) / 1e9}` });
        return z.NEVER;
      }
      return text.includes(".") ? text.replace(/\.?0+$/, "") : text;
    });

export const alertMeasure = z.enum(FIGURES as unknown as [Figure, ...Figure[]], {
  error: `must be one of ${FIGURES.join(", ")}`,
}).meta({ description: "A measure of the ledger (money in USD, counts as integers)" });

export function measureKind(measure: string): "count" | "money" {
  const m = MEASURES.find((x) => x.name === measure);
  if (!m) throw new Error(`unknown measure ${measure}`);
  return m.kind;
}

export const subjectKind = z.enum(SUBJECT_KINDS, { error: `must be one of ${SUBJECT_KINDS.join(", ")}` });
export type SubjectKindInput = z.infer<typeof subjectKind>;
const BUDGET_SUBJECT_KINDS = ["all", "account", "api_key", "model", "platform"] as const;
export type BudgetSubjectKind = (typeof BUDGET_SUBJECT_KINDS)[number];
/** Kinds naming one thing need its id; all and the "each" kinds take none. */
export const SUBJECT_NEEDS_ID: Record<SubjectKindInput, boolean> = {
  all: false,
  account: true,
  api_key: true,
  model: true,
  platform: true,
  each_account: false,
  each_api_key: false,
};

const subjectFields = {
  kind: subjectKind.meta({
    description:
      "all: every account together; account / api_key / model / platform: the one named by id; each_account / each_api_key: every account (key) on its own",
  }),
  id: relayId.optional().meta({ description: "The account's or key's id, the model's or platform's name (for account, api_key, model, platform)" }),
};
export const ruleSubject = z
  .object(subjectFields)
  .strict()
  .superRefine((s, ctx) => {
    if (SUBJECT_NEEDS_ID[s.kind] && !s.id) ctx.addIssue({ code: "custom", path: ["id"], message: `is required for a subject of kind ${s.kind}` });
    if (!SUBJECT_NEEDS_ID[s.kind] && s.id) ctx.addIssue({ code: "custom", path: ["id"], message: `must be absent for a subject of kind ${s.kind}` });
  });
export const budgetSubject = z
  .object({ ...subjectFields, kind: z.enum(BUDGET_SUBJECT_KINDS, { error: `must be one of ${BUDGET_SUBJECT_KINDS.join(", ")}` }) })
  .strict()
  .superRefine((s, ctx) => {
    if (SUBJECT_NEEDS_ID[s.kind] && !s.id) ctx.addIssue({ code: "custom", path: ["id"], message: `is required for a subject of kind ${s.kind}` });
    if (!SUBJECT_NEEDS_ID[s.kind] && s.id) ctx.addIssue({ code: "custom", path: ["id"], message: `must be absent for a subject of kind ${s.kind}` });
  });

export const ruleWindow = z
  .object({
    kind: z.enum(WINDOW_KINDS, { error: `must be one of ${WINDOW_KINDS.join(", ")}` }).meta({
      description: "today / month: so far in USAGE_TIMEZONE; hours / days: the rolling last `size` hours or days",
    }),
    size: z.int({ error: "must be an integer" }).min(1, { error: "must be at least 1" }).optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    const rolling = w.kind === "hours" || w.kind === "days";
    if (rolling && w.size === undefined) ctx.addIssue({ code: "custom", path: ["size"], message: `is required for a window of ${w.kind}` });
    if (!rolling && w.size !== undefined) ctx.addIssue({ code: "custom", path: ["size"], message: `must be absent for a window of ${w.kind}` });
    if (w.kind === "hours" && (w.size ?? 0) > MAX_WINDOW_HOURS) ctx.addIssue({ code: "custom", path: ["size"], message: `must be at most ${MAX_WINDOW_HOURS} hours` });
    if (w.kind === "days" && (w.size ?? 0) > MAX_WINDOW_DAYS) ctx.addIssue({ code: "custom", path: ["size"], message: `must be at most ${MAX_WINDOW_DAYS} days` });
  });

export const ruleCondition = z.discriminatedUnion(
  "type",
  [
    z.object({ type: z.literal("above"), amount: positiveDecimal("an amount in the measure's unit (USD for money)") }).strict(),
    z
      .object({
        type: z.literal("budget"),
        budgetId,
        percent: positiveDecimal("a percent of the budget").refine((p) => Number(p) <= 1000, { error: "must be at most 1000 (%)" }),
      })
      .strict(),
    z
      .object({
        type: z.literal("spike"),
        factor: positiveDecimal("a factor k (the window above k × the median)").refine((k) => Number(k) <= 1000, { error: "must be at most 1000" }),
        days: z.int({ error: "must be an integer" }).min(1, { error: "must be at least 1" }).max(60, { error: "must be at most 60" }).default(7),
        minimum: positiveDecimal("a minimum amount", { allowZero: true }).default("0"),
      })
      .strict(),
  ],
  { error: `must have a type: one of ${CONDITIONS.join(", ")}` },
);
export type RuleCondition = z.infer<typeof ruleCondition>;

const ruleBase = {
  name: storableText(100),
  enabled: z.boolean({ error: "must be true or false" }).optional(),
  subject: ruleSubject.optional().meta({ description: "What is measured (absent for a budget condition: the budget's subject)" }),
  measure: alertMeasure.optional(),
  window: ruleWindow.optional(),
  condition: ruleCondition,
  forSeconds: z.int({ error: "must be an integer" }).min(0).max(604_800, { error: "must be at most 604800 (7 days)" }).optional().meta({
    description: "How long the condition must hold before the alert fires (pending until then); 0 fires at once",
  }),
  repeatSeconds: z.int({ error: "must be an integer" }).min(0).max(2_592_000, { error: "must be at most 2592000 (30 days)" }).optional().meta({
    description: "A firing alert is notified again after this long; 0 never repeats (default 14400, 4 h)",
  }),
  channelIds: z.array(channelId).max(MAX_CHANNELS_PER_RULE, { error: `must list at most ${MAX_CHANNELS_PER_RULE} channels` }).optional(),
};

function checkRuleShape(r: { subject?: unknown; measure?: unknown; window?: { kind: string } ; condition: RuleCondition }, ctx: z.RefinementCtx, partial: boolean) {
  if (r.condition.type === "budget") {
    for (const f of ["subject", "measure", "window"] as const) {
      if (r[f] !== undefined) ctx.addIssue({ code: "custom", path: [f], message: "must be absent for a budget condition (the budget gives it)" });
    }
    return;
  }
  if (!partial) {
    for (const f of ["subject", "measure", "window"] as const) {
      if (r[f] === undefined) ctx.addIssue({ code: "custom", path: [f], message: `is required for a condition of type ${r.condition.type}` });
    }
  }
  if (r.condition.type === "spike" && r.window && r.window.kind === "month") {
    ctx.addIssue({ code: "custom", path: ["window", "kind"], message: "a spike compares the window with the same window on previous days: use today, hours or days" });
  }
}

export const createRuleInput = z
  .object(ruleBase)
  .strict()
  .superRefine((r, ctx) => checkRuleShape(r, ctx, false));
export type CreateRuleInput = z.infer<typeof createRuleInput>;

/** A rule is replaced whole (PUT): the same body as creating it. */
export const updateRuleInput = z
  .object({ id: ruleId, ...ruleBase })
  .strict()
  .superRefine((r, ctx) => checkRuleShape(r, ctx, false));
export type UpdateRuleInput = z.infer<typeof updateRuleInput>;
export const ruleBody = createRuleInput;

export const byIdInput = z.object({ id: z.uuid({ error: "must be an id (a UUID)" }) }).strict();
export const setEnabledInput = z.object({ id: ruleId, enabled: z.boolean({ error: "must be true or false" }) }).strict();

const alertPercents = z
  .array(positiveDecimal("a percent of the budget").refine((p) => Number(p) <= 1000, { error: "must be at most 1000 (%)" }))
  .max(MAX_ALERT_PERCENTS, { error: `must list at most ${MAX_ALERT_PERCENTS} percents` });

const budgetBase = {
  name: storableText(100),
  subject: budgetSubject,
  measure: alertMeasure.default("cost"),
  period: z.enum(["day", "month"], { error: "must be day or month" }).meta({ description: "The budget's period: each day or each month of USAGE_TIMEZONE" }),
  amount: positiveDecimal("an amount in the measure's unit (USD for money)"),
};
export const createBudgetInput = z
  .object({
    ...budgetBase,
    alertPercents: alertPercents.default(["80", "100"]).meta({ description: "A rule is created for each: alert when the budget is this % used (default 80 and 100)" }),
    channelIds: z.array(channelId).max(MAX_CHANNELS_PER_RULE, { error: `must list at most ${MAX_CHANNELS_PER_RULE} channels` }).default([]),
  })
  .strict();
export type CreateBudgetInput = z.infer<typeof createBudgetInput>;
export const updateBudgetInput = z.object({ id: budgetId, ...budgetBase }).strict();
export type UpdateBudgetInput = z.infer<typeof updateBudgetInput>;
export const budgetBody = z.object(budgetBase).strict();

export const createSilenceInput = z
  .object({
    ruleId: ruleId.optional().meta({ description: "The rule silenced; absent: every rule" }),
    subjectKey: storableText(128).optional().meta({ description: "Only this account's / key's id (an each rule's subject); absent: every subject" }),
    startsAt: z.iso.datetime({ offset: true, error: "must be an ISO 8601 time with an offset" }).optional(),
    endsAt: z.iso.datetime({ offset: true, error: "must be an ISO 8601 time with an offset" }),
    comment: z.string().max(500, { error: "must be at most 500 characters" }).refine((s) => !s.includes("\u0000"), { error: "must not contain NUL bytes" }).optional(),
  })
  .strict();
export type CreateSilenceInput = z.infer<typeof createSilenceInput>;

export const EVENT_KINDS = ["pending", "firing", "repeat", "resolved", "inactive"] as const;
export const MAX_HISTORY_PAGE = 200;
export const historyInput = z
  .object({
    ruleId: ruleId.optional(),
    subjectKey: storableText(128).optional(),
    kind: z.enum(EVENT_KINDS, { error: `must be one of ${EVENT_KINDS.join(", ")}` }).optional(),
    limit: z.coerce.number({ error: "must be a number" }).int({ error: "must be an integer" }).min(1).max(MAX_HISTORY_PAGE, { error: `must be at most ${MAX_HISTORY_PAGE}` }).default(50),
    cursor: z.string().max(100).optional().meta({ description: "nextCursor of the previous page" }),
  })
  .strict();
export type HistoryInput = z.infer<typeof historyInput>;

// Answers.

const subjectView = z.object({
  kind: subjectKind,
  id: z.string().nullable(),
  name: z.string().nullable().meta({ description: "The account's or key's name when it has one" }),
});

export const stateView = z.object({
  subjectKey: z.string(),
  subject: subjectView,
  state: z.enum(["pending", "firing"]),
  value: z.string().meta({ description: "The measure in the window at the last evaluation (exact decimal)" }),
  threshold: z.string(),
  since: z.iso.datetime(),
  firingSince: z.iso.datetime().nullable(),
  notifiedAt: z.iso.datetime().nullable(),
  silenced: z.boolean(),
  /** The account the alert is about (for the console's badge), when there is one. */
  accountId: z.string().nullable(),
});
export type StateView = z.infer<typeof stateView>;

/** The condition as answered: ruleCondition with its decimals already exact strings (the document cannot describe a transform's output). */
const conditionView = z.discriminatedUnion("type", [
  z.object({ type: z.literal("above"), amount: z.string() }),
  z.object({ type: z.literal("budget"), budgetId: z.uuid(), percent: z.string() }),
  z.object({ type: z.literal("spike"), factor: z.string(), days: z.number(), minimum: z.string() }),
]);
// Type-level: the answered condition is exactly what an input condition parses to.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const conditionGuard: Same<z.infer<typeof conditionView>, RuleCondition> = true;
void conditionGuard;

export const ruleView = z.object({
  id: z.uuid(),
  name: z.string(),
  enabled: z.boolean(),
  budgetId: z.uuid().nullable(),
  subject: subjectView,
  measure: z.string(),
  window: z.object({ kind: z.enum(WINDOW_KINDS), size: z.number().nullable() }),
  condition: conditionView,
  forSeconds: z.number(),
  repeatSeconds: z.number(),
  channelIds: z.array(z.uuid()),
  states: z.array(stateView).meta({ description: "Subjects pending or firing now (at most 100)" }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type RuleView = z.infer<typeof ruleView>;

export const budgetView = z.object({
  id: z.uuid(),
  name: z.string(),
  subject: subjectView,
  measure: z.string(),
  period: z.enum(["day", "month"]),
  amount: z.string(),
  used: z.string().meta({ description: "The measure so far this day / month (exact decimal)" }),
  usedPercent: z.string().meta({ description: "used / amount in percent, one decimal" }),
  rules: z.array(z.object({ id: z.uuid(), percent: z.string(), state: z.enum(["ok", "pending", "firing"]), enabled: z.boolean() })),
  accountId: z.string().nullable(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type BudgetView = z.infer<typeof budgetView>;

export const silenceView = z.object({
  id: z.uuid(),
  ruleId: z.uuid().nullable(),
  ruleName: z.string().nullable(),
  subjectKey: z.string().nullable(),
  startsAt: z.iso.datetime(),
  endsAt: z.iso.datetime(),
  active: z.boolean(),
  comment: z.string(),
  createdBy: z.string(),
  createdAt: z.iso.datetime(),
});
export type SilenceView = z.infer<typeof silenceView>;

export const eventView = z.object({
  id: z.number(),
  ruleId: z.uuid().nullable(),
  ruleName: z.string(),
  subjectKind: z.string(),
  subjectKey: z.string(),
  subjectName: z.string(),
  kind: z.enum(EVENT_KINDS),
  value: z.string(),
  threshold: z.string(),
  silenced: z.boolean(),
  notificationId: z.number().nullable(),
  deliveries: z.array(
    z.object({ id: z.number(), channelId: z.uuid().nullable(), channelName: z.string(), status: z.enum(["pending", "sending", "sent", "failed"]), attempts: z.number(), lastError: z.string().nullable(), sentAt: z.iso.datetime().nullable() }),
  ),
  at: z.iso.datetime(),
});
export type EventView = z.infer<typeof eventView>;
export const historyResult = z.object({ items: z.array(eventView), nextCursor: z.string().nullable() });
export type HistoryResult = z.infer<typeof historyResult>;

/** What the console's accounts list and drawer show: firing alerts and budgets by account. */
const overviewAccountIds = z.array(relayId).max(500, { error: "must list at most 500 accounts" });
export const overviewInput = z.object({ accountIds: overviewAccountIds.optional() }).strict();
/**
 * GET /admin/alerts/overview: a query string carries the account ids comma-separated, since
 * parseQuery refuses a repeated parameter (an id holding a comma cannot be asked for this way).
 */
export const overviewQuery = z
  .object({
    accountIds: z
      .string()
      .transform((s) => s.split(","))
      .pipe(overviewAccountIds)
      .optional()
      .meta({ description: "Only these accounts, comma-separated (at most 500); absent: every account with a budget or a firing alert" }),
  })
  .strict();
export const overviewResult = z.object({
  firing: z.number().meta({ description: "Alerts firing now (all rules, all subjects)" }),
  pending: z.number(),
  failedDeliveries: z.number().meta({ description: "Deliveries that gave up in the last 7 days" }),
  accounts: z.array(z.object({ accountId: z.string(), firing: z.number(), budgets: z.array(budgetView) })),
});
export type OverviewResult = z.infer<typeof overviewResult>;

export const notificationKind = z.enum(NOTIFICATION_KINDS);
