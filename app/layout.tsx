import type { Metadata } from "next";
import { TrpcReactProvider } from "./_components/trpc-provider";
import { I18nProvider } from "./_i18n/i18n-provider";
import { getLocale } from "./_i18n/server";
import "./globals.css";

export const metadata: Metadata = {
  title: "用量明细 · Account usage breakdown",
  description: "Per-account and per-API-key usage of an LLM API relay",
};

export default async function RootLayout({ children }: { children: React.ReactNode }) {
  const locale = await getLocale();
  return (
    <html lang={locale}>
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900 antialiased">
        <I18nProvider locale={locale}>
          <TrpcReactProvider>{children}</TrpcReactProvider>
        </I18nProvider>
      </body>
    </html>
  );
}
