"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTranslations } from "next-intl";
import { useState } from "react";
import { useTRPC } from "@/app/_components/trpc-provider";

/** Changes the password; every session ends with it, so success leads to the login page. */
export function PasswordForm({ minLength }: { minLength: number }) {
  const t = useTranslations("password");
  const router = useRouter();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [mismatch, setMismatch] = useState(false);
  const change = useMutation(
    trpc.auth.changePassword.mutationOptions({
      onSuccess: () => {
        queryClient.clear();
        router.replace("/login");
      },
    }),
  );
  const pending = change.isPending || change.isSuccess;
  const error = mismatch ? t("mismatch") : change.error ? t("failed", { message: change.error.message }) : null;

  function onSubmit(e: React.FormEvent<HTMLFormElement>) {
    e.preventDefault();
    const form = new FormData(e.currentTarget);
    const newPassword = String(form.get("newPassword") ?? "");
    const isMismatch = newPassword !== String(form.get("confirmPassword") ?? "");
    setMismatch(isMismatch);
    if (isMismatch) return change.reset();
    change.mutate({ currentPassword: String(form.get("currentPassword") ?? ""), newPassword });
  }

  const field = "w-full rounded-md border border-slate-300 px-3 py-2 focus-visible:outline-2 focus-visible:outline-brand-500";
  return (
    <section aria-labelledby="password-title" className="mx-auto max-w-md rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
      <h1 id="password-title" className="text-xl font-semibold">
        {t("title")}
      </h1>
      <p className="mb-4 mt-1 text-sm text-slate-600">{t("intro")}</p>
      <form onSubmit={onSubmit} className="space-y-4">
        <div>
          <label htmlFor="pw-current" className="mb-1 block text-sm font-medium text-slate-700">
            {t("current")}
          </label>
          <input id="pw-current" name="currentPassword" type="password" autoComplete="current-password" required maxLength={256} className={field} />
        </div>
        <div>
          <label htmlFor="pw-new" className="mb-1 block text-sm font-medium text-slate-700">
            {t("new")}
          </label>
          <input id="pw-new" name="newPassword" type="password" autoComplete="new-password" required minLength={minLength} maxLength={256} aria-describedby="pw-hint" className={field} />
          <p id="pw-hint" className="mt-1 text-xs text-slate-500">
            {t("hint", { min: minLength })}
          </p>
        </div>
        <div>
          <label htmlFor="pw-confirm" className="mb-1 block text-sm font-medium text-slate-700">
            {t("confirm")}
          </label>
          <input id="pw-confirm" name="confirmPassword" type="password" autoComplete="new-password" required minLength={minLength} maxLength={256} className={field} />
        </div>
        <p role="alert" className="min-h-5 text-sm text-red-700">
          {error}
        </p>
        <button type="submit" disabled={pending} className="w-full rounded-md bg-brand-600 px-4 py-2 font-medium text-white hover:bg-brand-700 focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500 disabled:opacity-60">
          {pending ? t("submitting") : t("submit")}
        </button>
      </form>
    </section>
  );
}
