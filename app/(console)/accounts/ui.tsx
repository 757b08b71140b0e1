"use client";

import { TRPCClientError } from "@trpc/client";
import { useTranslations } from "next-intl";
import { useEffect } from "react";
import { useNumbers } from "@/app/_i18n/format";
import type { Totals } from "./queries";

export function Skeleton({ className = "" }: { className?: string }) {
  return <span aria-hidden className={`inline-block animate-pulse rounded bg-slate-200 ${className}`} />;
}

/** The app error code behind a failed query (UNAVAILABLE, NOT_FOUND …), if the server sent one. */
export function errorCode(error: unknown): string | undefined {
  if (!(error instanceof TRPCClientError)) return undefined;
  const data = error.data as { appCode?: string | null; code?: string } | undefined;
  return data?.appCode ?? (data?.code === "SERVICE_UNAVAILABLE" ? "UNAVAILABLE" : data?.code);
}

/**
 * Whether a failed query should show its error. A query started by the server render and streamed
 * to the browser fails with a redacted error (not a TRPCClientError) and, for an infinite query,
 * its retries replay the same rejected promise: ask the server once more from the browser, and
 * show the error only when that answer fails too (then it carries the real code and message).
 */
export function useShownError(q: { isError: boolean; error: unknown; errorUpdateCount: number; refetch: () => Promise<unknown> }): boolean {
  const { isError, error, errorUpdateCount, refetch } = q;
  const fromServerRender = isError && !(error instanceof TRPCClientError) && errorUpdateCount <= 1;
  useEffect(() => {
    if (fromServerRender) void refetch();
  }, [fromServerRender, refetch]);
  return isError && !fromServerRender;
}

export function ErrorState({ error, title, onRetry, testId }: { error: unknown; title?: string; onRetry?: () => void; testId?: string }) {
  const t = useTranslations("common");
  const code = errorCode(error);
  const detail = code === "UNAVAILABLE" ? t("unavailable") : code === "UNAUTHORIZED" ? t("unauthorized") : error instanceof TRPCClientError ? error.message : undefined;
  return (
    <div role="alert" data-testid={testId ?? "error-state"} data-error-code={code ?? ""} className="rounded-md border border-rose-200 bg-rose-50 p-4 text-sm text-rose-900">
      <p className="font-medium">{title ?? t("errorTitle")}</p>
      {detail && <p className="mt-1 text-rose-800">{detail}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry} className="mt-3 rounded-md border border-rose-300 bg-white px-3 py-1 font-medium text-rose-800 hover:bg-rose-100 focus-visible:outline-2 focus-visible:outline-rose-500">
          {t("retry")}
        </button>
      )}
    </div>
  );
}

/** A calm "nothing here" box, for empty lists and ranges. */
export function EmptyState({ title, hint, testId }: { title: string; hint?: string; testId?: string }) {
  return (
    <div className="rounded-lg border border-dashed border-slate-300 bg-white px-4 py-8 text-center" data-testid={testId}>
      <p className="font-medium text-slate-700">{title}</p>
      {hint && <p className="mt-1 text-sm text-slate-500">{hint}</p>}
    </div>
  );
}

/**
 * Shown whenever the figures come from the Redis live counters. The API's `unavailable` notes are
 * English diagnostics; the translated body says the same for people.
 */
export function FallbackBanner({ unavailable }: { unavailable?: string[] }) {
  const t = useTranslations("fallback");
  return (
    <div role="status" data-testid="fallback-banner" data-unavailable={unavailable?.join(" | ")} className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
      <p className="font-semibold">{t("title")}</p>
      <p className="mt-1">{t("body")}</p>
    </div>
  );
}

const STATUS_STYLE: Record<string, string> = {
  active: "bg-emerald-50 text-emerald-700 ring-emerald-600/20",
  paused: "bg-amber-50 text-amber-800 ring-amber-600/20",
  error: "bg-rose-50 text-rose-700 ring-rose-600/20",
  disabled: "bg-slate-100 text-slate-600 ring-slate-500/20",
};

