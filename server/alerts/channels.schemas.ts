import { z } from "zod";
import { CHANNEL_KINDS, CHANNEL_LANGUAGES, CONDITIONS, NOTIFICATION_KINDS, WINDOW_KINDS } from "./notification";

/**
 * Alert channels (where notifications go) and their deliveries: the inputs shared by REST
 * (/admin/alerts/channels…) and tRPC, the views they answer, and the generic webhook's JSON body
 * and headers as the OpenAPI document describes them. Secrets go in, never out.
 */

const TEXT_OK = (s: string) => !/[\u0000-\u001f\u007f]/.test(s);

const name = z
  .string({ error: "name must be a string" })
  .trim()
  .min(1, { error: "name must not be empty" })
  .max(100, { error: "name must be at most 100 characters" })
  .refine(TEXT_OK, { error: "name must not contain control characters" });
const language = z.enum(CHANNEL_LANGUAGES, { error: 'language must be "zh-CN" or "en"' });
const enabled = z.boolean({ error: "enabled must be true or false" });

/** An http(s) URL of at most 2000 characters, checked further by `check` (what the service expects of it). */
function httpUrl(field: string, check?: { test: (u: URL) => boolean; message: string }) {
  return z
    .string({ error: `${field} must be a URL` })
    .trim()
    .max(2000, { error: `${field} must be at most 2000 characters` })
    .superRefine((v, ctx) => {
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        ctx.addIssue({ code: "custom", message: `${field} must be a URL (https://…)` });
        return;
      }
      if (u.protocol !== "http:" && u.protocol !== "https:") ctx.addIssue({ code: "custom", message: `${field} must start with https:// or http://` });
      else if (u.username || u.password) ctx.addIssue({ code: "custom", message: `${field} must not carry a user name or password` });
      else if (check && !check.test(u)) ctx.addIssue({ code: "custom", message: check.message });
    });
}

const secretText = (field: string, max = 200) =>
  z
    .string({ error: `${field} must be a string` })
    .trim()
    .min(1, { error: `${field} must not be empty` })
    .max(max, { error: `${field} must be at most ${max} characters` })
    .refine(TEXT_OK, { error: `${field} must not contain control characters` });

const webhookUrl = httpUrl("url");
const webhookSecret = secretText("secret").refine((s) => s.length >= 16, { error: "secret must be at least 16 characters (leave it out to have one generated)" });
const feishuUrl = httpUrl("url", {
  test: (u) => /\/bot\/v2\/hook\/[^/]+$/.test(u.pathname),
  message: "url must be the Feishu / Lark bot webhook address (…/open-apis/bot/v2/hook/<id>)",
});
const dingtalkUrl = httpUrl("url", {
  test: (u) => !!u.searchParams.get("access_token"),
  message: "url must be the DingTalk robot webhook address with its access_token (…/robot/send?access_token=…)",
});
const dingtalkSecret = secretText("secret").refine((s) => s.startsWith("SEC"), { error: "secret must be the robot's signing secret (加签), which starts with SEC" });
const wecomUrl = httpUrl("url", {
  test: (u) => /\/cgi-bin\/webhook\/send$/.test(u.pathname) && !!u.searchParams.get("key"),
  message: "url must be the WeCom group robot webhook address (…/cgi-bin/webhook/send?key=…)",
});
const slackUrl = httpUrl("url");
const botToken = z
  .string({ error: "botToken must be a string" })
  .trim()
  .regex(/^\d{1,20}:[A-Za-z0-9_-]{20,100}$/, { error: "botToken must be a Telegram bot token as BotFather gives it (123456789:AA…)" });
const chatId = z
  .union([z.string(), z.number()], { error: "chatId must be a chat id (-1001234567890) or a channel's @username" })
  .transform((v) => String(v).trim())
  .pipe(z.string().regex(/^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,31})$/, { error: "chatId must be a chat id (-1001234567890) or a channel's @username" }));
const apiBaseUrl = httpUrl("apiBaseUrl", { test: (u) => !u.search && !u.hash, message: "apiBaseUrl must have no query or fragment" });
export const TELEGRAM_API = "https://api.telegram.org";

const common = { name, language: language.default("zh-CN"), enabled: enabled.default(true) };

export const createChannelInput = z.discriminatedUnion(
  "kind",
  [
    z.object({ kind: z.literal("webhook"), ...common, url: webhookUrl, secret: webhookSecret.optional() }).strict(),
    z.object({ kind: z.literal("feishu"), ...common, url: feishuUrl, secret: secretText("secret").optional() }).strict(),
    z.object({ kind: z.literal("dingtalk"), ...common, url: dingtalkUrl, secret: dingtalkSecret.optional() }).strict(),
    z.object({ kind: z.literal("wecom"), ...common, url: wecomUrl }).strict(),
    z.object({ kind: z.literal("slack"), ...common, url: slackUrl }).strict(),
    z.object({ kind: z.literal("telegram"), ...common, botToken, chatId, apiBaseUrl: apiBaseUrl.default(TELEGRAM_API) }).strict(),
  ],
  { error: `kind must be one of ${CHANNEL_KINDS.join(", ")}` },
);
export type CreateChannelInput = z.infer<typeof createChannelInput>;

