import Link from "next/link";
import { getTranslations } from "next-intl/server";
import { AlertsNavCount } from "./alerts-nav-count";
import { DisplaySwitches } from "./display-switches";
import { LangSwitch } from "./lang-switch";
import { NavLinks } from "./nav-links";
import { SHELL } from "./shell";
import { SignOutButton } from "./sign-out-button";

/**
 * The bar at the top of every page: the product name, the navigation and the account (when signed
 * in), and the language, theme and currency switches. On a phone the links move to a row of
 * their own, wrapping rather than scrolling (a scrolled row hid its last links).
 */
export async function TopBar({ username }: { username?: string }) {
  const t = await getTranslations("nav");
  const brand = await getTranslations("brand");
  return (
    <header className="border-b border-slate-200 bg-white" data-testid="top-bar">
      <div className={`${SHELL} flex flex-wrap items-center gap-x-4 gap-y-1 py-2 text-sm`}>
        <Link href="/accounts" className="mr-2 font-semibold text-slate-900">
          {brand("name")}
        </Link>
        {username && (
          <nav aria-label={t("label")} className="order-last -mx-1 flex w-full flex-wrap gap-1 md:order-none md:w-auto">
            <NavLinks
              links={[
                { href: "/accounts", label: t("accounts") },
                { href: "/keys", label: t("keys") },
                { href: "/alerts", label: t("alerts"), badge: <AlertsNavCount /> },
                { href: "/settings/tokens", label: t("tokens") },
                { href: "/settings/password", label: t("password") },
                { href: "/api-docs", label: t("apiDocs") },
              ]}
            />
          </nav>
        )}
        <div className="ml-auto flex flex-wrap items-center justify-end gap-2 sm:gap-3">
          {username && (
            <span className="hidden text-slate-500 lg:inline" data-testid="signed-in-as">
              {t("signedInAs", { name: username })}
            </span>
          )}
          <LangSwitch />
          <DisplaySwitches />
          {username && <SignOutButton label={t("signOut")} />}
        </div>
      </div>
    </header>
  );
}
