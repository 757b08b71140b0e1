"use client";

import { useMutation, useQueryClient, useSuspenseQuery } from "@tanstack/react-query";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";
import { formatDateTime } from "@/app/_i18n/format";
import { SCOPES, type Scope } from "@/server/auth/scopes";

/** Create (the token is shown once, here) and revoke, through tRPC's auth.tokens.*; each refetches the list. */
export function TokensView({ timeZone }: { timeZone: string }) {
  const t = useTranslations("tokens");
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useSuspenseQuery(trpc.auth.tokens.list.queryOptions());
  const tokens = list.data.map((tk) => ({
    ...tk,
    createdAt: formatDateTime(tk.createdAt, timeZone) ?? "",
    lastUsedAt: formatDateTime(tk.lastUsedAt, timeZone) ?? null,
  }));
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  const changed = {
    onMutate: () => setError(null),
    onError: (err: { message: string }) => setError(t("failed", { message: err.message })),
    onSettled: () => queryClient.invalidateQueries({ queryKey: trpc.auth.tokens.list.queryKey() }),
  };
  const createToken = useMutation(trpc.auth.tokens.create.mutationOptions(changed));
  const revokeToken = useMutation(trpc.auth.tokens.revoke.mutationOptions(changed));
  const revokeAllTokens = useMutation(trpc.auth.tokens.revokeAll.mutationOptions(changed));

  function create(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    createToken.mutate(
      { name: String(form.get("name") ?? ""), scope: String(form.get("scope") ?? "") as Scope },
      {
        onSuccess: (data) => {
          setCreated(data.token);
          setCopied(false);
          formEl.reset();
        },
      },
    );
  }

  function revoke(tk: { id: string; name: string }) {
    if (!window.confirm(t("revokeConfirm", { name: tk.name }))) return;
    revokeToken.mutate({ id: tk.id });
  }

  function revokeAll() {
    if (!window.confirm(t("revokeAllConfirm", { count: String(tokens.length) }))) return;
    revokeAllTokens.mutate();
  }

  async function copy() {
    if (!created) return;
    await navigator.clipboard?.writeText(created).then(() => setCopied(true), () => {});
  }

  return (
    <section aria-labelledby="tokens-title" className="space-y-6">
      <div>
        <h1 id="tokens-title" className="text-2xl font-semibold">
          {t("title")}
        </h1>
        <p className="mt-1 text-sm text-slate-600">{t("intro", { header: t.raw("headerExample") as string })}</p>
      </div>

      <form onSubmit={create} className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4 shadow-sm" data-testid="token-form">
        <div className="w-full min-w-0 sm:w-auto">
          <label htmlFor="token-name" className="mb-1 block text-xs font-medium text-slate-600">
            {t("name")}
          </label>
          <input id="token-name" name="name" required maxLength={64} className="h-9 w-full rounded-md border border-slate-300 bg-white px-3 text-sm focus-visible:outline-2 focus-visible:outline-brand-500 sm:w-56" />
        </div>
        <div className="w-full min-w-0 sm:w-auto">
          <label htmlFor="token-scope" className="mb-1 block text-xs font-medium text-slate-600">
            {t("scope")}
          </label>
          {/* w-full: a select is as wide as its longest option, which is wider than a phone. */}
          <select id="token-scope" name="scope" defaultValue="usage:write" className="h-9 w-full min-w-0 rounded-md border border-slate-300 bg-white px-2 text-sm focus-visible:outline-2 focus-visible:outline-brand-500 sm:w-auto">
            {SCOPES.map((s) => (
              <option key={s} value={s}>
                {t(`scopes.${s}`)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={createToken.isPending} className="h-9 rounded-md bg-brand-600 px-4 text-sm font-medium text-white hover:bg-brand-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500 disabled:opacity-60">
          {createToken.isPending ? t("creating") : t("create")}
        </button>
      </form>

      <p role="alert" className="text-sm text-red-700">
        {error}
      </p>

      {created && (
        <div role="status" className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 p-4" data-testid="created-token">
          <p className="text-sm font-medium text-amber-900">{t("created")}</p>
          <div className="flex flex-wrap gap-2">
            <input readOnly value={created} aria-label={t("created")} onFocus={(e) => e.currentTarget.select()} className="w-full min-w-0 flex-1 basis-60 rounded-md border border-amber-300 bg-white px-3 py-1.5 font-mono text-sm" />
            <button type="button" onClick={copy} className="rounded-md border border-amber-400 px-3 py-1.5 text-sm">
              {copied ? t("copied") : t("copy")}
            </button>
            <button type="button" onClick={() => setCreated(null)} className="rounded-md border border-slate-300 px-3 py-1.5 text-sm">
              {t("dismiss")}
            </button>
          </div>
        </div>
      )}

      {/* A table from sm up; on a phone each token is a card (no sideways scrolling, nothing clipped). */}
      <div className="rounded-lg border border-slate-200 bg-white shadow-sm sm:overflow-x-auto">
        <table className="block w-full border-collapse text-sm sm:table" data-testid="tokens-table" aria-busy={list.isFetching}>
          <thead className="hidden border-b border-slate-200 bg-slate-50 sm:table-header-group">
            <tr className="text-left text-xs font-semibold text-slate-500">
              <th className="px-3 py-2">{t("name")}</th>
              <th className="px-3 py-2">{t("scope")}</th>
              <th className="px-3 py-2">{t("prefix")}</th>
              <th className="px-3 py-2">{t("createdAt")}</th>
              <th className="px-3 py-2">{t("lastUsed")}</th>
              <th className="px-3 py-2">{t("actions")}</th>
            </tr>
          </thead>
          <tbody className="block divide-y divide-slate-100 sm:table-row-group sm:divide-y-0">
            {tokens.length === 0 && (
              <tr className="block sm:table-row">
                <td colSpan={6} className="block px-3 py-8 text-center text-slate-500 sm:table-cell">
                  {t("empty")}
                </td>
              </tr>
            )}
            {tokens.map((tk) => (
              <tr key={tk.id} className="grid grid-cols-[1fr_auto] gap-x-3 gap-y-1 p-3 sm:table-row sm:border-b sm:border-slate-100 sm:p-0">
                <td className="min-w-0 break-words font-medium sm:table-cell sm:px-3 sm:py-2">{tk.name}</td>
                <td className="col-start-1 font-mono text-xs sm:table-cell sm:px-3 sm:py-2">{tk.scope}</td>
                <td className="col-start-1 font-mono text-xs text-slate-600 sm:table-cell sm:px-3 sm:py-2 sm:text-slate-900">
                  <span className="text-slate-500 sm:hidden">{t("prefix")} </span>
                  {tk.tokenPrefix}…
                </td>
                <td className="col-start-1 whitespace-nowrap text-xs tabular-nums text-slate-600 sm:table-cell sm:px-3 sm:py-2 sm:text-sm">
                  <span className="text-slate-500 sm:hidden">{t("createdAt")} </span>
                  {tk.createdAt}
                </td>
                <td className="col-start-1 whitespace-nowrap text-xs tabular-nums text-slate-600 sm:table-cell sm:px-3 sm:py-2 sm:text-sm">
                  <span className="text-slate-500 sm:hidden">{t("lastUsed")} </span>
                  {tk.lastUsedAt ?? t("never")}
                </td>
                <td className="col-start-2 row-span-5 row-start-1 self-start sm:table-cell sm:px-3 sm:py-2">
                  <button
                    type="button"
                    onClick={() => revoke(tk)}
                    className="rounded-md border border-rose-300 px-2.5 py-1 text-rose-700 hover:bg-rose-50 focus-visible:outline-2 focus-visible:outline-rose-500"
                    aria-label={t("revokeName", { name: tk.name })}
                  >
                    {t("revoke")}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>

      {tokens.length > 0 && (
        <button type="button" onClick={revokeAll} className="rounded-md border border-rose-300 px-3 py-1.5 text-sm text-rose-700 hover:bg-rose-50 focus-visible:outline-2 focus-visible:outline-rose-500" data-testid="revoke-all-tokens">
          {t("revokeAll")}
        </button>
      )}
    </section>
  );
}
