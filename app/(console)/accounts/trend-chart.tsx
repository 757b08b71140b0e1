"use client";

import { useId } from "react";
import { formatCompact, formatCost, formatDayLabel, formatInt } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";
import type { Locale } from "@/app/_i18n/messages";
import type { SummaryOutput } from "./queries";

type Point = NonNullable<SummaryOutput["data"]["series"]>[number];

const W = 720;
const H = 240;
const PAD = { top: 16, right: 60, bottom: 30, left: 64 };

/** The smallest 1, 2 or 5 × 10^k at or above v, so gridlines fall on round numbers. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 5, 10]) if (m * base >= v) return m * base;
  return 10 * base;
}

function pointLabel(locale: Locale, date: string): string {
  if (/^\d{4}-\d{2}$/.test(date)) {
    const d = new Date(`${date}-01T00:00:00Z`);
    return new Intl.DateTimeFormat(locale, { timeZone: "UTC", year: "numeric", month: "short" }).format(d);
  }
  return formatDayLabel(locale, date);
}

/** Daily cost (bars, left axis) and tokens (line, right axis), drawn as inline SVG. */
export function TrendChart({ series }: { series: Point[] | null }) {
  const { t, locale } = useI18n();
  const captionId = useId();

  if (series === null) {
    return (
      <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="trend-unavailable">
        {t("trend.unavailable")}
      </p>
    );
  }
  if (series.length === 0 || series.every((p) => p.cost === 0 && p.allTokens === 0)) {
    return (
      <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="trend-empty">
        {t("trend.empty")}
      </p>
    );
  }

  const maxCost = niceCeil(Math.max(...series.map((p) => p.cost)));
  const maxTokens = niceCeil(Math.max(...series.map((p) => p.allTokens)));
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = innerW / series.length;
  const barW = Math.max(1, Math.min(28, step * 0.7));
  const x = (i: number) => PAD.left + step * i + step / 2;
  const yCost = (v: number) => PAD.top + innerH - (v / maxCost) * innerH;
  const yTokens = (v: number) => PAD.top + innerH - (v / maxTokens) * innerH;
  const line = series.map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${yTokens(p.allTokens).toFixed(1)}`).join(" ");
  const labelEvery = Math.max(1, Math.ceil(series.length / 7));
  const first = series[0]!.date;
  const last = series[series.length - 1]!.date;
  const grid = [0, 0.25, 0.5, 0.75, 1];

  const describe = (p: Point) =>
    t("trend.point", {
      date: p.date,
      cost: formatCost(locale, p.cost),
      tokens: formatInt(locale, p.allTokens),
      requests: formatInt(locale, p.requests),
    });

  return (
    <figure className="rounded-lg border border-slate-200 p-3" data-testid="trend-chart" data-points={series.length}>
      <div className="mb-2 flex flex-wrap items-center gap-4 text-xs text-slate-600">
        <span className="inline-flex items-center gap-1.5">
          <span aria-hidden className="inline-block size-3 rounded-sm bg-brand-500" />
          {t("trend.cost")}
        </span>
        <span className="inline-flex items-center gap-1.5">
          <span aria-hidden className="inline-block h-0.5 w-4 bg-amber-500" />
          {t("trend.tokens")}
        </span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} className="h-auto w-full" role="img" aria-labelledby={captionId}>
        {grid.map((g) => {
          const y = PAD.top + innerH - g * innerH;
          return (
            <g key={g}>
              <line x1={PAD.left} x2={W - PAD.right} y1={y} y2={y} stroke="#e2e8f0" strokeDasharray={g === 0 ? undefined : "3 3"} />
              <text x={PAD.left - 6} y={y + 4} textAnchor="end" fontSize="10" fill="#64748b">
                {formatCost(locale, maxCost * g)}
              </text>
              <text x={W - PAD.right + 6} y={y + 4} textAnchor="start" fontSize="10" fill="#b45309">
                {formatCompact(locale, maxTokens * g)}
              </text>
            </g>
          );
        })}
        {series.map((p, i) => {
          const h = PAD.top + innerH - yCost(p.cost);
          return (
            <g key={p.date} data-testid="trend-point" data-date={p.date} data-cost={p.cost} data-tokens={p.allTokens}>
              <title>{describe(p)}</title>
              <rect x={x(i) - step / 2} y={PAD.top} width={step} height={innerH} fill="transparent" />
              <rect x={x(i) - barW / 2} y={yCost(p.cost)} width={barW} height={Math.max(0, h)} rx={Math.min(3, barW / 3)} className="fill-brand-500" opacity={0.85} />
            </g>
          );
        })}
        <path d={line} fill="none" stroke="#f59e0b" strokeWidth={2} strokeLinejoin="round" strokeLinecap="round" pointerEvents="none" />
        {series.length <= 62 &&
          series.map((p, i) => <circle key={p.date} cx={x(i)} cy={yTokens(p.allTokens)} r={2.5} fill="#f59e0b" pointerEvents="none" />)}
        {series.map((p, i) =>
          (series.length - 1 - i) % labelEvery === 0 ? (
            <text key={p.date} x={x(i)} y={H - 10} textAnchor="middle" fontSize="10" fill="#64748b">
              {pointLabel(locale, p.date)}
            </text>
          ) : null,
        )}
      </svg>
      <figcaption id={captionId} className="mt-1 text-xs text-slate-500">
        {t("trend.caption", { start: first, end: last })}
      </figcaption>
      <table className="sr-only">
        <caption>{t("trend.title")}</caption>
        <tbody>
          {series.map((p) => (
            <tr key={p.date}>
              <td>{describe(p)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}
