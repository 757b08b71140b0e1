import { randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { Database } from "../../db/types";
import { AppError } from "../errors";
import type { Runtime } from "../runtime";
import * as repo from "./channels.repository";
import type { ChannelView, ChannelWithSecret, CreateChannelInput, TestMessageResult, UpdateChannelInput } from "./channels.schemas";
import { openTarget, storeTarget } from "./channels/stored";
import type { ChannelTarget } from "./channels/types";
import { sendTestDelivery, type DeliveryOptions } from "./delivery.service";
import { encryptSecrets, secretsKey, SecretsError } from "./secrets";

/**
 * Alert channels: created, changed and deleted by the admin (console and API), their secrets
 * encrypted at rest and never returned — except a generic webhook's generated signing secret,
 * returned once by the call that made it.
 */

function dbOf(runtime: Runtime): Kysely<Database> {
  if (!runtime.db) throw new AppError("UNAVAILABLE", "Alerts need PostgreSQL (POSTGRES_ENABLED=false)", { retryAfterSeconds: 5 });
  return runtime.db.db;
}

export function channelView(row: repo.ChannelRow): ChannelView {
  const s = row.settings;
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    language: row.language,
    enabled: row.enabled,
    settings: {
      ...(typeof s.signed === "boolean" && { signed: s.signed }),
      ...(typeof s.chatId === "string" && { chatId: s.chatId }),
      ...(typeof s.apiBaseUrl === "string" && { apiBaseUrl: s.apiBaseUrl }),
    },
    targetHint: row.target_hint,
    createdAt: row.created_at.toISOString(),
    updatedAt: row.updated_at.toISOString(),
  };
}

/** A webhook signing secret: 32 random bytes, recognisable by its prefix. */
const newWebhookSecret = () => `whsec_${randomBytes(32).toString("base64url")}`;

function sealed(key: Buffer, id: string, target: ChannelTarget) {
  const stored = storeTarget(target);
  return { settings: stored.settings, targetHint: stored.targetHint, secretCiphertext: encryptSecrets(key, JSON.stringify(stored.secrets), id) };
}

function targetOfInput(input: CreateChannelInput, generated: string | null): ChannelTarget {
  switch (input.kind) {
    case "webhook":
      return { kind: "webhook", url: input.url, secret: input.secret ?? generated! };
    case "feishu":
    case "dingtalk":
      return { kind: input.kind, url: input.url, secret: input.secret ?? null };
    case "wecom":
    case "slack":
      return { kind: input.kind, url: input.url };
    case "telegram":
      return { kind: "telegram", botToken: input.botToken, chatId: input.chatId, apiBaseUrl: input.apiBaseUrl };
  }
}

/** Creates a channel. A webhook without a secret gets one, returned here as generatedSecret and never again. */
export async function createChannel(runtime: Runtime, input: CreateChannelInput): Promise<ChannelWithSecret> {
  const db = dbOf(runtime);
  const generated = input.kind === "webhook" && !input.secret ? newWebhookSecret() : null;
  const id = randomUUID();
  const s = sealed(await secretsKey(db, runtime.config.alertSecretsKey), id, targetOfInput(input, generated));
  const row = await repo.insertChannel(db, { id, name: input.name, kind: input.kind, language: input.language, enabled: input.enabled, ...s });
  return { channel: channelView(row), generatedSecret: generated };
}

/** The target after an update: the fields given replace the stored ones, the others stay. */
function mergeTarget(current: ChannelTarget, input: UpdateChannelInput, generated: string | null): ChannelTarget {
  switch (input.kind) {
    case "webhook": {
      const c = current as Extract<ChannelTarget, { kind: "webhook" }>;
      return { kind: "webhook", url: input.url ?? c.url, secret: generated ?? input.secret ?? c.secret };
    }
    case "feishu":
    case "dingtalk": {
      const c = current as Extract<ChannelTarget, { kind: "feishu" | "dingtalk" }>;
      return { kind: input.kind, url: input.url ?? c.url, secret: input.secret === undefined ? c.secret : input.secret };
    }
    case "wecom":
    case "slack": {
      const c = current as Extract<ChannelTarget, { kind: "wecom" | "slack" }>;
      return { kind: input.kind, url: input.url ?? c.url };
    }
    case "telegram": {
      const c = current as Extract<ChannelTarget, { kind: "telegram" }>;
      return { kind: "telegram", botToken: input.botToken ?? c.botToken, chatId: input.chatId ?? c.chatId, apiBaseUrl: input.apiBaseUrl ?? c.apiBaseUrl };
    }
  }
}

