import type { Metadata } from "next";
import { getLocale } from "@/app/_i18n/server";
import { PASSWORD_MIN_LENGTH } from "@/server/auth/schemas";
import { requireAdminSession } from "@/server/auth/server-session";
import { SETTINGS_MESSAGES } from "../messages";
import { PasswordForm } from "./password-form";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "修改密码 Change password · 用量明细" };

export default async function PasswordPage() {
  await requireAdminSession();
  return (
    <main className="mx-auto max-w-md p-6">
      <PasswordForm messages={SETTINGS_MESSAGES[await getLocale()]} minLength={PASSWORD_MIN_LENGTH} />
    </main>
  );
}
