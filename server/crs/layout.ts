/**
 * claude-relay-service (CRS) Redis key layout, as written by CRS v1.1.314 (`src/models/redis.js`).
 * Names only, no commands: the reads live in reader.ts. See ../shared/fixtures/crs/README.md.
 */

/** Account hash families: key prefix → our platform slug. Each has a `<prefix>index` set. */
export const ACCOUNT_FAMILIES: readonly { prefix: string; platform: string }[] = [
  { prefix: "claude:account:", platform: "claude" },
  { prefix: "claude_console_account:", platform: "claude-console" },
  { prefix: "gemini_account:", platform: "gemini" },
  { prefix: "gemini_api_account:", platform: "gemini-api" },
  { prefix: "openai:account:", platform: "openai" },
  { prefix: "openai_responses_account:", platform: "openai-responses" },
  { prefix: "bedrock_account:", platform: "bedrock" },
  { prefix: "azure_openai_account:", platform: "azure-openai" },
  { prefix: "droid:account:", platform: "droid" },
  { prefix: "ccr_account:", platform: "ccr" },
];

/** Fields of `apikey:{id}` that bind a key to an account, per platform. */
export const KEY_BINDING_FIELDS = [
  "claudeAccountId",
  "claudeConsoleAccountId",
  "geminiAccountId",
  "openaiAccountId",
  "azureOpenaiAccountId",
  "bedrockAccountId",
  "droidAccountId",
  "ccrAccountId",
] as const;

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
} as const;

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
export const DEFAULT_SERVICE_RATES: Readonly<Record<string, number>> = { claude: 1, codex: 1, gemini: 1, droid: 1, bedrock: 1, azure: 1, ccr: 1 };

/** Parses `system:service_rates` the way CRS does (defaults merged under it; any error → defaults). */
export function parseServiceRates(json: string | null | undefined): Record<string, number> {
  if (!json) return { ...DEFAULT_SERVICE_RATES };
  try {
    const parsed = JSON.parse(json) as { rates?: Record<string, number> };
    return { ...DEFAULT_SERVICE_RATES, ...(parsed.rates ?? {}) };
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
