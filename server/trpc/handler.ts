import "server-only";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import { getConfig } from "../config";
import { AppError } from "../errors";
import { DEFAULT_MAX_BODY_BYTES, errorResponse, noStore, parseJsonText, readLimitedBody, withDeadline } from "../http/route";
import { logger } from "../logger";
import { createTrpcContext } from "./init";
import { MAX_BATCH_SIZE } from "./limits";
import { appRouter } from "./routers/_app";


/**
 * The tRPC endpoint's transport rules, the same as the REST wrapper's: the body is read with the
 * same limit before anything parses it (so an unauthenticated client cannot make the server hold
 * megabytes), batches are capped, every request has the deadline and no answer is cached.
 */
export async function handleTrpcRequest(req: Request): Promise<Response> {
  const requestId = req.headers.get("x-request-id")?.slice(0, 64) || crypto.randomUUID();
  try {
    let forwarded = req;
    if (req.method !== "GET" && req.method !== "HEAD") {
      const body = await readLimitedBody(req, DEFAULT_MAX_BODY_BYTES);
      // The same refusal of "__proto__" keys as the REST routes, before tRPC parses the body.
      const text = Buffer.from(body).toString("utf8");
      if (/proto|\\u/.test(text)) parseJsonText(text);
      forwarded = new Request(req.url, { method: req.method, headers: req.headers, body: body.byteLength ? new Uint8Array(body) : null });
    }
    const res = await withDeadline(
      fetchRequestHandler({
        endpoint: "/api/trpc",
        req: forwarded,
        router: appRouter,
        maxBatchSize: MAX_BATCH_SIZE,
        createContext: ({ resHeaders }) => createTrpcContext({ req: forwarded, resHeaders, requestId }),
      }),
      getConfig().requestTimeoutMs,
    );
    noStore(res.headers);
    return res;
  } catch (err) {
    if (!(err instanceof AppError)) logger.error(`[trpc] ${req.method} failed`, { requestId, error: String((err as Error)?.stack ?? err) });
    return errorResponse(err instanceof AppError ? err : new AppError("INTERNAL", "Internal server error"), requestId);
  }
}
