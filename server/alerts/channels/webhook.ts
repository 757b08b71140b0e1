import { createHmac } from "node:crypto";
import type { WebhookBody } from "../channels.schemas";
import type { NotificationAlert, NotificationPayload } from "../notification";
import { composeMessage, JSON_HEADERS, plainText, snippet } from "./format";
import type { ChannelDriver } from "./types";

/**
 * The generic webhook: a JSON body (webhookBody in channels.schemas.ts, in the OpenAPI document)
 * signed like Stripe's and Slack's: HMAC-SHA256 keyed by the channel's secret over
 * `${timestamp}.${body}`, hex, in X-Usage-Alert-Signature as `v1=<hex>`, the timestamp (unix
 * seconds) in X-Usage-Alert-Timestamp so a receiver can refuse replays.
 */

export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`, "utf8").digest("hex")}`;
}

// The payload comes back from jsonb with its keys reordered: rebuild it in the documented order so
// that receivers (and their tests) see one stable body.
const ruleOf = (r: NotificationPayload["rule"]): NonNullable<WebhookBody["rule"]> => ({
  id: r.id,
  name: r.name,
  condition: r.condition,
  measure: r.measure,
  measureKind: r.measureKind,
  window: { kind: r.window.kind, size: r.window.size, from: r.window.from, to: r.window.to },
});

const alertOf = (a: NotificationAlert): WebhookBody["alerts"][number] => ({
  subjectKind: a.subjectKind,
  subjectId: a.subjectId,
  subjectName: a.subjectName,
  value: a.value,
  threshold: a.threshold,
  ...(a.budget && { budget: { name: a.budget.name, amount: a.budget.amount, usedPercent: a.budget.usedPercent, alertPercent: a.budget.alertPercent } }),
  ...(a.spike && { spike: { median: a.spike.median, factor: a.spike.factor, days: a.spike.days, minimum: a.spike.minimum } }),
  firingSince: a.firingSince,
  ...(a.resolvedAt !== undefined && { resolvedAt: a.resolvedAt }),
  consoleUrl: a.consoleUrl,
});

export const webhook: ChannelDriver<"webhook"> = {
  build(target, ctx) {
    const { payload } = ctx;
    const message = composeMessage(payload, ctx.language, ctx.channelName);
    const body: WebhookBody = {
      version: 1,
      id: ctx.notificationId,
      deliveryId: ctx.deliveryId,
      kind: payload.kind,
      at: payload.at,
      language: ctx.language,
      title: message.title,
      text: plainText(message, ctx.language),
      rule: payload.kind === "test" ? null : ruleOf(payload.rule),
      alerts: payload.alerts.map(alertOf),
      consoleUrl: payload.consoleUrl,
    };
    const text = JSON.stringify(body);
    const timestamp = String(Math.floor(ctx.now / 1000));
    return {
      url: target.url,
      headers: {
        ...JSON_HEADERS,
        "x-usage-alert-id": String(ctx.deliveryId),
        "x-usage-alert-timestamp": timestamp,
        "x-usage-alert-signature": webhookSignature(target.secret, timestamp, text),
      },
      body: text,
    };
  },
  judge(status, body) {
    return status >= 200 && status < 300 ? { ok: true } : { ok: false, error: `HTTP ${status}${body ? `: ${snippet(body)}` : ""}` };
  },
};
