import crypto from "node:crypto";
import type { UpsertAccountInput } from "../../accounts/schemas";
import type { UsageEvent } from "../../usage/schemas";
import type { SourceApiKey } from "../shared/sink";
import type { ChannelRow, LogRow, TokenRow, Variant } from "./reader";

/**
 * new-api's and one-api's rows → the ledger's events, accounts and keys (README, "Connect new-api
 * / one-api", says the same in words).
 *
 * Ids are the source's name and the relay's own ids, so import, follow and re-import give the same
 * ids and two relays never collide:
 *   event      `<source>-<logs.id>`
 *   account    `<source>-<channels.id>` (a channel is an upstream account)
 *   API key    new-api: `<source>-key-<tokens.id>` (`logs.token_id`; 0 — channel tests and a
 *              Midjourney refund — is the key `<source>-key-0`, "no token");
 *              one-api, whose logs name a token by user and name only:
 *              `<source>-key-u<user_id>-<sha-256 of the name, 16 hex>`
 *
 * Usage rows: type 2 (consume, channel tests included: they spend the upstream's money) and type 6
 * (new-api's refund). Money:
 *   rated (charged) = quota ÷ QuotaPerUnit, a refund's negated;
 *   real            = rated ÷ other.group_ratio where new-api wrote one (> 0): the price before the
 *                     group's multiplier, i.e. the model's list price — what the upstream is billed
 *                     at; without one (one-api, old rows) real = rated, and the event says so
 *                     (metadata.realCost = "charged").
 * Both to 8 decimals, half away from zero, per row. A refund and a consume row with a negative
 * quota are corrections (requests 0: migration 0013); their money is negative.
 * Tokens: cache read = other.cache_tokens; cache creation = other.cache_creation_tokens (or its
 * 5m + 1h parts); input = prompt_tokens, less the cache tokens unless the row is on Anthropic's
 * usage semantic (other.usage_semantic = "anthropic", or the older other.claude = true), where
 * prompt_tokens never held them.
 */

export const accountIdOf = (source: string, channelId: string) => `${source}-${channelId}`;
export const requestIdOf = (source: string, logId: string) => `${source}-${logId}`;
export const rowKey = (table: string, id: string) => `${table}#${id}`;

/** The ledger key of a log row's token. */
export function apiKeyIdOf(source: string, variant: Variant, r: { token_id: string | null; user_id: string; token_name: string }): string {
  if (variant === "new-api") return `${source}-key-${r.token_id ?? "0"}`;
  return `${source}-key-u${r.user_id}-${crypto.createHash("sha256").update(r.token_name).digest("hex").slice(0, 16)}`;
}

export interface Unmapped {
  reason: string;
  detail?: string;
}
export const isUnmapped = (x: unknown): x is Unmapped => typeof x === "object" && x !== null && "reason" in x;

/** A row that is not usage (a top-up, an error, a channel test on one-api …): read, never an event. */
export const NOT_USAGE = Symbol("not usage");

const DEFAULT_QUOTA_PER_UNIT = "500000";

/** A positive decimal ("500000", "500000.0", "1.5", "2e5") as an exact fraction, or undefined. */
export function fractionOf(text: string | number): { num: bigint; den: bigint } | undefined {
  const s = typeof text === "number" ? (Number.isFinite(text) ? String(text) : "") : text.trim();
  const m = /^(\d+)(?:\.(\d+))?(?:e([+-]?\d+))?$/i.exec(s);
  if (!m) return undefined;
  const frac = m[2] ?? "";
  let num = BigInt(m[1]! + frac);
  let den = 10n ** BigInt(frac.length);
  const exp = Number(m[3] ?? 0);
  if (Math.abs(exp) > 30) return undefined;
  if (exp > 0) num *= 10n ** BigInt(exp);
  else if (exp < 0) den *= 10n ** BigInt(-exp);
  return num > 0n ? { num, den } : undefined;
}

