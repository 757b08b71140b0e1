import Link from "next/link";
import { getLocale } from "@/app/_i18n/server";
import { requireAdminSession } from "@/server/auth/server-session";
import { fill, SETTINGS_MESSAGES } from "./settings/messages";
import { SignOutButton } from "./sign-out-button";

export const dynamic = "force-dynamic";

/** Every console page: a verified admin session (else /login and back), and the top bar. */
export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const session = await requireAdminSession();
  const m = SETTINGS_MESSAGES[await getLocale()];
  return (
    <>
      <nav aria-label={m["nav.label"]} className="border-b border-slate-200 bg-white">
        <div className="mx-auto flex max-w-7xl flex-wrap items-center gap-x-5 gap-y-2 px-6 py-2 text-sm">
          <span className="font-semibold text-slate-900">{m["nav.home"]}</span>
          <Link href="/accounts" className="text-slate-600 hover:text-slate-900">
            {m["nav.accounts"]}
          </Link>
          <Link href="/settings/tokens" className="text-slate-600 hover:text-slate-900">
            {m["nav.tokens"]}
          </Link>
          <Link href="/settings/password" className="text-slate-600 hover:text-slate-900">
            {m["nav.password"]}
          </Link>
          <span className="ml-auto text-slate-500" data-testid="signed-in-as">
            {fill(m["nav.signedInAs"], { name: session.username })}
          </span>
          <SignOutButton label={m["nav.signOut"]} />
        </div>
      </nav>
      {children}
    </>
  );
}
