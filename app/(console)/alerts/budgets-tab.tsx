"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { inferRouterInputs } from "@trpc/server";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import type { BudgetView } from "@/server/alerts/schemas";
import type { AppRouter } from "@/server/trpc/routers/_app";
import { EmptyState, ErrorState, Skeleton } from "../accounts/ui";
import { BudgetBar } from "./budget-bar";
import { percentsOf } from "./drafts";
import { ChannelPicker } from "./channels-tab";
import { ALERT_MEASURES, BUTTON_PRIMARY, CARD, describedBy, EditDeleteButtons, Field, FormFooter, INPUT, SectionHead, useIssues, useMeasureLabel } from "./form";
import { useSubjectLabel } from "./rules-tab";
import { SubjectFields } from "./subject-fields";

type BudgetInput = inferRouterInputs<AppRouter>["alerts"]["budgets"]["create"];
const BUDGET_KINDS = ["all", "account", "api_key", "model", "platform"] as const;
type BudgetKind = (typeof BUDGET_KINDS)[number];

export function BudgetsTab({ presetAccount, onPresetUsed }: { presetAccount: string | null; onPresetUsed: () => void }) {
  const t = useTranslations("alerts.budgets");
  const trpc = useTRPC();
  const budgets = useQuery(trpc.alerts.budgets.list.queryOptions());
  const [editing, setEditing] = useState<BudgetView | "new" | null>(presetAccount ? "new" : null);
  const done = () => {
    setEditing(null);
    if (presetAccount) onPresetUsed();
  };

  return (
    <section aria-labelledby="budgets-heading" className="flex flex-col gap-3">
      <SectionHead id="budgets-heading" title={t("title")}>
        {editing === null && (
          <button type="button" className={BUTTON_PRIMARY} onClick={() => setEditing("new")} data-testid="budget-new">
            {t("create")}
          </button>
        )}
      </SectionHead>
      {editing !== null && <BudgetForm key={editing === "new" ? "new" : editing.id} budget={editing === "new" ? undefined : editing} presetAccount={presetAccount} onDone={done} />}
      {budgets.isPending ? (
        <Skeleton className="h-24 w-full" />
      ) : budgets.isError ? (
        <ErrorState error={budgets.error} onRetry={() => void budgets.refetch()} testId="budgets-error" />
      ) : budgets.data.length === 0 ? (
        <EmptyState title={t("empty")} hint={t("emptyHint")} testId="budgets-empty" />
      ) : (
        <ul className="grid grid-cols-1 gap-2 lg:grid-cols-2" data-testid="budgets-list">
          {budgets.data.map((b) => (
            <BudgetCard key={b.id} budget={b} onEdit={() => setEditing(b)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function BudgetCard({ budget: b, onEdit }: { budget: BudgetView; onEdit: () => void }) {
  const t = useTranslations("alerts");
  const tf = useTranslations("alerts.form");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const subject = useSubjectLabel();
  const measure = useMeasureLabel();
  const remove = useMutation(trpc.alerts.budgets.delete.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() }) }));
  return (
    <li className={`${CARD} flex flex-col gap-2`} data-testid={`budget-${b.id}`} data-budget-name={b.name}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <p className="min-w-0 text-sm text-slate-600 wrap-anywhere">{[subject(b.subject), measure(b.measure), t(`budgets.periods.${b.period}`)].join(" · ")}</p>
        <div className="flex gap-2">
          <EditDeleteButtons name={b.name} onEdit={onEdit} onDelete={() => remove.mutate({ id: b.id })} deleting={remove.isPending} confirmText={t("budgets.deleteConfirm", { name: b.name })} testId="budget" />
        </div>
      </div>
      <BudgetBar budget={b} />
      {b.rules.length > 0 && (
        <p className="flex flex-wrap items-center gap-1.5 text-xs text-slate-500">
          {t("budgets.alertsAt")}
          {b.rules.map((r) => (
            <span
              key={r.id}
              data-testid="budget-rule"
              data-state={r.state}
              className={`rounded-full px-2 py-0.5 font-medium tabular-nums ${!r.enabled ? "bg-slate-100 text-slate-500 line-through" : r.state === "firing" ? "bg-rose-600 text-white" : r.state === "pending" ? "bg-amber-50 text-amber-800 ring-1 ring-inset ring-amber-600/20" : "bg-slate-100 text-slate-700"}`}
              title={r.state === "ok" ? t("rules.ok") : t(`history.kinds.${r.state}`)}
            >
              {r.percent}%
            </span>
          ))}
        </p>
      )}
      {remove.isError && (
        <p role="alert" className="text-sm text-rose-700">
          {tf("failed", { message: remove.error.message })}
        </p>
      )}
    </li>
  );
}

const BUDGET_FIELDS = ["name", "subject.kind", "subject.id", "measure", "period", "amount", "alertPercents", "channelIds"] as const;

function BudgetForm({ budget, presetAccount, onDone }: { budget?: BudgetView; presetAccount: string | null; onDone: () => void }) {
  const t = useTranslations("alerts");
  const tf = useTranslations("alerts.form");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const measureLabel = useMeasureLabel();
  const invalidate = () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() });
  const create = useMutation(trpc.alerts.budgets.create.mutationOptions({ onSuccess: onDone, onSettled: invalidate }));
  const update = useMutation(trpc.alerts.budgets.update.mutationOptions({ onSuccess: onDone, onSettled: invalidate }));
  const mutation = budget ? update : create;
  const [name, setName] = useState(budget?.name ?? "");
  const [kind, setKind] = useState<BudgetKind>((budget?.subject.kind as BudgetKind | undefined) ?? "account");
  const [subjectId, setSubjectId] = useState(budget?.subject.id ?? presetAccount ?? "");
  const [measure, setMeasure] = useState(budget?.measure ?? "cost");
  const [period, setPeriod] = useState<"day" | "month">(budget?.period ?? "month");
  const [amount, setAmount] = useState(budget?.amount ?? "");
  const [percents, setPercents] = useState("80, 100");
  const [channelIds, setChannelIds] = useState<string[]>([]);
  const issues = useIssues(mutation.error, BUDGET_FIELDS);
  const idp = "budget-form";

  function submit(e: React.FormEvent) {
    e.preventDefault();
    const base = {
      name: name.trim(),
      subject: { kind, ...(kind === "all" ? {} : { id: subjectId.trim() }) },
      measure: measure as BudgetInput["measure"],
      period,
      amount: amount.trim(),
    };
    if (budget) update.mutate({ id: budget.id, ...base });
    else
      create.mutate({
        ...base,
        alertPercents: percentsOf(percents),
        channelIds,
      });
  }

  return (
    <form onSubmit={submit} noValidate className={`${CARD} flex flex-col gap-3`} data-testid="budget-form" aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`} className="font-semibold">
        {budget ? t("budgets.editTitle", { name: budget.name }) : t("budgets.newTitle")}
      </h3>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <Field id={`${idp}-name`} label={tf("name")} error={issues.at("name")} className="sm:col-span-2">
          <input {...describedBy(`${idp}-name`, issues.at("name"), undefined)} className={INPUT} value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
        </Field>
        <SubjectFields
          idPrefix={idp}
          kinds={BUDGET_KINDS}
          kind={kind}
          id={subjectId}
          needsId={kind !== "all"}
          onKind={setKind}
          onId={setSubjectId}
          errors={{ kind: issues.at("subject.kind"), id: issues.at("subject.id") }}
        />
        <Field id={`${idp}-measure`} label={t("measure")} error={issues.at("measure")}>
          <select {...describedBy(`${idp}-measure`, issues.at("measure"), undefined)} className={INPUT} value={measure} onChange={(e) => setMeasure(e.target.value)}>
            {ALERT_MEASURES.map((m) => (
              <option key={m.name} value={m.name}>
                {measureLabel(m.name)}
              </option>
            ))}
          </select>
        </Field>
        <Field id={`${idp}-period`} label={t("budgets.period")} error={issues.at("period")}>
          <select {...describedBy(`${idp}-period`, issues.at("period"), undefined)} className={INPUT} value={period} onChange={(e) => setPeriod(e.target.value === "day" ? "day" : "month")}>
            <option value="day">{t("budgets.periods.day")}</option>
            <option value="month">{t("budgets.periods.month")}</option>
          </select>
        </Field>
        <Field id={`${idp}-amount`} label={t("budgets.amount")} hint={t("budgets.amountHint")} error={issues.at("amount")}>
          <input {...describedBy(`${idp}-amount`, issues.at("amount"), t("budgets.amountHint"))} className={INPUT} inputMode="decimal" autoComplete="off" value={amount} onChange={(e) => setAmount(e.target.value)} />
        </Field>
        {budget ? (
          <p className="self-end pb-2 text-xs text-slate-500 sm:col-span-2">{t("budgets.editHint")}</p>
        ) : (
          <>
            <Field id={`${idp}-percents`} label={t("budgets.alertPercents")} hint={t("budgets.alertPercentsHint")} error={issues.at("alertPercents")}>
              <input {...describedBy(`${idp}-percents`, issues.at("alertPercents"), t("budgets.alertPercentsHint"))} className={INPUT} autoComplete="off" value={percents} onChange={(e) => setPercents(e.target.value)} />
            </Field>
            <div className="sm:col-span-2 lg:col-span-4">
              <ChannelPicker idPrefix={idp} value={channelIds} onChange={setChannelIds} error={issues.at("channelIds")} />
            </div>
          </>
        )}
      </div>
      <FormFooter errors={issues.rest} saving={mutation.isPending} onCancel={onDone} testId="budget" />
    </form>
  );
}
