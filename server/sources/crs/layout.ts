/**
 * claude-relay-service (CRS) Redis key layout, as written by CRS v1.1.314 (`src/models/redis.js`).
 * Names only, no commands: the reads live in reader.ts. See ../shared/fixtures/crs/README.md.
 */

/**
 * One family of CRS accounts: where CRS keeps them, how, and how keys and records name them.
 * From CRS's account services (`src/services/account/*`, v1.1.314 and later); see README
 * "Connect an existing claude-relay-service" for what each version writes.
 */
export interface AccountFamily {
  /** `${prefix}${id}` is the account. */
  prefix: string;
  /** The set of the family's ids (CRS's `addToIndex`). */
  index: string;
  /** Our platform slug. */
  platform: string;
  /** A hash, or a string holding JSON (Bedrock; booleans and numbers as JSON types). */
  storage: "hash" | "json";
  /** The `apikey:{id}` field that binds a key to an account of this family, and its value's prefix. */
  binding?: { field: string; valuePrefix?: string };
  /** `accountType` in CRS's usage records. */
  recordType: string;
}

export const ACCOUNT_FAMILIES: readonly AccountFamily[] = [
  { prefix: "claude:account:", index: "claude:account:index", platform: "claude", storage: "hash", binding: { field: "claudeAccountId" }, recordType: "claude-official" },
  { prefix: "claude_console_account:", index: "claude_console_account:index", platform: "claude-console", storage: "hash", binding: { field: "claudeConsoleAccountId" }, recordType: "claude-console" },
  { prefix: "gemini_account:", index: "gemini_account:index", platform: "gemini", storage: "hash", binding: { field: "geminiAccountId" }, recordType: "gemini" },
  { prefix: "gemini_api_account:", index: "gemini_api_account:index", platform: "gemini-api", storage: "hash", binding: { field: "geminiAccountId", valuePrefix: "api:" }, recordType: "gemini" },
  { prefix: "openai:account:", index: "openai:account:index", platform: "openai", storage: "hash", binding: { field: "openaiAccountId" }, recordType: "openai" },
  { prefix: "openai_responses_account:", index: "openai_responses_account:index", platform: "openai-responses", storage: "hash", binding: { field: "openaiAccountId", valuePrefix: "responses:" }, recordType: "openai-responses" },
  { prefix: "azure_openai:account:", index: "azure_openai:account:index", platform: "azure-openai", storage: "hash", binding: { field: "azureOpenaiAccountId" }, recordType: "azure-openai" },
  { prefix: "bedrock_account:", index: "bedrock_account:index", platform: "bedrock", storage: "json", binding: { field: "bedrockAccountId" }, recordType: "bedrock" },
  // CRS never binds keys to CCR accounts: they are reached through a model prefix.
  { prefix: "ccr_account:", index: "ccr_account:index", platform: "ccr", storage: "hash", recordType: "ccr" },
  { prefix: "droid:account:", index: "droid:account:index", platform: "droid", storage: "hash", binding: { field: "droidAccountId" }, recordType: "droid" },
  { prefix: "grok:account:", index: "grok:account:index", platform: "grok", storage: "hash", binding: { field: "grokAccountId" }, recordType: "grok" },
];

/** Fields of `apikey:{id}` that bind a key to an account (several families share one). */
export const KEY_BINDING_FIELDS = [...new Set(ACCOUNT_FAMILIES.flatMap((f) => (f.binding ? [f.binding.field] : [])))];

/** CRS's value prefixes of a binding to another family of one account (`api:`, `responses:`), and to a pool. */
export const BINDING_VALUE_PREFIXES = [...new Set(ACCOUNT_FAMILIES.flatMap((f) => (f.binding?.valuePrefix ? [f.binding.valuePrefix] : [])))];
export const GROUP_BINDING_PREFIX = "group:";

export const crsKeys = {
  apiKey: (keyId: string) => `apikey:${keyId}`,
  apiKeyPattern: "apikey:*",
  records: (keyId: string) => `usage:records:${keyId}`,
  keyTotals: (keyId: string) => `usage:${keyId}`,
  keyModelDaily: (keyId: string, model: string, day: string) => `usage:${keyId}:model:daily:${model}:${day}`,
  keyModelMonthly: (keyId: string, model: string, month: string) => `usage:${keyId}:model:monthly:${model}:${month}`,
  keyModelAllTime: (keyId: string, model: string) => `usage:${keyId}:model:alltime:${model}`,
  keyModelPattern: (keyId: string) => `usage:${keyId}:model:*`,
  realCostTotal: (keyId: string) => `usage:cost:real:total:${keyId}`,
  ratedCostTotal: (keyId: string) => `usage:cost:total:${keyId}`,
  realCostDaily: (keyId: string, day: string) => `usage:cost:real:daily:${keyId}:${day}`,
  ratedCostDaily: (keyId: string, day: string) => `usage:cost:daily:${keyId}:${day}`,
  globalTotal: "usage:global:total",
  serviceRates: "system:service_rates",
  /** Any account's counters: CRS writes them for whatever account served a request, of any family. */
  accountUsage: (accountId: string) => `account_usage:${accountId}`,
  /** CRS's "no account of this family" marker (1 h), set when its index and a SCAN found none. */
  emptyIndexMarker: (index: string) => `${index}:empty`,
  /** Key ids by last use (ms), kept by CRS's API key index service (from late 2025 on): the follower's cheap "what changed". */
  lastUsedIndex: "apikey:idx:lastUsedAt",
  /** The version of CRS's API key indexes; the last-used index is complete from 2 on. */
  apiKeyIndexVersion: "apikey:index:version",
  hourlyKeyIndex: (hour: string) => `usage:hourly:index:${hour}`,
  modelMonths: "usage:model:monthly:months",
  modelMonthlyIndex: (month: string) => `usage:model:monthly:index:${month}`,
  modelDailyIndex: (day: string) => `usage:model:daily:index:${day}`,
} as const;

