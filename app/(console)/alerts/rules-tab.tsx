"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { formatDateTime, formatDateTimeLong } from "@/app/_i18n/format";
import { SUBJECT_KINDS, WINDOW_KINDS, type SubjectKind, type WindowKind } from "@/server/alerts/notification";
import type { BudgetView, RuleView } from "@/server/alerts/schemas";
import { EmptyState, ErrorState, Skeleton } from "../accounts/ui";
import { ChannelPicker, useChannelNames } from "./channels-tab";
import { ALERT_MEASURES, BUTTON_PRIMARY, CARD, describedBy, EditDeleteButtons, Field, FormFooter, INPUT, SectionHead, useIssues, useMeasureLabel, useMeasureValue } from "./form";
import { draftOf, inputOf, NEEDS_ID, type ConditionType, type RuleDraft } from "./drafts";
import { SubjectFields } from "./subject-fields";


export function RulesTab({ timeZone }: { timeZone: string }) {
  const t = useTranslations("alerts.rules");
  const trpc = useTRPC();
  const rules = useQuery(trpc.alerts.rules.list.queryOptions());
  const budgets = useQuery(trpc.alerts.budgets.list.queryOptions());
  const [editing, setEditing] = useState<RuleView | "new" | null>(null);

  return (
    <section aria-labelledby="rules-heading" className="flex flex-col gap-3">
      <SectionHead id="rules-heading" title={t("title")}>
        {editing === null && (
          <button type="button" className={BUTTON_PRIMARY} onClick={() => setEditing("new")} data-testid="rule-new">
            {t("create")}
          </button>
        )}
      </SectionHead>
      {editing !== null && <RuleForm key={editing === "new" ? "new" : editing.id} rule={editing === "new" ? undefined : editing} budgets={budgets.data ?? []} onDone={() => setEditing(null)} />}
      {rules.isPending ? (
        <Skeleton className="h-24 w-full" />
      ) : rules.isError ? (
        <ErrorState error={rules.error} onRetry={() => void rules.refetch()} testId="rules-error" />
      ) : rules.data.length === 0 ? (
        <EmptyState title={t("empty")} hint={t("emptyHint")} testId="rules-empty" />
      ) : (
        <ul className="flex flex-col gap-2" data-testid="rules-list">
          {rules.data.map((r) => (
            <RuleCard key={r.id} rule={r} budgets={budgets.data ?? []} timeZone={timeZone} onEdit={() => setEditing(r)} />
          ))}
        </ul>
      )}
    </section>
  );
}

/** "每个账号 · Acme" / "全部用量". */
export function useSubjectLabel(): (s: { kind: string; id: string | null; name: string | null }) => string {
  const t = useTranslations("alerts.subject");
  return (s) => {
    const kind = (SUBJECT_KINDS as readonly string[]).includes(s.kind) ? t(`kinds.${s.kind as SubjectKind}`) : s.kind;
    return s.id ? `${kind} · ${s.name ?? s.id}` : kind;
  };
}

export function useWindowLabel(): (w: { kind: WindowKind; size: number | null }) => string {
  const t = useTranslations("alerts.window");
  return (w) => (w.kind === "hours" ? t("hours", { size: String(w.size) }) : w.kind === "days" ? t("days", { size: String(w.size) }) : t(`kinds.${w.kind}`));
}

function useConditionLabel(budgets: BudgetView[]): (r: RuleView) => string {
  const t = useTranslations("alerts.condition");
  const value = useMeasureValue();
  return (r) => {
    const c = r.condition;
    if (c.type === "above") return t("above", { amount: value(r.measure, c.amount) });
    if (c.type === "budget") return t("budgetOf", { budget: budgets.find((b) => b.id === c.budgetId)?.name ?? c.budgetId, percent: c.percent });
    return t("spike", { factor: c.factor, days: String(c.days), minimum: value(r.measure, c.minimum) });
  };
}

