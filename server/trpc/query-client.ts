import { defaultShouldDehydrateQuery, QueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";

/**
 * One QueryClient recipe for the server (one per request, see server.tsx) and the browser (one
 * per tab). Pending queries are dehydrated too, so a server component can start a slow query
 * without awaiting it and the promise streams to the client.
 */
export function makeQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        staleTime: 30_000,
        refetchOnWindowFocus: false,
        // A query that failed during server rendering reaches the browser as a redacted error
        // (not a TRPCClientError): ask once more from the browser to get the real one. Errors
        // the server answered with (bad input, 401/403/404, 503 unavailable) are final.
        retry: (failureCount, error) => failureCount < (error instanceof TRPCClientError ? 0 : 1),
      },
      dehydrate: {
        shouldDehydrateQuery: (query) => defaultShouldDehydrateQuery(query) || query.state.status === "pending",
        shouldRedactErrors: () => false,
      },
    },
  });
}
