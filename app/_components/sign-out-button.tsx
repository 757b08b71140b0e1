"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";

export function SignOutButton({ label }: { label: string }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  async function signOut() {
    setPending(true);
    // Whatever the answer (an already expired session gives 401), the way out is the login page.
    await fetch("/admin/auth/logout", { method: "POST", credentials: "same-origin" }).catch(() => {});
    router.replace("/login");
  }
  return (
    <button
      type="button"
      onClick={signOut}
      disabled={pending}
      className="rounded-md border border-slate-300 px-2.5 py-1 text-slate-700 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-brand-500 disabled:opacity-60"
    >
      {label}
    </button>
  );
}
