"use client";

import { formatCompact, formatCost, formatCostExact, formatInt, formatPercent } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";
import type { SummaryOutput, Totals } from "./queries";

type ModelRow = NonNullable<SummaryOutput["data"]["byModel"]>[number];

export function ModelTable({ models, total }: { models: ModelRow[] | null; total: Totals }) {
  const { t, locale } = useI18n();
  if (models === null) {
    return (
      <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="models-unavailable">
        {t("models.unavailable")}
      </p>
    );
  }
  if (models.length === 0) {
    return (
      <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="models-empty">
        {t("models.empty")}
      </p>
    );
  }
  const rows = [...models].sort((a, b) => b.cost - a.cost || b.allTokens - a.allTokens || a.model.localeCompare(b.model));
  const th = "px-3 py-2 text-xs font-semibold text-slate-500 whitespace-nowrap";
  return (
    <div role="region" aria-label={t("models.title")} tabIndex={0} className="relative overflow-x-auto rounded-lg border border-slate-200 focus-visible:outline-2 focus-visible:outline-brand-500">
      <table className="w-full min-w-[640px] border-collapse text-sm" data-testid="models-table">
        <thead className="border-b border-slate-200 bg-slate-50">
          <tr>
            <th scope="col" className={`${th} text-left`}>
              {t("models.model")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.requests")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.input")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.output")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.cacheCreate")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.cacheRead")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.tokens")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.cost")}
            </th>
            <th scope="col" className={`${th} text-right`}>
              {t("breakdown.share")}
            </th>
          </tr>
        </thead>
        <tbody>
          {rows.map((m) => (
            <tr key={m.model} className="border-b border-slate-100" data-testid={`model-row-${m.model}`}>
              <td className="px-3 py-2 font-mono text-xs text-slate-800">{m.model}</td>
              <Num value={m.requests} testId="model-requests" exact />
              <Num value={m.inputTokens} testId="model-input" />
              <Num value={m.outputTokens} testId="model-output" />
              <Num value={m.cacheCreateTokens} testId="model-cache-create" />
              <Num value={m.cacheReadTokens} testId="model-cache-read" />
              <Num value={m.allTokens} testId="model-tokens" strong />
              <td className="px-3 py-2 text-right font-medium tabular-nums" data-testid="model-cost" data-value={m.cost} title={formatCostExact(locale, m.cost)}>
                {formatCost(locale, m.cost)}
              </td>
              <td className="px-3 py-2 text-right tabular-nums text-slate-600">{total.cost > 0 ? formatPercent(locale, m.cost / total.cost) : "—"}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Num({ value, testId, strong, exact }: { value: number; testId: string; strong?: boolean; exact?: boolean }) {
  const { locale } = useI18n();
  return (
    <td className={`px-3 py-2 text-right tabular-nums ${strong ? "font-medium" : "text-slate-600"}`} data-testid={testId} data-value={value} title={formatInt(locale, value)}>
      {exact ? formatInt(locale, value) : formatCompact(locale, value)}
    </td>
  );
}
