import type { UpsertAccountInput } from "../../accounts/schemas";
import { MAX_RELAY_ID_LENGTH } from "../../ids";
import { isStorableText } from "../../text";
import type { UsageEvent } from "../../usage/schemas";
import type { SourceApiKey } from "../shared/sink";
import type { AccountRow, KeyRow, LogRow } from "./reader";

/**
 * sub2api's rows → the ledger's events, accounts and keys. Ids are the source's name and
 * sub2api's own BIGSERIAL ids, so import, follow and re-import give the same ids (never counted
 * twice) and two sub2api databases never collide:
 *   event      `<source>-<usage_logs.id>`
 *   account    `<source>-<accounts.id>`, or the CRS account id of an account sub2api synced from
 *              CRS (`extra.crs_account_id`): the account that holds its CRS history
 *   API key    `<source>-key-<api_keys.id>` (sub2api's keys are new keys: never CRS's)
 */

export const accountIdOf = (source: string, id: string) => `${source}-${id}`;
export const apiKeyIdOf = (source: string, id: string) => `${source}-key-${id}`;
export const requestIdOf = (source: string, id: string) => `${source}-${id}`;
/** Where a row came from, in rejections and reports. */
export const rowKey = (table: string, id: string) => `${table}#${id}`;

export interface Unmapped {
  reason: string;
  detail?: string;
}
export const isUnmapped = (x: unknown): x is Unmapped => typeof x === "object" && x !== null && "reason" in x;

/** A CRS account id as sub2api keeps it (the bare id CRS uses in its Redis keys), when the ledger can hold it. */
export function crsAccountIdOf(a: Pick<AccountRow, "crs_account_id">): string | undefined {
  const id = a.crs_account_id?.trim();
  return id && id.length <= MAX_RELAY_ID_LENGTH && isStorableText(id) ? id : undefined;
}

const text = (v: string | null | undefined, max: number) => {
  const t = v ? v.replace(/\u0000/g, "").replace(/\p{Cs}/gu, "\uFFFD").slice(0, max) : "";
  return t || undefined;
};
const slug = (v: string | null | undefined, fallback: string) => {
  const s = (v ?? "").toLowerCase().replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "").slice(0, 32);
  return s || fallback;
};

/**
 * A sub2api account → the ledger's upsert. `linked`: the account was synced from CRS and lands on
 * the CRS account; `keepPlatform`: the ledger has it from CRS already, whose platform and type
 * stay (the console's filters keep working across the migration). Name and status follow
 * sub2api, which serves it now.
 */
export function mapAccount(source: string, a: AccountRow, ledgerId: string, link: { linked: boolean; keepPlatform: boolean }): UpsertAccountInput {
  const linked = link.linked;
  const metadata: Record<string, unknown> = { source, sub2apiId: a.id, sub2apiPlatform: text(a.platform, 64), sub2apiType: text(a.type, 64) };
  if (linked) {
    metadata.crsAccountId = ledgerId;
    if (a.crs_kind) metadata.crsKind = text(a.crs_kind, 64);
  }
  const priority = a.priority !== null && Number.isSafeInteger(a.priority) && a.priority >= 0 ? Math.min(a.priority, 1_000_000) : undefined;
  return {
    id: ledgerId,
    name: text(a.name, 200) ?? ledgerId,
    ...(link.keepPlatform ? {} : { platform: slug(a.platform, "unknown"), type: slug(a.type, "shared") }),
    status: a.deleted_at ? "deleted" : slug(a.status, "active"),
    ...(priority !== undefined ? { priority } : {}),
    metadata,
  };
}

/** A sub2api key → the ledger's: its name, owner and group, never the key (sub2api keeps it in plain text). */
export function mapApiKey(source: string, k: KeyRow): SourceApiKey {
  const metadata: Record<string, unknown> = { source, sub2apiId: k.id, userId: k.user_id };
  const user = text(k.user_name, 100) ?? text(k.user_email, 255);
  if (user) metadata.user = user;
  if (k.user_email) metadata.userEmail = text(k.user_email, 255);
  if (k.group_id) metadata.groupId = k.group_id;
  if (k.group_name) metadata.group = text(k.group_name, 100);
  if (k.created_at) metadata.createdAt = new Date(k.created_at).toISOString();
  if (k.deleted_at) metadata.deletedAt = new Date(k.deleted_at).toISOString();
  const id = apiKeyIdOf(source, k.id);
  return {
    input: { id, name: text(k.name, 200) ?? id, accountId: null, status: k.deleted_at ? "deleted" : slug(k.status, "active"), metadata },
    deleted: k.deleted_at !== null,
    key: rowKey("api_keys", k.id),
  };
}

const count = (v: number | null | undefined) => (v === null || v === undefined ? 0 : v);

/** One usage_logs row → one event of the ledger (its checks are the ledger's: recordUsage refuses what it cannot take). */
export function mapLog(source: string, r: LogRow, accountOf: (sub2apiAccountId: string) => string): UsageEvent | Unmapped {
  const model = text(r.model, 128);
  if (!model) return { reason: "a row without a model", detail: rowKey("usage_logs", r.id) };
  const metadata: Record<string, unknown> = { source, sub2apiId: r.id, userId: r.user_id, listCost: r.list_cost };
  const reqId = text(r.request_id, 128);
  if (reqId) metadata.sub2apiRequestId = reqId;
  if (r.rate_multiplier !== null) metadata.rateMultiplier = r.rate_multiplier;
  if (r.account_rate_multiplier !== null) metadata.accountRateMultiplier = r.account_rate_multiplier;
  if (r.stream !== null) metadata.stream = r.stream;
  if (r.duration_ms !== null) metadata.durationMs = r.duration_ms;
  if (r.billing_mode) metadata.billingMode = text(r.billing_mode, 32);
  if (r.channel_id) metadata.channelId = r.channel_id;
  if (r.image_output_tokens) metadata.imageOutputTokens = r.image_output_tokens;
  if (r.group_id) metadata.groupId = r.group_id;
  return {
    requestId: requestIdOf(source, r.id),
    occurredAt: new Date(r.created_at).toISOString(),
    accountId: accountOf(r.account_id),
    apiKeyId: apiKeyIdOf(source, r.api_key_id),
    model,
    requests: 1,
    inputTokens: count(r.input_tokens),
    outputTokens: count(r.output_tokens),
    cacheCreateTokens: count(r.cache_creation_tokens),
    cacheReadTokens: count(r.cache_read_tokens),
    ephemeral5mTokens: count(r.cache_creation_5m_tokens),
    ephemeral1hTokens: count(r.cache_creation_1h_tokens),
    cost: r.real_cost,
    ratedCost: r.rated_cost,
    metadata,
  } as UsageEvent;
}
