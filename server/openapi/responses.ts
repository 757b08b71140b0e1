import { z } from "zod";
import type { AccountView, ApiKeyView } from "../accounts/schemas";
import type { Health } from "../health/health.service";
import { SCOPES } from "../auth/scopes";

/**
 * Response shapes of the routes whose modules type their outputs with TypeScript interfaces rather
 * than zod schemas, written here for the OpenAPI document only. The assertions at the bottom fail
 * the type check when an interface gains, loses or retypes a field, so the document cannot drift.
 */

const isoInstant = z.string().meta({ format: "date-time" });

export const accountViewDoc = z
  .object({
    id: z.string(),
    name: z.string(),
    platform: z.string(),
    type: z.string(),
    status: z.string(),
    priority: z.number().int(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: isoInstant,
    updatedAt: isoInstant,
    deletedAt: isoInstant.nullable(),
  })
  .meta({ id: "Account" });

export const apiKeyViewDoc = z
  .object({
    id: z.string(),
    name: z.string(),
    accountId: z.string().nullable(),
    status: z.string(),
    hasHashedKey: z.boolean().meta({ description: "The key's hash is never returned" }),
    dailyCostLimit: z.string().nullable().meta({ description: "USD as a decimal string" }),
    totalCostLimit: z.string().nullable(),
    totalCostAccumulated: z.string(),
    lastUsedAt: isoInstant.nullable(),
    metadata: z.record(z.string(), z.unknown()),
    createdAt: isoInstant,
    updatedAt: isoInstant,
    deletedAt: isoInstant.nullable(),
  })
  .meta({ id: "ApiKey" });

export const pageDoc = z.object({
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
});

export const deletedDoc = z.object({ id: z.string(), deletedAt: isoInstant });

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
      lastError: z.string().nullable(),
      lastErrorAt: z.string().nullable(),
    }),
  ),
});
export const healthDoc = z
  .object({ status: z.enum(["ok", "degraded", "down"]), postgres: storeHealth, redis: storeHealth, outbox: outboxHealth, crsFollower: crsFollowerHealth, timezone: z.string() })
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

// Drift guards (type-level only): each interface must fit its documented shape exactly.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const guards: [Same<z.infer<typeof accountViewDoc>, AccountView>, Same<z.infer<typeof apiKeyViewDoc>, ApiKeyView>, Same<z.infer<typeof healthDoc>, Health>] = [true, true, true];
void guards;
