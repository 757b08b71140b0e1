"use client";

import { useLocale, useTranslations } from "next-intl";
import { useEffect, useId, useRef, useState } from "react";
import { useNumbers } from "@/app/_i18n/format";
import type { TrendSpan } from "@/server/usage-stats/schemas";
import { niceTicks } from "./nice-ticks";
import type { TrendOutput } from "./queries";
import { ErrorState, errorCode, Skeleton } from "./ui";

type Point = TrendOutput["data"]["points"][number];
type Unit = TrendOutput["data"]["unit"];

export const TREND_SPAN_CHOICES = ["today", "30d", "90d", "12m"] as const satisfies readonly TrendSpan[];
/** The chart opens on the last 30 days, whatever range the cards above show. */
export const DEFAULT_TREND_SPAN: TrendSpan = "30d";

/** Room one x-axis label needs, in px. */
const LABEL_PX = 60;
/** "14:00" of a bucket "2026-11-18T14:00+08:00". */
const hourOf = (bucket: string) => bucket.slice(11, 16);

function pointLabel(locale: string, unit: Unit, p: Point, next: Point | undefined): string {
  if (unit === "hour") {
    const end = next ? hourOf(next.bucket) : "24:00";
    return `${p.bucket.slice(0, 10)} ${hourOf(p.bucket)}–${end}`;
  }
  return unit === "day" ? dayLabel(locale, p.bucket, true) : monthLabel(locale, p.bucket);
}

