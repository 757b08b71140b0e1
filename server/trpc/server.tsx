import "server-only";
import { dehydrate, HydrationBoundary } from "@tanstack/react-query";
import { createTRPCOptionsProxy } from "@trpc/tanstack-react-query";
import { headers } from "next/headers";
import { cache } from "react";
import { createTrpcContext } from "./init";
import { makeQueryClient } from "./query-client";
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

/** Hands the queries prefetched during this request (finished or still pending) to the client. */
export function HydrateClient({ children }: { children: React.ReactNode }) {
  const queryClient = getQueryClient();
  return <HydrationBoundary state={dehydrate(queryClient)}>{children}</HydrationBoundary>;
}
