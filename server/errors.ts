import { TRPCError, type TRPC_ERROR_CODE_KEY } from "@trpc/server";
import { ZodError } from "zod";

/**
 * The one domain error. Services throw it; the REST wrapper (server/rest/route.ts) and the tRPC
 * error formatter (server/trpc/init.ts) map it to a status in one place each.
 */
export type ErrorCode =
  | "BAD_REQUEST"
  | "UNAUTHORIZED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "TOO_MANY_REQUESTS"
  /** A read of raw usage records over a range that retention dropped (server/maintenance/raw-horizon.ts). */
  | "RAW_RECORDS_EXPIRED"
  | "UNAVAILABLE"
  | "INTERNAL";

export interface ErrorIssue {
  path: string;
  message: string;
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly extra: { issues?: ErrorIssue[]; retryAfterSeconds?: number } = {},
  ) {
    super(message);
    this.name = "AppError";
  }
}

export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  TOO_MANY_REQUESTS: 429,
  RAW_RECORDS_EXPIRED: 410,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

const TRPC_CODE: Record<ErrorCode, TRPC_ERROR_CODE_KEY> = {
  BAD_REQUEST: "BAD_REQUEST",
  UNAUTHORIZED: "UNAUTHORIZED",
  FORBIDDEN: "FORBIDDEN",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "CONFLICT",
  PAYLOAD_TOO_LARGE: "PAYLOAD_TOO_LARGE",
  UNSUPPORTED_MEDIA_TYPE: "UNSUPPORTED_MEDIA_TYPE",
  TOO_MANY_REQUESTS: "TOO_MANY_REQUESTS",
  RAW_RECORDS_EXPIRED: "PRECONDITION_FAILED",
  UNAVAILABLE: "SERVICE_UNAVAILABLE",
  INTERNAL: "INTERNAL_SERVER_ERROR",
};

export function issuesFromZod(err: ZodError): ErrorIssue[] {
  return err.issues.map((i) => ({ path: i.path.map(String).join(".") || "(root)", message: i.message }));
}

export function badRequestFromZod(err: ZodError, what = "input"): AppError {
  const issues = issuesFromZod(err);
  const first = issues[0];
  const msg = first ? `Invalid ${what}: ${first.path}: ${first.message}` : `Invalid ${what}`;
  return new AppError("BAD_REQUEST", msg, { issues });
}

/** Anything thrown → an AppError; unknown errors become a generic INTERNAL (details only in logs). */
export function toAppError(err: unknown): AppError {
  if (err instanceof AppError) return err;
  if (err instanceof ZodError) return badRequestFromZod(err);
  if (err instanceof TRPCError && err.cause) return toAppError(err.cause);
  return new AppError("INTERNAL", "Internal server error");
}

export function toTrpcError(err: AppError): TRPCError {
  return new TRPCError({ code: TRPC_CODE[err.code], message: err.message, cause: err });
}
