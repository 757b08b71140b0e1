import { randomUUID } from "node:crypto";
import type { NextRequest } from "next/server";
import type { z } from "zod";
import { authenticateRequest } from "../auth/authenticate";
import type { Principal, Scope } from "../auth/scopes";
import { deadlineAfter, type Deadline } from "../deadline";
import { AppError, HTTP_STATUS, toAppError } from "../errors";
import {
  DEFAULT_MAX_BODY_BYTES,
  ROUTE_MARK,
  errorResponse,
  isClientAbort,
  noStore,
  parseBody,
  parseParams,
  parseQuery,
  readJson,
  withDeadline,
} from "../http/route";
import { logExpectedError, logger } from "../logger";
import { metrics, routeLabel } from "../metrics/metrics";
import { getRuntime, type Runtime } from "../runtime";

/**
 * The one wrapper for every REST route handler: authentication and scope, then the path
 * parameters, query and body parsed with the route's declared schemas (400 naming the problem),
 * the JSON envelope, and error → status mapping. The routes under /admin pass their declaration
 * from ./routes.ts, which the OpenAPI document is generated from. A route handler file exports
 * only what `route()` returns (a test enforces it).
 */

export interface ApiResult {
  data: unknown;
  status?: number;
  /** Extra top-level fields of the envelope (source, timezone, summary, pagination …). */
  meta?: Record<string, unknown>;
  /** Response headers; pairs for a repeated header (two Set-Cookie). */
  headers?: HeadersInit;
}

/** What route() acts on; a declaration (./routes.ts) carries its documentation besides. */
export interface RouteOptions {
  /** Required scope; "public" only for signing in and out. */
  scope: Scope | "public";
  /** The dynamic segments of the route's path, e.g. z.object({ id: accountId }) for [id]. */
  params?: z.ZodType;
  query?: z.ZodType;
  /** A JSON body, read (up to maxBodyBytes) and parsed before the handler runs. */
  body?: z.ZodType;
  maxBodyBytes?: number;
}

type Parsed<O, K extends keyof RouteOptions> = O extends { [P in K]: infer S extends z.ZodType } ? z.output<S> : undefined;

export interface RouteContext<O extends RouteOptions> {
  req: NextRequest;
  params: Parsed<O, "params">;
  query: Parsed<O, "query">;
  body: Parsed<O, "body">;
  runtime: Runtime;
  principal: Principal;
  requestId: string;
  /** REQUEST_TIMEOUT_MS after the request arrived: for work that outlives the handler (a CSV stream). */
  deadline: Deadline;
}

/** The options a handler was built with (its declaration, for the routes under /admin). */
export const ROUTE_OPTIONS = Symbol.for("usage-breakdown.route-options");

export type RouteHandler<O extends RouteOptions = RouteOptions> = ((
  req: NextRequest,
  ctx: { params: Promise<Record<string, string | string[]>> },
) => Promise<Response>) & { [ROUTE_MARK]: Scope | "public"; [ROUTE_OPTIONS]: O };

export function route<const O extends RouteOptions>(opts: O, handler: (ctx: RouteContext<O>) => Promise<ApiResult | Response>): RouteHandler<O> {
  const fn = async (req: NextRequest, ctx: { params: Promise<Record<string, string | string[]>> }): Promise<Response> => {
    const requestId = req.headers.get("x-request-id")?.slice(0, 64) || randomUUID();
    const started = performance.now();
    const arrived = Date.now();
    let status = 500;
    try {
      const runtime = await getRuntime().catch((err: unknown) => {
        logger.error(`[http] runtime failed to start: ${(err as Error).message}`);
        throw new AppError("UNAVAILABLE", "The service is starting or its stores are unavailable", { retryAfterSeconds: 5 });
      });
      const principal = await authenticateRequest(req, opts.scope, runtime);
      const params = opts.params ? parseParams((await ctx.params) ?? {}, opts.params) : undefined;
      const query = opts.query ? parseQuery(req, opts.query) : undefined;
      const body = opts.body ? parseBody(await readJson(req, opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES), opts.body) : undefined;
      const deadline = deadlineAfter(runtime.config.requestTimeoutMs, arrived);
      const result = await withDeadline(
        handler({
          req,
          params: params as Parsed<O, "params">,
          query: query as Parsed<O, "query">,
          body: body as Parsed<O, "body">,
          runtime,
          principal,
          requestId,
          deadline,
        }),
        Math.max(1, deadline.at - Date.now()),
        runtime.config.requestTimeoutMs,
      );
      const res =
        result instanceof Response
          ? result
          : Response.json({ success: true, data: result.data, ...result.meta }, { status: result.status ?? 200, headers: result.headers });
      res.headers.set("x-request-id", requestId);
      noStore(res.headers);
      status = res.status;
      return res;
    } catch (err) {
      const appErr = toAppError(err);
      status = HTTP_STATUS[appErr.code];
      if (isClientAbort(err, req)) {
        logger.info(`[http] ${req.method} ${req.nextUrl.pathname}: the client went away before the request was read`, { requestId });
      } else if (appErr.code === "INTERNAL") {
        logger.error(`[http] ${req.method} ${req.nextUrl.pathname} failed`, { requestId, error: String((err as Error)?.stack ?? err) });
      } else {
        logExpectedError(`[http] ${req.method} ${req.nextUrl.pathname}`, appErr, { requestId });
      }
      return errorResponse(appErr, requestId);
    } finally {
      const ms = performance.now() - started;
      metrics().httpDuration.observe({ route: routeLabel(req.nextUrl.pathname), method: req.method, status: String(status) }, ms / 1000);
      logger.debug(`[http] ${req.method} ${req.nextUrl.pathname} ${status} ${ms.toFixed(1)}ms`, { requestId });
    }
  };
  return Object.defineProperties(fn, { [ROUTE_MARK]: { value: opts.scope }, [ROUTE_OPTIONS]: { value: opts } }) as RouteHandler<O>;
}
