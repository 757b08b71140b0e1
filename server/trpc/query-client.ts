import { defaultShouldDehydrateQuery, isServer, QueryClient } from "@tanstack/react-query";
import { TRPCClientError } from "@trpc/client";

const EXPECTED_FAILURE = "__expectedFailure";

/** What a server-side prefetch that failed as expected dehydrates to (see server.tsx's HydrateClient). */
export function expectedFailure(code: string): Record<string, string> {
  return { [EXPECTED_FAILURE]: code };
}

/** … and back to an error in the browser: the query retries from there and gets the real answer. */
function deserializeData(data: unknown): unknown {
  if (data && typeof data === "object" && EXPECTED_FAILURE in data) throw new Error(`Failed while rendering on the server: ${String((data as Record<string, unknown>)[EXPECTED_FAILURE])}`);
  return data;
}

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
        // On the server nothing is retried: the procedure answered (a retry there only asked the
        // same question twice and logged its error twice, a second later).
        retry: (failureCount, error) => !isServer && failureCount < (error instanceof TRPCClientError ? 0 : 1),
      },
      hydrate: { deserializeData },
      dehydrate: {
        shouldDehydrateQuery: (query) => defaultShouldDehydrateQuery(query) || query.state.status === "pending",
        shouldRedactErrors: () => false,
      },
    },
  });
}
