import { MEASURES } from "../../../db/measures";
import { utcOffsetMinutes } from "../../calendar";
import type { ChannelLanguage, NotificationAlert, NotificationPayload } from "../notification";

/**
 * A notification as words, in the channel's language, before any channel's markup: a title, one
 * line about the rule, a block per alert (subject, value, condition, since) with its console link.
 * Figures are formatted from the exact decimal strings (no floating point): money as $1,234.57,
 * counts as 1,234,567.
 */

export interface Link {
  text: string;
  url: string;
}

export interface AlertBlock {
  heading: string;
  lines: { label: string; value: string }[];
  link: Link | null;
}

export interface Message {
  title: string;
  intro: string;
  blocks: AlertBlock[];
  /** "…and 3 more" when blocks were left out to fit the channel's size limit. */
  more: string | null;
  links: Link[];
}

const DECIMAL = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Rounds a decimal string half away from zero to `places` digits: [sign, integer part, fraction]. */
function round(text: string, places: number): [string, string, string] | undefined {
  const m = DECIMAL.exec(text.trim());
  if (!m) return undefined;
  const [, sign = "", int = "0", frac = ""] = m;
  let scaled = BigInt(int + frac.padEnd(places, "0").slice(0, places));
  if ((frac[places] ?? "0") >= "5") scaled += 1n;
  const digits = scaled.toString().padStart(places + 1, "0");
  const i = digits.slice(0, digits.length - places);
  const f = digits.slice(digits.length - places);
  return [scaled === 0n ? "" : sign, i, f];
}

const group = (int: string) => int.replace(/\B(?=(\d{3})+(?!\d))/g, ",");

/** USD from its exact decimal text: "$1,234.57"; below a cent, the first non-zero digits ("$0.0042"). */
export function formatMoney(text: string): string {
  let r = round(text, 2);
  if (!r) return `$${text}`;
  if (/^0+$/.test(r[1] + r[2]) && !/^-?0*(\.0*)?$/.test(text.trim())) {
    const finer = [3, 4, 5, 6].map((places) => round(text, places)!).find((x) => !/^0+$/.test(x[1] + x[2]));
    if (finer) r = [finer[0], finer[1], finer[2].replace(/0+$/, "")];
  }
  return `${r[0]}$${group(r[1])}.${r[2]}`;
}

/** A count: "1,234,567"; a fractional one (a median, a share) with at most 2 decimals: "1,234.5". */
export function formatCount(text: string): string {
  const r = round(text, 2);
  if (!r) return text;
  const frac = r[2].replace(/0+$/, "");
  return `${r[0]}${group(r[1])}${frac ? `.${frac}` : ""}`;
}

/** A plain number without trailing zeros ("3.000000000" → "3", "83.20" → "83.2"). */
export function formatPlain(text: string): string {
  const m = DECIMAL.exec(text.trim());
  if (!m) return text;
  const frac = (m[3] ?? "").replace(/0+$/, "");
  return `${m[1] ?? ""}${m[2]!.replace(/^0+(?=\d)/, "")}${frac ? `.${frac}` : ""}`;
}

/**
 * "2026-12-07T06:52:13.000Z" → "2026-12-07 14:52 (UTC+08:00)" in the ledger's USAGE_TIMEZONE, the
 * zone of its days and of the console; "2026-12-07 06:52 UTC" when the payload names none.
 */
export function formatTime(iso: string, timeZone?: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  if (!timeZone) return `${d.toISOString().slice(0, 16).replace("T", " ")} UTC`;
  const off = utcOffsetMinutes(timeZone, d.getTime());
  const local = new Date(d.getTime() + off * 60_000).toISOString().slice(0, 16).replace("T", " ");
  const a = Math.abs(off);
  return `${local} (UTC${off < 0 ? "-" : "+"}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")})`;
}

interface Words {
  kind: Record<NotificationPayload["kind"], string>;
  subject: Record<NotificationAlert["subjectKind"], string>;
  everything: string;
  window: (kind: string, size: number | null) => string;
  intro: (rule: string, measure: string, window: string) => string;
  value: string;
  condition: string;
  since: string;
  resolvedAt: string;
  above: (threshold: string) => string;
  budget: (b: { name: string; amount: string; used: string; alert: string }) => string;
  spike: (s: { factor: string; median: string; days: number; threshold: string; minimum: string }) => string;
  openSubject: string;
  openAlerts: string;
  more: (n: number) => string;
  test: (channel: string) => string;
  colon: string;
}

