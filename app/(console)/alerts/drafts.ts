import { TRPCClientError } from "@trpc/client";
import type { inferRouterInputs } from "@trpc/server";
import type { SubjectKind, WindowKind } from "@/server/alerts/notification";
import type { BudgetView, RuleView } from "@/server/alerts/schemas";
import type { AppRouter } from "@/server/trpc/routers/_app";

/** The forms' state (text as typed), the API's bodies made from it, and the API's issues by field. */

export type RuleInput = inferRouterInputs<AppRouter>["alerts"]["rules"]["create"];
export type ConditionType = RuleView["condition"]["type"];

export const NEEDS_ID: Record<SubjectKind, boolean> = { all: false, account: true, api_key: true, model: true, platform: true, each_account: false, each_api_key: false };

/** "" → undefined; anything else a number (NaN for junk, which the API refuses with its own words). */
export function numberOrUndefined(text: string): number | undefined {
  const s = text.trim();
  return s === "" ? undefined : Number(s);
}

export interface RuleDraft {
  name: string;
  enabled: boolean;
  subjectKind: SubjectKind;
  subjectId: string;
  measure: string;
  windowKind: WindowKind;
  windowSize: string;
  condition: ConditionType;
  amount: string;
  budgetId: string;
  percent: string;
  factor: string;
  days: string;
  minimum: string;
  forMinutes: string;
  repeatHours: string;
  channelIds: string[];
}

export function draftOf(r: RuleView | undefined, budgets: BudgetView[]): RuleDraft {
  const c = r?.condition;
  return {
    name: r?.name ?? "",
    enabled: r?.enabled ?? true,
    subjectKind: (r?.subject.kind as SubjectKind | undefined) ?? "each_account",
    subjectId: r?.subject.id ?? "",
    measure: r?.measure ?? "cost",
    windowKind: r?.window.kind ?? "today",
    windowSize: r?.window.size != null ? String(r.window.size) : "5",
    condition: c?.type ?? "above",
    amount: c?.type === "above" ? c.amount : "",
    budgetId: c?.type === "budget" ? c.budgetId : (budgets[0]?.id ?? ""),
    percent: c?.type === "budget" ? c.percent : "80",
    factor: c?.type === "spike" ? c.factor : "3",
    days: c?.type === "spike" ? String(c.days) : "7",
    minimum: c?.type === "spike" ? c.minimum : "1",
    forMinutes: r ? String(r.forSeconds / 60) : "0",
    repeatHours: r ? String(r.repeatSeconds / 3600) : "4",
    channelIds: r?.channelIds ?? [],
  };
}

/** The API's body from the form: a budget condition takes its subject, measure and window from the budget. */
export function inputOf(d: RuleDraft): RuleInput {
  const forMinutes = numberOrUndefined(d.forMinutes);
  const repeatHours = numberOrUndefined(d.repeatHours);
  const condition: RuleInput["condition"] =
    d.condition === "above"
      ? { type: "above", amount: d.amount.trim() }
      : d.condition === "budget"
        ? { type: "budget", budgetId: d.budgetId, percent: d.percent.trim() }
        : { type: "spike", factor: d.factor.trim(), days: numberOrUndefined(d.days), minimum: d.minimum.trim() || "0" };
  const rolling = d.windowKind === "hours" || d.windowKind === "days";
  return {
    name: d.name.trim(),
    enabled: d.enabled,
    ...(d.condition === "budget"
      ? {}
      : {
          subject: { kind: d.subjectKind, ...(NEEDS_ID[d.subjectKind] ? { id: d.subjectId.trim() } : {}) },
          measure: d.measure as RuleInput["measure"],
          window: { kind: d.windowKind, ...(rolling ? { size: numberOrUndefined(d.windowSize) } : {}) },
        }),
    condition,
    forSeconds: forMinutes === undefined ? undefined : Math.round(forMinutes * 60),
    repeatSeconds: repeatHours === undefined ? undefined : Math.round(repeatHours * 3600),
    channelIds: d.channelIds,
  };
}


/** "80, 100%" → ["80", "100"]: commas (also full-width), spaces, a trailing % each. */
export function percentsOf(text: string): string[] {
  return text
    .split(/[,，\s]+/)
    .map((p) => p.replace(/%$/, "").trim())
    .filter(Boolean);
}

interface Issue {
  path: string;
  message: string;
}

/**
 * A failed mutation's problems by field. The API answers bad input with `issues: [{ path,
 * message }]` (tRPC's error data, REST's body); each goes to the field whose path it names or is
 * inside ("condition.amount", "alertPercents.1" → "alertPercents"), or whose path is inside it ("window"
 * absent → "window.kind"). The first issue of a field wins; what matches no field of the form, and
 * an error without issues, is said once below it.
 */
export function issuesByField(error: unknown, fields: readonly string[]): { byField: Map<string, string>; rest: string[] } {
  const byField = new Map<string, string>();
  const rest: string[] = [];
  if (!error) return { byField, rest };
  const issues: Issue[] = (error instanceof TRPCClientError ? (error.data as { issues?: Issue[] | null } | undefined)?.issues : null) ?? [];
  const owner = (path: string) => fields.find((f) => path === f || path.startsWith(`${f}.`)) ?? fields.find((f) => f.startsWith(`${path}.`));
  for (const i of issues) {
    const f = owner(i.path);
    if (f && !byField.has(f)) byField.set(f, i.message);
    else if (!f) rest.push(i.path && i.path !== "(root)" ? `${i.path}: ${i.message}` : i.message);
  }
  if (issues.length === 0) rest.push(error instanceof Error ? error.message : String(error));
  return { byField, rest };
}
