"use client";

import { useTranslations } from "next-intl";
import { useNumbers } from "@/app/_i18n/format";
import type { BudgetView } from "@/server/alerts/schemas";
import { useMeasureValue } from "./form";

/** Green below 80 %, amber from 80 %, red from 100 % (of the budget's amount). */
export function budgetTone(percent: number): "ok" | "warn" | "over" {
  return percent >= 100 ? "over" : percent >= 80 ? "warn" : "ok";
}
const FILL = { ok: "bg-emerald-600", warn: "bg-amber-400", over: "bg-rose-600" } as const;
const TEXT = { ok: "text-slate-600", warn: "text-amber-800", over: "text-rose-700" } as const;

/**
 * A budget as a bar against its use (this day / month so far), with the figures beside it. The
 * bar is a meter for assistive technology; its text says the same for everyone.
 */
export function BudgetBar({ budget, compact = false }: { budget: Pick<BudgetView, "id" | "name" | "measure" | "amount" | "used" | "usedPercent" | "period">; compact?: boolean }) {
  const t = useTranslations("alerts.budgets");
  const n = useNumbers();
  const value = useMeasureValue();
  const percent = Number(budget.usedPercent);
  const tone = budgetTone(percent);
  const shown = Number.isFinite(percent) ? percent : 0;
  const label = t("usage", { name: budget.name, percent: n.percent(shown / 100) });
  return (
    <div className="flex min-w-0 flex-col gap-1" data-testid="budget-bar" data-budget-id={budget.id} data-percent={budget.usedPercent} data-tone={tone}>
      <div className={`flex min-w-0 flex-wrap items-baseline justify-between gap-x-2 ${compact ? "text-xs" : "text-sm"}`}>
        <span className="min-w-0 truncate font-medium text-slate-700" title={budget.name}>
          {budget.name}
        </span>
        <span className={`whitespace-nowrap tabular-nums ${TEXT[tone]}`}>
          {compact ? n.percent(shown / 100) : `${t("used", { used: value(budget.measure, budget.used), amount: value(budget.measure, budget.amount) })} · ${n.percent(shown / 100)}`}
        </span>
      </div>
      <div
        role="meter"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={Math.max(100, shown)}
        aria-valuenow={shown}
        aria-valuetext={`${t("used", { used: value(budget.measure, budget.used), amount: value(budget.measure, budget.amount) })} (${n.percent(shown / 100)})`}
        className={`relative w-full overflow-hidden rounded-full bg-slate-200 ${compact ? "h-1.5" : "h-2.5"}`}
      >
        <div className={`h-full rounded-full ${FILL[tone]}`} style={{ width: `${Math.min(100, Math.max(0, shown))}%` }} />
        {/* The 80 % mark, where the first alert of a default budget fires. */}
        <div aria-hidden className="absolute inset-y-0 left-[80%] w-px bg-slate-400" />
      </div>
    </div>
  );
}
