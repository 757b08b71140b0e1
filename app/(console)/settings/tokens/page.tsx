import type { Metadata } from "next";
import { formatDateTime } from "@/app/_i18n/format";
import { getLocale } from "@/app/_i18n/server";
import { requireAdminSession } from "@/server/auth/server-session";
import { listApiTokens } from "@/server/auth/token.service";
import { getRuntime } from "@/server/runtime";
import { SETTINGS_MESSAGES } from "../messages";
import { TokensView, type TokenRow } from "./tokens-view";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API 令牌 API tokens · 用量明细" };

export default async function TokensPage() {
  await requireAdminSession();
  const runtime = await getRuntime();
  const tz = runtime.config.usageTimezone;
  const tokens: TokenRow[] = (await listApiTokens(runtime)).map((t) => ({
    id: t.id,
    name: t.name,
    scope: t.scope,
    tokenPrefix: t.tokenPrefix,
    createdAt: formatDateTime(t.createdAt, tz) ?? "",
    lastUsedAt: formatDateTime(t.lastUsedAt, tz) ?? null,
  }));
  return (
    <main className="mx-auto max-w-5xl p-6">
      <TokensView tokens={tokens} messages={SETTINGS_MESSAGES[await getLocale()]} />
    </main>
  );
}
