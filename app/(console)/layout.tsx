import { SHELL } from "@/app/_components/shell";
import { TopBar } from "@/app/_components/top-bar";
import { requireAdminSession } from "@/server/auth/server-session";

export const dynamic = "force-dynamic";

/** Every console page: a verified admin session (else /login and back), the top bar, one content width. */
export default async function ConsoleLayout({ children }: { children: React.ReactNode }) {
  const session = await requireAdminSession();
  return (
    <>
      <TopBar username={session.username} />
      <main className={`${SHELL} py-4 sm:py-6`}>{children}</main>
    </>
  );
}
