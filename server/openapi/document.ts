import { z } from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from "zod-openapi";
import { accountFields, apiKeyFields, listAccountsInput, listApiKeysInput } from "../accounts/schemas";
import { SESSION_COOKIE } from "../auth/http";
import { changePasswordInput, createTokenInput, loginInput } from "../auth/schemas";
import type { Scope } from "../auth/scopes";
import { HTTP_STATUS, type ErrorCode } from "../errors";
import {
  accountBreakdownQuery,
  accountBreakdownResult,
  accountSummaryQuery,
  accountSummaryResult,
  accountUsageListInput,
  accountUsageListResult,
} from "../usage-stats/schemas";
import { recordUsageBodyDoc, recordUsageResult } from "../usage/schemas";
import {
  accountViewDoc,
  apiKeyViewDoc,
  createdTokenDoc,
  deletedDoc,
  healthDoc,
  loginDoc,
  meDoc,
  pageDoc,
  passwordChangedDoc,
  signedOutDoc,
  tokenInfoDoc,
} from "./responses";

/**
 * The OpenAPI 3.1 document of every REST route under /admin, generated from the zod schemas the
 * routes parse with. One entry per route handler export; openapi.test.ts checks the list against
 * the route files on disk, so a new route without documentation fails the tests.
 */

type Method = "get" | "post" | "put" | "delete";
type ObjectSchema = z.ZodType<unknown, Record<string, unknown>>;

export interface RouteDoc {
  method: Method;
  /** OpenAPI form: /admin/accounts/{id} */
  path: string;
  scope: Scope | "public";
  tag: string;
  summary: string;
  description?: string;
  query?: ObjectSchema;
  body?: z.ZodType;
  /** The success response: the whole body (use `envelope` for the usual shape). */
  response: z.ZodType;
  status?: number;
  /** Also answers text/csv with format=csv. */
  csv?: boolean;
  /** Error codes besides the ones every route may answer. */
  errors?: ErrorCode[];
}

const idParam = z.object({ id: z.string().min(1).meta({ description: "Id as the relay knows it" }) });

/** { success: true, data, ...meta }, the body route() sends. */
function envelope(data: z.ZodType, meta: z.ZodRawShape = {}) {
  return z.object({ success: z.literal(true), data, ...meta });
}

/** The usage-stats results already carry data and the envelope's meta fields. */
function usageEnvelope<S extends z.ZodObject>(result: S) {
  return result.extend({ success: z.literal(true) });
}

