import "server-only";
import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { TRPCError } from "@trpc/server";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { headers } from "next/headers";
import { cache } from "react";
import { createTrpcContext } from "./init";
import { expectedFailure, makeQueryClient } from "./query-client";
import { appRouter } from "./routers/_app";

/** One QueryClient per server request, shared by every server component of that request. */
export const getQueryClient = cache(makeQueryClient);

/**
 * The context of a server-side call is built from the incoming request's headers, so the session
 * cookie authenticates it exactly as it would the browser's own /api/trpc request.
 */
const createContext = cache(async () => {
  const h = new Headers(await headers());
  h.set("x-trpc-source", "rsc");
  const host = h.get("host") ?? "localhost";
  return createTrpcContext({ req: new Request(`http://${host}/api/trpc`, { headers: h }) });
});

export const trpc = createTRPCOptionsProxy({
  ctx: createContext,
  router: appRouter,
  queryClient: getQueryClient,
});

/**
 * Hands the queries prefetched during this request (finished or still pending) to the client. A
 * pending query that then fails with an answer the server meant to give (an unknown account:
 * NOT_FOUND …) reaches the client as a resolved marker, not a rejected promise: React would hand
 * the rejection to Next.js, which prints its whole stack (the procedure has already logged its one
 * line). The client's deserializeData turns the marker back into an error (query-client.ts).
 */
export function HydrateClient({ children }: { children: React.ReactNode }) {
  const queryClient = getQueryClient();
  const state = dehydrate(queryClient);
  for (const q of state.queries) {
    if (q.promise) q.promise = q.promise.catch((err: unknown) => (err instanceof TRPCError && err.code !== "INTERNAL_SERVER_ERROR" ? expectedFailure(err.code) : Promise.reject(err)));
  }
  return <HydrationBoundary state={state}>{children}</HydrationBoundary>;
}
