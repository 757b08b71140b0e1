import { z } from "zod";
import { accountView, apiKeyView, pagination } from "../accounts/schemas";
import type { removeBudget, removeRule } from "../alerts/alerts.service";
import { budgetView, ruleView, silenceView } from "../alerts/schemas";
import type { Health } from "../health/health.service";
import { SCOPES } from "../auth/scopes";

/**
 * Response shapes for the OpenAPI document: the accounts' views are their routes' own schemas;
 * the others, whose modules type their outputs with TypeScript interfaces, are written here. The assertions at the bottom fail
 * the type check when an interface gains, loses or retypes a field, so the document cannot drift.
 */

const isoInstant = z.string().meta({ format: "date-time" });

/** { success: true, data, ...meta }, the body route() sends. */
export function envelope(data: z.ZodType, meta: z.ZodRawShape = {}) {
  return z.object({ success: z.literal(true), data, ...meta });
}

/** The usage-stats results already carry data and the envelope's meta fields. */
export function usageEnvelope<S extends z.ZodObject>(result: S) {
  return result.extend({ success: z.literal(true) });
}

/** The routes' own schemas (accounts/schemas.ts), named for the document. */
export const accountViewDoc = accountView.meta({ id: "Account" });
export const apiKeyViewDoc = apiKeyView.meta({ id: "ApiKey" });
export const pageDoc = pagination;

export const deletedDoc = z.object({ id: z.string(), deletedAt: isoInstant });

/** The alerts' views (alerts/schemas.ts), named for the document. */
export const alertRuleDoc = ruleView.meta({ id: "AlertRule" });
export const budgetDoc = budgetView.meta({ id: "Budget" });
export const silenceDoc = silenceView.meta({ id: "Silence" });
/** A rule or budget is deleted for good (its history keeps the rule's name). */
export const alertDeletedDoc = z.object({ id: z.uuid(), deleted: z.literal(true) });

const storeHealth = z.object({ configured: z.boolean(), ok: z.boolean(), kind: z.string().optional(), error: z.string().optional() });
const count = z.number().int().nullable();
const outboxHealth = z.object({
  enabled: z.boolean(),
  ok: z.boolean(),
  length: count.meta({ description: "Recorded batches waiting for the drainer" }),
  oldestAgeSeconds: count,
  pending: count,
  consumers: count,
  deadLetters: count,
});
const crsFollowerHealth = z.object({
  configured: z.boolean().meta({ description: "CRS_REDIS_URL is set" }),
  ok: z.boolean(),
  sources: z.array(
    z.object({
      source: z.string(),
      leader: z.string().nullable().meta({ description: "The follower holding the lease (host:pid), null when none does" }),
      startedAt: z.string(),
      lastReadAt: z.string().nullable(),
      lagSeconds: count.meta({ description: "Seconds since the last read of CRS's Redis" }),
      lastEventAt: z.string().nullable(),
      eventsRecorded: z.number().int(),
      gapsFilled: z.number().int().meta({ description: "Keys whose records could not cover a burst (> 200), filled from CRS's aggregates" }),
      gapRequests: z.number().int(),
      gapsPending: z.number().int(),
      errors: z.number().int(),
      consecutiveErrors: z.number().int().meta({ description: "Polls that failed in a row; from 3 on the source is failing and status is degraded" }),
      lastError: z.string().nullable(),
      lastErrorAt: z.string().nullable(),
      rejected: z.number().int().meta({ description: "Records and keys of CRS's Redis skipped (the follower went on past them)" }),
      rejectionsByReason: z.record(z.string(), z.number().int()),
      lastRejection: z.string().nullable().meta({ description: "The last one skipped: its Redis key, the reason and the value at fault" }),
      lastRejectionAt: z.string().nullable(),
    }),
  ),
});
const sourceHealth = z.object({
  source: z.string().meta({ description: "The source's name (crs; sub2api or SUB2API_SOURCE)" }),
  kind: z.string().meta({ description: "crs | sub2api" }),
  configured: z.boolean().meta({ description: "This process is configured to read it (CRS_REDIS_URL, SUB2API_DATABASE_URL)" }),
  ok: z.boolean().meta({ description: "Read recently by a leader (when configured here) and not failing" }),
  leader: z.string().nullable().meta({ description: "The process holding its lease (host:pid), null when none does" }),
  startedAt: z.string().nullable(),
  lastReadAt: z.string().nullable(),
  lagSeconds: count.meta({ description: "Seconds since the last read of the relay" }),
  lastEventAt: z.string().nullable(),
  rowsRead: z.number().int().meta({ description: "Rows (records) read from the relay since it first started" }),
  eventsRecorded: z.number().int(),
  errors: z.number().int(),
  consecutiveErrors: z.number().int(),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().nullable(),
  rejected: z.number().int().meta({ description: "Rows skipped (the source went on past them)" }),
  rejectionsByReason: z.record(z.string(), z.number().int()),
  lastRejection: z.string().nullable(),
  lastRejectionAt: z.string().nullable(),
  cursor: z.record(z.string(), z.unknown()).meta({ description: "Where it reads on from (sub2api: horizon, maxRead, openGaps)" }),
});
export const healthDoc = z
  .object({ status: z.enum(["ok", "degraded", "down"]), postgres: storeHealth, redis: storeHealth, outbox: outboxHealth, crsFollower: crsFollowerHealth, sources: z.array(sourceHealth), timezone: z.string() })
  .meta({ id: "Health", description: "503 when status is down" });

export const tokenInfoDoc = z
  .object({
    id: z.string(),
    name: z.string(),
    scope: z.enum(SCOPES),
    tokenPrefix: z.string().meta({ description: "The first characters, to recognise a token; not enough to use it" }),
    createdAt: isoInstant,
    lastUsedAt: isoInstant.nullable(),
  })
  .meta({ id: "ApiToken" });

export const createdTokenDoc = tokenInfoDoc.extend({ token: z.string().meta({ description: "Shown once, in this response only" }) });

export const meDoc = z.object({ kind: z.enum(["session", "token"]), name: z.string(), scopes: z.array(z.enum(SCOPES)) });
export const loginDoc = z.object({ username: z.string(), expiresAt: isoInstant });
export const signedOutDoc = z.object({ signedOut: z.literal(true) });
export const passwordChangedDoc = z.object({ changed: z.literal(true), signedOut: z.literal(true) });
export const revokedAllDoc = z.object({ revoked: z.int().meta({ description: "How many tokens were revoked" }) });
export const openApiDoc = z.record(z.string(), z.unknown()).meta({ description: "An OpenAPI 3.1 document" });

// Drift guards (type-level only): each interface must fit its documented shape exactly.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const guards: [
  Same<z.infer<typeof healthDoc>, Health>,
  Same<z.infer<typeof alertDeletedDoc>, Awaited<ReturnType<typeof removeRule>>>,
  Same<z.infer<typeof alertDeletedDoc>, Awaited<ReturnType<typeof removeBudget>>>,
] = [true, true, true];
void guards;