/** n / d rounded half away from zero (d > 0). */
function roundDiv(n: bigint, d: bigint): bigint {
  const q = (n < 0n ? -n : n) * 2n + d;
  const r = q / (2n * d);
  return n < 0n ? -r : r;
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** An integer of 1e-8 USD as decimal text. */
function usd8(units: bigint): string {
  if (units < SAFE && units > -SAFE) {
    const n = Number(units);
    const a = Math.abs(n);
    const frac = a % 100_000_000;
    const int = (a - frac) / 100_000_000;
    const text = frac ? `${int}.${String(frac).padStart(8, "0")}`.replace(/0+$/, "") : String(int);
    return n < 0 && text !== "0" ? `-${text}` : text;
  }
  const neg = units < 0n;
  const a = neg ? -units : units;
  const text = `${a / 100_000_000n}.${(a % 100_000_000n).toString().padStart(8, "0")}`.replace(/\.?0+$/, "");
  return neg && text !== "0" ? `-${text}` : text;
}

export interface Money {
  quotaPerUnit: { num: bigint; den: bigint };
  /** 1e-8 USD per quota unit when QuotaPerUnit divides 10^8 × its denominator (500,000: 200): rated is one product. */
  unitsPerQuota: bigint | undefined;
  /** As the relay has it (for metadata and the report). */
  quotaPerUnitText: string;
}

export function moneyOf(quotaPerUnit: string | null): Money {
  const text = quotaPerUnit ?? DEFAULT_QUOTA_PER_UNIT;
  const f = fractionOf(text);
  if (!f) throw new Error(`the relay's QuotaPerUnit option is ${JSON.stringify(text.slice(0, 40))}: not a positive number`);
  const scaled = 100_000_000n * f.den;
  return { quotaPerUnit: f, unitsPerQuota: scaled % f.num === 0n ? scaled / f.num : undefined, quotaPerUnitText: text };
}

/** A relay has a handful of group ratios: each read once as a fraction. */
const ratios = new Map<number, { num: bigint; den: bigint } | undefined>();
function ratioOf(g: number): { num: bigint; den: bigint } | undefined {
  let f = ratios.get(g);
  if (f === undefined && !ratios.has(g)) {
    f = fractionOf(g);
    if (ratios.size > 10_000) ratios.clear();
    ratios.set(g, f);
  }
  return f;
}

const nonNegInt = (v: unknown): number => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : 0);

