import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import { ZERO_FIG, type Fig } from "../../usage-stats/figures";
import { rng } from "../../usage/usage.fixtures";
import type { CrsLayoutVersion, FixtureRequest } from "./crs.fixtures";
import { writeLikeCrs } from "./crs.fixtures";
import { crsCalendar } from "./layout";

/**
 * Tests only: a CRS with one account of every family, each in its native storage (hashes; Bedrock
 * and Vertex as strings holding JSON), keys bound to each the way CRS binds them (`api:`,
 * `responses:`, a `group:` pool, none for CCR), and usage on each — written by our own writer of
 * CRS's layout, in v1.1.314's order or the newer stores' (cost first, atomic last-used index,
 * grok and per-model service rates, `apikey:` sub-keys). The ground truth is summed here from the
 * requests alone. Vertex stands for a family this product does not know: CRS keeps it under
 * `vertex_account:` and its records say `accountType: "vertex"`.
 */

export const FAMILY_ANCHOR = Date.parse("2026-12-05T09:00:00.000Z");
const DAY = 86_400_000;

export interface FixtureAccount {
  id: string;
  redisKey: string;
  index: string;
  storage: "hash" | "json";
  name: string;
  /** What the ledger must show. */
  platform: string;
  recordType: string;
  /** The key binding (field, value), none for CCR. */
  binding?: [string, string];
  model: string;
  fields: Record<string, unknown>;
}

const uuid = (seed: string) => {
  const h = createHash("sha256").update(seed).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
};

interface FamilyPlan {
  prefix: string;
  index: string;
  storage: "hash" | "json";
  name: string;
  platform: string;
  recordType: string;
  bindingField?: string;
  valuePrefix?: string;
  model: string;
  /** Only the newer stores have it. */
  newerOnly?: boolean;
}

const families: FamilyPlan[] = [
  { prefix: "claude:account:", index: "claude:account:index", storage: "hash", name: "Claude Max 主号", platform: "claude", recordType: "claude-official", bindingField: "claudeAccountId", model: "claude-sonnet-4-20250514" },
  { prefix: "claude_console_account:", index: "claude_console_account:index", storage: "hash", name: "Console <b>pool</b>", platform: "claude-console", recordType: "claude-console", bindingField: "claudeConsoleAccountId", model: "claude-opus-4-1-20250805" },
  { prefix: "gemini_account:", index: "gemini_account:index", storage: "hash", name: "Gemini OAuth", platform: "gemini", recordType: "gemini", bindingField: "geminiAccountId", model: "gemini-2.5-pro" },
  { prefix: "gemini_api_account:", index: "gemini_api_account:index", storage: "hash", name: "Gemini API key", platform: "gemini-api", recordType: "gemini", bindingField: "geminiAccountId", valuePrefix: "api:", model: "gemini-2.5-flash" },
  { prefix: "openai:account:", index: "openai:account:index", storage: "hash", name: "Codex OAuth", platform: "openai", recordType: "openai", bindingField: "openaiAccountId", model: "gpt-5" },
  { prefix: "openai_responses_account:", index: "openai_responses_account:index", storage: "hash", name: "OpenAI Responses", platform: "openai-responses", recordType: "openai-responses", bindingField: "openaiAccountId", valuePrefix: "responses:", model: "gpt-5-codex" },
  { prefix: "azure_openai:account:", index: "azure_openai:account:index", storage: "hash", name: "Azure East US", platform: "azure-openai", recordType: "azure-openai", bindingField: "azureOpenaiAccountId", model: "gpt-4.1" },
  { prefix: "bedrock_account:", index: "bedrock_account:index", storage: "json", name: "Bedrock us-west-2", platform: "bedrock", recordType: "bedrock", bindingField: "bedrockAccountId", model: "us.anthropic.claude-sonnet-4-20250514-v1:0" },
  { prefix: "ccr_account:", index: "ccr_account:index", storage: "hash", name: "CCR relay", platform: "ccr", recordType: "ccr", model: "deepseek-chat" },
  { prefix: "droid:account:", index: "droid:account:index", storage: "hash", name: "Droid Factory", platform: "droid", recordType: "droid", bindingField: "droidAccountId", model: "claude-sonnet-4-5-20250929" },
  { prefix: "grok:account:", index: "grok:account:index", storage: "hash", name: "xAI Grok", platform: "grok", recordType: "grok", bindingField: "grokAccountId", model: "grok-4", newerOnly: true },
  // Not a family of this product: known only from its records and CRS's account counters.
  { prefix: "vertex_account:", index: "vertex_account:index", storage: "json", name: "Vertex (unknown here)", platform: "vertex", recordType: "vertex", bindingField: "vertexAccountId", model: "gemini-2.5-pro" },
];

