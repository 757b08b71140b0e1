"use client";

import { useLocale, useTranslations } from "next-intl";
import { useEffect, useId, useRef, useState } from "react";
import { useNumbers } from "@/app/_i18n/format";
import type { SummaryOutput } from "./queries";

type Point = NonNullable<SummaryOutput["data"]["series"]>[number];
export type Granularity = "day" | "month";

const H = 240;
const PAD = { top: 16, right: 56, bottom: 30, left: 60 };
/** Room one axis label needs, in px; fewer labels on a narrow chart. */
const LABEL_PX = 64;

/** The smallest 1, 2 or 5 × 10^k at or above v, so gridlines fall on round numbers. */
function niceCeil(v: number): number {
  if (v <= 0) return 1;
  const exp = Math.floor(Math.log10(v));
  const base = 10 ** exp;
  for (const m of [1, 2, 5, 10]) if (m * base >= v) return m * base;
  return 10 * base;
}

export function granularityOf(series: readonly Point[]): Granularity {
  return series[0] && /^\d{4}-\d{2}$/.test(series[0].date) ? "month" : "day";
}

/** The series without days (or months) after today: a day still to come is not a day of zero usage. */
export function pastPoints(series: readonly Point[], today: string): Point[] {
  const g = granularityOf(series);
  const limit = g === "month" ? today.slice(0, 7) : today;
  return series.filter((p) => p.date <= limit);
}

