import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { LangSwitch } from "@/app/_components/lang-switch";
import { getLocale } from "@/app/_i18n/server";
import { safeNextPath } from "@/server/auth/http";
import { getAdminSession } from "@/server/auth/server-session";
import { LoginForm } from "./login-form";
import { LOGIN_MESSAGES } from "./messages";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "登录 Sign in · 用量明细", robots: { index: false } };

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { next: rawNext, error: rawError, retry } = await searchParams;
  const next = safeNextPath(typeof rawNext === "string" ? rawNext : undefined, "/");
  // Already signed in (a bookmark of /login, the back button): go where the visitor was heading.
  // A store that is down must not keep anyone from the form, so errors count as "not signed in".
  if (await getAdminSession().catch(() => undefined)) redirect(next);
  const locale = await getLocale();
  const m = LOGIN_MESSAGES[locale];
  // Set by the login route when a browser without JavaScript posted the form and it failed.
  const initialError =
    rawError === "invalid"
      ? m.invalid
      : rawError === "too-many"
        ? m.tooMany.replace("{seconds}", typeof retry === "string" && /^\d{1,6}$/.test(retry) ? retry : "60")
        : rawError === "failed"
          ? m.failed
          : null;
  return (
    <main className="mx-auto mt-24 max-w-sm px-4">
      <div className="mb-4 flex justify-end">
        <LangSwitch />
      </div>
      <section aria-labelledby="login-title" className="rounded-lg bg-white p-6 shadow">
        <h1 id="login-title" className="text-xl font-semibold">
          {m.title}
        </h1>
        <p className="mb-6 mt-1 text-sm text-slate-500">{m.subtitle}</p>
        <LoginForm next={next} messages={m} initialError={initialError} />
      </section>
    </main>
  );
}
