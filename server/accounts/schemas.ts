import { z } from "zod";
import { accountId, apiKeyId, relayId } from "../ids";
import { parseCostUsd, smallJsonObject, storableText } from "../usage/schemas";

/**
 * Account and API key metadata sent by the relay (upserts, soft deletes) and the paged lists.
 * Shared by REST (/admin/accounts, /admin/api-keys), tRPC (accounts.*, apiKeys.*) and OpenAPI.
 */

const slug = (what: string) =>
  z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,31}$/, { error: `must be a ${what}: 1-32 lowercase letters, digits, '.', '_' or '-'` });

const costLimit = z
  .union([z.string(), z.number()], { error: "must be a decimal string or a number of USD, or null" })
  .superRefine((v, ctx) => {
    const r = parseCostUsd(v);
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.message });
  })
  .transform((v) => {
    const r = parseCostUsd(v);
    return r.ok ? r.text : String(v);
  })
  .nullable();

/** Omitted fields keep their value (or get the default when the row is created). */
export const accountFields = z
  .object({
    name: storableText(200).optional(),
    platform: slug("platform name").optional(),
    type: slug("account type").optional(),
    status: slug("status").optional(),
    priority: z.int({ error: "must be an integer" }).min(0).max(1_000_000).optional(),
    metadata: smallJsonObject,
  })
  .strict();

export const upsertAccountInput = accountFields.extend({ id: accountId }).strict();
export type UpsertAccountInput = z.infer<typeof upsertAccountInput>;

/** A hash of the key, never the key: a hex digest or a PHC / crypt string ("$argon2id$…"). */
const hashedKey = z
  .string()
  .regex(/^(?:[0-9a-fA-F]{32,128}|\$[A-Za-z0-9$./+=,_-]{15,255})$/, {
    error: "must be a hash of the key (32-128 hex characters, or a PHC/crypt string starting with $), never the key itself",
  });

export const apiKeyFields = z
  .object({
    name: storableText(200).optional(),
    accountId: accountId.nullable().optional(),
    status: slug("status").optional(),
    hashedKey: hashedKey.nullable().optional(),
    dailyCostLimit: costLimit.optional(),
    totalCostLimit: costLimit.optional(),
    metadata: smallJsonObject,
  })
  .strict();

export const upsertApiKeyInput = apiKeyFields.extend({ id: apiKeyId }).strict();
export type UpsertApiKeyInput = z.infer<typeof upsertApiKeyInput>;

export const deleteByIdInput = z.object({ id: relayId }).strict();
export type DeleteByIdInput = z.infer<typeof deleteByIdInput>;

/** Query strings arrive as text, tRPC sends JSON: accept both. */
const queryBool = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0"])], { error: "must be true or false" })
  .transform((v) => v === true || v === "true" || v === "1");
const page = z.coerce.number({ error: "must be a number" }).int({ error: "must be an integer" }).min(1, { error: "must be at least 1" }).max(100_000).default(1);
const pageSize = z.coerce.number({ error: "must be a number" }).int({ error: "must be an integer" }).min(1, { error: "must be at least 1" }).max(200, { error: "must be at most 200" }).default(50);
const search = z.string().trim().max(200).refine((s) => !s.includes("\u0000"), { error: "must not contain NUL bytes" }).optional();

export const listAccountsInput = z
  .object({
    search,
    platform: slug("platform name").optional(),
    status: slug("status").optional(),
    includeDeleted: queryBool.default(false),
    sort: z.enum(["name", "priority", "createdAt", "updatedAt"]).default("name").meta({
      description: "Names sort case-insensitively by code point. With POSTGRES_ENABLED=false only name and priority (400 otherwise)",
    }),
    order: z.enum(["asc", "desc"]).default("asc"),
    page,
    pageSize,
  })
  .strict();
export type ListAccountsInput = z.infer<typeof listAccountsInput>;

export const listApiKeysInput = z
  .object({
    search,
    accountId: accountId.optional(),
    status: slug("status").optional(),
    includeDeleted: queryBool.default(false),
    sort: z.enum(["name", "createdAt", "updatedAt", "lastUsedAt", "totalCost"]).default("name").meta({
      description: "Names sort case-insensitively by code point. With POSTGRES_ENABLED=false only name (400 otherwise)",
    }),
    order: z.enum(["asc", "desc"]).default("asc"),
    page,
    pageSize,
  })
  .strict();
export type ListApiKeysInput = z.infer<typeof listApiKeysInput>;

// What the routes answer: the TypeScript types are inferred from these; the metas are for OpenAPI.
const isoInstant = z.string().meta({ format: "date-time" });

export const pagination = z.object({
  page: z.number().int(),
  pageSize: z.number().int(),
  total: z.number().int(),
  totalPages: z.number().int(),
});
export type Pagination = z.infer<typeof pagination>;

export const accountView = z.object({
  id: z.string(),
  name: z.string(),
  platform: z.string(),
  type: z.string(),
  status: z.string(),
  priority: z.number().int(),
  metadata: z.record(z.string(), z.unknown()),
  sources: z.array(z.string()).meta({ description: "The relays that fed this account (crs, sub2api …); empty: the REST API alone" }),
  createdAt: isoInstant,
  updatedAt: isoInstant,
  deletedAt: isoInstant.nullable(),
});
export type AccountView = z.infer<typeof accountView>;

/** What lists and upserts return about a key: never the hash itself. */
export const apiKeyView = z.object({
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
  source: z.string().nullable().meta({ description: "The relay this key came from (crs, sub2api …); null: the REST API" }),
  createdAt: isoInstant,
  updatedAt: isoInstant,
  deletedAt: isoInstant.nullable(),
});
export type ApiKeyView = z.infer<typeof apiKeyView>;
