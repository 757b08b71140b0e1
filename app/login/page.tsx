import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { getTranslations } from "next-intl/server";
import { SHELL } from "@/app/_components/shell";
import { TopBar } from "@/app/_components/top-bar";
import { safeNextPath } from "@/server/auth/http";
import { getAdminSession } from "@/server/auth/server-session";
import { LoginForm } from "./login-form";

export const dynamic = "force-dynamic";
export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations())("login.title") };
}

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { next: rawNext, error: rawError, retry } = await searchParams;
  const next = safeNextPath(typeof rawNext === "string" ? rawNext : undefined, "/");
  // Already signed in (a bookmark of /login, the back button): go where the visitor was heading.
  // A store that is down must not keep anyone from the form, so errors count as "not signed in".
  if (await getAdminSession().catch(() => undefined)) redirect(next);
  const t = await getTranslations("login");
  // Set by the login route when a browser without JavaScript posted the form and it failed.
  const initialError =
    rawError === "invalid"
      ? t("invalid")
      : rawError === "too-many"
        ? t("tooMany", { seconds: typeof retry === "string" && /^\d{1,6}$/.test(retry) ? retry : "60" })
        : rawError === "failed"
          ? t("failed")
          : null;
  return (
    <>
      <TopBar />
      <main className={`${SHELL} py-16 sm:py-24`}>
        <section aria-labelledby="login-title" className="mx-auto max-w-sm rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
          <h1 id="login-title" className="text-xl font-semibold">
            {t("title")}
          </h1>
          <p className="mb-6 mt-1 text-sm text-slate-500">{t("subtitle")}</p>
          <LoginForm next={next} initialError={initialError} />
        </section>
      </main>
    </>
  );
}