const channelId = z.uuid({ error: "id must be a channel id (a UUID)" });
const updCommon = { name: name.optional(), language: language.optional(), enabled: enabled.optional() };

/**
 * Omitted fields keep their value, secrets included (they are never sent back to be re-sent).
 * `secret: null` removes a Feishu / DingTalk signing secret; a webhook's secret is replaced by
 * `secret` or by a new generated one with `regenerateSecret: true` (returned once).
 * `kind` says which fields apply; it cannot change. tRPC takes the id in the input, REST in the path.
 */
const updateVariants = <T extends z.ZodRawShape>(id: T) =>
  z.discriminatedUnion(
    "kind",
    [
      z.object({ kind: z.literal("webhook"), ...id, ...updCommon, url: webhookUrl.optional(), secret: webhookSecret.optional(), regenerateSecret: z.boolean().optional() }).strict(),
      z.object({ kind: z.literal("feishu"), ...id, ...updCommon, url: feishuUrl.optional(), secret: secretText("secret").nullable().optional() }).strict(),
      z.object({ kind: z.literal("dingtalk"), ...id, ...updCommon, url: dingtalkUrl.optional(), secret: dingtalkSecret.nullable().optional() }).strict(),
      z.object({ kind: z.literal("wecom"), ...id, ...updCommon, url: wecomUrl.optional() }).strict(),
      z.object({ kind: z.literal("slack"), ...id, ...updCommon, url: slackUrl.optional() }).strict(),
      z.object({ kind: z.literal("telegram"), ...id, ...updCommon, botToken: botToken.optional(), chatId: chatId.optional(), apiBaseUrl: apiBaseUrl.optional() }).strict(),
    ],
    { error: `kind must be one of ${CHANNEL_KINDS.join(", ")}` },
  );
export const updateChannelInput = updateVariants({ id: channelId });
export const updateChannelBody = updateVariants({});
export type UpdateChannelInput = z.infer<typeof updateChannelInput>;

export const channelIdInput = z.object({ id: channelId }).strict();
export type ChannelIdInput = z.infer<typeof channelIdInput>;

const isoInstant = z.string().meta({ format: "date-time" });

/** What is kept in alert_channels.settings and shown again. */
export const channelSettings = z
  .object({
    signed: z.boolean().optional().meta({ description: "Webhook, Feishu, DingTalk: requests are signed with a secret" }),
    chatId: z.string().optional().meta({ description: "Telegram: the chat the bot writes to" }),
    apiBaseUrl: z.string().optional().meta({ description: "Telegram: the Bot API base URL (a relay in front of api.telegram.org, or the default)" }),
  })
  .strict();
export type ChannelSettings = z.infer<typeof channelSettings>;

export const channelView = z.object({
  id: z.uuid(),
  name: z.string(),
  kind: z.enum(CHANNEL_KINDS),
  language: z.enum(CHANNEL_LANGUAGES),
  enabled: z.boolean(),
  settings: channelSettings,
  targetHint: z.string().meta({ description: "Scheme, host and the last 4 characters of the secret part of the target (https://oapi.dingtalk.com/…3f9a); never the secret" }),
  createdAt: isoInstant,
  updatedAt: isoInstant,
});
export type ChannelView = z.infer<typeof channelView>;

export const channelWithSecret = z.object({
  channel: channelView,
  generatedSecret: z
    .string()
    .nullable()
    .meta({ description: "Generic webhook: the signing secret generated for it, shown this once and never again; null otherwise" }),
});
export type ChannelWithSecret = z.infer<typeof channelWithSecret>;

export const testMessageResult = z.object({
  ok: z.boolean(),
  httpStatus: z.int().nullable().meta({ description: "The receiver's HTTP status, null when no answer came (refused, timed out, unreachable)" }),
  error: z.string().nullable(),
  durationMs: z.int(),
  deliveryId: z.int().meta({ description: "The delivery recorded for it (listed with the others)" }),
});
export type TestMessageResult = z.infer<typeof testMessageResult>;

export const listDeliveriesInput = z
  .object({
    notificationId: z.coerce.number({ error: "notificationId must be a number" }).int().positive().optional(),
    channelId: channelId.optional(),
    status: z.enum(["pending", "sending", "sent", "failed"], { error: "status must be pending, sending, sent or failed" }).optional(),
    /** Keyset cursor: deliveries with a smaller id (the previous page's nextCursor). */
    before: z.coerce.number({ error: "before must be a number" }).int().positive().optional(),
    limit: z.coerce.number({ error: "limit must be a number" }).int().min(1, { error: "limit must be at least 1" }).max(100, { error: "limit must be at most 100" }).default(50),
  })
  .strict();
