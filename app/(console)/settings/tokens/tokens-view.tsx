"use client";

import { useRouter } from "next/navigation";
import { useState, useTransition } from "react";
import { SCOPES, type Scope } from "@/server/auth/scopes";
import { fill, type SettingsMessages } from "../messages";

export interface TokenRow {
  id: string;
  name: string;
  scope: Scope;
  tokenPrefix: string;
  /** Already formatted on the server, in the usage time zone. */
  createdAt: string;
  lastUsedAt: string | null;
}

async function call(url: string, init: RequestInit): Promise<{ ok: true; data: unknown } | { ok: false; message: string }> {
  try {
    const res = await fetch(url, { credentials: "same-origin", ...init });
    const body = (await res.json().catch(() => null)) as { data?: unknown; error?: { message?: string } } | null;
    return res.ok ? { ok: true, data: body?.data } : { ok: false, message: body?.error?.message ?? `HTTP ${res.status}` };
  } catch (err) {
    return { ok: false, message: (err as Error).message };
  }
}

/** Create (the token is shown once, here) and revoke; the list re-renders from the server. */
export function TokensView({ tokens, messages: m }: { tokens: TokenRow[]; messages: SettingsMessages }) {
  const router = useRouter();
  const [refreshing, startTransition] = useTransition();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<string | null>(null);
  const [copied, setCopied] = useState(false);

  async function create(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const formEl = e.currentTarget;
    const form = new FormData(formEl);
    setBusy(true);
    setError(null);
    const r = await call("/admin/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: String(form.get("name") ?? ""), scope: String(form.get("scope") ?? "") }),
    });
    setBusy(false);
    if (!r.ok) return setError(fill(m["tokens.failed"], { message: r.message }));
    setCreated((r.data as { token: string }).token);
    setCopied(false);
    formEl.reset();
    startTransition(() => router.refresh());
  }

  async function revoke(t: TokenRow) {
    if (!window.confirm(fill(m["tokens.revokeConfirm"], { name: t.name }))) return;
    setError(null);
    const r = await call(`/admin/tokens/${encodeURIComponent(t.id)}`, { method: "DELETE" });
    if (!r.ok) return setError(fill(m["tokens.failed"], { message: r.message }));
    startTransition(() => router.refresh());
  }

  async function revokeAll() {
    if (!window.confirm(fill(m["tokens.revokeAllConfirm"], { count: String(tokens.length) }))) return;
    setError(null);
    const r = await call("/admin/tokens", { method: "DELETE" });
    if (!r.ok) return setError(fill(m["tokens.failed"], { message: r.message }));
    startTransition(() => router.refresh());
  }

  async function copy() {
    if (!created) return;
    await navigator.clipboard?.writeText(created).then(() => setCopied(true), () => {});
  }

  return (
    <section aria-labelledby="tokens-title" className="space-y-6">
      <div>
        <h1 id="tokens-title" className="text-2xl font-semibold">
          {m["tokens.title"]}
        </h1>
        <p className="mt-1 text-sm text-slate-600">{m["tokens.intro"]}</p>
      </div>

      <form onSubmit={create} className="flex flex-wrap items-end gap-3 rounded-lg bg-white p-4 shadow-sm">
        <div>
          <label htmlFor="token-name" className="mb-1 block text-sm font-medium text-slate-700">
            {m["tokens.name"]}
          </label>
          <input id="token-name" name="name" required maxLength={64} className="w-56 rounded-md border border-slate-300 px-3 py-1.5" />
        </div>
        <div>
          <label htmlFor="token-scope" className="mb-1 block text-sm font-medium text-slate-700">
            {m["tokens.scope"]}
          </label>
          <select id="token-scope" name="scope" defaultValue="usage:write" className="rounded-md border border-slate-300 px-2 py-1.5">
            {SCOPES.map((s) => (
              <option key={s} value={s}>
                {m[`tokens.scope.${s}`]}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" disabled={busy} className="rounded-md bg-brand-600 px-4 py-1.5 font-medium text-white hover:bg-brand-700 disabled:opacity-60">
          {busy ? m["tokens.creating"] : m["tokens.create"]}
        </button>
      </form>

      <p role="alert" className="text-sm text-red-700">
        {error}
      </p>

      {created && (
        <div role="status" className="space-y-2 rounded-lg border border-amber-300 bg-amber-50 p-4" data-testid="created-token">
          <p className="text-sm font-medium text-amber-900">{m["tokens.created"]}</p>
          <div className="flex gap-2">
            <input readOnly value={created} aria-label={m["tokens.created"]} onFocus={(e) => e.currentTarget.select()} className="flex-1 rounded-md border border-amber-300 bg-white px-3 py-1.5 font-mono text-sm" />
            <button type="button" onClick={copy} className="rounded-md border border-amber-400 px-3 py-1.5 text-sm">
              {copied ? m["tokens.copied"] : m["tokens.copy"]}
            </button>
            <button type="button" onClick={() => setCreated(null)} className="rounded-md border border-slate-300 px-3 py-1.5 text-sm">
              {m["tokens.dismiss"]}
            </button>
          </div>
        </div>
      )}

      <table className="w-full border-collapse bg-white text-sm shadow-sm" data-testid="tokens-table" aria-busy={refreshing}>
        <thead>
          <tr className="border-b text-left text-slate-500">
            <th className="p-2">{m["tokens.name"]}</th>
            <th className="p-2">{m["tokens.scope"]}</th>
            <th className="p-2">{m["tokens.prefix"]}</th>
            <th className="p-2">{m["tokens.createdAt"]}</th>
            <th className="p-2">{m["tokens.lastUsed"]}</th>
            <th className="p-2">{m["tokens.actions"]}</th>
          </tr>
        </thead>
        <tbody>
          {tokens.length === 0 && (
            <tr>
              <td colSpan={6} className="p-4 text-center text-slate-500">
                {m["tokens.empty"]}
              </td>
            </tr>
          )}
          {tokens.map((t) => (
            <tr key={t.id} className="border-b">
              <td className="p-2">{t.name}</td>
              <td className="p-2 font-mono">{t.scope}</td>
              <td className="p-2 font-mono">{t.tokenPrefix}…</td>
              <td className="p-2">{t.createdAt}</td>
              <td className="p-2">{t.lastUsedAt ?? m["tokens.never"]}</td>
              <td className="p-2">
                <button type="button" onClick={() => revoke(t)} className="rounded-md border border-red-300 px-2 py-0.5 text-red-700 hover:bg-red-50" aria-label={`${m["tokens.revoke"]} ${t.name}`}>
                  {m["tokens.revoke"]}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>

      {tokens.length > 0 && (
        <button type="button" onClick={revokeAll} className="rounded-md border border-red-300 px-3 py-1.5 text-sm text-red-700 hover:bg-red-50" data-testid="revoke-all-tokens">
          {m["tokens.revokeAll"]}
        </button>
      )}
    </section>
  );
}
