"use client";

import { useQueries, useQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { formatDateTime, formatDateTimeLong } from "@/app/_i18n/format";
import type { EventView } from "@/server/alerts/schemas";
import { EmptyState, ErrorState, Skeleton } from "../accounts/ui";
import { liveOptions, useRefreshMs } from "../accounts/live";
import { BUTTON, describedBy, Field, INPUT, SectionHead, useMeasureValue } from "./form";
import { EVENT_KINDS, historyInput, type RawAlertsParams } from "./url-state";

const KIND_STYLE: Record<EventView["kind"], string> = {
  firing: "bg-rose-600 text-white",
  repeat: "bg-rose-50 text-rose-700 ring-1 ring-inset ring-rose-600/20",
  pending: "bg-amber-50 text-amber-800 ring-1 ring-inset ring-amber-600/20",
  resolved: "bg-emerald-50 text-emerald-700 ring-1 ring-inset ring-emerald-600/20",
  inactive: "bg-slate-100 text-slate-600",
};
const STATUS_STYLE: Record<EventView["deliveries"][number]["status"], string> = {
  sent: "text-emerald-700",
  failed: "text-rose-700",
  pending: "text-slate-600",
  sending: "text-slate-600",
};

/**
 * Transitions, newest first, with their deliveries; filtered by rule and kind (URL state), paged by
 * nextCursor: one query per page (alerts.history's input is strict, so not tRPC's infinite query,
 * whose input carries a `direction` too). The first page stays live until more pages are loaded.
 */
export function HistoryTab({ filters, onFilters, timeZone }: { filters: Pick<RawAlertsParams, "rule" | "kind">; onFilters: (f: Partial<Pick<RawAlertsParams, "rule" | "kind">>) => void; timeZone: string }) {
  const t = useTranslations("alerts.history");
  const tc = useTranslations("common");
  const trpc = useTRPC();
  const refreshMs = useRefreshMs();
  const rules = useQuery(trpc.alerts.rules.list.queryOptions());
  const input = historyInput(filters);
  const key = JSON.stringify(input);
  const [paging, setPaging] = useState<{ key: string; cursors: string[] }>({ key, cursors: [] });
  const cursors = paging.key === key ? paging.cursors : [];
  const pages = useQueries({
    queries: [undefined, ...cursors].map((cursor) => trpc.alerts.history.queryOptions(cursor ? { ...input, cursor } : input, liveOptions(cursors.length === 0, refreshMs))),
  });
  const first = pages[0]!;
  const last = pages[pages.length - 1]!;
  const items = pages.flatMap((p) => p.data?.items ?? []);
  const next = last.data?.nextCursor ?? null;
  const measureOf = new Map((rules.data ?? []).map((r) => [r.id, r.measure]));
  const failed = pages.find((p) => p.isError);

  return (
    <section aria-labelledby="history-heading" className="flex flex-col gap-3">
      <SectionHead id="history-heading" title={t("title")} />
      <div className="grid grid-cols-2 gap-3 sm:flex sm:flex-wrap">
        <Field id="history-rule" label={t("rule")}>
          <select {...describedBy("history-rule", undefined, undefined)} className={`${INPUT} sm:w-56`} value={filters.rule ?? ""} onChange={(e) => onFilters({ rule: e.target.value || null })} data-testid="history-rule">
            <option value="">{t("allRules")}</option>
            {(rules.data ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id="history-kind" label={t("kind")}>
          <select
            {...describedBy("history-kind", undefined, undefined)}
            className={`${INPUT} sm:w-40`}
            value={filters.kind ?? ""}
            onChange={(e) => onFilters({ kind: EVENT_KINDS.find((k) => k === e.target.value) ?? null })}
            data-testid="history-kind"
          >
            <option value="">{t("allKinds")}</option>
            {EVENT_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kinds.${k}`)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      {first.isPending ? (
        <Skeleton className="h-24 w-full" />
      ) : first.isError ? (
        <ErrorState error={first.error} onRetry={() => void first.refetch()} testId="history-error" />
      ) : items.length === 0 ? (
        <EmptyState title={t("empty")} hint={t("emptyHint")} testId="history-empty" />
      ) : (
        <ol className="flex flex-col divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white shadow-sm" data-testid="history-list">
          {items.map((e) => (
            <HistoryItem key={e.id} event={e} measure={e.ruleId ? measureOf.get(e.ruleId) : undefined} timeZone={timeZone} />
          ))}
        </ol>
      )}
      {failed && failed !== first && <ErrorState error={failed.error} onRetry={() => void failed.refetch()} testId="history-error" />}
      {pages.length > 1 && last.isPending ? (
        <button type="button" className={`${BUTTON} self-start`} disabled aria-busy data-testid="history-more">
          {tc("loading")}
        </button>
      ) : (
        next && (
          <button type="button" className={`${BUTTON} self-start`} onClick={() => setPaging({ key, cursors: [...cursors, next] })} data-testid="history-more">
            {tc("loadMore")}
          </button>
        )
      )}
    </section>
  );
}

function HistoryItem({ event: e, measure, timeZone }: { event: EventView; measure: string | undefined; timeZone: string }) {
  const t = useTranslations("alerts.history");
  const value = useMeasureValue();
  return (
    <li className="flex flex-col gap-1 p-3 sm:flex-row sm:items-start sm:gap-4" data-testid="history-item" data-kind={e.kind} data-rule-id={e.ruleId ?? ""} data-subject-key={e.subjectKey}>
      <time dateTime={e.at} title={formatDateTimeLong(e.at, timeZone)} className="shrink-0 whitespace-nowrap text-xs text-slate-500 tabular-nums sm:w-32 sm:pt-0.5 sm:text-sm">
        {formatDateTime(e.at, timeZone)}
      </time>
      <div className="min-w-0 flex-1">
        <p className="flex flex-wrap items-center gap-2">
          <span className={`rounded-full px-2 py-0.5 text-xs font-medium ${KIND_STYLE[e.kind]}`} data-testid="history-kind-badge">
            {t(`kinds.${e.kind}`)}
          </span>
          <span className="font-medium text-slate-900 wrap-anywhere">{e.ruleName || t("deletedRule")}</span>
          <span className="text-slate-600 wrap-anywhere" data-testid="history-subject">
            {e.subjectName || e.subjectKey}
          </span>
          {e.silenced && <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{t("silenced")}</span>}
        </p>
        <p className="text-sm tabular-nums text-slate-600">{t("value", { value: value(measure, e.value), threshold: value(measure, e.threshold) })}</p>
        {e.notificationId !== null && (
          <ul className="mt-1 flex flex-wrap gap-x-4 gap-y-1 text-xs" aria-label={t("deliveries")} data-testid="history-deliveries">
            {e.deliveries.length === 0 && <li className="text-slate-500">{t("noDeliveries")}</li>}
            {e.deliveries.map((d) => (
              <li key={d.id} data-testid="history-delivery" data-status={d.status} title={d.lastError ?? undefined} className="min-w-0 wrap-anywhere">
                <span className="text-slate-700">{d.channelName}</span> <span className={`font-medium ${STATUS_STYLE[d.status]}`}>{t(`status.${d.status}`)}</span>
                {d.attempts > 1 && <span className="text-slate-500"> · {t("attempts", { count: d.attempts })}</span>}
                {d.status === "failed" && d.lastError && <span className="text-slate-500"> · {d.lastError}</span>}
              </li>
            ))}
          </ul>
        )}
      </div>
    </li>
  );
}