function parseOther(text: string | null): Record<string, unknown> {
  if (!text) return {};
  try {
    const v: unknown = JSON.parse(text);
    return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

const clean = (v: string | null | undefined, max: number) => {
  const t = v ? v.replace(/\u0000/g, "").replace(/\p{Cs}/gu, "\uFFFD").slice(0, max) : "";
  return t || undefined;
};

/** One logs row → one event, NOT_USAGE, or why the ledger cannot take it. */
export function mapLog(source: string, variant: Variant, money: Money, r: LogRow): UsageEvent | Unmapped | typeof NOT_USAGE {
  const refund = variant === "new-api" && r.type === 6;
  if (r.type !== 2 && !refund) return NOT_USAGE;
  if (!r.channel_id) return { reason: "a usage row without a channel", detail: rowKey("logs", r.id) };
  const o = variant === "new-api" ? parseOther(r.other) : {};
  const signed = refund ? -r.quota : r.quota;
  const { num, den } = money.quotaPerUnit;
  // quota / QPU in 1e-8 USD: quota × 1e8 × den / num.
  const rated = money.unitsPerQuota !== undefined ? signed * money.unitsPerQuota : roundDiv(signed * 100_000_000n * den, num);
  const ratio = typeof o.group_ratio === "number" && o.group_ratio > 0 ? ratioOf(o.group_ratio) : undefined;
  const real = !ratio || ratio.num === ratio.den ? rated : roundDiv(signed * 100_000_000n * den * ratio.den, num * ratio.num);
  const correction = refund || r.quota < 0n;
  const cacheRead = nonNegInt(o.cache_tokens);
  const c5 = nonNegInt(o.cache_creation_tokens_5m);
  const c1 = nonNegInt(o.cache_creation_tokens_1h);
  const cacheCreate = nonNegInt(o.cache_creation_tokens) || c5 + c1;
  const anthropic = o.usage_semantic === "anthropic" || o.claude === true;
  const prompt = Math.max(0, r.prompt_tokens);
  const input = anthropic ? prompt : Math.max(0, prompt - cacheRead - cacheCreate);
  // What the ledger's own fields do not say already (the row id is in requestId, the token in apiKeyId).
  const metadata: Record<string, unknown> = { source, userId: r.user_id, quota: r.quota.toString() };
  if (refund) metadata.refund = true;
  if (ratio) metadata.groupRatio = o.group_ratio;
  else metadata.realCost = "charged";
  if (r.group) metadata.group = clean(r.group, 64);
  if (r.is_stream !== null) metadata.stream = r.is_stream;
  if (r.duration_ms !== null) metadata.durationMs = r.duration_ms;
  if (r.request_id) metadata.newapiRequestId = clean(r.request_id, 128);
  if (typeof o.upstream_model_name === "string") metadata.upstreamModel = clean(o.upstream_model_name, 128);
  if (r.type === 2 && r.token_name === "模型测试" && (r.token_id ?? "0") === "0") metadata.channelTest = true;
  const zeroTokens = refund;
  return {
    requestId: requestIdOf(source, r.id),
    occurredAt: new Date(r.created_at * 1000).toISOString(),
    accountId: accountIdOf(source, r.channel_id),
    apiKeyId: apiKeyIdOf(source, variant, r),
    model: clean(r.model_name, 128) ?? "unknown",
    requests: correction ? 0 : 1,
    inputTokens: zeroTokens ? 0 : input,
    outputTokens: zeroTokens ? 0 : Math.max(0, r.completion_tokens),
    cacheCreateTokens: zeroTokens ? 0 : cacheCreate,
    cacheReadTokens: zeroTokens ? 0 : cacheRead,
    ephemeral5mTokens: zeroTokens ? 0 : c5,
    ephemeral1hTokens: zeroTokens ? 0 : c1,
    cost: usd8(real),
    ratedCost: usd8(rated),
    metadata,
  };
}

/** new-api's and one-api's channel types where they name a platform this product knows; others by name, unknown ones by number. */
const NEWAPI_TYPES: Record<number, string> = {
  1: "openai", 2: "midjourney", 3: "azure-openai", 4: "ollama", 5: "midjourney-plus", 6: "openai-max", 7: "ohmygpt", 8: "custom", 9: "ails",
  10: "aiproxy", 11: "palm", 12: "api2gpt", 13: "aigc2d", 14: "claude-console", 15: "baidu", 16: "zhipu", 17: "ali", 18: "xunfei", 19: "ai360",
  20: "openrouter", 21: "aiproxy-library", 22: "fastgpt", 23: "tencent", 24: "gemini", 25: "moonshot", 26: "zhipu-v4", 27: "perplexity",
  31: "lingyiwanwu", 33: "bedrock", 34: "cohere", 35: "minimax", 36: "suno", 37: "dify", 38: "jina", 39: "cloudflare", 40: "siliconflow",
  41: "vertex-ai", 42: "mistral", 43: "deepseek", 44: "mokaai", 45: "volcengine", 46: "baidu-v2", 47: "xinference", 48: "xai", 49: "coze",
  50: "kling", 51: "jimeng", 52: "vidu", 53: "submodel", 54: "doubao-video", 55: "sora", 56: "replicate", 57: "codex",
};
const ONEAPI_TYPES: Record<number, string> = {
  1: "openai", 2: "api2d", 3: "azure-openai", 4: "closeai", 5: "openai-sb", 6: "openai-max", 7: "ohmygpt", 8: "custom", 9: "ails",
  10: "aiproxy", 11: "palm", 12: "api2gpt", 13: "aigc2d", 14: "claude-console", 15: "baidu", 16: "zhipu", 17: "ali", 18: "xunfei", 19: "ai360",
  20: "openrouter", 21: "aiproxy-library", 22: "fastgpt", 23: "tencent", 24: "gemini", 25: "moonshot", 26: "baichuan", 27: "minimax",
  28: "mistral", 29: "groq", 30: "ollama", 31: "lingyiwanwu", 32: "stepfun", 33: "bedrock", 34: "coze", 35: "cohere", 36: "deepseek",
  37: "cloudflare", 38: "deepl", 39: "togetherai", 40: "doubao", 41: "novita", 42: "vertex-ai", 43: "proxy", 44: "siliconflow", 45: "xai",
  46: "replicate", 47: "baidu-v2", 48: "xunfei-v2", 49: "ali-bailian", 50: "openai-compatible", 51: "gemini-openai-compatible",
};

export function platformOf(variant: Variant, type: number): string {
  return (variant === "new-api" ? NEWAPI_TYPES : ONEAPI_TYPES)[type] ?? `type-${type}`;
}

const CHANNEL_STATUS: Record<number, string> = { 1: "active", 2: "disabled", 3: "auto-disabled" };
const TOKEN_STATUS: Record<number, string> = { 1: "active", 2: "disabled", 3: "expired", 4: "exhausted" };

export function mapChannel(source: string, variant: Variant, c: ChannelRow, deleted = false): UpsertAccountInput {
  const id = accountIdOf(source, c.id);
  const priority = c.priority !== null && Number.isSafeInteger(c.priority) && c.priority >= 0 ? Math.min(c.priority, 1_000_000) : undefined;
  const metadata: Record<string, unknown> = { source, newapiId: c.id, channelType: c.type, relay: variant };
  if (c.group) metadata.group = clean(c.group, 200);
  return {
    id,
    name: clean(c.name, 200) ?? `channel #${c.id}`,
    platform: platformOf(variant, c.type),
    type: "api-key",
    status: deleted ? "deleted" : (CHANNEL_STATUS[c.status] ?? `status-${c.status}`),
    ...(priority !== undefined ? { priority } : {}),
    metadata,
  };
}

/** A channel the logs name that the relay no longer has (channels are deleted for good there). */
export function placeholderChannel(source: string, variant: Variant, channelId: string): UpsertAccountInput {
  return { ...mapChannel(source, variant, { id: channelId, name: `channel #${channelId}`, type: 0, status: 0, group: null, priority: null }, true), platform: "unknown" };
}

/** A token → the ledger's key: its name, owner and state, never the key (the relay keeps it in plain text). */
export function mapToken(source: string, variant: Variant, t: TokenRow): SourceApiKey {
  const id = apiKeyIdOf(source, variant, { token_id: t.id, user_id: t.user_id, token_name: t.name });
  const metadata: Record<string, unknown> = { source, newapiId: t.id, userId: t.user_id };
  if (t.username) metadata.user = clean(t.username, 100);
  if (t.created_time) metadata.createdAt = new Date(t.created_time * 1000).toISOString();
  return {
    input: { id, name: clean(t.name, 200) ?? id, accountId: null, status: t.deleted ? "deleted" : (TOKEN_STATUS[t.status] ?? `status-${t.status}`), metadata },
    deleted: t.deleted,
    key: rowKey("tokens", t.id),
  };
}

/** The key that holds what no token made: channel tests and refunds without a token (new-api's token_id 0). */
export function noTokenKey(source: string): SourceApiKey {
  const id = `${source}-key-0`;
  return { input: { id, name: "无令牌 / no token (channel tests, refunds)", accountId: null, status: "active", metadata: { source, newapiId: "0" } }, deleted: false, key: rowKey("tokens", "0") };
}
