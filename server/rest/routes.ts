import { z } from "zod";
import { accountFields, apiKeyFields, listAccountsInput, listApiKeysInput } from "../accounts/schemas";
import { changePasswordInput, createTokenInput, loginInput } from "../auth/schemas";
import type { ErrorCode } from "../errors";
import { accountId, apiKeyId, tokenId } from "../ids";
import {
  accountViewDoc,
  apiKeyViewDoc,
  createdTokenDoc,
  deletedDoc,
  envelope,
  healthDoc,
  loginDoc,
  meDoc,
  openApiDoc,
  pageDoc,
  passwordChangedDoc,
  revokedAllDoc,
  signedOutDoc,
  tokenInfoDoc,
  usageEnvelope,
} from "./responses";
import {
  accountBreakdownQuery,
  accountBreakdownResult,
  accountSummaryQuery,
  accountSummaryResult,
  accountUsageListInput,
  accountUsageListResult,
  keyUsageQuery,
  keyUsageResult,
} from "../usage-stats/schemas";
import { recordUsageBodyDoc, recordUsageInput, recordUsageResult } from "../usage/schemas";
import type { RouteOptions } from "./route";

/**
 * Every REST route under /admin, declared once: its scope and the schemas its path parameters,
 * query and body are parsed with (route() does the parsing), and what the OpenAPI document says
 * about it (server/openapi/document.ts is generated from this table and nothing else). Each route
 * file passes its entry to route(): `export const GET = route(ROUTES["GET /admin/health"], …)`.
 * The tests hold the table, the route files on disk and the document to each other.
 */

export type Method = "GET" | "POST" | "PUT" | "DELETE";
type ObjectSchema = z.ZodType<unknown, Record<string, unknown>>;

export interface RouteDeclaration extends RouteOptions {
  params?: ObjectSchema;
  query?: ObjectSchema;
  /** The request body as documented, when it is not `body` (parsed by the handler, or typed more closely). */
  bodyDoc?: z.ZodType;
  tag: string;
  summary: string;
  description?: string;
  /** The success response: the whole body (`envelope` gives the usual shape). */
  response: z.ZodType;
  status?: number;
  /** Headers of the success response, for the document. */
  responseHeaders?: z.ZodObject;
  /** Also answers text/csv with format=csv. */
  csv?: boolean;
  /** Error codes besides the ones every route may answer. */
  errors?: ErrorCode[];
}

/** `${METHOD} ${path}`, the path in OpenAPI form: "GET /admin/accounts/{id}/usage-stats". */
export type RouteKey = `${Method} /admin/${string}`;

const accountPath = z.object({ id: accountId });
const apiKeyPath = z.object({ id: apiKeyId });
const tokenPath = z.object({ id: tokenId });

const setsSessionCookie = (what: string) => z.object({ "set-cookie": z.string().meta({ description: what }) });

