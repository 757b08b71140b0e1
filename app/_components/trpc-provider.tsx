"use client";

import { QueryClientProvider, isServer, type QueryClient } from "@tanstack/react-query";
import { createTRPCClient, httpBatchLink, httpLink, splitLink } from "@trpc/client";
import { createTRPCContext } from "@trpc/tanstack-react-query";
import { useEffect, useState } from "react";
import { makeQueryClient } from "@/server/trpc/query-client";
import type { AppRouter } from "@/server/trpc/routers/_app";
import { MAX_BATCH_SIZE } from "@/server/trpc/limits";

export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

/**
 * Procedures that may take a while (a per-key breakdown over a long range, a summary with a daily
 * series) get a request of their own: in a batch, the slowest procedure holds every answer.
 * Signing in and out do too: the body guard lets a body without credentials through only to
 * /api/trpc/auth.login and /api/trpc/auth.logout themselves (server/http/body-guard.ts).
 */
const UNBATCHED = new Set(["accounts.breakdown", "accounts.summary", "auth.login", "auth.logout"]);

let browserQueryClient: QueryClient | undefined;

function getQueryClient(): QueryClient {
  // On the server every render gets a fresh client (no data shared between requests); in the
  // browser one client lives as long as the tab, so a suspending render does not lose it.
  if (isServer) return makeQueryClient();
  browserQueryClient ??= makeQueryClient();
  return browserQueryClient;
}

export function TrpcReactProvider({ children }: { children: React.ReactNode }) {
  const queryClient = getQueryClient();
  const [trpcClient] = useState(() =>
    createTRPCClient<AppRouter>({
      links: [
        splitLink({
          condition: (op) => UNBATCHED.has(op.path),
          true: httpLink({ url: "/api/trpc" }),
          false: httpBatchLink({ url: "/api/trpc", maxURLLength: 4000, maxItems: MAX_BATCH_SIZE }),
        }),
      ],
    }),
  );
  // Marks the document once React has hydrated it: until then a server-rendered button does
  // nothing when clicked, and the e2e suite waits for this before it interacts with a page.
  useEffect(() => {
    document.documentElement.dataset.hydrated = "true";
  }, []);
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
