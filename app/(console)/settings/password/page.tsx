import type { Metadata } from "next";
import { getTranslations } from "next-intl/server";
import { PASSWORD_MIN_LENGTH } from "@/server/password-policy";
import { requireAdminSession } from "@/server/auth/server-session";
import { PasswordForm } from "./password-form";

export const dynamic = "force-dynamic";
export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations())("password.title") };
}

export default async function PasswordPage() {
  await requireAdminSession();
  return <PasswordForm minLength={PASSWORD_MIN_LENGTH} />;
}