export type ListDeliveriesInput = z.infer<typeof listDeliveriesInput>;

export const deliveryAttemptView = z.object({
  attempt: z.int(),
  at: isoInstant,
  durationMs: z.int(),
  httpStatus: z.int().nullable(),
  ok: z.boolean(),
  error: z.string().nullable(),
});

export const deliveryView = z.object({
  id: z.int(),
  notificationId: z.int(),
  notificationKind: z.enum(NOTIFICATION_KINDS),
  ruleId: z.uuid().nullable(),
  channelId: z.uuid().nullable().meta({ description: "null once the channel is deleted (channelName stays)" }),
  channelName: z.string(),
  channelKind: z.enum(CHANNEL_KINDS).nullable(),
  status: z.enum(["pending", "sending", "sent", "failed"]),
  attempts: z.int(),
  nextAttemptAt: isoInstant.nullable().meta({ description: "When the next attempt is due (pending only)" }),
  lastError: z.string().nullable(),
  sentAt: isoInstant.nullable(),
  createdAt: isoInstant,
  attemptLog: z.array(deliveryAttemptView),
});
export type DeliveryView = z.infer<typeof deliveryView>;

export const deliveryPage = z.object({
  items: z.array(deliveryView),
  nextCursor: z.int().nullable().meta({ description: "Pass as `before` for the next page; null on the last page" }),
});
export type DeliveryPage = z.infer<typeof deliveryPage>;

const decimal = (description: string) => z.string().meta({ description: `${description}; an exact decimal string` });

const webhookAlert = z.object({
  subjectKind: z.enum(["all", "account", "api_key", "model", "platform"]),
  subjectId: z.string().meta({ description: 'The account\'s / key\'s id, the model or platform; "" for everything' }),
  subjectName: z.string(),
  value: decimal("The measure's value in the window (USD for money measures)"),
  threshold: decimal("What the condition compares the value with"),
  budget: z.object({ name: z.string(), amount: z.string(), usedPercent: z.string(), alertPercent: z.string() }).optional(),
  spike: z.object({ median: z.string(), factor: z.string(), days: z.int(), minimum: z.string() }).optional(),
  firingSince: isoInstant,
  resolvedAt: isoInstant.optional(),
  consoleUrl: z.string().nullable().meta({ description: "The console at this subject and window (null without PUBLIC_URL)" }),
});

/** The generic webhook's JSON body (built in server/alerts/channels/webhook.ts). */
export const webhookBody = z
  .object({
    version: z.literal(1),
    id: z.int().meta({ description: "The notification's id: the same for every channel and every retry (deduplicate on it)" }),
    deliveryId: z.int().meta({ description: "This delivery's id (also in X-Usage-Alert-Id)" }),
    kind: z.enum(NOTIFICATION_KINDS),
    at: isoInstant,
    language: z.enum(CHANNEL_LANGUAGES),
    title: z.string().meta({ description: "A one-line summary in the channel's language" }),
    text: z.string().meta({ description: "The whole message as plain text in the channel's language" }),
    rule: z
      .object({
        id: z.uuid(),
        name: z.string(),
        condition: z.enum(CONDITIONS),
        measure: z.string(),
        measureKind: z.enum(["count", "money"]),
        window: z.object({ kind: z.enum(WINDOW_KINDS), size: z.int().nullable(), from: isoInstant, to: isoInstant }),
      })
      .nullable()
      .meta({ description: "null for a test message" }),
    alerts: z.array(webhookAlert).meta({ description: "The transitions of the rule in this evaluation (empty for a test message)" }),
    consoleUrl: z.string().nullable(),
  })
  .meta({
    id: "AlertWebhookBody",
    description:
      "POSTed to a generic webhook channel as application/json. Verify it: HMAC-SHA256, keyed by the channel's secret, over `${X-Usage-Alert-Timestamp}.${raw body}`, in lower-case hex, must equal X-Usage-Alert-Signature after its `v1=`; reject timestamps more than 5 minutes old. Answer any 2xx; anything else (or no answer within ALERT_DELIVERY_TIMEOUT_MS) is retried with backoff.",
  });
export type WebhookBody = z.infer<typeof webhookBody>;

export const webhookHeaders = z
  .object({
    "content-type": z.literal("application/json; charset=utf-8"),
    "user-agent": z.string().meta({ description: "account-usage-breakdown-alerts/1" }),
    "x-usage-alert-id": z.string().meta({ description: "The delivery's id (the same on every retry of it)" }),
    "x-usage-alert-timestamp": z.string().meta({ description: "Unix time in seconds when this attempt was signed" }),
    "x-usage-alert-signature": z.string().meta({ description: "v1=<hex HMAC-SHA256 of `${timestamp}.${body}` keyed by the channel's secret>" }),
  })
  .meta({ id: "AlertWebhookHeaders" });