export const KNOWN_STATUSES = ["active", "paused", "error", "disabled", "unknown"] as const;
const KNOWN_TYPES = ["shared", "dedicated", "group"] as const;

export function StatusBadge({ status }: { status: string }) {
  const t = useTranslations("status");
  const label = (KNOWN_STATUSES as readonly string[]).includes(status) ? t(status as (typeof KNOWN_STATUSES)[number]) : status;
  return (
    <span data-testid="status" data-value={status} className={`inline-flex whitespace-nowrap rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_STYLE[status] ?? "bg-slate-50 text-slate-600 ring-slate-400/20"}`}>
      {label}
    </span>
  );
}

/** shared → 共享 / Shared; a type the glossary does not know stays as the relay wrote it. */
export function AccountType({ type }: { type: string }) {
  const t = useTranslations("accountType");
  return <span data-value={type}>{(KNOWN_TYPES as readonly string[]).includes(type) ? t(type as (typeof KNOWN_TYPES)[number]) : type}</span>;
}

export const KNOWN_PLATFORMS = ["claude", "claude-console", "gemini", "openai", "openai-responses", "azure-openai", "bedrock", "droid", "ccr"] as const;

const PLATFORM_LABEL: Record<string, string> = {
  claude: "Claude",
  "claude-console": "Claude Console",
  gemini: "Gemini",
  openai: "OpenAI",
  "openai-responses": "OpenAI Responses",
  "azure-openai": "Azure OpenAI",
  bedrock: "Bedrock",
  droid: "Droid",
  ccr: "CCR",
};

export function platformLabel(p: string): string {
  return PLATFORM_LABEL[p] ?? p;
}

export function PlatformBadge({ platform }: { platform: string }) {
  return (
    <span data-testid="platform" data-value={platform} className="inline-flex whitespace-nowrap rounded bg-slate-100 px-1.5 py-0.5 text-xs font-medium text-slate-700">
      {platformLabel(platform)}
    </span>
  );
}

const SOURCE_LABEL: Record<string, string> = { crs: "CRS", sub2api: "sub2api", newapi: "new-api" };
const SOURCE_STYLE: Record<string, string> = {
  crs: "bg-indigo-50 text-indigo-700 ring-indigo-600/20",
  sub2api: "bg-teal-50 text-teal-800 ring-teal-600/20",
  newapi: "bg-amber-50 text-amber-800 ring-amber-600/20",
};

/** crs → CRS, newapi → new-api; another source (SUB2API_SOURCE, NEWAPI_SOURCE may name it) as the server wrote it. */
export function sourceLabel(source: string): string {
  return SOURCE_LABEL[source] ?? source;
}

export function SourceBadge({ source }: { source: string }) {
  return (
    <span
      data-testid="source"
      data-value={source}
      className={`inline-flex whitespace-nowrap rounded px-1.5 py-0.5 text-xs font-medium ring-1 ring-inset ${SOURCE_STYLE[source] ?? "bg-slate-50 text-slate-700 ring-slate-500/20"}`}
    >
      {sourceLabel(source)}
    </span>
  );
}

/** An account's relay sources as badges, or a muted dash when none fed it (the REST API alone). */
export function SourceBadges({ sources, testId = "sources" }: { sources: string[]; testId?: string }) {
  const t = useTranslations("source");
  return (
    <span data-testid={testId} data-value={sources.join(" ")} className="inline-flex flex-wrap items-center gap-1">
      {sources.length > 0 ? (
        sources.map((s) => <SourceBadge key={s} source={s} />)
      ) : (
        <span className="text-xs text-slate-500" title={t("noneHint")}>
          {t("none")}
        </span>
      )}
    </span>
  );
}

/** A money amount by the console's rule (see numberFormats), the exact value in its tooltip. */
export function Money({ usd, testId, className = "" }: { usd: number; testId?: string; className?: string }) {
  const n = useNumbers();
  const t = useTranslations("usage");
  return (
    <span data-testid={testId} data-value={usd} title={t("costExact", { value: n.costExact(usd) })} className={`whitespace-nowrap tabular-nums ${className}`}>
      {n.cost(usd)}
    </span>
  );
}

