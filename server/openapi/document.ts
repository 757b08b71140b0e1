import { z } from "zod";
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject, type ZodOpenApiResponsesObject } from "zod-openapi";
import { SESSION_COOKIE } from "../auth/http";
import { HTTP_STATUS, type ErrorCode } from "../errors";
import { routeEntries, type Method, type RouteDeclaration } from "../rest/routes";
import { webhookBody, webhookHeaders } from "../alerts/channels.schemas";

/**
 * The OpenAPI 3.1 document of every REST route under /admin, generated from the route
 * declarations (server/rest/routes.ts): the same scopes and zod schemas route() authenticates and
 * parses with. document.test.ts holds the declarations to the route files on disk and to this
 * document, so a new route without documentation fails the tests.
 */

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

/** A route's security requirement: none when public, else a Bearer token or the session cookie. */
function securityOf(scope: RouteDeclaration["scope"]): Record<string, string[]>[] {
  return scope === "public" ? [] : [{ bearerToken: [] }, { sessionCookie: [] }];
}

const ERROR_TEXT: Record<ErrorCode, string> = {
  BAD_REQUEST: "A parameter or field is invalid; `error.issues` names it",
  UNAUTHORIZED: "No valid session cookie or Bearer token",
  FORBIDDEN: "The caller lacks the required scope",
  NOT_FOUND: "No such id",
  CONFLICT: "Conflict",
  PAYLOAD_TOO_LARGE: "The body is too large",
  UNSUPPORTED_MEDIA_TYPE: "The body is not application/json",
  TOO_MANY_REQUESTS: "Too many attempts, or too many CSV exports at once; see Retry-After",
  RAW_RECORDS_EXPIRED: "The answer needs raw usage records older than USAGE_RAW_RETENTION_MONTHS keeps; the message names where they begin",
  UNAVAILABLE: "The stores cannot answer this now (or, in fallback, cannot answer it exactly); see Retry-After",
  INTERNAL: "Unexpected error; the message carries a request id",
};

const statusKey = (status: number) => String(status) as `${1 | 2 | 3 | 4 | 5}${string}`;

/** get /admin/accounts/{id}/usage-stats → getAccountsIdUsageStats */
function operationId(method: Method, path: string): string {
  const words = path.replace(/^\/admin\//, "").split(/[^A-Za-z0-9]+/).filter(Boolean);
  return method.toLowerCase() + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
}

function operation(method: Method, path: string, r: RouteDeclaration): ZodOpenApiOperationObject {
  const requestBody = r.bodyDoc ?? r.body;
  const codes = new Set<ErrorCode>(r.errors ?? []);
  if (r.params || r.query || requestBody) codes.add("BAD_REQUEST");
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
  const responses: ZodOpenApiResponsesObject = {
    [statusKey(r.status ?? 200)]: { description: r.summary, content: success, ...(r.responseHeaders ? { headers: r.responseHeaders } : {}) },
  };
  for (const code of codes) responses[statusKey(HTTP_STATUS[code])] = { description: ERROR_TEXT[code], content: { "application/json": { schema: errorBody } } };
  return {
    operationId: operationId(method, path),
    tags: [r.tag],
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    security: securityOf(r.scope),
    "x-required-scope": r.scope,
    requestParams: { ...(r.query ? { query: r.query } : {}), ...(r.params ? { path: r.params } : {}) },
    ...(requestBody ? { requestBody: { required: true, content: { "application/json": { schema: requestBody } } } } : {}),
    responses,
  };
}

export function createOpenApiDocument(): ReturnType<typeof createDocument> {
  const routes = routeEntries();
  const paths: ZodOpenApiPathsObject = {};
  for (const [method, path, r] of routes) paths[path] = { ...paths[path], [method.toLowerCase()]: operation(method, path, r) };
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
    tags: [...new Set(routes.map(([, , r]) => r.tag))].map((name) => ({ name })),
    paths,
    // What the ledger sends, not what it serves: the generic alert webhook (server/alerts/channels/webhook.ts).
    webhooks: {
      alert: {
        post: {
          tags: ["Alerts"],
          summary: "An alert notification, POSTed to a generic webhook channel",
          description: "Firing, repeated, resolved or test; signed with the channel's secret (see AlertWebhookBody).",
          requestParams: { header: webhookHeaders },
          requestBody: { content: { "application/json": { schema: webhookBody } } },
          responses: { "200": { description: "Any 2xx acknowledges it; anything else is retried with backoff, then marked failed" } },
        },
      },
    },
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
