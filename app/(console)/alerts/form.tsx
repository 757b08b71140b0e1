"use client";

import { useLocale, useTranslations } from "next-intl";
import { useMemo } from "react";
import { MEASURES } from "@/db/measures";
import { useNumbers } from "@/app/_i18n/format";
import { issuesByField } from "./drafts";

/** The pieces every form and list of the alerts page shares: classes, fields with their API error, measures. */

export const INPUT =
  "h-9 w-full min-w-0 rounded-md border border-slate-300 bg-white px-2 text-sm text-slate-900 placeholder:text-slate-500 focus-visible:outline-2 focus-visible:outline-brand-500 aria-invalid:border-rose-500";
export const BUTTON =
  "inline-flex h-9 items-center justify-center whitespace-nowrap rounded-md border border-slate-300 bg-white px-3 text-sm font-medium text-slate-700 hover:bg-slate-50 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-brand-500";
export const BUTTON_SMALL =
  "inline-flex items-center justify-center whitespace-nowrap rounded-md border border-slate-300 bg-white px-2.5 py-1 text-sm text-slate-700 hover:bg-slate-50 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-brand-500";
export const BUTTON_PRIMARY =
  "inline-flex h-9 items-center justify-center whitespace-nowrap rounded-md bg-brand-700 px-4 text-sm font-medium text-white hover:bg-brand-600 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500";
export const BUTTON_DANGER =
  "inline-flex items-center justify-center whitespace-nowrap rounded-md border border-rose-300 bg-white px-2.5 py-1 text-sm text-rose-700 hover:bg-rose-50 disabled:opacity-50 focus-visible:outline-2 focus-visible:outline-rose-500";
export const CARD = "min-w-0 rounded-lg border border-slate-200 bg-white p-3 shadow-sm sm:p-4";

/** The API's issues of a failed mutation by field (issuesByField), for the form's fields. */
export function useIssues(error: unknown, fields: readonly string[]): { at: (path: string) => string | undefined; rest: string[] } {
  return useMemo(() => {
    const { byField, rest } = issuesByField(error, fields);
    return { at: (path: string) => byField.get(path), rest };
  }, [error, fields]);
}

/** The props that tie an input to its label's hint and its error line. */
export function describedBy(id: string, error: string | undefined, hint: string | undefined) {
  const ids = [error ? `${id}-error` : "", hint ? `${id}-hint` : ""].filter(Boolean).join(" ");
  return { id, "aria-invalid": error ? true : undefined, "aria-describedby": ids || undefined } as const;
}

/** A labelled field; the input inside takes `describedBy(id, error, hint)`. */
export function Field({ id, label, hint, error, className = "", children }: { id: string; label: string; hint?: string; error?: string; className?: string; children: React.ReactNode }) {
  return (
    <div className={`flex min-w-0 flex-col gap-1 ${className}`}>
      <label htmlFor={id} className="text-xs font-medium text-slate-600">
        {label}
      </label>
      {children}
      {error && (
        <p id={`${id}-error`} className="text-xs text-rose-700" data-testid={`${id}-error`}>
          {error}
        </p>
      )}
      {hint && (
        <p id={`${id}-hint`} className="text-xs text-slate-500">
          {hint}
        </p>
      )}
    </div>
  );
}

/** What the API said that no field owns, as one line each. */
export function FormErrors({ messages, testId }: { messages: string[]; testId: string }) {
  const t = useTranslations("alerts.form");
  if (messages.length === 0) return null;
  return (
    <div role="alert" data-testid={testId} className="w-full text-sm text-rose-700">
      {messages.map((m) => (
        <p key={m}>{t("failed", { message: m })}</p>
      ))}
    </div>
  );
}

export const ALERT_MEASURES = MEASURES.filter((m) => m.read);

export function useMeasureLabel(): (measure: string) => string {
  const locale = useLocale() as "zh-CN" | "en";
  return (measure) => ALERT_MEASURES.find((m) => m.name === measure)?.label[locale] ?? measure;
}

/** An exact decimal of a measure in the console's form: money by the display currency, counts as integers. */
export function useMeasureValue(): (measure: string | undefined, value: string) => string {
  const n = useNumbers();
  return (measure, value) => {
    const v = Number(value);
    if (!Number.isFinite(v)) return value;
    const kind = ALERT_MEASURES.find((m) => m.name === measure)?.kind;
    return kind === "money" ? n.cost(v) : kind === "count" ? n.int(v) : value;
  };
}

/** A heading with an action at its right (a "new" button), wrapping on a phone. */
export function SectionHead({ id, title, children }: { id: string; title: string; children?: React.ReactNode }) {
  return (
    <div className="flex flex-wrap items-center justify-between gap-2">
      <h2 id={id} className="text-lg font-semibold">
        {title}
      </h2>
      {children}
    </div>
  );
}

/** A row's 编辑 / 删除 pair; deleting asks first (`confirmText`). */
export function EditDeleteButtons({ name, onEdit, onDelete, deleting, confirmText, testId }: { name: string; onEdit: () => void; onDelete: () => void; deleting: boolean; confirmText: string; testId?: string }) {
  const t = useTranslations("alerts.form");
  return (
    <>
      <button type="button" className={BUTTON_SMALL} onClick={onEdit} aria-label={t("editName", { name })} data-testid={testId ? `${testId}-edit` : undefined}>
        {t("edit")}
      </button>
      <button
        type="button"
        className={BUTTON_DANGER}
        disabled={deleting}
        aria-label={t("deleteName", { name })}
        data-testid={testId ? `${testId}-delete` : undefined}
        onClick={() => window.confirm(confirmText) && onDelete()}
      >
        {t("delete")}
      </button>
    </>
  );
}

/** The end of every form on the page: the errors no field took, then 保存 and 取消. */
export function FormFooter({ errors, saving, onCancel, testId }: { errors: string[]; saving: boolean; onCancel: () => void; testId: string }) {
  const t = useTranslations("alerts.form");
  return (
    <>
      <FormErrors messages={errors} testId={`${testId}-form-error`} />
      <div className="flex flex-wrap gap-2">
        <button type="submit" className={BUTTON_PRIMARY} disabled={saving} data-testid={`${testId}-save`}>
          {saving ? t("saving") : t("save")}
        </button>
        <button type="button" className={BUTTON} onClick={onCancel}>
          {t("cancel")}
        </button>
      </div>
    </>
  );
}