function axisLabel(locale: string, g: Granularity, date: string): string {
  const d = new Date(g === "month" ? `${date}-01T00:00:00Z` : `${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return new Intl.DateTimeFormat(locale, g === "month" ? { timeZone: "UTC", year: "2-digit", month: "short" } : { timeZone: "UTC", month: "short", day: "numeric" }).format(d);
}

/** The chart's width in px once it is on screen (the server renders it at 720). */
function useWidth(fallback: number) {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(fallback);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver(([entry]) => {
      const w = Math.round(entry?.contentRect.width ?? 0);
      if (w > 0) setWidth(w);
    });
    ro.observe(el);
    return () => ro.disconnect();
  }, []);
  return [ref, width] as const;
}

/**
 * Cost (bars, left axis) and tokens (line, right axis) per day or per month, as inline SVG drawn at
 * the size it is shown, so that its text stays 11 px on a phone. Title, caption and tooltips say
 * which granularity the points are.
 */
export function TrendChart({ series, today, fallbackGranularity }: { series: Point[] | null; today: string; fallbackGranularity: Granularity }) {
  const t = useTranslations("trend");
  const n = useNumbers();
  const locale = useLocale();
  const captionId = useId();
  const [box, measured] = useWidth(720);
  const points = series ? pastPoints(series, today) : [];
  const g = series && series.length > 0 ? granularityOf(series) : fallbackGranularity;
  const title = g === "month" ? t("titleMonth") : t("titleDay");

  const heading = (
    <h3 id="trend-heading" className="text-base font-semibold" data-testid="trend-title" data-granularity={g}>
      {title}
    </h3>
  );

  if (series === null) {
    return (
      <>
        {heading}
        <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="trend-unavailable">
          {t("unavailable")}
        </p>
      </>
    );
  }
  if (points.length === 0 || points.every((p) => p.cost === 0 && p.allTokens === 0)) {
    return (
      <>
        {heading}
        <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="trend-empty">
          {t("empty")}
        </p>
      </>
    );
  }

  const W = Math.max(300, measured);
  const narrow = W < 480;
  const pad = narrow ? { ...PAD, left: 48, right: 44 } : PAD;
  const maxCost = niceCeil(Math.max(...points.map((p) => p.cost)));
  const maxTokens = niceCeil(Math.max(...points.map((p) => p.allTokens)));
  const innerW = W - pad.left - pad.right;
  const innerH = H - pad.top - pad.bottom;
  const step = innerW / points.length;
  const barW = Math.max(1, Math.min(28, step * 0.7));
  const x = (i: number) => pad.left + step * i + step / 2;
  const yCost = (v: number) => pad.top + innerH - (v / maxCost) * innerH;
  const yTokens = (v: number) => pad.top + innerH - (v / maxTokens) * innerH;
  const line = points.map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${yTokens(p.allTokens).toFixed(1)}`).join(" ");
  const labelEvery = Math.max(1, Math.ceil((points.length * LABEL_PX) / innerW));
  const first = points[0]!.date;
  const last = points[points.length - 1]!.date;
  const grid = narrow ? [0, 0.5, 1] : [0, 0.25, 0.5, 0.75, 1];
  const truncated = points.length < series.length;

  const describe = (p: Point) =>
    t("point", { date: p.date, cost: n.cost(p.cost), tokens: n.int(p.allTokens), requests: n.int(p.requests) });

  return (
    <>
      {heading}
      <figure className="rounded-lg border border-slate-200 p-3" data-testid="trend-chart" data-points={points.length} data-granularity={g}>
        <div className="mb-2 flex flex-wrap items-center gap-4 text-xs text-slate-600">
          <span className="inline-flex items-center gap-1.5">
            <span aria-hidden className="inline-block size-3 rounded-sm bg-chart-cost" />
            {t("cost")}
          </span>
          <span className="inline-flex items-center gap-1.5">
            <span aria-hidden className="inline-block h-0.5 w-4 bg-chart-tokens" />
            {t("tokens")}
          </span>
        </div>
        <div ref={box} className="w-full">
          <svg viewBox={`0 0 ${W} ${H}`} width="100%" className="block h-auto" role="img" aria-labelledby={captionId}>
            {grid.map((gv) => {
              const y = pad.top + innerH - gv * innerH;
              return (
                <g key={gv}>
                  <line x1={pad.left} x2={W - pad.right} y1={y} y2={y} className="stroke-chart-grid" strokeDasharray={gv === 0 ? undefined : "3 3"} />
                  <text x={pad.left - 6} y={y + 4} textAnchor="end" fontSize="11" className="fill-chart-axis">
                    {n.compactCost(maxCost * gv)}
                  </text>
                  <text x={W - pad.right + 6} y={y + 4} textAnchor="start" fontSize="11" className="fill-chart-tokens-text">
                    {n.compact(maxTokens * gv)}
                  </text>
                </g>
              );
            })}
            {points.map((p, i) => {
              const h = pad.top + innerH - yCost(p.cost);
              return (
                <g key={p.date} data-testid="trend-point" data-date={p.date} data-cost={p.cost} data-tokens={p.allTokens}>
                  <title>{describe(p)}</title>
                  <rect x={x(i) - step / 2} y={pad.top} width={step} height={innerH} fill="transparent" />
                  <rect x={x(i) - barW / 2} y={yCost(p.cost)} width={barW} height={Math.max(0, h)} rx={Math.min(3, barW / 3)} className="fill-chart-cost" opacity={0.85} />
                </g>
              );
            })}
            <path d={line} fill="none" className="stroke-chart-tokens" strokeWidth={2} strokeLinejoin="round" strokeLinecap="round" pointerEvents="none" />
            {points.length <= 62 && points.map((p, i) => <circle key={p.date} cx={x(i)} cy={yTokens(p.allTokens)} r={2.5} className="fill-chart-tokens" pointerEvents="none" />)}
            {points.map((p, i) =>
              (points.length - 1 - i) % labelEvery === 0 ? (
                <text key={p.date} x={x(i)} y={H - 10} textAnchor="middle" fontSize="11" className="fill-chart-axis" data-testid="trend-axis-label">
                  {axisLabel(locale, g, p.date)}
                </text>
              ) : null,
            )}
          </svg>
        </div>
        <figcaption id={captionId} className="mt-1 text-xs text-slate-600" data-testid="trend-caption">
          {g === "month" ? t("captionMonth", { start: first, end: last }) : t("captionDay", { start: first, end: last })}
          {truncated && <> · {t("captionUntilToday", { today })}</>}
        </figcaption>
        <table className="sr-only">
          <caption>{title}</caption>
          <tbody>
            {points.map((p) => (
              <tr key={p.date}>
                <td>{describe(p)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </figure>
    </>
  );
}
