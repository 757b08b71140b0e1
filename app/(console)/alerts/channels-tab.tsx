"use client";

import { useMutation, useQuery, useQueryClient, type QueryKey, type UseMutationOptions, type UseQueryOptions } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { formatDateTime } from "@/app/_i18n/format";
import { CHANNEL_KINDS, CHANNEL_LANGUAGES, type ChannelKind, type ChannelLanguage } from "@/server/alerts/notification";
import { EmptyState, ErrorState, Skeleton } from "../accounts/ui";
import { BUTTON, BUTTON_PRIMARY, BUTTON_SMALL, CARD, describedBy, EditDeleteButtons, Field, FormFooter, INPUT, SectionHead, useIssues } from "./form";

/**
 * Everything about channels on the page lives in this file: the tab, the picker the rule and
 * budget forms use, and the one place that reaches tRPC's alerts.channels.* procedures.
 *
 * The contract (alerts.channels.*):
 *   list            → ChannelView[]
 *   create  input   { kind, name, language?, enabled?, ...the kind's fields } → { channel, generatedSecret }
 *   update  input   { id, ...the same; a URL or secret left out keeps the stored one } → { channel, generatedSecret } (not read)
 *   delete  input   { id }
 *   test    input   { id } → { ok, httpStatus, error, durationMs }
 */

export interface ChannelView {
  id: string;
  name: string;
  kind: ChannelKind;
  language: ChannelLanguage;
  enabled: boolean;
  settings: Record<string, unknown>;
  targetHint: string;
  createdAt: string;
  updatedAt: string;
}
interface ChannelFields {
  url?: string;
  secret?: string;
  botToken?: string;
  chatId?: string;
  apiBaseUrl?: string;
}
type ChannelInput = { kind: ChannelKind; name: string; language?: ChannelLanguage; enabled?: boolean } & ChannelFields;
interface ChannelTestResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  durationMs: number;
}
interface ChannelsProcedures {
  list: { queryOptions: () => UseQueryOptions<ChannelView[], Error, ChannelView[], QueryKey>; queryKey: () => QueryKey };
  create: { mutationOptions: () => UseMutationOptions<{ channel: ChannelView; generatedSecret: string | null }, Error, ChannelInput> };
  update: { mutationOptions: () => UseMutationOptions<unknown, Error, ChannelInput & { id: string }> };
  delete: { mutationOptions: () => UseMutationOptions<unknown, Error, { id: string }> };
  test: { mutationOptions: () => UseMutationOptions<ChannelTestResult, Error, { id: string }> };
}

/**
 * tRPC's alerts.channels (server/trpc/routers/alerts.ts), seen through the contract above: the form
 * builds one loose object for every kind, which the server's discriminated union checks.
 */
function useChannelsApi(): ChannelsProcedures {
  const trpc = useTRPC();
  return trpc.alerts.channels as unknown as ChannelsProcedures;
}

export function useChannels() {
  const api = useChannelsApi();
  return useQuery({ ...api.list.queryOptions(), retry: false });
}

/** The checkboxes of the rule and budget forms: which channels notify. */
export function ChannelPicker({ idPrefix, value, onChange, error }: { idPrefix: string; value: string[]; onChange: (ids: string[]) => void; error?: string }) {
  const t = useTranslations("alerts.channels");
  const list = useChannels();
  const channels = list.data ?? [];
  return (
    <fieldset className="flex min-w-0 flex-col gap-1" aria-describedby={error ? `${idPrefix}-channels-error` : undefined} data-testid={`${idPrefix}-channels`}>
      <legend className="mb-1 text-xs font-medium text-slate-600">{t("pick")}</legend>
      {list.isPending ? (
        <Skeleton className="h-5 w-40" />
      ) : list.isError ? (
        <p className="text-sm text-slate-500">{t("unavailable")}</p>
      ) : channels.length === 0 ? (
        <p className="text-sm text-slate-500">{t("none")}</p>
      ) : (
        <div className="flex flex-wrap gap-x-4 gap-y-1">
          {channels.map((c) => (
            <label key={c.id} className="inline-flex min-w-0 items-center gap-1.5 text-sm text-slate-700">
              <input
                type="checkbox"
                checked={value.includes(c.id)}
                onChange={(e) => onChange(e.target.checked ? [...value, c.id] : value.filter((x) => x !== c.id))}
                className="size-4 accent-brand-700"
              />
              <span className="truncate">{c.name}</span>
              <span className="text-xs text-slate-500">· {t(`kinds.${c.kind}`)}</span>
            </label>
          ))}
        </div>
      )}
      {error && (
        <p id={`${idPrefix}-channels-error`} className="text-xs text-rose-700">
          {error}
        </p>
      )}
    </fieldset>
  );
}