export const ROUTES = {
  "GET /admin/health": {
    scope: "usage:read",
    tag: "System",
    summary: "Health of PostgreSQL and Redis",
    response: envelope(healthDoc),
  },
  "POST /admin/usage": {
    scope: "usage:write",
    body: recordUsageInput,
    bodyDoc: recordUsageBodyDoc,
    tag: "Usage",
    summary: "Record usage events (idempotent by requestId)",
    description: "Up to 1,000 events. Each bad event is rejected by index while the others are recorded; 202 once every accepted event is durable.",
    response: envelope(recordUsageResult),
    status: 202,
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "GET /admin/accounts": {
    scope: "usage:read",
    query: listAccountsInput,
    tag: "Accounts",
    summary: "List accounts",
    response: envelope(z.array(accountViewDoc), { pagination: pageDoc }),
  },
  "PUT /admin/accounts/{id}": {
    scope: "usage:write",
    params: accountPath,
    body: accountFields,
    maxBodyBytes: 16 * 1024,
    tag: "Accounts",
    summary: "Create or update an account",
    response: envelope(accountViewDoc),
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/accounts/{id}": {
    scope: "usage:write",
    params: accountPath,
    tag: "Accounts",
    summary: "Soft-delete an account",
    response: envelope(deletedDoc),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/accounts/usage-stats": {
    scope: "usage:read",
    query: accountUsageListInput,
    tag: "Usage statistics",
    summary: "Every account with its usage today, this month and all time",
    description:
      "Sorted and paged in SQL; `summary` covers every account matching the filters, not just the page. " +
      "With PostgreSQL down, answered from the Redis counters (`source: redis`).",
    response: usageEnvelope(accountUsageListResult),
    csv: true,
    errors: ["TOO_MANY_REQUESTS"],
  },
  "GET /admin/accounts/{id}/usage-stats": {
    scope: "usage:read",
    params: accountPath,
    query: accountSummaryQuery,
    tag: "Usage statistics",
    summary: "One account's usage in a range, by model, with a chart series",
    description: "With PostgreSQL down only today, this month and all time are answered (503 otherwise); `series` is then null.",
    response: usageEnvelope(accountSummaryResult),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/accounts/{id}/usage-breakdown": {
    scope: "usage:read",
    params: accountPath,
    query: accountBreakdownQuery,
    tag: "Usage statistics",
    summary: "One account's usage per API key in a range",
    description: "Stable order (ties broken by key id), so paging with nextOffset never repeats or skips a key.",
    response: usageEnvelope(accountBreakdownResult),
    csv: true,
    errors: ["NOT_FOUND", "TOO_MANY_REQUESTS"],
  },
  "GET /admin/api-keys": {
    scope: "usage:read",
    query: listApiKeysInput,
    tag: "API keys",
    summary: "List API keys",
    response: envelope(z.array(apiKeyViewDoc), { pagination: pageDoc }),
  },
  "GET /admin/api-keys/usage-stats": {
    scope: "usage:read",
    query: keyUsageQuery,
    tag: "Usage statistics",
    summary: "API keys across every account, with their usage in a range",
    description:
      "A key's figures are the sums over every account that used it; keys without usage in the range are not listed. " +
      "Searched, sorted by any figure, name or lastUsedAt, and paged by keyset (`cursor` = the previous page's nextCursor; ties break on the key id). " +
      "`totals` and `total` cover every key that matches. Needs PostgreSQL: 503 while it is down (the live Redis counters are kept per account).",
    response: usageEnvelope(keyUsageResult),
    csv: true,
    errors: ["TOO_MANY_REQUESTS"],
  },
  "PUT /admin/api-keys/{id}": {
    scope: "usage:write",
    params: apiKeyPath,
    body: apiKeyFields,
    maxBodyBytes: 16 * 1024,
    tag: "API keys",
    summary: "Create or update an API key (its hash, never the key)",
    response: envelope(apiKeyViewDoc),
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/api-keys/{id}": {
    scope: "usage:write",
    params: apiKeyPath,
    tag: "API keys",
    summary: "Soft-delete an API key",
    response: envelope(deletedDoc),
    errors: ["NOT_FOUND"],
  },
  "POST /admin/auth/login": {
    scope: "public",
    // JSON or a browser's form post: the handler reads either (see its file).
    bodyDoc: loginInput,
    tag: "Auth",
    summary: "Sign in; sets the session cookie (a form-encoded post from a browser without JavaScript is answered with a 303)",
    response: envelope(loginDoc),
    responseHeaders: setsSessionCookie("The session cookie (HttpOnly, SameSite=Lax)"),
    errors: ["TOO_MANY_REQUESTS", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "POST /admin/auth/logout": {
    scope: "public",
    tag: "Auth",
    summary: "Sign out; always clears the session cookie, also of an expired session",
    response: envelope(signedOutDoc),
    responseHeaders: setsSessionCookie("Clears the session cookie"),
  },
  "GET /admin/auth/me": {
    scope: "usage:read",
    tag: "Auth",
    summary: "Who is calling, with which scopes",
    response: envelope(meDoc),
  },
  "POST /admin/auth/password": {
    scope: "admin",
    body: changePasswordInput,
    maxBodyBytes: 4096,
    tag: "Auth",
    summary: "Change the admin password (signs every session out)",
    response: envelope(passwordChangedDoc),
    responseHeaders: setsSessionCookie("Clears the session cookie: every session has ended"),
    errors: ["TOO_MANY_REQUESTS", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "GET /admin/tokens": {
    scope: "admin",
    tag: "API tokens",
    summary: "List active API tokens",
    response: envelope(z.array(tokenInfoDoc)),
  },
  "POST /admin/tokens": {
    scope: "admin",
    body: createTokenInput,
    maxBodyBytes: 4096,
    tag: "API tokens",
    summary: "Create an API token (shown once)",
    response: envelope(createdTokenDoc),
    status: 201,
    errors: ["UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/tokens": {
    scope: "admin",
    tag: "API tokens",
    summary: "Revoke every API token (a password change does not: it ends sessions only)",
    response: envelope(revokedAllDoc),
  },
  "DELETE /admin/tokens/{id}": {
    scope: "admin",
    params: tokenPath,
    tag: "API tokens",
    summary: "Revoke an API token",
    response: envelope(tokenInfoDoc),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/openapi.json": {
    scope: "usage:read",
    tag: "System",
    summary: "This document",
    response: openApiDoc,
  },
} satisfies Record<RouteKey, RouteDeclaration>;

export type Routes = typeof ROUTES;

/** The table as [method, path, declaration], in its order. */
export function routeEntries(): [Method, string, RouteDeclaration][] {
  return Object.entries(ROUTES).map(([key, decl]) => {
    const [method, path] = key.split(" ") as [Method, string];
    return [method, path, decl];
  });
}
