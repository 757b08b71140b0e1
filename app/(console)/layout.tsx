import { getTranslations } from "next-intl/server";
import { SHELL } from "@/app/_components/shell";
import { TopBar } from "@/app/_components/top-bar";
import { requireAdminSession } from "@/server/auth/server-session";

export const dynamic = "force-dynamic";

/** Every console page: a verified admin session (else /login and back), the top bar, one content width. */
export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const session = await requireAdminSession();
  const t = await getTranslations("nav");
  return (
    <>
      {/* The first tab stop: past the top bar's links and switches to the page itself. */}
      <a
        href="#main"
        className="sr-only z-50 rounded-md bg-white px-3 py-2 text-sm font-medium text-brand-700 shadow focus:not-sr-only focus:fixed focus:top-2 focus:left-2 focus-visible:outline-2 focus-visible:outline-brand-500"
      >
        {t("skip")}
      </a>
      <TopBar username={session.username} />
      <main id="main" tabIndex={-1} className={`${SHELL} py-4 outline-none sm:py-6`}>
        {children}
      </main>
    </>
  );
}