const ZH: Words = {
  kind: { firing: "【告警】", repeat: "【持续告警】", resolved: "【已恢复】", test: "【测试】" },
  subject: { all: "全部", account: "账户", api_key: "API Key", model: "模型", platform: "平台" },
  everything: "全部用量",
  window: (kind, size) => (kind === "today" ? "今天" : kind === "month" ? "本月" : kind === "hours" ? `最近 ${size} 小时` : `最近 ${size} 天`),
  intro: (rule, measure, window) => `规则「${rule}」:${measure},${window}`,
  value: "当前值",
  condition: "条件",
  since: "开始于",
  resolvedAt: "恢复于",
  above: (t) => `高于 ${t}`,
  budget: (b) => `已用预算「${b.name}」${b.amount} 的 ${b.used}%(告警线 ${b.alert}%)`,
  spike: (s) => `超过前 ${s.days} 天同一窗口中位数 ${s.median} 的 ${s.factor} 倍(阈值 ${s.threshold},最低 ${s.minimum})`,
  openSubject: "在控制台查看",
  openAlerts: "告警页面",
  more: (n) => `…另有 ${n} 条,请在控制台查看`,
  test: (channel) => `这是来自通知渠道「${channel}」的测试消息。`,
  colon: ":",
};

const EN: Words = {
  kind: { firing: "[FIRING] ", repeat: "[STILL FIRING] ", resolved: "[RESOLVED] ", test: "[TEST] " },
  subject: { all: "Everything", account: "Account", api_key: "API key", model: "Model", platform: "Platform" },
  everything: "all usage",
  window: (kind, size) =>
    kind === "today" ? "today" : kind === "month" ? "this month" : `last ${size} ${kind === "hours" ? (size === 1 ? "hour" : "hours") : size === 1 ? "day" : "days"}`,
  intro: (rule, measure, window) => `Rule “${rule}”: ${measure}, ${window}`,
  value: "Value",
  condition: "Condition",
  since: "Since",
  resolvedAt: "Resolved at",
  above: (t) => `above ${t}`,
  budget: (b) => `${b.used}% of budget “${b.name}” (${b.amount}) used; alert at ${b.alert}%`,
  spike: (s) => `above ${s.factor} × the median ${s.median} of the same window on the previous ${s.days} days (threshold ${s.threshold}, minimum ${s.minimum})`,
  openSubject: "Open in the console",
  openAlerts: "Alerts page",
  more: (n) => `…and ${n} more, see the console`,
  test: (channel) => `This is a test message from the notification channel “${channel}”.`,
  colon: ": ",
};

export const words = (language: ChannelLanguage): Words => (language === "en" ? EN : ZH);

function measureLabel(name: string, language: ChannelLanguage): string {
  return MEASURES.find((m) => m.name === name)?.label[language] ?? name;
}

function alertBlock(payload: NotificationPayload, alert: NotificationAlert, w: Words): AlertBlock {
  const money = payload.rule.measureKind === "money";
  const fig = money ? formatMoney : formatCount;
  let condition: string;
  if (payload.rule.condition === "budget" && alert.budget) {
    condition = w.budget({ name: alert.budget.name, amount: fig(alert.budget.amount), used: formatPlain(alert.budget.usedPercent), alert: formatPlain(alert.budget.alertPercent) });
  } else if (payload.rule.condition === "spike" && alert.spike) {
    condition = w.spike({ factor: formatPlain(alert.spike.factor), median: fig(alert.spike.median), days: alert.spike.days, threshold: fig(alert.threshold), minimum: fig(alert.spike.minimum) });
  } else condition = w.above(fig(alert.threshold));
  const lines = [
    { label: w.value, value: fig(alert.value) },
    { label: w.condition, value: condition },
    { label: w.since, value: formatTime(alert.firingSince, payload.timeZone) },
  ];
  if (alert.resolvedAt) lines.push({ label: w.resolvedAt, value: formatTime(alert.resolvedAt, payload.timeZone) });
  const heading = alert.subjectKind === "all" ? w.everything : `${w.subject[alert.subjectKind]} ${alert.subjectName || alert.subjectId}`;
  return { heading: oneLine(heading), lines, link: alert.consoleUrl ? { text: w.openSubject, url: alert.consoleUrl } : null };
}

