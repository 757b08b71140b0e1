"use client";

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { formatDateTime, formatDateTimeLong } from "@/app/_i18n/format";
import type { SilenceView } from "@/server/alerts/schemas";
import { EmptyState, ErrorState, Skeleton } from "../accounts/ui";
import { BUTTON_DANGER, BUTTON_PRIMARY, BUTTON_SMALL, CARD, describedBy, Field, FormFooter, INPUT, SectionHead, useIssues } from "./form";

/** A datetime-local input's value (the browser's time) for an instant. */
function localInput(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

const PRESETS = [
  { key: "h1", ms: 3_600_000 },
  { key: "h4", ms: 4 * 3_600_000 },
  { key: "d1", ms: 86_400_000 },
  { key: "d7", ms: 7 * 86_400_000 },
] as const;

export function SilencesTab({ timeZone }: { timeZone: string }) {
  const t = useTranslations("alerts.silences");
  const trpc = useTRPC();
  const silences = useQuery(trpc.alerts.silences.list.queryOptions());
  const [creating, setCreating] = useState(false);
  return (
    <section aria-labelledby="silences-heading" className="flex flex-col gap-3">
      <SectionHead id="silences-heading" title={t("title")}>
        {!creating && (
          <button type="button" className={BUTTON_PRIMARY} onClick={() => setCreating(true)} data-testid="silence-new">
            {t("create")}
          </button>
        )}
      </SectionHead>
      <p className="text-sm text-slate-500">{t("intro")}</p>
      {creating && <SilenceForm onDone={() => setCreating(false)} />}
      {silences.isPending ? (
        <Skeleton className="h-24 w-full" />
      ) : silences.isError ? (
        <ErrorState error={silences.error} onRetry={() => void silences.refetch()} testId="silences-error" />
      ) : silences.data.length === 0 ? (
        <EmptyState title={t("empty")} testId="silences-empty" />
      ) : (
        <ul className="flex flex-col gap-2" data-testid="silences-list">
          {silences.data.map((s) => (
            <SilenceRow key={s.id} silence={s} timeZone={timeZone} />
          ))}
        </ul>
      )}
    </section>
  );
}

function SilenceRow({ silence: s, timeZone }: { silence: SilenceView; timeZone: string }) {
  const t = useTranslations("alerts.silences");
  const tf = useTranslations("alerts.form");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const end = useMutation(trpc.alerts.silences.end.mutationOptions({ onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() }) }));
  const scheduled = !s.active && isFuture(s.startsAt);
  const what = `${s.ruleName ?? t("allRules")} · ${s.subjectKey ?? t("allSubjects")}`;
  return (
    <li className={`${CARD} flex flex-wrap items-start justify-between gap-2`} data-testid={`silence-${s.id}`} data-active={s.active}>
      <div className="min-w-0">
        <p className="flex flex-wrap items-center gap-2">
          <span className="font-medium text-slate-900 wrap-anywhere">{what}</span>
          <span
            className={`rounded-full px-2 py-0.5 text-xs font-medium ${s.active ? "bg-brand-50 text-brand-700 ring-1 ring-inset ring-brand-500/30" : scheduled ? "bg-amber-50 text-amber-800" : "bg-slate-100 text-slate-600"}`}
            data-testid="silence-status"
          >
            {s.active ? t("active") : scheduled ? t("scheduled") : t("ended")}
          </span>
        </p>
        <p className="text-sm text-slate-600">
          <span title={formatDateTimeLong(s.endsAt, timeZone)}>{t("until", { time: formatDateTime(s.endsAt, timeZone) ?? "" })}</span>
          <span className="text-slate-500"> · {t("createdBy", { name: s.createdBy })}</span>
        </p>
        {s.comment && <p className="mt-0.5 text-sm text-slate-700 wrap-anywhere">{s.comment}</p>}
      </div>
      {(s.active || scheduled) && (
        <button type="button" className={BUTTON_DANGER} disabled={end.isPending} onClick={() => end.mutate({ id: s.id })} aria-label={t("endName", { name: what })} data-testid="silence-end">
          {t("endNow")}
        </button>
      )}
      {end.isError && (
        <p role="alert" className="w-full text-sm text-rose-700">
          {tf("failed", { message: end.error.message })}
        </p>
      )}
    </li>
  );
}