export interface FixtureKey {
  id: string;
  name: string;
  hash: Record<string, string>;
  /** Accounts its requests go to (round robin). */
  accounts: string[];
  requests: number;
  /** The key's own service rates (a JSON field of its hash). */
  serviceRates: Record<string, number>;
}

export interface FamilyFixture {
  layout: CrsLayoutVersion;
  accounts: FixtureAccount[];
  keys: FixtureKey[];
  serviceRatesJson: string;
  requests: FixtureRequest[];
  truth: {
    accounts: Map<string, Truth>;
    keys: Map<string, Truth>;
    global: Truth;
  };
}

/** The figures the ledger's rollups hold, summed here from the requests alone. */
export type Truth = Fig;

const nanosOf8 = (x: number) => BigInt(Math.round(Number(x.toFixed(8)) * 1e8)) * 10n;

/** CRS's service of an account type, for its rates (serviceRatesService.getService, by type). */
const SERVICE: Record<string, string> = {
  "claude-official": "claude",
  "claude-console": "claude",
  ccr: "ccr",
  bedrock: "bedrock",
  gemini: "gemini",
  openai: "codex",
  "openai-responses": "codex",
  "azure-openai": "azure",
  droid: "droid",
  grok: "grok",
  // Not in CRS's type map: CRS goes by the model name, a Gemini model here.
  vertex: "gemini",
};

