import type { Metadata } from "next";
import "./globals.css";

export const metadata: Metadata = {
  title: "用量明细 · Account usage breakdown",
  description: "Per-account and per-API-key usage of an LLM API relay",
};

export default function RootLayout({ children }: { children: React.ReactNode }) {
  return (
    <html lang="zh-CN">
      <body className="min-h-screen bg-slate-50 font-sans text-slate-900 antialiased">{children}</body>
    </html>
  );
}
