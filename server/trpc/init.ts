import "server-only";
import { initTRPC } from "@trpc/server";
import { authenticateRequest } from "../auth/authenticate";
import { hasScope, type Principal, type Scope } from "../auth/scopes";
import { ZodError } from "zod";
import { AppError, HTTP_STATUS, badRequestFromZod, toAppError, toTrpcError } from "../errors";
import { logExpectedError, logger } from "../logger";
import { getRuntime, type Runtime } from "../runtime";

/**
 * tRPC context: the runtime and the request. Authentication happens in the procedures below, so
 * every procedure except the public ones is protected by construction.
 */
export interface TrpcContext {
  runtime: Runtime;
  req: Request;
  requestId: string;
  /** Resolved lazily by protected procedures. */
  principal?: Principal;
  /** Response headers a procedure wants set (e.g. Set-Cookie on login). */
  resHeaders?: Headers;
}

export async function createTrpcContext(opts: { req: Request; resHeaders?: Headers; requestId?: string }): Promise<TrpcContext> {
  return {
    runtime: await getRuntime(),
    req: opts.req,
    requestId: opts.requestId ?? (opts.req.headers.get("x-request-id")?.slice(0, 64) || crypto.randomUUID()),
    resHeaders: opts.resHeaders,
  };
}

/** Every procedure records the scope it requires ("public": none), for the coverage test. */
export interface ProcedureMeta {
  scope?: Scope | "public";
}

const t = initTRPC.context<TrpcContext>().meta<ProcedureMeta>().create({
  errorFormatter({ shape, error }) {
    // Input validation fails before any middleware runs: its cause is the ZodError, whose own
    // message is a JSON dump of every issue. Say the first problem in words instead.
    const appErr = error.cause instanceof AppError ? error.cause : error.cause instanceof ZodError ? badRequestFromZod(error.cause) : undefined;
    return {
      ...shape,
      message: appErr?.code === "INTERNAL" || (!appErr && error.code === "INTERNAL_SERVER_ERROR") ? "Internal server error" : (appErr?.message ?? shape.message),
      data: {
        ...shape.data,
        stack: undefined,
        appCode: appErr?.code ?? null,
        httpStatus: appErr ? HTTP_STATUS[appErr.code] : shape.data.httpStatus,
        issues: appErr?.extra.issues ?? null,
        // What a 429 says in Retry-After, for the console's own message (the login form).
        retryAfterSeconds: appErr?.extra.retryAfterSeconds ?? null,
      },
    };
  },
});

export const createTRPCRouter = t.router;
export const createCallerFactory = t.createCallerFactory;

/** In tRPC v11 next() never throws: map errors by looking at the result, in one place. */
const errorMapping = t.middleware(async ({ next, path, ctx }) => {
  const result = await next();
  if (!result.ok) {
    const appErr = toAppError(result.error.cause ?? result.error);
    if (appErr.code === "INTERNAL" && !(result.error.cause instanceof AppError)) {
      if (result.error.code === "BAD_REQUEST" || result.error.code === "PARSE_ERROR") return result;
      logger.error(`[trpc] ${path} failed`, { requestId: ctx.requestId, error: String(result.error.cause?.stack ?? result.error) });
    } else if (appErr.code !== "INTERNAL") {
      logExpectedError(`[trpc] ${path}`, appErr, { requestId: ctx.requestId });
    }
    if (!(result.error.cause instanceof AppError) && result.error.code !== "INTERNAL_SERVER_ERROR") return result;
    result.error = toTrpcError(appErr);
  }
  return result;
});

export const publicProcedure = t.procedure.use(errorMapping);

/** A procedure that requires a session or token with the given scope; narrows ctx.principal. */
export function protectedProcedure(scope: Scope) {
  return publicProcedure.meta({ scope }).use(async ({ ctx, next }) => {
    const principal = ctx.principal ?? (await authenticateRequest(ctx.req, scope, ctx.runtime));
    if (!hasScope(principal, scope)) throw new AppError("FORBIDDEN", `This needs the ${scope} scope`);
    return next({ ctx: { ...ctx, principal } });
  });
}