export function familyFixture(layout: CrsLayoutVersion, opts: { anchorMs?: number; bigKeyRequests?: number } = {}): FamilyFixture {
  const anchor = opts.anchorMs ?? FAMILY_ANCHOR;
  const rand = rng(layout === "newer" ? 20261205 : 20261204);
  const accounts: FixtureAccount[] = families.filter((f) => layout === "newer" || !f.newerOnly).map((f, i) => {
    const id = uuid(`${layout}-account-${f.prefix}`);
    const base: Record<string, unknown> = {
      id,
      name: f.name,
      description: `${f.platform} account`,
      accountType: "shared",
      priority: 10 + i,
      isActive: true,
      schedulable: true,
      createdAt: new Date(anchor - 60 * DAY).toISOString(),
      ...(f.storage === "hash" ? { status: "active", platform: f.platform } : { type: f.platform, region: "us-west-2", credentialType: "access_key" }),
    };
    return {
      id,
      redisKey: `${f.prefix}${id}`,
      index: f.index,
      storage: f.storage,
      name: f.name,
      platform: f.platform,
      recordType: f.recordType,
      model: f.model,
      fields: base,
      ...(f.bindingField ? { binding: [f.bindingField, `${f.valuePrefix ?? ""}${id}`] as [string, string] } : {}),
    };
  });
  const byPlatform = (p: string) => accounts.find((a) => a.platform === p)!;

  const keys: FixtureKey[] = [];
  const keyHash = (id: string, name: string, bindings: Record<string, string>, rates: Record<string, number>): Record<string, string> => ({
    id,
    name,
    apiKey: createHash("sha256").update(`secret-${id}`).digest("hex"),
    isActive: "true",
    isDeleted: "false",
    createdAt: new Date(anchor - 50 * DAY).toISOString(),
    permissions: "[]",
    tags: '["fixture"]',
    serviceRates: JSON.stringify(rates),
    dailyCostLimit: "0",
    totalCostLimit: "0",
    claudeAccountId: "",
    claudeConsoleAccountId: "",
    geminiAccountId: "",
    openaiAccountId: "",
    azureOpenaiAccountId: "",
    bedrockAccountId: "",
    droidAccountId: "",
    ...bindings,
  });
  for (const a of accounts) {
    const id = uuid(`${layout}-key-${a.platform}`);
    const rates: Record<string, number> = a.platform === "gemini" ? { gemini: 1.5 } : {};
    const big = a.platform === "claude";
    keys.push({
      id,
      name: `key for ${a.platform}`,
      hash: keyHash(id, `key for ${a.platform}`, a.binding ? { [a.binding[0]]: a.binding[1] } : {}, rates),
      accounts: [a.id],
      requests: big ? (opts.bigKeyRequests ?? 230) : 6 + Math.floor(rand() * 6),
      serviceRates: rates,
    });
  }
  // A key bound to a pool (CRS's `group:`): its requests name several accounts.
  const pool = uuid(`${layout}-key-pool`);
  keys.push({
    id: pool,
    name: "pool key",
    hash: keyHash(pool, "pool key", { claudeAccountId: `group:${uuid("group")}` }, {}),
    accounts: [byPlatform("claude").id, byPlatform("claude-console").id, byPlatform("bedrock").id],
    requests: 12,
    serviceRates: {},
  });

  const globalRates: Record<string, number> = { claude: 1, codex: 1, gemini: 0.8, droid: 1, bedrock: 1.2, azure: 1, ccr: 1, ...(layout === "newer" ? { grok: 0.5 } : {}) };
  // The newer stores: one model costs 1.5 × (a per-model rate CRS applies on top): the charge CRS
  // recorded is taken, not recomputed.
  const modelRates: Record<string, number> = layout === "newer" ? { "claude-opus-4": 1.5 } : {};
  const serviceRatesJson = JSON.stringify({ baseService: "claude", rates: globalRates, ...(layout === "newer" ? { modelRates } : {}), updatedAt: new Date(anchor - 59 * DAY).toISOString(), updatedBy: "fixture" });

  const requests: FixtureRequest[] = [];
  const cal = crsCalendar(8);
  const spanDays = 20;
  for (const k of keys) {
    for (let n = 0; n < k.requests; n++) {
      const accountId = k.accounts[n % k.accounts.length]!;
      const a = accounts.find((x) => x.id === accountId)!;
      const occurredAtMs = anchor - spanDays * DAY + Math.floor(((n + rand()) / k.requests) * (spanDays * DAY - 60_000));
      const inputTokens = 100 + Math.floor(rand() * 5000);
      const outputTokens = Math.floor(rand() * 3000);
      const cacheCreateTokens = rand() < 0.3 ? Math.floor(rand() * 8000) : 0;
      const cacheReadTokens = rand() < 0.5 ? Math.floor(rand() * 40000) : 0;
      const tokens = { inputTokens, outputTokens, cacheCreateTokens, cacheReadTokens, ephemeral5mTokens: cacheCreateTokens, ephemeral1hTokens: 0 };
      // Whole 1e-7 USD, so that CRS's float sums of them stay exact at 8 decimals.
      const realCost = Math.round((inputTokens * 3 + outputTokens * 15 + cacheCreateTokens * 3.75 + cacheReadTokens * 0.3) / 10) / 1e7;
      const service = SERVICE[a.recordType] ?? "claude";
      const modelRate = Object.entries(modelRates).find(([m]) => a.model.startsWith(m))?.[1] ?? 1;
      const ratedFull = realCost * (globalRates[service] ?? 1) * modelRate * (k.serviceRates[service] ?? 1);
      const recordedRated = Number(ratedFull.toFixed(6));
      // What the ledger must hold: CRS's recorded charge where CRS's rate is not ours to recompute.
      const ratedCost = modelRate !== 1 ? recordedRated : ratedFull;
      const occurredAt = new Date(occurredAtMs).toISOString();
      const record = {
        timestamp: occurredAt,
        model: a.model,
        accountId: a.binding?.[1].startsWith("responses:") ? a.binding[1] : accountId,
        accountType: a.recordType,
        requestId: n % 4 === 0 ? null : `r${layout[0]}${n.toString(36)}${k.id.slice(0, 4)}`,
        endpoint: "/api/v1/messages",
        method: "POST",
        statusCode: 200,
        stream: true,
        durationMs: 1000 + n,
        ...tokens,
        totalTokens: inputTokens + outputTokens + cacheCreateTokens + cacheReadTokens,
        cost: recordedRated,
        realCost: Number(realCost.toFixed(6)),
        costBreakdown: { total: realCost },
        realCostBreakdown: { total: realCost },
        isLongContext: false,
      };
      const json = JSON.stringify(record);
      requests.push({
        seq: requests.length,
        occurredAt,
        occurredAtMs,
        crsDate: cal.day(occurredAtMs),
        crsMonth: cal.month(occurredAtMs),
        apiKeyId: k.id,
        accountId,
        crsAccountType: a.recordType,
        model: a.model,
        ...tokens,
        realCost,
        ratedCost,
        realCostUsd8: realCost.toFixed(8),
        ratedCostUsd8: ratedCost.toFixed(8),
        crsRecordJson: json,
        eventRequestId: "",
      });
    }
  }
  requests.sort((x, y) => x.occurredAtMs - y.occurredAtMs || x.apiKeyId.localeCompare(y.apiKeyId));
  requests.forEach((r, i) => (r.seq = i));

  const zero = (): Truth => ({ ...ZERO_FIG });
  const truth = { accounts: new Map<string, Truth>(), keys: new Map<string, Truth>(), global: zero() };
  const addTo = (map: Map<string, Truth> | null, id: string, r: FixtureRequest) => {
    let t = map ? map.get(id) : truth.global;
    if (!t) map!.set(id, (t = zero()));
    t.requests++;
    t.inputTokens += r.inputTokens;
    t.outputTokens += r.outputTokens;
    t.cacheCreateTokens += r.cacheCreateTokens;
    t.cacheReadTokens += r.cacheReadTokens;
    t.costNanos += nanosOf8(r.realCost);
    t.ratedCostNanos += nanosOf8(r.ratedCost);
  };
  for (const r of requests) {
    addTo(truth.accounts, r.accountId, r);
    addTo(truth.keys, r.apiKeyId, r);
    addTo(null, "", r);
  }
  return { layout, accounts, keys, serviceRatesJson, requests, truth };
}