/**
 * Names under `apikey:` that are not API keys: the hash map, and CRS's sub-keys (indexes, tags,
 * change history, drift markers), which all carry a second ':'. A key id never does in CRS (uuid).
 */
export function apiKeyIdOf(redisKey: string): string | undefined {
  const id = redisKey.slice("apikey:".length);
  return id && id !== "hash_map" && !id.includes(":") ? id : undefined;
}

/** CRS's model normalisation for aggregates (redis.js `_normalizeModelName`); records keep the raw name. */
export function normalizeCrsModel(model: string): string {
  if (!model || model === "unknown") return model;
  if (model.includes(".anthropic.") || model.includes(".claude")) {
    return model.replace(/^[a-z0-9-]+\./, "").replace("anthropic.", "").replace(/-v\d+:\d+$/, "");
  }
  return model.replace(/-v\d+:\d+$|:latest$/, "");
}

/** CRS's service of a request (serviceRatesService.getService): account type first, then model. */
export function crsService(accountType: string | null | undefined, model: string): string {
  const byType: Record<string, string> = {
    claude: "claude",
    "claude-official": "claude",
    "claude-console": "claude",
    ccr: "ccr",
    bedrock: "bedrock",
    gemini: "gemini",
    "openai-responses": "codex",
    openai: "codex",
    azure: "azure",
    "azure-openai": "azure",
    droid: "droid",
    grok: "grok",
  };
  const t = accountType ? byType[accountType] : undefined;
  if (t) return t;
  const m = (model || "").toLowerCase();
  if (!m) return "claude";
  if (["claude", "anthropic", "opus", "sonnet", "haiku"].some((s) => m.includes(s))) return "claude";
  if (["gpt", "o1", "o3", "o4", "codex", "davinci", "curie", "babbage", "ada"].some((s) => m.includes(s))) return "codex";
  if (["gemini", "palm", "bard"].some((s) => m.includes(s))) return "gemini";
  if (m.includes("droid") || m.includes("factory")) return "droid";
  if (["bedrock", "amazon", "titan"].some((s) => m.includes(s))) return "bedrock";
  if (m.includes("azure")) return "azure";
  return "claude";
}

/** CRS's default service rates (serviceRatesService.getDefaultRates), merged under the stored ones. */
export const DEFAULT_SERVICE_RATES: Readonly<Record<string, number>> = { claude: 1, codex: 1, gemini: 1, droid: 1, bedrock: 1, azure: 1, ccr: 1, grok: 1 };

/** Parses `system:service_rates` the way CRS does (defaults merged under it; any error → defaults). */
export function parseServiceRates(json: string | null | undefined): Record<string, number> {
  if (!json) return { ...DEFAULT_SERVICE_RATES };
  try {
    const parsed = JSON.parse(json) as { rates?: unknown };
    const rates = parsed && typeof parsed.rates === "object" && parsed.rates ? Object.entries(parsed.rates) : [];
    return { ...DEFAULT_SERVICE_RATES, ...Object.fromEntries(rates.filter(([, v]) => typeof v === "number" && Number.isFinite(v) && v >= 0)) };
  } catch {
    return { ...DEFAULT_SERVICE_RATES };
  }
}

/**
 * CRS's fixed-offset calendar: `parseInt(TIMEZONE_OFFSET) || 8`, so 0 is +8. Days, months and
 * hours are those of (instant + offset) read as UTC.
 */
export interface CrsCalendar {
  offsetHours: number;
  day(ms: number): string;
  month(ms: number): string;
  /** The first instant of a CRS day / month. */
  dayStartMs(day: string): number;
  monthStartMs(month: string): number;
}

export function crsCalendar(offsetHours: number): CrsCalendar {
  const off = offsetHours * 3_600_000;
  return {
    offsetHours,
    day: (ms) => new Date(ms + off).toISOString().slice(0, 10),
    month: (ms) => new Date(ms + off).toISOString().slice(0, 7),
    dayStartMs: (day) => Date.parse(`${day}T00:00:00Z`) - off,
    monthStartMs: (month) => Date.parse(`${month}-01T00:00:00Z`) - off,
  };
}
