import type { Metadata } from "next";
import { PASSWORD_MIN_LENGTH } from "@/server/password-policy";
import { requireAdminSession } from "@/server/auth/server-session";
import { PasswordForm } from "./password-form";

export const dynamic = "force-dynamic";
export const metadata: Metadata = { title: "修改密码 Change password · 账号用量" };

export default async function PasswordPage() {
  await requireAdminSession();
  return <PasswordForm minLength={PASSWORD_MIN_LENGTH} />;
}
