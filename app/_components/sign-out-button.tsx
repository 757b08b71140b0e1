"use client";

import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { useTRPC } from "./trpc-provider";

export function SignOutButton({ label }: { label: string }) {
  const router = useRouter();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const signOut = useMutation(
    trpc.auth.logout.mutationOptions({
      // Whatever the answer, the way out is the login page, with nothing of the session cached.
      onSettled: () => {
        queryClient.clear();
        router.replace("/login");
      },
    }),
  );
  return (
    <button
      type="button"
      onClick={() => signOut.mutate()}
      disabled={!signOut.isIdle}
      className="rounded-md border border-slate-300 px-2.5 py-1 text-slate-700 hover:bg-slate-100 focus-visible:outline-2 focus-visible:outline-brand-500 disabled:opacity-60"
    >
      {label}
    </button>
  );
}