function RuleCard({ rule: r, budgets, timeZone, onEdit }: { rule: RuleView; budgets: BudgetView[]; timeZone: string; onEdit: () => void }) {
  const t = useTranslations("alerts.rules");
  const tf = useTranslations("alerts.form");
  const tk = useTranslations("alerts.history.kinds");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const subject = useSubjectLabel();
  const windowLabel = useWindowLabel();
  const measure = useMeasureLabel();
  const condition = useConditionLabel(budgets);
  const value = useMeasureValue();
  const channelNames = useChannelNames();
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() });
  const setEnabled = useMutation(trpc.alerts.rules.setEnabled.mutationOptions({ onSettled: invalidate }));
  const remove = useMutation(trpc.alerts.rules.delete.mutationOptions({ onSettled: invalidate }));
  const firing = r.states.filter((s) => s.state === "firing").length;
  const pending = r.states.length - firing;
  const enabled = setEnabled.isPending ? setEnabled.variables.enabled : r.enabled;
  const failed = setEnabled.error ?? remove.error;

  return (
    <li className={CARD} data-testid={`rule-${r.id}`} data-rule-name={r.name} data-firing={firing} data-pending={pending}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="flex flex-wrap items-center gap-2">
            <span className="font-medium text-slate-900 wrap-anywhere">{r.name}</span>
            {r.budgetId && <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{t("fromBudget")}</span>}
            {!r.enabled ? (
              <span className="rounded-full bg-slate-100 px-2 py-0.5 text-xs font-medium text-slate-600">{t("off")}</span>
            ) : firing === 0 && pending === 0 ? (
              <span className="rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-medium text-emerald-700 ring-1 ring-inset ring-emerald-600/20" data-testid="rule-ok">
                {t("ok")}
              </span>
            ) : null}
            {firing > 0 && (
              <span className="rounded-full bg-rose-600 px-2 py-0.5 text-xs font-medium text-white" data-testid="rule-firing">
                {t("firing", { count: firing })}
              </span>
            )}
            {pending > 0 && (
              <span className="rounded-full bg-amber-50 px-2 py-0.5 text-xs font-medium text-amber-800 ring-1 ring-inset ring-amber-600/20" data-testid="rule-pending">
                {t("pending", { count: pending })}
              </span>
            )}
          </p>
          <p className="mt-1 text-sm text-slate-600 wrap-anywhere">
            {[subject(r.subject), measure(r.measure), windowLabel(r.window), condition(r)].join(" · ")}
          </p>
          <p className="text-xs text-slate-500">
            {[
              r.forSeconds > 0 ? t("forShort", { minutes: String(Math.round(r.forSeconds / 6) / 10) }) : null,
              r.repeatSeconds > 0 ? t("repeatShort", { hours: String(Math.round(r.repeatSeconds / 360) / 10) }) : t("noRepeat"),
              r.channelIds.length > 0 ? t("channels", { names: r.channelIds.map((id) => channelNames.get(id) ?? "…").join("、") }) : t("noChannels"),
            ]
              .filter(Boolean)
              .join(" · ")}
          </p>
        </div>
        <div className="flex flex-wrap items-center gap-2">
          <button
            type="button"
            role="switch"
            aria-checked={enabled}
            aria-label={t("enable", { name: r.name })}
            data-testid="rule-enabled"
            onClick={() => setEnabled.mutate({ id: r.id, enabled: !r.enabled })}
            className={`relative inline-flex h-6 w-11 shrink-0 items-center rounded-full border focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500 ${enabled ? "border-brand-700 bg-brand-700" : "border-slate-400 bg-slate-200"}`}
          >
            <span aria-hidden className={`inline-block size-4 rounded-full bg-white shadow transition-transform ${enabled ? "translate-x-6" : "translate-x-1"}`} />
          </button>
          <EditDeleteButtons name={r.name} onEdit={onEdit} onDelete={() => remove.mutate({ id: r.id })} deleting={remove.isPending} confirmText={t("deleteConfirm", { name: r.name })} testId="rule" />
        </div>
      </div>
      {r.states.length > 0 && (
        <div className="mt-2 border-t border-slate-100 pt-2">
          <p className="text-xs font-medium text-slate-500">{t("states")}</p>
          <ul className="mt-1 flex flex-col gap-1 text-sm">
            {r.states.map((s) => (
              <li key={s.subjectKey} className="flex flex-wrap items-baseline gap-x-2" data-testid="rule-state" data-state={s.state}>
                <span className={s.state === "firing" ? "font-medium text-rose-700" : "font-medium text-amber-800"}>{tk(s.state)}</span>
                <span className="min-w-0 text-slate-900 wrap-anywhere">{subject(s.subject)}</span>
                <span className="tabular-nums text-slate-600">
                  {value(r.measure, s.value)} / {value(r.measure, s.threshold)}
                </span>
                <span className="text-xs text-slate-500" title={formatDateTimeLong(s.firingSince ?? s.since, timeZone)}>
                  {t("since", { time: formatDateTime(s.firingSince ?? s.since, timeZone) ?? "" })}
                </span>
                {s.silenced && <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{t("silenced")}</span>}
              </li>
            ))}
          </ul>
        </div>
      )}
      {failed && (
        <p role="alert" className="mt-2 text-sm text-rose-700">
          {tf("failed", { message: failed.message })}
        </p>
      )}
    </li>
  );
}

