import type { Metadata } from "next";
import { formatDateTime } from "@/app/_i18n/format";
import { requireAdminSession } from "@/server/auth/server-session";
import { listApiTokens } from "@/server/auth/token.service";
import { getRuntime } from "@/server/runtime";
import { TokensView, type TokenRow } from "./tokens-view";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "API 令牌 API tokens · 账号用量" };

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
  return <TokensView tokens={tokens} />;
}
