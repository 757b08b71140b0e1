/**
 * What the evaluator hands to the channels: a notification's figures, independent of language and
 * channel (stored as alert_notifications.payload). Each channel formats it in its own message
 * format and its language (server/alerts/channels/). Figures are exact decimal strings in the
 * measure's unit: USD for money measures, a count otherwise.
 */

export const CHANNEL_KINDS = ["webhook", "feishu", "dingtalk", "wecom", "slack", "telegram"] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];
export const CHANNEL_LANGUAGES = ["zh-CN", "en"] as const;
export type ChannelLanguage = (typeof CHANNEL_LANGUAGES)[number];

export const SUBJECT_KINDS = ["all", "account", "api_key", "model", "platform", "each_account", "each_api_key"] as const;
export type SubjectKind = (typeof SUBJECT_KINDS)[number];
export const WINDOW_KINDS = ["today", "month", "hours", "days"] as const;
export type WindowKind = (typeof WINDOW_KINDS)[number];
export const CONDITIONS = ["above", "budget", "spike"] as const;
export type Condition = (typeof CONDITIONS)[number];
export const NOTIFICATION_KINDS = ["firing", "repeat", "resolved", "test"] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export interface NotificationAlert {
  /** account, api_key, model, platform or all (an "each" rule names the account / key it fired for). */
  subjectKind: "all" | "account" | "api_key" | "model" | "platform";
  /** The account's / key's id, the model's or platform's name; "" for everything. */
  subjectId: string;
  /** What the console shows: the account's / key's name, the model, the platform; "全部" / "everything" is the channel's to say. */
  subjectName: string;
  /** The measure's value in the window, exact decimal (USD for money). */
  value: string;
  /** The value the condition compares with (the amount; the budget's share; k × the median). */
  threshold: string;
  /** Budget rules: the budget, its amount and the share used, in percent with one decimal ("83.2"). */
  budget?: { name: string; amount: string; usedPercent: string; alertPercent: string };
  /** Spike rules: the median of the same window on the previous `days` days and the factor. */
  spike?: { median: string; factor: string; days: number; minimum: string };
  /** ISO time the alert started firing (resolved: also `resolvedAt`). */
  firingSince: string;
  resolvedAt?: string;
  /** The console at this subject and the rule's window (null without PUBLIC_URL). */
  consoleUrl: string | null;
}

export interface NotificationPayload {
  kind: NotificationKind;
  rule: {
    id: string;
    name: string;
    condition: Condition;
    /** A measure's API name (cost, ratedCost, inputTokens, requests …). */
    measure: string;
    measureKind: "count" | "money";
    window: { kind: WindowKind; size: number | null; from: string; to: string };
  };
  alerts: NotificationAlert[];
  /** ISO time of the evaluation that produced it. */
  at: string;
  /** USAGE_TIMEZONE: the zone messages show times in (UTC when absent). */
  timeZone?: string;
  /** The console's alerts page (null without PUBLIC_URL). */
  consoleUrl: string | null;
}
