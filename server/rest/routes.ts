import { z } from "zod";
import { accountFields, apiKeyFields, listAccountsInput, listApiKeysInput } from "../accounts/schemas";
import {
  budgetBody,
  budgetId,
  createBudgetInput,
  createRuleInput,
  createSilenceInput,
  historyInput,
  historyResult,
  overviewQuery,
  overviewResult,
  ruleBody,
  ruleId,
  silenceId,
} from "../alerts/schemas";
import { channelView, channelWithSecret, createChannelInput, deliveryPage, listDeliveriesInput, testMessageResult, updateChannelBody } from "../alerts/channels.schemas";
import { changePasswordInput, createTokenInput, loginInput } from "../auth/schemas";
import type { ErrorCode } from "../errors";
import { accountId, apiKeyId, tokenId } from "../ids";
import {
  accountViewDoc,
  alertDeletedDoc,
  alertRuleDoc,
  apiKeyViewDoc,
  budgetDoc,
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
  silenceDoc,
  tokenInfoDoc,
  usageEnvelope,
} from "./responses";
import {
  accountBreakdownQuery,
  accountBreakdownResult,
  accountSummaryQuery,
  accountSummaryResult,
  accountTrendQuery,
  accountTrendResult,
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
const rulePath = z.object({ id: ruleId });
const budgetPath = z.object({ id: budgetId });
const silencePath = z.object({ id: silenceId });
const ALERT_BODY_BYTES = 16 * 1024;
const channelPath = z.object({ id: z.uuid({ error: "must be a channel id (a UUID)" }) });

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
    description:
      "Up to 1,000 events. Each bad event is rejected by index while the others are recorded; 202 once every accepted event is durable. An event older than the raw records kept (USAGE_RAW_RETENTION_MONTHS) is rejected with RAW_RECORDS_EXPIRED; 410 only when retention moved while the batch was being written (nothing recorded: retry).",
    response: envelope(recordUsageResult),
    status: 202,
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE", "RAW_RECORDS_EXPIRED"],
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
  "GET /admin/accounts/{id}/usage-trend": {
    scope: "usage:read",
    params: accountPath,
    query: accountTrendQuery,
    tag: "Usage statistics",
    summary: "One account's usage trend: today per hour, the last 30 or 90 days per day, the last 12 months per month",
    description: "Zero-filled points in USAGE_TIMEZONE, whatever range the summary asks for. The live Redis counters keep no history: 503 while PostgreSQL is down. The hourly span reads raw records: 410 RAW_RECORDS_EXPIRED if retention dropped them.",
    response: usageEnvelope(accountTrendResult),
    errors: ["NOT_FOUND", "RAW_RECORDS_EXPIRED"],
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
  "GET /admin/alerts/overview": {
    scope: "usage:read",
    query: overviewQuery,
    tag: "Alerts",
    summary: "Alerts firing and pending now, failed deliveries, and per account its firing alerts and budgets",
    description: "What the console's accounts list and drawer show: an account is listed when a budget or a firing alert is about it.",
    response: envelope(overviewResult),
  },
  "GET /admin/alerts/history": {
    scope: "usage:read",
    query: historyInput,
    tag: "Alerts",
    summary: "Every transition of every alert, newest first, with its notification's deliveries",
    description: "Paged by keyset: pass `nextCursor` as `cursor` for the next page (null on the last one); pages never overlap while new events arrive.",
    response: envelope(historyResult),
  },
  "GET /admin/alerts/rules": {
    scope: "usage:read",
    tag: "Alerts",
    summary: "List alert rules, with the subjects pending or firing now",
    response: envelope(z.array(alertRuleDoc)),
  },
  "POST /admin/alerts/rules": {
    scope: "admin",
    body: createRuleInput,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Create an alert rule",
    description:
      "A subject, a measure and a window with a condition: above an amount, or a spike (k × the median of the same window on the previous days, " +
      "with a minimum); or a budget condition (percent of a budget, which gives the subject, measure and window).",
    response: envelope(alertRuleDoc),
    status: 201,
    errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "GET /admin/alerts/rules/{id}": {
    scope: "usage:read",
    params: rulePath,
    tag: "Alerts",
    summary: "One alert rule, with the subjects pending or firing now",
    response: envelope(alertRuleDoc),
    errors: ["NOT_FOUND"],
  },
  "PUT /admin/alerts/rules/{id}": {
    scope: "admin",
    params: rulePath,
    body: ruleBody,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Replace an alert rule (the whole rule, as when creating it)",
    description: "When what it measures changes (or it is disabled) its pending and firing alerts start over, without a resolve notice.",
    response: envelope(alertRuleDoc),
    errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/alerts/rules/{id}": {
    scope: "admin",
    params: rulePath,
    tag: "Alerts",
    summary: "Delete an alert rule (its history stays, under the rule's name)",
    response: envelope(alertDeletedDoc),
    errors: ["NOT_FOUND"],
  },
  "POST /admin/alerts/rules/{id}/enable": {
    scope: "admin",
    params: rulePath,
    tag: "Alerts",
    summary: "Enable an alert rule (no body; enabling an enabled rule changes nothing)",
    response: envelope(alertRuleDoc),
    errors: ["NOT_FOUND"],
  },
  "POST /admin/alerts/rules/{id}/disable": {
    scope: "admin",
    params: rulePath,
    tag: "Alerts",
    summary: "Disable an alert rule: it is no longer evaluated and its pending and firing alerts are dropped",
    response: envelope(alertRuleDoc),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/alerts/budgets": {
    scope: "usage:read",
    tag: "Alerts",
    summary: "List budgets, each with its use this day or month and its rules",
    response: envelope(z.array(budgetDoc)),
  },
  "POST /admin/alerts/budgets": {
    scope: "admin",
    body: createBudgetInput,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Create a budget, with a rule for each of its alert percents (80 and 100 by default)",
    response: envelope(budgetDoc),
    status: 201,
    errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "PUT /admin/alerts/budgets/{id}": {
    scope: "admin",
    params: budgetPath,
    body: budgetBody,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Replace a budget's name, subject, measure, period and amount (its rules stay; their alerts start over)",
    response: envelope(budgetDoc),
    errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/alerts/budgets/{id}": {
    scope: "admin",
    params: budgetPath,
    tag: "Alerts",
    summary: "Delete a budget and its rules",
    response: envelope(alertDeletedDoc),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/alerts/silences": {
    scope: "usage:read",
    tag: "Alerts",
    summary: "List silences: those not ended first, then the ended ones (at most 200)",
    response: envelope(z.array(silenceDoc)),
  },
  "POST /admin/alerts/silences": {
    scope: "admin",
    body: createSilenceInput,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Silence one rule or every rule, for one subject or all, until a time (at most 366 days from now)",
    description: "A silenced alert still changes state and is listed in the history, marked silenced, but nothing is sent while the silence lasts.",
    response: envelope(silenceDoc),
    status: 201,
    errors: ["CONFLICT", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/alerts/silences/{id}": {
    scope: "admin",
    params: silencePath,
    tag: "Alerts",
    summary: "End a silence now (it stays listed, ended)",
    response: envelope(silenceDoc),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/alerts/channels": {
    scope: "usage:read",
    tag: "Alerts",
    summary: "List notification channels (secrets are never shown)",
    response: envelope(z.array(channelView)),
  },
  "POST /admin/alerts/channels": {
    scope: "admin",
    body: createChannelInput,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Create a channel: a generic webhook, 飞书 Feishu, 钉钉 DingTalk, 企业微信 WeCom, Slack or Telegram",
    description:
      "Its URL (tokens included), signing secret or bot token is stored encrypted and never shown again. A webhook without `secret` gets a generated one, " +
      "answered this once as `generatedSecret`. Targets on loopback, private or link-local addresses are refused when sending unless ALERT_ALLOW_PRIVATE_TARGETS allows them.",
    response: envelope(channelWithSecret),
    status: 201,
    errors: ["PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "GET /admin/alerts/channels/{id}": {
    scope: "usage:read",
    params: channelPath,
    tag: "Alerts",
    summary: "One channel (secrets are never shown)",
    response: envelope(channelView),
    errors: ["NOT_FOUND"],
  },
  "PUT /admin/alerts/channels/{id}": {
    scope: "admin",
    params: channelPath,
    body: updateChannelBody,
    maxBodyBytes: ALERT_BODY_BYTES,
    tag: "Alerts",
    summary: "Change a channel: omitted fields (secrets too) keep their value; its kind cannot change",
    response: envelope(channelWithSecret),
    errors: ["NOT_FOUND", "PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"],
  },
  "DELETE /admin/alerts/channels/{id}": {
    scope: "admin",
    params: channelPath,
    tag: "Alerts",
    summary: "Delete a channel; the rules that sent to it stop doing so",
    response: envelope(z.object({ rulesUpdated: z.int().meta({ description: "Rules it was removed from" }) })),
    errors: ["NOT_FOUND"],
  },
  "POST /admin/alerts/channels/{id}/test": {
    scope: "admin",
    params: channelPath,
    tag: "Alerts",
    summary: "Send a test message through the channel now (one attempt) and answer how it went",
    description: "The attempt is recorded like any delivery. A failed send is an answer (ok: false with the reason), not an error.",
    response: envelope(testMessageResult),
    errors: ["NOT_FOUND"],
  },
  "GET /admin/alerts/deliveries": {
    scope: "usage:read",
    query: listDeliveriesInput,
    tag: "Alerts",
    summary: "Deliveries of notifications, newest first, each with every attempt (status, duration, error)",
    response: envelope(deliveryPage),
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