/** Channel names by id, for the rule cards. */
export function useChannelNames(): Map<string, string> {
  const list = useChannels();
  return new Map((list.data ?? []).map((c) => [c.id, c.name]));
}

export function ChannelsTab({ timeZone }: { timeZone: string }) {
  const t = useTranslations("alerts.channels");
  const list = useChannels();
  const [editing, setEditing] = useState<ChannelView | "new" | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);

  return (
    <section aria-labelledby="channels-heading" className="flex flex-col gap-3">
      <SectionHead id="channels-heading" title={t("title")}>
        {editing === null && (
          <button type="button" className={BUTTON_PRIMARY} onClick={() => setEditing("new")} data-testid="channel-new">
            {t("create")}
          </button>
        )}
      </SectionHead>
      {secret && <CreatedSecret name={secret.name} secret={secret.secret} onDismiss={() => setSecret(null)} />}
      {editing !== null && (
        <ChannelForm
          key={editing === "new" ? "new" : editing.id}
          channel={editing === "new" ? undefined : editing}
          onDone={(created) => {
            setEditing(null);
            if (created?.generatedSecret) setSecret({ name: created.channel.name, secret: created.generatedSecret });
          }}
        />
      )}
      {list.isPending ? (
        <Skeleton className="h-24 w-full" />
      ) : list.isError ? (
        <ErrorState error={list.error} title={t("unavailable")} onRetry={() => void list.refetch()} testId="channels-error" />
      ) : list.data.length === 0 ? (
        <EmptyState title={t("empty")} hint={t("emptyHint")} testId="channels-empty" />
      ) : (
        <ul className="flex flex-col gap-2" data-testid="channels-list">
          {list.data.map((c) => (
            <ChannelRow key={c.id} channel={c} timeZone={timeZone} onEdit={() => setEditing(c)} />
          ))}
        </ul>
      )}
    </section>
  );
}

