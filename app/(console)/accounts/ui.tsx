"use client";

import { TRPCClientError } from "@trpc/client";
import { useEffect } from "react";
import { useI18n } from "@/app/_i18n/i18n-provider";
import { formatCompact, formatCost, formatCostExact, formatInt } from "@/app/_i18n/format";
import type { MessageKey } from "@/app/_i18n/messages";
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
  const { t } = useI18n();
  const code = errorCode(error);
  const known: Record<string, MessageKey> = { UNAVAILABLE: "common.unavailable", UNAUTHORIZED: "common.unauthorized", NOT_FOUND: "common.notFound" };
  const key = code ? known[code] : undefined;
  const detail = key ? t(key) : error instanceof TRPCClientError ? error.message : undefined;
  return (
    <div role="alert" data-testid={testId ?? "error-state"} data-error-code={code ?? ""} className="rounded-md border border-rose-200 bg-rose-50 p-4 text-sm text-rose-900">
      <p className="font-medium">{title ?? t("common.errorTitle")}</p>
      {detail && <p className="mt-1 text-rose-800">{detail}</p>}
      {onRetry && (
        <button type="button" onClick={onRetry} className="mt-3 rounded-md border border-rose-300 bg-white px-3 py-1 font-medium text-rose-800 hover:bg-rose-100 focus-visible:outline-2 focus-visible:outline-rose-500">
          {t("common.retry")}
        </button>
      )}
    </div>
  );
}

/**
 * Shown whenever the figures come from the Redis live counters. The API's `unavailable` notes are
 * English diagnostics; the translated body says the same for people.
 */
export function FallbackBanner({ unavailable }: { unavailable?: string[] }) {
  const { t } = useI18n();
  return (
    <div role="status" data-testid="fallback-banner" data-unavailable={unavailable?.join(" | ")} className="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900">
      <p className="font-semibold">{t("fallback.title")}</p>
      <p className="mt-1">{t("fallback.body")}</p>
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

export function StatusBadge({ status }: { status: string }) {
  const { t } = useI18n();
  const label = (KNOWN_STATUSES as readonly string[]).includes(status) ? t(`status.${status as (typeof KNOWN_STATUSES)[number]}`) : status;
  return (
    <span data-testid="status" data-value={status} className={`inline-flex rounded-full px-2 py-0.5 text-xs font-medium ring-1 ring-inset ${STATUS_STYLE[status] ?? "bg-slate-50 text-slate-600 ring-slate-400/20"}`}>
      {label}
    </span>
  );
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
    <span data-testid="platform" data-value={platform} className="inline-flex rounded bg-slate-100 px-1.5 py-0.5 text-xs font-medium text-slate-700">
      {platformLabel(platform)}
    </span>
  );
}

/**
 * Cost, tokens and requests of one window in human form; the exact values are in the title (for
 * people) and data-value (for tests), under data-testid `<prefix>-cost|tokens|requests`.
 */
export function UsageFigures({ usage, prefix, requests = true, align = "right" }: { usage: Totals; prefix: string; requests?: boolean; align?: "left" | "right" }) {
  const { locale, t } = useI18n();
  const idle = usage.requests === 0 && usage.allTokens === 0 && usage.cost === 0;
  return (
    <div className={`flex flex-col leading-tight tabular-nums ${align === "right" ? "items-end text-right" : "items-start"} ${idle ? "text-slate-400" : ""}`}>
      <span data-testid={`${prefix}-cost`} data-value={usage.cost} title={t("usage.costExact", { value: formatCostExact(locale, usage.cost) })} className={idle ? "" : "font-medium text-slate-900"}>
        {formatCost(locale, usage.cost)}
      </span>
      <span
        data-testid={`${prefix}-tokens`}
        data-value={usage.allTokens}
        title={t("usage.tokensExact", {
          value: formatInt(locale, usage.allTokens),
          input: formatInt(locale, usage.inputTokens),
          output: formatInt(locale, usage.outputTokens),
          cacheCreate: formatInt(locale, usage.cacheCreateTokens),
          cacheRead: formatInt(locale, usage.cacheReadTokens),
        })}
        className="text-xs text-slate-600"
      >
        {t("usage.tokens", { value: formatCompact(locale, usage.allTokens) })}
      </span>
      {requests && (
        <span data-testid={`${prefix}-requests`} data-value={usage.requests} title={t("usage.requests", { value: formatInt(locale, usage.requests) })} className="text-xs text-slate-500">
          {t("usage.requests", { value: formatCompact(locale, usage.requests) })}
        </span>
      )}
    </div>
  );
}