const touchesTarget = (input: UpdateChannelInput) =>
  Object.keys(input).some((k) => !["id", "kind", "name", "language", "enabled"].includes(k));

/**
 * Changes a channel: omitted fields (secrets included) keep their value. `kind` must be the
 * channel's. A webhook with `regenerateSecret: true` gets a new secret, returned once.
 */
export async function updateChannel(runtime: Runtime, input: UpdateChannelInput): Promise<ChannelWithSecret> {
  const db = dbOf(runtime);
  const key = await secretsKey(db, runtime.config.alertSecretsKey);
  return db.transaction().execute(async (tx) => {
    const row = await repo.findChannel(tx, input.id, { forUpdate: true });
    if (!row) throw new AppError("NOT_FOUND", `No alert channel ${input.id}`);
    if (row.kind !== input.kind) throw new AppError("BAD_REQUEST", `kind cannot change: channel ${input.id} is a ${row.kind} channel, not ${input.kind}`);
    const generated = input.kind === "webhook" && input.regenerateSecret ? newWebhookSecret() : null;
    let sealedTarget = {};
    if (touchesTarget(input)) {
      let current: ChannelTarget;
      try {
        current = openTarget(key, row.id, row);
      } catch (err) {
        if (err instanceof SecretsError) throw new AppError("CONFLICT", `${err.message}; delete the channel and create it again`);
        throw err;
      }
      sealedTarget = sealed(key, row.id, mergeTarget(current, input, generated));
    }
    const updated = await repo.updateChannel(tx, row.id, { name: input.name, language: input.language, enabled: input.enabled, ...sealedTarget });
    return { channel: channelView(updated!), generatedSecret: generated };
  });
}

/**
 * Deletes a channel and takes it out of every rule that names it, in one transaction. Its past
 * deliveries stay (channel_id becomes null, channel_name tells which it was); the ones still
 * pending give up ("the channel was deleted").
 */
export async function deleteChannel(runtime: Runtime, id: string): Promise<{ rulesUpdated: number }> {
  const db = dbOf(runtime);
  return db.transaction().execute(async (tx) => {
    const rulesUpdated = await repo.removeChannelFromRules(tx, id);
    if (!(await repo.deleteChannel(tx, id))) throw new AppError("NOT_FOUND", `No alert channel ${id}`);
    return { rulesUpdated };
  });
}

export async function listChannels(runtime: Runtime): Promise<ChannelView[]> {
  return (await repo.listChannels(dbOf(runtime))).map(channelView);
}

export async function getChannel(runtime: Runtime, id: string): Promise<ChannelView> {
  const row = await repo.findChannel(dbOf(runtime), id);
  if (!row) throw new AppError("NOT_FOUND", `No alert channel ${id}`);
  return channelView(row);
}

/** Channels by id (for the evaluator: the names to enqueue with, which are enabled). */
export async function channelsByIds(runtime: Runtime, ids: readonly string[]): Promise<ChannelView[]> {
  return (await repo.findChannelsByIds(dbOf(runtime), ids)).map(channelView);
}

/**
 * Sends "this is a test message from <channel>" now, in one attempt (a disabled channel too: the
 * admin asked), recorded as a 'test' notification with one delivery. Resolves with the outcome,
 * failures included; throws NOT_FOUND for an unknown channel.
 */
export async function sendTestMessage(runtime: Runtime, channelId: string, opts: Pick<DeliveryOptions, "clock" | "resolve"> = {}): Promise<TestMessageResult> {
  const row = await repo.findChannel(dbOf(runtime), channelId);
  if (!row) throw new AppError("NOT_FOUND", `No alert channel ${channelId}`);
  return sendTestDelivery(runtime, row, opts);
}