function ChannelRow({ channel: c, timeZone, onEdit }: { channel: ChannelView; timeZone: string; onEdit: () => void }) {
  const t = useTranslations("alerts.channels");
  const tf = useTranslations("alerts.form");
  const api = useChannelsApi();
  const queryClient = useQueryClient();
  const test = useMutation(api.test.mutationOptions());
  const remove = useMutation({ ...api.delete.mutationOptions(), onSettled: () => queryClient.invalidateQueries({ queryKey: api.list.queryKey() }) });
  const r = test.data;
  return (
    <li className={CARD} data-testid={`channel-${c.id}`} data-channel-name={c.name} data-kind={c.kind}>
      <div className="flex flex-wrap items-start justify-between gap-2">
        <div className="min-w-0">
          <p className="flex flex-wrap items-center gap-2">
            <span className="font-medium text-slate-900 wrap-anywhere">{c.name}</span>
            <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs font-medium text-slate-700">{t(`kinds.${c.kind}`)}</span>
            <span className="text-xs text-slate-500">{t(`languages.${c.language}`)}</span>
            {!c.enabled && <span className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">{t("disabled")}</span>}
          </p>
          <p className="mt-0.5 font-mono text-xs text-slate-500 wrap-anywhere" title={formatDateTime(c.createdAt, timeZone)}>
            {c.targetHint}
          </p>
        </div>
        <div className="flex flex-wrap gap-2">
          <button type="button" className={BUTTON_SMALL} disabled={test.isPending} onClick={() => test.mutate({ id: c.id })} aria-label={t("testName", { name: c.name })} data-testid="channel-test">
            {test.isPending ? t("testing") : t("test")}
          </button>
          <EditDeleteButtons name={c.name} onEdit={onEdit} onDelete={() => remove.mutate({ id: c.id })} deleting={remove.isPending} confirmText={t("deleteConfirm", { name: c.name })} testId="channel" />
        </div>
      </div>
      <div role="status" className="text-sm" data-testid="channel-test-result" data-ok={r ? String(r.ok) : undefined}>
        {r && (r.ok ? <p className="mt-2 text-emerald-700">{t("testOk", { status: String(r.httpStatus ?? "—"), ms: String(r.durationMs) })}</p> : <p className="mt-2 text-rose-700">{t("testFailed", { error: r.error ?? `HTTP ${r.httpStatus ?? "—"}` })}</p>)}
        {test.isError && <p className="mt-2 text-rose-700">{t("testFailed", { error: test.error.message })}</p>}
        {remove.isError && <p className="mt-2 text-rose-700">{tf("failed", { message: remove.error.message })}</p>}
      </div>
    </li>
  );
}

/** Which fields each kind takes; `secret` ones are never shown again and kept when left empty on an edit. */
const KIND_FIELDS: Record<ChannelKind, { name: keyof ChannelFields; secret?: boolean; optional?: boolean }[]> = {
  webhook: [{ name: "url" }, { name: "secret", secret: true, optional: true }],
  feishu: [{ name: "url" }, { name: "secret", secret: true, optional: true }],
  dingtalk: [{ name: "url" }, { name: "secret", secret: true, optional: true }],
  wecom: [{ name: "url" }],
  slack: [{ name: "url" }],
  telegram: [{ name: "botToken", secret: true }, { name: "chatId" }, { name: "apiBaseUrl", optional: true }],
};
const FIELD_PATHS = ["kind", "name", "language", "enabled", "url", "secret", "botToken", "chatId", "apiBaseUrl"] as const;

function ChannelForm({ channel, onDone }: { channel?: ChannelView; onDone: (created?: { channel: ChannelView; generatedSecret: string | null }) => void }) {
  const t = useTranslations("alerts.channels");
  const tf = useTranslations("alerts.form");
  const api = useChannelsApi();
  const queryClient = useQueryClient();
  const invalidate = () => queryClient.invalidateQueries({ queryKey: api.list.queryKey() });
  const create = useMutation({ ...api.create.mutationOptions(), onSettled: invalidate });
  const update = useMutation({ ...api.update.mutationOptions(), onSettled: invalidate });
  const [kind, setKind] = useState<ChannelKind>(channel?.kind ?? "webhook");
  const [name, setName] = useState(channel?.name ?? "");
  const [language, setLanguage] = useState<ChannelLanguage>(channel?.language ?? "zh-CN");
  const [enabled, setEnabled] = useState(channel?.enabled ?? true);
  // Non-secret settings the API shows (a URL, a chat id) start filled in; secrets start empty.
  const [fields, setFields] = useState<ChannelFields>(() => {
    const s = channel?.settings ?? {};
    const text = (k: string) => (typeof s[k] === "string" ? (s[k] as string) : "");
    return { url: text("url"), chatId: text("chatId"), apiBaseUrl: text("apiBaseUrl"), secret: "", botToken: "" };
  });
  const mutation = channel ? update : create;
  const issues = useIssues(mutation.error, FIELD_PATHS);
  const idp = "channel-form";

  function submit(e: React.FormEvent) {
    e.preventDefault();
    const body: ChannelInput = { kind, name: name.trim(), language, enabled };
    for (const f of KIND_FIELDS[kind]) {
      const v = (fields[f.name] ?? "").trim();
      // Empty is "not given": an optional field unset, a secret kept (edit), or the API's own "required".
      if (v !== "") body[f.name] = v;
    }
    if (channel) update.mutate({ id: channel.id, ...body }, { onSuccess: () => onDone() });
    else create.mutate(body, { onSuccess: (created) => onDone(created) });
  }

  const hint = (f: keyof ChannelFields): string | undefined => {
    if (f === "secret") return channel ? t("keepSecret") : kind === "webhook" ? t("webhookSecretHint") : kind === "feishu" ? t("feishuSecretHint") : t("dingtalkSecretHint");
    // URLs carry the channel's token: stored encrypted like the secrets, never shown, kept when left empty.
    if ((f === "botToken" || f === "url") && channel) return t("keepSecret");
    if (f === "apiBaseUrl") return t("apiBaseUrlHint");
    return undefined;
  };

  return (
    <form onSubmit={submit} noValidate className={`${CARD} flex flex-col gap-3`} data-testid="channel-form" aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`} className="font-semibold">
        {channel ? t("editTitle", { name: channel.name }) : t("newTitle")}
      </h3>
      <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <Field id={`${idp}-kind`} label={t("kind")} error={issues.at("kind")}>
          <select {...describedBy(`${idp}-kind`, issues.at("kind"), undefined)} className={INPUT} value={kind} disabled={!!channel} onChange={(e) => setKind(e.target.value as ChannelKind)}>
            {CHANNEL_KINDS.map((k) => (
              <option key={k} value={k}>
                {t(`kinds.${k}`)}
              </option>
            ))}
          </select>
        </Field>
        <Field id={`${idp}-name`} label={tf("name")} error={issues.at("name")}>
          <input {...describedBy(`${idp}-name`, issues.at("name"), undefined)} className={INPUT} value={name} maxLength={100} onChange={(e) => setName(e.target.value)} />
        </Field>
        <Field id={`${idp}-language`} label={t("language")} error={issues.at("language")}>
          <select {...describedBy(`${idp}-language`, issues.at("language"), undefined)} className={INPUT} value={language} onChange={(e) => setLanguage(e.target.value as ChannelLanguage)}>
            {CHANNEL_LANGUAGES.map((l) => (
              <option key={l} value={l}>
                {t(`languages.${l}`)}
              </option>
            ))}
          </select>
        </Field>
        <label className="flex items-center gap-2 self-end pb-2 text-sm text-slate-700">
          <input type="checkbox" checked={enabled} onChange={(e) => setEnabled(e.target.checked)} className="size-4 accent-brand-700" />
          {tf("enabled")}
        </label>
        {KIND_FIELDS[kind].map((f) => {
          const id = `${idp}-${f.name}`;
          const label = `${f.name === "url" ? t("url") : t(f.name)}${f.optional ? tf("optional") : ""}`;
          return (
            <Field key={f.name} id={id} label={label} hint={hint(f.name)} error={issues.at(f.name)} className={f.name === "url" ? "sm:col-span-2" : ""}>
              <input
                {...describedBy(id, issues.at(f.name), hint(f.name))}
                className={`${INPUT} ${f.secret ? "font-mono" : ""}`}
                type={f.secret ? "password" : f.name === "chatId" ? "text" : "url"}
                autoComplete="off"
                value={fields[f.name] ?? ""}
                onChange={(e) => setFields((old) => ({ ...old, [f.name]: e.target.value }))}
              />
            </Field>
          );
        })}
      </div>
      <FormFooter errors={issues.rest} saving={mutation.isPending} onCancel={() => onDone()} testId="channel" />
    </form>
  );
}

/** The webhook's generated secret, shown once with a copy button. */
function CreatedSecret({ name, secret, onDismiss }: { name: string; secret: string; onDismiss: () => void }) {
  const t = useTranslations("alerts.channels");
  const [copied, setCopied] = useState(false);
  return (
    <div role="status" className="flex flex-col gap-2 rounded-lg border border-amber-300 bg-amber-50 p-4" data-testid="channel-secret">
      <p className="text-sm font-medium text-amber-900">
        {name} · {t("createdSecret")}
      </p>
      <div className="flex flex-wrap gap-2">
        <input
          readOnly
          value={secret}
          aria-label={t("createdSecret")}
          onFocus={(e) => e.currentTarget.select()}
          data-testid="channel-secret-value"
          className="w-full min-w-0 flex-1 basis-60 rounded-md border border-amber-300 bg-white px-3 py-1.5 font-mono text-sm text-slate-900"
        />
        <button type="button" className={BUTTON} onClick={() => void navigator.clipboard?.writeText(secret).then(() => setCopied(true), () => {})}>
          {copied ? t("copied") : t("copy")}
        </button>
        <button type="button" className={BUTTON} onClick={onDismiss}>
          {t("dismiss")}
        </button>
      </div>
    </div>
  );
}
