import type { Kysely } from "kysely";
import type { Database } from "../../../db/types";
import type { ChannelSettings } from "../channels.schemas";
import type { ChannelRow } from "../channels.repository";
import { decryptSecrets, secretsKey } from "../secrets";
import type { ChannelTarget } from "./types";

/**
 * How a channel's target is stored: the secret fields as one encrypted JSON object, the rest in
 * `settings` (shown again), and a hint of the target that names no secret.
 */

export interface StoredTarget {
  secrets: Record<string, string | null>;
  settings: ChannelSettings;
  targetHint: string;
}

/** "https://oapi.dingtalk.com/…9f3a": the last 4 characters of what follows the host, when that is long enough to spare them. */
export function hintOf(url: string, secretPart?: string): string {
  const u = new URL(url);
  const rest = secretPart ?? `${u.pathname}${u.search}`.replace(/^\//, "");
  const origin = `${u.protocol}//${u.host}/`;
  if (rest.length === 0) return origin;
  return rest.length >= 12 ? `${origin}…${rest.slice(-4)}` : `${origin}…`;
}

export function storeTarget(t: ChannelTarget): StoredTarget {
  switch (t.kind) {
    case "webhook":
      return { secrets: { url: t.url, secret: t.secret }, settings: { signed: true }, targetHint: hintOf(t.url) };
    case "feishu":
    case "dingtalk":
      return { secrets: { url: t.url, secret: t.secret }, settings: { signed: t.secret !== null }, targetHint: hintOf(t.url) };
    case "wecom":
    case "slack":
      return { secrets: { url: t.url }, settings: {}, targetHint: hintOf(t.url) };
    case "telegram":
      return { secrets: { botToken: t.botToken }, settings: { chatId: t.chatId, apiBaseUrl: t.apiBaseUrl }, targetHint: `${hintOf(t.apiBaseUrl, `bot${t.botToken}`)} → ${t.chatId}` };
  }
}

/** The target of a stored channel: its settings and its decrypted secrets. Throws SecretsError. */
export function targetOf(kind: ChannelRow["kind"], settings: Record<string, unknown>, secretsJson: string): ChannelTarget {
  const s = JSON.parse(secretsJson) as Record<string, string | null>;
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  switch (kind) {
    case "webhook":
      return { kind, url: str(s.url), secret: str(s.secret) };
    case "feishu":
    case "dingtalk":
      return { kind, url: str(s.url), secret: s.secret ? s.secret : null };
    case "wecom":
    case "slack":
      return { kind, url: str(s.url) };
    case "telegram":
      return { kind, botToken: str(s.botToken), chatId: str(settings.chatId), apiBaseUrl: str(settings.apiBaseUrl) };
  }
}

type StoredRow = Pick<ChannelRow, "kind" | "settings" | "secret_ciphertext">;

/** Decrypts a stored channel's target with `key`. Throws SecretsError. */
export function openTarget(key: Buffer, channelId: string, row: StoredRow): ChannelTarget {
  return targetOf(row.kind, row.settings, decryptSecrets(key, row.secret_ciphertext, channelId));
}

/** Decrypts a stored channel's target with the key of this database. */
export async function loadTarget(db: Kysely<Database>, configuredKey: Buffer | undefined, channelId: string, row: StoredRow): Promise<ChannelTarget> {
  return openTarget(await secretsKey(db, configuredKey), channelId, row);
}