/** What CRS holds before any request: accounts in their native storage, keys, rates, and (newer) its `apikey:` sub-keys. */
export async function writeFamilyMetadata(redis: Redis, fx: FamilyFixture): Promise<void> {
  const p = redis.pipeline();
  for (const a of fx.accounts) {
    if (a.storage === "json") p.set(a.redisKey, JSON.stringify(a.fields));
    else p.hset(a.redisKey, Object.fromEntries(Object.entries(a.fields).map(([k, v]) => [k, String(v)])));
    p.sadd(a.index, a.id);
  }
  for (const k of fx.keys) {
    p.hset(`apikey:${k.id}`, k.hash);
    p.hset("apikey:hash_map", k.hash.apiKey!, k.id);
    p.zadd("apikey:idx:createdAt", Date.parse(k.hash.createdAt!), k.id);
    p.sadd("apikey:idx:all", k.id);
    p.sadd("apikey:set:active", k.id);
    p.sadd("apikey:tag:fixture", k.id);
  }
  p.set("apikey:index:version", fx.layout === "newer" ? "4" : "2");
  p.set("system:service_rates", fx.serviceRatesJson);
  if (fx.layout === "newer") {
    const k = fx.keys[0]!.id;
    p.lpush(`apikey:change_history:${k}`, JSON.stringify({ id: "h1", time: new Date(FAMILY_ANCHOR - 30 * DAY).toISOString(), action: "enable", operator: "admin" }));
    p.sadd("apikey:tags:manual", "fixture", "vip");
    p.hset("apikey:index:drift", { lastCheckAt: new Date(FAMILY_ANCHOR).toISOString(), lastCheckResult: "ok", driftCount: "0" });
    p.zadd("apikey:idx:deletedAt", FAMILY_ANCHOR - 40 * DAY, "00000000-0000-4000-a000-000000000000");
  }
  await p.exec();
}

/** Every request of the fixture, in time order, the way its CRS version writes it. */
export async function writeFamilyRequests(redis: Redis, fx: FamilyFixture, from = 0, to = fx.requests.length): Promise<void> {
  for (let i = from; i < to; i++) await writeLikeCrs(redis, fx.requests[i]!, { layout: fx.layout, lastUsedIndex: true });
}
