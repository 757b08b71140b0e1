import type { Metadata } from "next";
import { cookies } from "next/headers";
import { NextIntlClientProvider } from "next-intl";
import { getTranslations } from "next-intl/server";
import { NuqsAdapter } from "nuqs/adapters/next/app";
import { getConfig } from "@/server/config";
import { DisplayPrefsProvider } from "./_components/display-prefs";
import { TrpcReactProvider } from "./_components/trpc-provider";
import { CURRENCY_COOKIE, THEME_COOKIE, toDisplayCurrency, toTheme } from "./_i18n/preferences";
import { getLocale } from "./_i18n/server";
import "./globals.css";

/** Tab titles in the viewer's language: "<page> · 用量后台" (each page names itself, see titles.ts). */
export async function generateMetadata(): Promise<Metadata> {
  const brand = await getTranslations("brand");
  return {
    title: { default: brand("name"), template: `%s · ${brand("name")}` },
    description: brand("tagline"),
    robots: { index: false, follow: false },
    icons: { icon: "/favicon.svg" },
  };
}

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const locale = await getLocale();
  const jar = await cookies();
  // The theme is on <html> before the first paint: "system" leaves it off and CSS follows the OS.
  const theme = toTheme(jar.get(THEME_COOKIE)?.value);
  const currency = toDisplayCurrency(jar.get(CURRENCY_COOKIE)?.value, getConfig().displayCnyPerUsd);
  return (
    <html lang={locale} data-theme={theme === "system" ? undefined : theme}>
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900 antialiased">
        <NextIntlClientProvider>
          <DisplayPrefsProvider theme={theme} currency={currency}>
            <NuqsAdapter>
              <TrpcReactProvider>{children}</TrpcReactProvider>
            </NuqsAdapter>
          </DisplayPrefsProvider>
        </NextIntlClientProvider>
      </body>
    </html>
  );
}