function isFuture(iso: string): boolean {
  return Date.parse(iso) > Date.now();
}

const SILENCE_FIELDS = ["ruleId", "subjectKey", "startsAt", "endsAt", "comment"] as const;

function SilenceForm({ onDone }: { onDone: () => void }) {
  const t = useTranslations("alerts.silences");
  const tf = useTranslations("alerts.form");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const rules = useQuery(trpc.alerts.rules.list.queryOptions());
  const create = useMutation(trpc.alerts.silences.create.mutationOptions({ onSuccess: onDone, onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.alerts.pathKey() }) }));
  const [ruleId, setRuleId] = useState("");
  const [subjectKey, setSubjectKey] = useState("");
  const [endsAt, setEndsAt] = useState(() => localInput(new Date(Date.now() + 3_600_000)));
  const [comment, setComment] = useState("");
  const issues = useIssues(create.error, SILENCE_FIELDS);
  const idp = "silence-form";

  function submit(e: React.FormEvent) {
    e.preventDefault();
    const end = new Date(endsAt);
    create.mutate({
      ...(ruleId ? { ruleId } : {}),
      ...(subjectKey.trim() ? { subjectKey: subjectKey.trim() } : {}),
      // A time the browser cannot read goes as typed: the API says what is wrong with it.
      endsAt: Number.isNaN(end.getTime()) ? endsAt : end.toISOString(),
      ...(comment.trim() ? { comment: comment.trim() } : {}),
    });
  }

  return (
    <form onSubmit={submit} noValidate className={`${CARD} flex flex-col gap-3`} data-testid="silence-form" aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`} className="font-semibold">
        {t("create")}
      </h3>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <Field id={`${idp}-rule`} label={t("rule")} error={issues.at("ruleId")}>
          <select {...describedBy(`${idp}-rule`, issues.at("ruleId"), undefined)} className={INPUT} value={ruleId} onChange={(e) => setRuleId(e.target.value)}>
            <option value="">{t("allRules")}</option>
            {(rules.data ?? []).map((r) => (
              <option key={r.id} value={r.id}>
                {r.name}
              </option>
            ))}
          </select>
        </Field>
        <Field id={`${idp}-subject`} label={`${t("subjectKey")}${tf("optional")}`} hint={t("subjectKeyHint")} error={issues.at("subjectKey")}>
          <input {...describedBy(`${idp}-subject`, issues.at("subjectKey"), t("subjectKeyHint"))} className={INPUT} value={subjectKey} maxLength={128} autoComplete="off" onChange={(e) => setSubjectKey(e.target.value)} />
        </Field>
        <Field id={`${idp}-ends`} label={t("endsAt")} hint={t("endsAtHint")} error={issues.at("endsAt") ?? issues.at("startsAt")}>
          <input {...describedBy(`${idp}-ends`, issues.at("endsAt") ?? issues.at("startsAt"), t("endsAtHint"))} type="datetime-local" className={INPUT} value={endsAt} onChange={(e) => setEndsAt(e.target.value)} />
        </Field>
        <div role="group" aria-label={t("presets")} className="flex flex-wrap items-end gap-1.5 pb-0.5">
          {PRESETS.map((p) => (
            <button key={p.key} type="button" className={BUTTON_SMALL} onClick={() => setEndsAt(localInput(new Date(Date.now() + p.ms)))}>
              {t(`preset.${p.key}`)}
            </button>
          ))}
        </div>
        <Field id={`${idp}-comment`} label={`${t("comment")}${tf("optional")}`} error={issues.at("comment")} className="sm:col-span-2 lg:col-span-4">
          <input {...describedBy(`${idp}-comment`, issues.at("comment"), undefined)} className={INPUT} value={comment} maxLength={500} onChange={(e) => setComment(e.target.value)} />
        </Field>
      </div>
      <FormFooter errors={issues.rest} saving={create.isPending} onCancel={onDone} testId="silence" />
    </form>
  );
}
