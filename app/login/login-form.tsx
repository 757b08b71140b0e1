"use client";

import { useMutation } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";

/**
 * Signs in through tRPC's auth.login, which sets the session cookie; then a full navigation to
 * `next` (already checked on the server to be a path of this site), so that the console layout
 * verifies the new session. Without JavaScript the browser posts the form itself to the REST
 * route (never GET: the password must not end up in a URL), which answers with a 303 to `next`,
 * or back here with the reason: tRPC cannot answer a plain form post with a redirect.
 */
export function LoginForm({ next, initialError = null }: { next: string; initialError?: string | null }) {
  const t = useTranslations("login");
  const trpc = useTRPC();
  const [error, setError] = useState<string | null>(initialError);
  const login = useMutation(
    trpc.auth.login.mutationOptions({
      onSuccess: () => window.location.assign(next),
      onError: (err) => {
        const status = err instanceof TRPCClientError ? err.data?.httpStatus : undefined;
        if (status === 401) setError(t("invalid"));
        else if (status === 429) setError(t("tooMany", { seconds: String(err.data?.retryAfterSeconds ?? 60) }));
        else setError(t("failed"));
      },
    }),
  );
  // Still pending while the browser navigates away after success.
  const pending = login.isPending || login.isSuccess;

  function onSubmit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    setError(null);
    login.mutate({ username: String(form.get("username") ?? ""), password: String(form.get("password") ?? "") });
  }

  return (
    <form method="post" action="/admin/auth/login" onSubmit={onSubmit} className="space-y-4">
      <input type="hidden" name="next" value={next} />
      <div>
        <label htmlFor="login-username" className="mb-1 block text-sm font-medium text-slate-700">
          {t("username")}
        </label>
        <input
          id="login-username"
          name="username"
          type="text"
          autoComplete="username"
          autoCapitalize="none"
          spellCheck={false}
          required
          maxLength={128}
          className="w-full rounded-md border border-slate-300 px-3 py-2 focus-visible:outline-2 focus-visible:outline-brand-500"
        />
      </div>
      <div>
        <label htmlFor="login-password" className="mb-1 block text-sm font-medium text-slate-700">
          {t("password")}
        </label>
        <input
          id="login-password"
          name="password"
          type="password"
          autoComplete="current-password"
          required
          maxLength={256}
          className="w-full rounded-md border border-slate-300 px-3 py-2 focus-visible:outline-2 focus-visible:outline-brand-500"
        />
      </div>
      <p role="alert" aria-live="assertive" className="min-h-5 text-sm text-red-700" data-testid="login-error">
        {error}
      </p>
      <button
        type="submit"
        disabled={pending}
        aria-busy={pending}
        className="w-full rounded-md bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500 disabled:opacity-60"
      >
        {pending ? t("submitting") : t("submit")}
      </button>
    </form>
  );
}