const RULE_FIELDS = [
  "name",
  "enabled",
  "subject.kind",
  "subject.id",
  "measure",
  "window.kind",
  "window.size",
  "condition.type",
  "condition.amount",
  "condition.budgetId",
  "condition.percent",
  "condition.factor",
  "condition.days",
  "condition.minimum",
  "forSeconds",
  "repeatSeconds",
  "channelIds",
] as const;

function RuleForm({ rule, budgets, onDone }: { rule?: RuleView; budgets: BudgetView[]; onDone: () => void }) {
  const t = useTranslations("alerts");
  const tf = useTranslations("alerts.form");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const measureLabel = useMeasureLabel();
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() });
  const create = useMutation(trpc.alerts.rules.create.mutationOptions({ onSuccess: onDone, onSettled: invalidate }));
  const update = useMutation(trpc.alerts.rules.update.mutationOptions({ onSuccess: onDone, onSettled: invalidate }));
  const mutation = rule ? update : create;
  const [d, setD] = useState<RuleDraft>(() => draftOf(rule, budgets));
  const set = (patch: Partial<RuleDraft>) => setD((old) => ({ ...old, ...patch }));
  const issues = useIssues(mutation.error, RULE_FIELDS);
  const idp = "rule-form";
  const at = (path: (typeof RULE_FIELDS)[number]) => issues.at(path);
  // "window" or "subject" as a whole (absent) is said at its first field.
  const windowKindError = at("window.kind");
  const rolling = d.windowKind === "hours" || d.windowKind === "days";

  function submit(e: React.FormEvent) {
    e.preventDefault();
    const body = inputOf(d);
    if (rule) update.mutate({ id: rule.id, ...body });
    else create.mutate(body);
  }

  const text = (field: keyof RuleDraft, path: (typeof RULE_FIELDS)[number], label: string, hint?: string, inputMode: "decimal" | "numeric" = "decimal") => (
    <Field id={`${idp}-${field}`} label={label} hint={hint} error={at(path)}>
      <input
        {...describedBy(`${idp}-${field}`, at(path), hint)}
        className={INPUT}
        inputMode={inputMode}
        autoComplete="off"
        value={d[field] as string}
        onChange={(e) => set({ [field]: e.target.value })}
      />
    </Field>
  );

  return (
    <form onSubmit={submit} noValidate className={`${CARD} flex flex-col gap-3`} data-testid="rule-form" aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`} className="font-semibold">
        {rule ? t("rules.editTitle", { name: rule.name }) : t("rules.newTitle")}
      </h3>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <Field id={`${idp}-name`} label={tf("name")} error={at("name")} className="sm:col-span-2">
          <input {...describedBy(`${idp}-name`, at("name"), undefined)} className={INPUT} value={d.name} maxLength={100} onChange={(e) => set({ name: e.target.value })} />
        </Field>
        <Field id={`${idp}-condition`} label={t("condition.type")} error={at("condition.type")}>
          <select {...describedBy(`${idp}-condition`, at("condition.type"), undefined)} className={INPUT} value={d.condition} onChange={(e) => set({ condition: e.target.value as ConditionType })}>
            {(["above", "budget", "spike"] as const).map((c) => (
              <option key={c} value={c}>
                {t(`condition.types.${c}`)}
              </option>
            ))}
          </select>
        </Field>
        <label className="flex items-center gap-2 self-end pb-2 text-sm text-slate-700">
          <input type="checkbox" checked={d.enabled} onChange={(e) => set({ enabled: e.target.checked })} className="size-4 accent-brand-700" />
          {tf("enabled")}
        </label>

        {d.condition !== "budget" && (
          <>
            <SubjectFields
              idPrefix={idp}
              kinds={SUBJECT_KINDS}
              kind={d.subjectKind}
              id={d.subjectId}
              needsId={NEEDS_ID[d.subjectKind]}
              onKind={(subjectKind) => set({ subjectKind })}
              onId={(subjectId) => set({ subjectId })}
              errors={{ kind: at("subject.kind"), id: at("subject.id") }}
            />
            <Field id={`${idp}-measure`} label={t("measure")} error={at("measure")}>
              <select {...describedBy(`${idp}-measure`, at("measure"), undefined)} className={INPUT} value={d.measure} onChange={(e) => set({ measure: e.target.value })}>
                {ALERT_MEASURES.map((m) => (
                  <option key={m.name} value={m.name}>
                    {measureLabel(m.name)}
                  </option>
                ))}
              </select>
            </Field>
            <Field id={`${idp}-window`} label={t("window.kind")} error={windowKindError}>
              <select {...describedBy(`${idp}-window`, windowKindError, undefined)} className={INPUT} value={d.windowKind} onChange={(e) => set({ windowKind: e.target.value as WindowKind })}>
                {WINDOW_KINDS.map((w) => (
                  <option key={w} value={w}>
                    {t(`window.kinds.${w}`)}
                  </option>
                ))}
              </select>
            </Field>
            {rolling && text("windowSize", "window.size", d.windowKind === "hours" ? t("window.sizeHours") : t("window.sizeDays"), undefined, "numeric")}
          </>
        )}

        {d.condition === "above" && text("amount", "condition.amount", t("condition.amount"), t("condition.amountHint"))}
        {d.condition === "budget" && (
          <>
            <Field id={`${idp}-budget`} label={t("condition.budget")} hint={budgets.length === 0 ? t("condition.noBudgets") : undefined} error={at("condition.budgetId")}>
              <select {...describedBy(`${idp}-budget`, at("condition.budgetId"), budgets.length === 0 ? t("condition.noBudgets") : undefined)} className={INPUT} value={d.budgetId} onChange={(e) => set({ budgetId: e.target.value })}>
                {budgets.map((b) => (
                  <option key={b.id} value={b.id}>
                    {b.name}
                  </option>
                ))}
              </select>
            </Field>
            {text("percent", "condition.percent", t("condition.percent"))}
          </>
        )}
        {d.condition === "spike" && (
          <>
            {text("factor", "condition.factor", t("condition.factor"), t("condition.factorHint"))}
            {text("days", "condition.days", t("condition.days"), undefined, "numeric")}
            {text("minimum", "condition.minimum", t("condition.minimum"), t("condition.minimumHint"))}
          </>
        )}

        {text("forMinutes", "forSeconds", t("rules.for"), t("rules.forHint"))}
        {text("repeatHours", "repeatSeconds", t("rules.repeat"), t("rules.repeatHint"))}
        <div className="sm:col-span-2 lg:col-span-4">
          <ChannelPicker idPrefix={idp} value={d.channelIds} onChange={(channelIds) => set({ channelIds })} error={at("channelIds")} />
        </div>
      </div>
      <FormFooter errors={issues.rest} saving={mutation.isPending} onCancel={onDone} testId="rule" />
    </form>
  );
}
