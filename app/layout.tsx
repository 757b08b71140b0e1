import type { Metadata } from "next";
import { NextIntlClientProvider } from "next-intl";
import { NuqsAdapter } from "nuqs/adapters/next/app";
import { TrpcReactProvider } from "./_components/trpc-provider";
import { getLocale } from "./_i18n/server";
import "./globals.css";

export const metadata: Metadata = {
  title: "账号用量 · Account usage",
  description: "Per-account and per-API-key usage of an LLM API relay",
  robots: { index: false, follow: false },
  icons: { icon: "/favicon.svg" },
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const locale = await getLocale();
  return (
    <html lang={locale}>
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900 antialiased">
        <NextIntlClientProvider>
          <NuqsAdapter>
            <TrpcReactProvider>{children}</TrpcReactProvider>
          </NuqsAdapter>
        </NextIntlClientProvider>
      </body>
    </html>
  );
}