function dayLabel(locale: string, date: string, withYear = false): string {
  const d = new Date(`${date}T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return date;
  return new Intl.DateTimeFormat(locale, { timeZone: "UTC", ...(withYear ? { year: "numeric" } : {}), month: "short", day: "numeric" }).format(d);
}

function monthLabel(locale: string, month: string): string {
  const d = new Date(`${month}-01T00:00:00Z`);
  if (Number.isNaN(d.getTime())) return month;
  return new Intl.DateTimeFormat(locale, { timeZone: "UTC", year: "2-digit", month: "short" }).format(d);
}

function axisLabel(locale: string, unit: Unit, p: Point): string {
  return unit === "hour" ? hourOf(p.bucket) : unit === "day" ? dayLabel(locale, p.bucket) : monthLabel(locale, p.bucket);
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
 * The drawer's usage trend, on its own query (accounts.trend) so that it does not follow the
 * cards' range: today per hour, the last 30 or 90 days per day, the last 12 months per month.
 * Cost as bars on the left axis, tokens as a line on the right one, both on "nice" ticks. A
 * crosshair and a tooltip follow the mouse, a tap or a drag on a touch screen, and the arrow keys.
 *
 * Hand-drawn SVG rather than a chart library: it adds nothing to the route's bundle, renders the
 * same on the server and in the browser, and is drawn at the size it is shown (11 px text on a
 * phone); what a library would bring (crosshair, tooltip, ticks) is the little code below.
 */
export function TrendChart({
  query,
  failed,
  span,
  onSpan,
}: {
  query: { data: TrendOutput | undefined; error: unknown; isPlaceholderData: boolean; refetch: () => Promise<unknown> };
  /** The query failed and its error is to be shown (useShownError). */
  failed: boolean;
  span: TrendSpan;
  onSpan: (span: TrendSpan) => void;
}) {
  const t = useTranslations("trend");
  const data = query.data?.data;
  const unit: Unit = data?.unit ?? (span === "today" ? "hour" : span === "12m" ? "month" : "day");
  const title = unit === "hour" ? t("titleHour") : unit === "month" ? t("titleMonth") : t("titleDay");
  const spanLabel: Record<TrendSpan, string> = { today: t("spanToday"), "30d": t("span30d"), "90d": t("span90d"), "12m": t("span12m") };

  let body: React.ReactNode;
  if (failed && !query.isPlaceholderData && errorCode(query.error) === "UNAVAILABLE") {
    body = (
      <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="trend-unavailable">
        {t("unavailable")}
      </p>
    );
  } else if (failed) {
    body = <ErrorState error={query.error} onRetry={() => void query.refetch()} testId="trend-error" />;
  } else if (!data) {
    body = <Skeleton className="h-60 w-full" />;
  } else if (data.points.every((p) => p.cost === 0 && p.allTokens === 0 && p.requests === 0)) {
    body = (
      <p className="rounded-lg border border-dashed border-slate-300 p-4 text-sm text-slate-500" data-testid="trend-empty">
        {t("empty")}
      </p>
    );
  } else {
    body = <Chart key={`${data.span}|${data.start}`} data={data} timestamp={query.data!.timestamp} timezone={query.data!.timezone} title={title} stale={query.isPlaceholderData} />;
  }

  return (
    <section aria-labelledby="trend-heading" className="flex min-w-0 flex-col gap-2" data-testid="trend">
      <div className="flex flex-wrap items-center justify-between gap-2">
        <h3 id="trend-heading" className="text-base font-semibold" data-testid="trend-title" data-granularity={unit}>
          {title}
        </h3>
        <div role="group" aria-label={t("span")} className="inline-grid grid-cols-4 overflow-hidden rounded-md border border-slate-300 bg-white text-xs shadow-sm" data-testid="trend-span">
          {TREND_SPAN_CHOICES.map((s, i) => (
            <button
              key={s}
              type="button"
              aria-pressed={s === span}
              data-testid={`trend-span-${s}`}
              onClick={() => onSpan(s)}
              className={`whitespace-nowrap px-2.5 py-1.5 focus-visible:outline-2 focus-visible:outline-offset-[-2px] focus-visible:outline-brand-500 ${i > 0 ? "border-l border-slate-300" : ""} ${s === span ? "bg-brand-700 text-white" : "text-slate-700 hover:bg-slate-100"}`}
            >
              {spanLabel[s]}
            </button>
          ))}
        </div>
      </div>
      {body}
    </section>
  );
}

function Chart({ data, timestamp, timezone, title, stale }: { data: TrendOutput["data"]; timestamp: string; timezone: string; title: string; stale: boolean }) {
  const t = useTranslations("trend");
  const n = useNumbers();
  const locale = useLocale();
  const captionId = useId();
  const hintId = useId();
  const [box, measured] = useWidth(720);
  const [active, setActive] = useState<number | null>(null);
  const pinned = useRef(false);
  const figure = useRef<HTMLElement>(null);

  // A tap outside the chart hides a tooltip a tap pinned.
  useEffect(() => {
    if (active === null) return;
    const away = (e: PointerEvent) => {
      if (figure.current && !figure.current.contains(e.target as Node)) {
        pinned.current = false;
        setActive(null);
      }
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [active]);

  const { unit, points } = data;
  const W = Math.max(300, measured);
  const narrow = W < 480;
  const H = narrow ? 220 : 240;
  const pad = narrow ? { top: 12, right: 44, bottom: 28, left: 48 } : { top: 14, right: 56, bottom: 30, left: 60 };
  const innerW = W - pad.left - pad.right;
  const innerH = H - pad.top - pad.bottom;
  const maxTicks = narrow ? 3 : 4;
  const costs = points.map((p) => p.cost);
  const tokens = points.map((p) => p.allTokens);
  const costAxis = niceTicks(Math.min(...costs), Math.max(...costs), maxTicks);
  const tokenAxis = niceTicks(Math.min(...tokens), Math.max(...tokens), maxTicks);
  const cLo = costAxis.ticks[0]!;
  const cHi = costAxis.ticks.at(-1)!;
  const tLo = tokenAxis.ticks[0]!;
  const tHi = tokenAxis.ticks.at(-1)!;
  const step = innerW / points.length;
  const barW = Math.max(1, Math.min(28, step * 0.7));
  const x = (i: number) => pad.left + step * i + step / 2;
  const yCost = (v: number) => pad.top + innerH - ((v - cLo) / (cHi - cLo)) * innerH;
  const yTokens = (v: number) => pad.top + innerH - ((v - tLo) / (tHi - tLo)) * innerH;
  // Hours of today still to come are zero, not usage: no bar, and the line stops at the current hour.
  const past = points.map((p) => p.start <= timestamp);
  const lastPast = past.lastIndexOf(true);
  const line = points
    .slice(0, lastPast + 1)
    .map((p, i) => `${i === 0 ? "M" : "L"}${x(i).toFixed(1)},${yTokens(p.allTokens).toFixed(1)}`)
    .join(" ");
  const needed = Math.ceil((points.length * LABEL_PX) / innerW);
  const labelEvery = unit === "hour" ? ([1, 2, 3, 4, 6, 12].find((k) => k >= needed) ?? 12) : Math.max(1, needed);
  const showLabel = (i: number) => (unit === "hour" ? i % labelEvery === 0 : (points.length - 1 - i) % labelEvery === 0);
  const first = points[0]!.bucket;
  const last = points.at(-1)!.bucket;
  const describe = (p: Point, i: number) =>
    t("point", { date: pointLabel(locale, unit, p, points[i + 1]), cost: n.cost(p.cost), tokens: n.int(p.allTokens), requests: n.int(p.requests) });
  const caption =
    unit === "hour" ? t("captionHour", { date: data.start, timezone }) : unit === "month" ? t("captionMonth", { start: first, end: last }) : t("captionDay", { start: first, end: last });

  function indexAt(clientX: number): number {
    const el = box.current;
    if (!el) return 0;
    const rect = el.getBoundingClientRect();
    const px = ((clientX - rect.left) * W) / Math.max(1, rect.width);
    return Math.min(points.length - 1, Math.max(0, Math.floor((px - pad.left) / step)));
  }

  function onKeyDown(e: React.KeyboardEvent) {
    const cur = active ?? (e.key === "ArrowLeft" ? points.length : -1);
    let next: number | null = cur;
    if (e.key === "ArrowRight") next = Math.min(points.length - 1, cur + 1);
    else if (e.key === "ArrowLeft") next = Math.max(0, cur - 1);
    else if (e.key === "Home") next = 0;
    else if (e.key === "End") next = points.length - 1;
    // Esc is left to the drawer, which it closes; leaving the chart (Tab) hides the tooltip.
    else return;
    e.preventDefault();
    pinned.current = next !== null;
    setActive(next);
  }

  const a = active === null ? undefined : points[active];
  const tipLeft = active === null ? 0 : (x(active) / W) * 100;

  return (
    <figure
      ref={figure}
      className={`relative min-w-0 rounded-lg border border-slate-200 p-3 ${stale ? "opacity-60" : ""}`}
      data-testid="trend-chart"
      data-points={points.length}
      data-granularity={unit}
      data-span={data.span}
      aria-busy={stale}
    >
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
      <div
        ref={box}
        className="relative w-full touch-pan-y select-none rounded focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500"
        tabIndex={0}
        role="group"
        aria-roledescription="chart"
        aria-label={title}
        aria-describedby={`${captionId} ${hintId}`}
        data-testid="trend-plot"
        onKeyDown={onKeyDown}
        onPointerMove={(e) => {
          if (e.pointerType === "mouse" || e.buttons > 0 || pinned.current) setActive(indexAt(e.clientX));
        }}
        onPointerDown={(e) => {
          pinned.current = e.pointerType !== "mouse";
          setActive(indexAt(e.clientX));
        }}
        onPointerLeave={(e) => {
          if (e.pointerType === "mouse" && !pinned.current) setActive(null);
        }}
        onBlur={() => {
          if (pinned.current) {
            pinned.current = false;
            setActive(null);
          }
        }}
      >
        <svg viewBox={`0 0 ${W} ${H}`} width="100%" className="block h-auto" aria-hidden>
          {/* Only the columns take the pointer (the plot reads its position); the rest lets it through. */}
          {costAxis.ticks.map((v) => (
            <g key={`c${v}`} data-testid="trend-cost-tick" data-value={v} pointerEvents="none">
              <line x1={pad.left} x2={W - pad.right} y1={yCost(v)} y2={yCost(v)} className="stroke-chart-grid" strokeDasharray={v === 0 ? undefined : "3 3"} />
              <text x={pad.left - 6} y={yCost(v) + 4} textAnchor="end" fontSize="11" className="fill-chart-axis">
                {n.tickCost(v, costAxis.step)}
              </text>
            </g>
          ))}
          {tokenAxis.ticks.map((v) => (
            <text key={`t${v}`} x={W - pad.right + 6} y={yTokens(v) + 4} textAnchor="start" fontSize="11" className="fill-chart-tokens-text" data-testid="trend-token-tick" data-value={v} pointerEvents="none">
              {n.tickCompact(v)}
            </text>
          ))}
          {a && <rect x={x(active!) - step / 2} y={pad.top} width={step} height={innerH} className="fill-chart-grid" opacity={0.6} pointerEvents="none" />}
          {points.map((p, i) => {
            const y0 = yCost(0);
            const y1 = yCost(p.cost);
            return (
              <g key={p.bucket} data-testid="trend-point" data-date={p.bucket} data-cost={p.cost} data-tokens={p.allTokens} data-requests={p.requests} data-future={!past[i] || undefined}>
                <rect x={x(i) - step / 2} y={pad.top} width={step} height={innerH} fill="transparent" />
                {past[i] && <rect x={x(i) - barW / 2} y={Math.min(y0, y1)} width={barW} height={Math.abs(y1 - y0)} rx={Math.min(3, barW / 3)} className="fill-chart-cost" opacity={active === i ? 1 : 0.85} />}
              </g>
            );
          })}
          {line && <path d={line} fill="none" className="stroke-chart-tokens" strokeWidth={2} strokeLinejoin="round" strokeLinecap="round" pointerEvents="none" />}
          {points.length <= 62 && points.map((p, i) => past[i] && <circle key={p.bucket} cx={x(i)} cy={yTokens(p.allTokens)} r={2.5} className="fill-chart-tokens" pointerEvents="none" />)}
          {a && (
            <g data-testid="trend-crosshair" pointerEvents="none">
              <line x1={x(active!)} x2={x(active!)} y1={pad.top} y2={pad.top + innerH} className="stroke-chart-axis" strokeWidth={1} />
              <circle cx={x(active!)} cy={yTokens(a.allTokens)} r={4} className="fill-chart-tokens stroke-white" strokeWidth={1.5} />
            </g>
          )}
          {points.map((p, i) =>
            showLabel(i) ? (
              <text key={p.bucket} x={x(i)} y={H - 9} textAnchor="middle" fontSize="11" className="fill-chart-axis" data-testid="trend-axis-label" pointerEvents="none">
                {axisLabel(locale, unit, p)}
              </text>
            ) : null,
          )}
        </svg>
        {a && (
          <div
            role="status"
            data-testid="trend-tooltip"
            data-bucket={a.bucket}
            className="pointer-events-none absolute top-1 z-10 w-max max-w-[13rem] rounded-md border border-slate-200 bg-white/95 px-3 py-2 text-xs text-slate-700 shadow-lg"
            style={tipLeft > 50 ? { right: `${100 - tipLeft + 2}%` } : { left: `${tipLeft + 2}%` }}
          >
            <p className="font-medium text-slate-900" data-testid="trend-tooltip-label">
              {pointLabel(locale, unit, a, points[active! + 1])}
            </p>
            <dl className="mt-1 grid grid-cols-[auto_auto] gap-x-3 gap-y-0.5 tabular-nums">
              <dt className="flex items-center gap-1.5">
                <span aria-hidden className="inline-block size-2 rounded-sm bg-chart-cost" />
                {t("cost")}
              </dt>
              <dd className="text-right font-medium text-slate-900" data-testid="trend-tooltip-cost" data-value={a.cost}>
                {n.cost(a.cost)}
              </dd>
              <dt className="pl-3.5">{t("ratedCost")}</dt>
              <dd className="text-right" data-testid="trend-tooltip-rated-cost" data-value={a.ratedCost}>
                {n.cost(a.ratedCost)}
              </dd>
              <dt className="flex items-center gap-1.5">
                <span aria-hidden className="inline-block h-0.5 w-2 bg-chart-tokens" />
                {t("tokens")}
              </dt>
              <dd className="text-right" data-testid="trend-tooltip-tokens" data-value={a.allTokens}>
                {n.int(a.allTokens)}
              </dd>
              <dt className="pl-3.5">{t("requests")}</dt>
              <dd className="text-right" data-testid="trend-tooltip-requests" data-value={a.requests}>
                {n.int(a.requests)}
              </dd>
            </dl>
          </div>
        )}
      </div>
      <figcaption id={captionId} className="mt-1 text-xs text-slate-600" data-testid="trend-caption">
        {caption}
      </figcaption>
      <p id={hintId} className="sr-only">
        {t("keyboard")}
      </p>
      {/* A table ignores its 1 px sr-only box and keeps its full width, which widened the drawer's
          scroll area on a phone: the 1 px box is this div's, and it clips the table. */}
      <div className="sr-only overflow-hidden" data-testid="trend-table">
        <table>
          <caption>{title}</caption>
          <tbody>
            {points.map((p, i) => (
              <tr key={p.bucket}>
                <td>{describe(p, i)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