const errorBody = z
  .object({
    success: z.literal(false),
    error: z.object({
      code: z.enum(Object.keys(HTTP_STATUS) as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      issues: z.array(z.object({ path: z.string().meta({ description: "The parameter or field" }), message: z.string() })).optional(),
      requestId: z.string(),
    }),
  })
  .meta({ id: "Error" });

export const ROUTES: RouteDoc[] = [
  {
    method: "get",
    path: "/admin/health",
    scope: "usage:read",
    tag: "System",
    summary: "Health of PostgreSQL and Redis",
    response: envelope(healthDoc),
  },
  {
    method: "post",
    path: "/admin/usage",
    scope: "usage:write",
    tag: "Usage",
    summary: "Record usage events (idempotent by requestId)",
    description: "Up to 1,000 events. Each bad event is rejected by index while the others are recorded; 202 once every accepted event is durable.",
    body: recordUsageBodyDoc,
    response: envelope(recordUsageResult),
    status: 202,
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  {
    method: "get",
    path: "/admin/accounts",
    scope: "usage:read",
    tag: "Accounts",
    summary: "List accounts",
    query: listAccountsInput,
    response: envelope(z.array(accountViewDoc), { pagination: pageDoc }),
  },
  {
    method: "put",
    path: "/admin/accounts/{id}",
    scope: "usage:write",
    tag: "Accounts",
    summary: "Create or update an account",
    body: accountFields,
    response: envelope(accountViewDoc),
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  {
    method: "delete",
    path: "/admin/accounts/{id}",
    scope: "usage:write",
    tag: "Accounts",
    summary: "Soft-delete an account",
    response: envelope(deletedDoc),
    errors: ["NOT_FOUND"],
  },
  {
    method: "get",
    path: "/admin/accounts/usage-stats",
    scope: "usage:read",
    tag: "Usage statistics",
    summary: "Every account with its usage today, this month and all time",
    description:
      "Sorted and paged in SQL; `summary` covers every account matching the filters, not just the page. " +
      "With PostgreSQL down, answered from the Redis counters (`source: redis`).",
    query: accountUsageListInput,
    response: usageEnvelope(accountUsageListResult),
    csv: true,
    errors: ["TOO_MANY_REQUESTS"],
  },
  {
    method: "get",
    path: "/admin/accounts/{id}/usage-stats",
    scope: "usage:read",
    tag: "Usage statistics",
    summary: "One account's usage in a range, by model, with a chart series",
    description: "With PostgreSQL down only today, this month and all time are answered (503 otherwise); `series` is then null.",
    query: accountSummaryQuery,
    response: usageEnvelope(accountSummaryResult),
    errors: ["NOT_FOUND"],
  },
  {
    method: "get",
    path: "/admin/accounts/{id}/usage-breakdown",
    scope: "usage:read",
    tag: "Usage statistics",
    summary: "One account's usage per API key in a range",
    description: "Stable order (ties broken by key id), so paging with nextOffset never repeats or skips a key.",
    query: accountBreakdownQuery,
    response: usageEnvelope(accountBreakdownResult),
    csv: true,
    errors: ["NOT_FOUND", "TOO_MANY_REQUESTS"],
  },
  {
    method: "get",
    path: "/admin/api-keys",
    scope: "usage:read",
    tag: "API keys",
    summary: "List API keys",
    query: listApiKeysInput,
    response: envelope(z.array(apiKeyViewDoc), { pagination: pageDoc }),
  },
  {
    method: "put",
    path: "/admin/api-keys/{id}",
    scope: "usage:write",
    tag: "API keys",
    summary: "Create or update an API key (its hash, never the key)",
    body: apiKeyFields,
    response: envelope(apiKeyViewDoc),
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  {
    method: "delete",
    path: "/admin/api-keys/{id}",
    scope: "usage:write",
    tag: "API keys",
    summary: "Soft-delete an API key",
    response: envelope(deletedDoc),
    errors: ["NOT_FOUND"],
  },
  {
    method: "post",
    path: "/admin/auth/login",
    scope: "public",
    tag: "Auth",
    summary: "Sign in; sets the session cookie (a form-encoded post from a browser without JavaScript is answered with a 303)",
    body: loginInput,
    response: envelope(loginDoc),
    errors: ["TOO_MANY_REQUESTS", "UNSUPPORTED_MEDIA_TYPE"],
  },
  {
    method: "post",
    path: "/admin/auth/logout",
    scope: "public",
    tag: "Auth",
    summary: "Sign out; always clears the session cookie, also of an expired session",
    response: envelope(signedOutDoc),
  },
  {
    method: "get",
    path: "/admin/auth/me",
    scope: "usage:read",
    tag: "Auth",
    summary: "Who is calling, with which scopes",
    response: envelope(meDoc),
  },
  {
    method: "post",
    path: "/admin/auth/password",
    scope: "admin",
    tag: "Auth",
    summary: "Change the admin password (signs every session out)",
    body: changePasswordInput,
    response: envelope(passwordChangedDoc),
    errors: ["TOO_MANY_REQUESTS", "UNSUPPORTED_MEDIA_TYPE"],
  },
  {
    method: "get",
    path: "/admin/tokens",
    scope: "admin",
    tag: "API tokens",
    summary: "List active API tokens",
    response: envelope(z.array(tokenInfoDoc)),
  },
  {
    method: "post",
    path: "/admin/tokens",
    scope: "admin",
    tag: "API tokens",
    summary: "Create an API token (shown once)",
    body: createTokenInput,
    response: envelope(createdTokenDoc),
    status: 201,
    errors: ["UNSUPPORTED_MEDIA_TYPE"],
  },
  {
    method: "delete",
    path: "/admin/tokens",
    scope: "admin",
    tag: "API tokens",
    summary: "Revoke every API token (a password change does not: it ends sessions only)",
    response: envelope(z.object({ revoked: z.int().meta({ description: "How many tokens were revoked" }) })),
  },
  {
    method: "delete",
    path: "/admin/tokens/{id}",
    scope: "admin",
    tag: "API tokens",
    summary: "Revoke an API token",
    response: envelope(tokenInfoDoc),
    errors: ["NOT_FOUND"],
  },
  {
    method: "get",
    path: "/admin/openapi.json",
    scope: "usage:read",
    tag: "System",
    summary: "This document",
    response: z.record(z.string(), z.unknown()).meta({ description: "An OpenAPI 3.1 document" }),
  },
];

const ERROR_TEXT: Record<ErrorCode, string> = {
  BAD_REQUEST: "A parameter or field is invalid; `error.issues` names it",
  UNAUTHORIZED: "No valid session cookie or Bearer token",
  FORBIDDEN: "The caller lacks the required scope",
  NOT_FOUND: "No such id",
  CONFLICT: "Conflict",
  PAYLOAD_TOO_LARGE: "The body is too large",
  UNSUPPORTED_MEDIA_TYPE: "The body is not application/json",
  TOO_MANY_REQUESTS: "Too many attempts, or too many CSV exports at once; see Retry-After",
  UNAVAILABLE: "The stores cannot answer this now (or, in fallback, cannot answer it exactly); see Retry-After",
  INTERNAL: "Unexpected error; the message carries a request id",
};

const statusKey = (status: number) => String(status) as `${1 | 2 | 3 | 4 | 5}${string}`;

/** get /admin/accounts/{id}/usage-stats → getAccountsIdUsageStats */
function operationId(r: RouteDoc): string {
  const words = r.path.replace(/^\/admin\//, "").split(/[^A-Za-z0-9]+/).filter(Boolean);
  return r.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

function operation(r: RouteDoc): ZodOpenApiOperationObject {
  const hasPathId = r.path.includes("{id}");
  const codes = new Set<ErrorCode>(r.errors ?? []);
  if (r.query || r.body || hasPathId) codes.add("BAD_REQUEST");
  if (r.scope !== "public") {
    codes.add("UNAUTHORIZED");
    codes.add("FORBIDDEN");
  }
  codes.add("UNAVAILABLE");
  const success = r.csv
    ? {
        "application/json": { schema: r.response },
        "text/csv": { schema: z.string().meta({ description: "format=csv: UTF-8 with BOM, a header row, every row (not paged)" }) },
      }
    : { "application/json": { schema: r.response } };
  const responses: ZodOpenApiResponsesObject = { [statusKey(r.status ?? 200)]: { description: r.summary, content: success } };
  for (const code of codes) responses[statusKey(HTTP_STATUS[code])] = { description: ERROR_TEXT[code], content: { "application/json": { schema: errorBody } } };
  return {
    operationId: operationId(r),
    tags: [r.tag],
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    security: r.scope === "public" ? [] : [{ bearerToken: [] }, { sessionCookie: [] }],
    "x-required-scope": r.scope,
    requestParams: { ...(r.query ? { query: r.query } : {}), ...(hasPathId ? { path: idParam } : {}) },
    ...(r.body ? { requestBody: { required: true, content: { "application/json": { schema: r.body } } } } : {}),
    responses,
  };
}

export function createOpenApiDocument(): ReturnType<typeof createDocument> {
  const paths: ZodOpenApiPathsObject = {};
  for (const r of ROUTES) paths[r.path] = { ...paths[r.path], [r.method]: operation(r) };
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "Account usage breakdown — admin API",
      version: "1.0.0",
      description:
        "Usage of each upstream account and API key of the relay. Every JSON answer is `{ success, data, … }`; " +
        "errors are `{ success: false, error: { code, message, issues? } }`. Costs are USD rounded to 6 decimals; " +
        "days and months are those of USAGE_TIMEZONE.",
    },
    tags: [...new Set(ROUTES.map((r) => r.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        bearerToken: { type: "http", scheme: "bearer", description: "An API token (Settings → API tokens)" },
        sessionCookie: { type: "apiKey", in: "cookie", name: SESSION_COOKIE, description: "The admin console's session" },
      },
    },
  });
}

let cached: ReturnType<typeof createDocument> | undefined;

/** The document is the same for the life of the process: build it once. */
export function getOpenApiDocument(): ReturnType<typeof createDocument> {
  cached ??= createOpenApiDocument();
  return cached;
}
