"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { fill, type SettingsMessages } from "../messages";

/** Changes the password; every session ends with it, so success leads to the login page. */
export function PasswordForm({ messages: m, minLength }: { messages: SettingsMessages; minLength: number }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function onSubmit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const currentPassword = String(form.get("currentPassword") ?? "");
    const newPassword = String(form.get("newPassword") ?? "");
    if (newPassword !== String(form.get("confirmPassword") ?? "")) return setError(m["password.mismatch"]);
    setPending(true);
    setError(null);
    try {
      const res = await fetch("/admin/auth/password", {
        method: "POST",
        headers: { "content-type": "application/json" },
        credentials: "same-origin",
        body: JSON.stringify({ currentPassword, newPassword }),
      });
      if (res.ok) {
        router.replace("/login");
        return;
      }
      const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
      setError(fill(m["password.failed"], { message: body?.error?.message ?? `HTTP ${res.status}` }));
    } catch (err) {
      setError(fill(m["password.failed"], { message: (err as Error).message }));
    }
    setPending(false);
  }

  const field = "w-full rounded-md border border-slate-300 px-3 py-2";
  return (
    <section aria-labelledby="password-title" className="rounded-lg bg-white p-6 shadow-sm">
      <h1 id="password-title" className="text-xl font-semibold">
        {m["password.title"]}
      </h1>
      <p className="mb-4 mt-1 text-sm text-slate-600">{m["password.intro"]}</p>
      <form onSubmit={onSubmit} className="space-y-4">
        <div>
          <label htmlFor="pw-current" className="mb-1 block text-sm font-medium text-slate-700">
            {m["password.current"]}
          </label>
          <input id="pw-current" name="currentPassword" type="password" autoComplete="current-password" required maxLength={256} className={field} />
        </div>
        <div>
          <label htmlFor="pw-new" className="mb-1 block text-sm font-medium text-slate-700">
            {m["password.new"]}
          </label>
          <input id="pw-new" name="newPassword" type="password" autoComplete="new-password" required minLength={minLength} maxLength={256} aria-describedby="pw-hint" className={field} />
          <p id="pw-hint" className="mt-1 text-xs text-slate-500">
            {fill(m["password.hint"], { min: minLength })}
          </p>
        </div>
        <div>
          <label htmlFor="pw-confirm" className="mb-1 block text-sm font-medium text-slate-700">
            {m["password.confirm"]}
          </label>
          <input id="pw-confirm" name="confirmPassword" type="password" autoComplete="new-password" required minLength={minLength} maxLength={256} className={field} />
        </div>
        <p role="alert" className="min-h-5 text-sm text-red-700">
          {error}
        </p>
        <button type="submit" disabled={pending} className="w-full rounded-md bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700 disabled:opacity-60">
          {pending ? m["password.submitting"] : m["password.submit"]}
        </button>
      </form>
    </section>
  );
}