/** Names come from relays: keep them on one line. */
export const oneLine = (s: string) => s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, " ").trim();

/** The message with at most `maxAlerts` blocks. */
export function composeMessage(payload: NotificationPayload, language: ChannelLanguage, channelName: string, maxAlerts = Infinity): Message {
  const w = words(language);
  if (payload.kind === "test") {
    return { title: `${w.kind.test}${oneLine(channelName)}`, intro: w.test(oneLine(channelName)), blocks: [], more: null, links: payload.consoleUrl ? [{ text: w.openAlerts, url: payload.consoleUrl }] : [] };
  }
  const rule = oneLine(payload.rule.name);
  const shown = payload.alerts.slice(0, Math.max(1, maxAlerts));
  const first = payload.alerts[0];
  const subject = payload.alerts.length === 1 && first ? ` · ${alertBlock(payload, first, w).heading}` : "";
  return {
    title: `${w.kind[payload.kind]}${rule}${subject}`,
    intro: w.intro(rule, measureLabel(payload.rule.measure, language), w.window(payload.rule.window.kind, payload.rule.window.size)),
    blocks: shown.map((a) => alertBlock(payload, a, w)),
    more: payload.alerts.length > shown.length ? w.more(payload.alerts.length - shown.length) : null,
    links: payload.consoleUrl ? [{ text: w.openAlerts, url: payload.consoleUrl }] : [],
  };
}

/**
 * Renders with as many alert blocks as fit: `fits` says whether a rendering is small enough for
 * the channel (WeCom's 4096 bytes, Telegram's 4096 characters …).
 */
export function fitted<T>(payload: NotificationPayload, language: ChannelLanguage, channelName: string, render: (m: Message) => T, fits: (r: T) => boolean, cap = 20): T {
  let n = Math.min(cap, Math.max(1, payload.alerts.length));
  let out = render(composeMessage(payload, language, channelName, n));
  while (!fits(out) && n > 1) {
    n = Math.max(1, Math.floor(n / 2));
    out = render(composeMessage(payload, language, channelName, n));
  }
  return out;
}

/** The message as plain text (the webhook's `text`, Feishu's and the fallbacks). */
export function plainText(m: Message, language: ChannelLanguage): string {
  const c = words(language).colon;
  const parts = [`${m.title}\n${m.intro}`];
  for (const b of m.blocks) {
    parts.push([b.heading, ...b.lines.map((l) => `${l.label}${c}${l.value}`), ...(b.link ? [`${b.link.text}${c}${b.link.url}`] : [])].join("\n"));
  }
  if (m.more) parts.push(m.more);
  if (m.links.length) parts.push(m.links.map((l) => `${l.text}${c}${l.url}`).join("\n"));
  return parts.join("\n\n");
}

/** Markdown of DingTalk and WeCom robots: `sep` between lines (DingTalk needs a blank line to break). */
export function markdown(m: Message, language: ChannelLanguage, sep: string): string {
  const c = words(language).colon;
  const parts = [`### ${m.title}`, m.intro];
  for (const b of m.blocks) {
    parts.push(`**${b.heading}**`);
    for (const l of b.lines) parts.push(`- ${l.label}${c}${l.value}`);
    if (b.link) parts.push(`[${b.link.text}](${b.link.url})`);
  }
  if (m.more) parts.push(m.more);
  for (const l of m.links) parts.push(`[${l.text}](${l.url})`);
  return parts.join(sep);
}

export const JSON_HEADERS = { "content-type": "application/json; charset=utf-8", "user-agent": "account-usage-breakdown-alerts/1" } as const;

/** A receiver's answer, short and on one line, for the attempt log. */
export function snippet(body: string, max = 200): string {
  const s = oneLine(body);
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

export function parseJson(body: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