const ALIGN = { left: "items-start", right: "items-end text-right", responsive: "items-start md:items-end md:text-right" } as const;
const ROW = { left: "justify-start", right: "justify-end", responsive: "justify-start md:justify-end" } as const;

/**
 * 毛利 = rated − real, in exact micro-USD (the API's money has 6 decimals), and its rate of the
 * rated cost (null when nothing was billed).
 */
export function marginOf(usage: Pick<Totals, "cost" | "ratedCost">): { usd: number; rate: number | null } {
  const rated = Math.round(usage.ratedCost * 1e6);
  const micros = rated - Math.round(usage.cost * 1e6);
  return { usd: micros / 1e6, rate: rated > 0 ? micros / rated : null };
}

/** A labelled amount: 成本 $1.23 (the label's title explains it). */
function LabelledMoney({ label, hint, usd, testId, strong, align }: { label: string; hint: string; usd: number; testId: string; strong?: boolean; align: keyof typeof ROW }) {
  return (
    <span className={`flex items-baseline gap-1 whitespace-nowrap ${ROW[align]}`}>
      <span className="text-[11px] text-slate-500" title={hint}>
        {label}
      </span>
      <Money usd={usd} testId={testId} className={strong ? "font-medium text-slate-900" : "text-slate-700"} />
    </span>
  );
}

/**
 * One window's figures in human form: 成本 (real cost), 计费 (rated cost), 毛利 and its rate,
 * then tokens and requests. Exact values are in the titles (for people) and data-value (for
 * tests), under data-testid `<prefix>-cost|rated-cost|margin|margin-rate|tokens|requests`.
 */
export function UsageFigures({ usage, prefix, requests = true, align = "right" }: { usage: Totals; prefix: string; requests?: boolean; align?: "left" | "right" | "responsive" }) {
  const n = useNumbers();
  const t = useTranslations("usage");
  const idle = usage.requests === 0 && usage.allTokens === 0 && usage.cost === 0 && usage.ratedCost === 0;
  const margin = marginOf(usage);
  return (
    <div className={`flex min-w-0 flex-col leading-tight tabular-nums ${ALIGN[align]} ${idle ? "text-slate-500" : ""}`}>
      <LabelledMoney label={t("cost")} hint={t("costHint")} usd={usage.cost} testId={`${prefix}-cost`} strong={!idle} align={align} />
      <LabelledMoney label={t("rated")} hint={t("ratedHint")} usd={usage.ratedCost} testId={`${prefix}-rated-cost`} align={align} />
      <span className={`flex flex-wrap items-baseline gap-x-1 whitespace-nowrap ${ROW[align]}`}>
        <span className="text-[11px] text-slate-500" title={t("marginHint")}>
          {t("margin")}
        </span>
        <Money usd={margin.usd} testId={`${prefix}-margin`} className={margin.usd < 0 ? "text-rose-700" : "text-slate-700"} />
        {margin.rate !== null && (
          <span className="text-[11px] text-slate-500" data-testid={`${prefix}-margin-rate`} data-value={margin.rate}>
            {n.percent(margin.rate)}
          </span>
        )}
      </span>
      <span className={`flex flex-wrap gap-x-1 text-xs text-slate-600 ${ROW[align]}`}>
        <span
          className="whitespace-nowrap"
          data-testid={`${prefix}-tokens`}
          data-value={usage.allTokens}
          title={t("tokensExact", {
            value: n.int(usage.allTokens),
            input: n.int(usage.inputTokens),
            output: n.int(usage.outputTokens),
            cacheCreate: n.int(usage.cacheCreateTokens),
            cacheRead: n.int(usage.cacheReadTokens),
          })}
        >
          {t("tokens", { value: n.compact(usage.allTokens) })}
        </span>
        {requests && (
          <>
            <span aria-hidden className="text-slate-400">
              ·
            </span>
            <span data-testid={`${prefix}-requests`} data-value={usage.requests} title={t("requests", { value: n.int(usage.requests) })} className="whitespace-nowrap text-slate-500">
              {t("requests", { value: n.compact(usage.requests) })}
            </span>
          </>
        )}
      </span>
    </div>
  );
}
