"use client";

import { useTranslations } from "next-intl";
import { useNumbers } from "@/app/_i18n/format";
import type { SummaryOutput, Totals } from "./queries";
import { Money } from "./ui";

type ModelRow = NonNullable<SummaryOutput["data"]["byModel"]>[number];

/** Per model in the range. Below sm each row is a card: model, requests, tokens, cost, cost share. */
export function ModelTable({ models, total }: { models: ModelRow[] | null; total: Totals }) {
  const t = useTranslations();
  const n = useNumbers();
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
  // The model column is left-aligned like its names, the figures right-aligned like theirs.
  const th = "px-3 py-2 text-xs font-semibold text-slate-500 whitespace-nowrap text-right";
  const thLeft = "px-3 py-2 text-xs font-semibold text-slate-500 whitespace-nowrap text-left";
  const cell = "sm:table-cell sm:px-3 sm:py-2";
  const label = (text: string) => <span className="block text-xs text-slate-500 sm:hidden">{text}</span>;
  return (
    <div role="region" aria-label={t("models.title")} className="rounded-lg border border-slate-200 sm:overflow-x-auto">
      <table className="block w-full border-collapse text-sm sm:table sm:min-w-[640px]" data-testid="models-table">
        <thead className="hidden border-b border-slate-200 bg-slate-50 sm:table-header-group">
          <tr>
            <th scope="col" className={thLeft} data-testid="models-col-model">
              {t("models.model")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.requests")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.input")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.output")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.cacheCreate")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.cacheRead")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.tokens")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.cost")}
            </th>
            <th scope="col" className={th}>
              {t("breakdown.costShare")}
            </th>
          </tr>
        </thead>
        <tbody className="block divide-y divide-slate-100 sm:table-row-group sm:divide-y-0">
          {rows.map((m) => (
            <tr key={m.model} className="grid grid-cols-2 gap-x-3 gap-y-1 p-3 sm:table-row sm:border-b sm:border-slate-100 sm:p-0" data-testid={`model-row-${m.model}`}>
              <td className={`col-span-2 font-mono text-xs text-slate-800 wrap-anywhere ${cell}`}>{m.model}</td>
              <Num value={m.requests} testId="model-requests" exact label={label(t("breakdown.requests"))} />
              <Num value={m.inputTokens} testId="model-input" hideOnPhone />
              <Num value={m.outputTokens} testId="model-output" hideOnPhone />
              <Num value={m.cacheCreateTokens} testId="model-cache-create" hideOnPhone />
              <Num value={m.cacheReadTokens} testId="model-cache-read" hideOnPhone />
              <Num value={m.allTokens} testId="model-tokens" strong label={label(t("breakdown.tokens"))} />
              <td className={`font-medium sm:text-right ${cell}`}>
                {label(t("breakdown.cost"))}
                <Money usd={m.cost} testId="model-cost" />
              </td>
              <td className={`whitespace-nowrap tabular-nums text-slate-600 sm:text-right ${cell}`} data-testid="model-cost-share">
                {label(t("breakdown.costShare"))}
                {total.cost > 0 ? n.percent(m.cost / total.cost) : "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Num({ value, testId, strong, exact, label, hideOnPhone }: { value: number; testId: string; strong?: boolean; exact?: boolean; label?: React.ReactNode; hideOnPhone?: boolean }) {
  const n = useNumbers();
  return (
    <td className={`${hideOnPhone ? "hidden" : ""} whitespace-nowrap tabular-nums sm:table-cell sm:px-3 sm:py-2 sm:text-right ${strong ? "font-medium" : "text-slate-600"}`}>
      {label}
      <span data-testid={testId} data-value={value} title={n.int(value)}>
        {exact ? n.int(value) : n.compact(value)}
      </span>
    </td>
  );
}
