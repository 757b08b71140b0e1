import type { ChannelKind, ChannelLanguage, NotificationPayload } from "../notification";

/**
 * What a channel kind needs to send (secrets decrypted), one variant per kind. The service keeps
 * the secret fields encrypted and the rest in alert_channels.settings (see channels.service.ts).
 */
export type ChannelTarget =
  | { kind: "webhook"; url: string; secret: string }
  | { kind: "feishu"; url: string; secret: string | null }
  | { kind: "dingtalk"; url: string; secret: string | null }
  | { kind: "wecom"; url: string }
  | { kind: "slack"; url: string }
  | { kind: "telegram"; botToken: string; chatId: string; apiBaseUrl: string };

export type TargetOf<K extends ChannelKind> = Extract<ChannelTarget, { kind: K }>;

export interface MessageContext {
  payload: NotificationPayload;
  language: ChannelLanguage;
  channelName: string;
  /** alert_notifications.id (the payload's own `id` is not relied on). */
  notificationId: number;
  /** alert_deliveries.id: the generic webhook sends it as X-Usage-Alert-Id. */
  deliveryId: number;
  /** Epoch ms of this attempt (signature timestamps). */
  now: number;
}

/** The exact request: the outbound client POSTs `body` to `url` with `headers`. */
export interface ChannelRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
}

export type Judgement = { ok: true } | { ok: false; error: string };

export interface ChannelDriver<K extends ChannelKind> {
  build(target: TargetOf<K>, ctx: MessageContext): ChannelRequest;
  /** Whether the receiver took the message, from its HTTP answer. */
  judge(status: number, body: string): Judgement;
}
