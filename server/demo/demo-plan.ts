import type { AccountView, ApiKeyView } from "../accounts/schemas";
import { localMidnight } from "../calendar";
import { localCalendar } from "../usage/local-time";
import { normalizeEvent, type NormalizedEvent } from "../usage/normalize";
import type { UsageEvent } from "../usage/schemas";
import { FIGURE_MEASURES } from "../usage-stats/figures";
import { FIGURES, type UsageTotals } from "../usage-stats/schemas";

/**
 * The demo data set as a pure function of its options, a seed and "now": accounts, API keys,
 * usage events and the figures they add up to. The figures are computed here, independently of
 * the stores, so that whoever reads them (the CLI's summary, the e2e specs) checks the whole
 * recording + read path against arithmetic done elsewhere.
 *
 * Every id starts with DEMO_PREFIX: cleaning removes exactly those ids and nothing else.
 */
export const DEMO_PREFIX = "demo-";

export interface DemoOptions {
  accounts: number;
  keysPerAccount: number;
  days: number;
  events: number;
  seed: string;
}

export const DEFAULT_DEMO_OPTIONS: DemoOptions = { accounts: 6, keysPerAccount: 5, days: 30, events: 1500, seed: "demo" };

/** The first account always has this many keys or more, so the breakdown has a second page (20 a page). */
export const FIRST_ACCOUNT_MIN_KEYS = 27;
/** Keys of the first account that certainly have usage today. */
const FIRST_ACCOUNT_KEYS_TODAY = 12;

export type DemoAccount = Pick<AccountView, "id" | "name" | "platform" | "type" | "status" | "priority">;

/** Every demo key belongs to a demo account. */
export type DemoKey = Pick<ApiKeyView, "id" | "name"> & { accountId: string };

/**
 * What the demo generated in a window, in the read API's figures (db/measures.ts) — cost and
 * ratedCost in USD with 6 decimals, exact since every demo event costs a whole number of micro-USD —
 * plus both costs in micro-USD. The rated cost is what the key holders are charged (KEY_RATES).
 */
export type DemoTotals = UsageTotals & { costMicros: number; ratedCostMicros: number };

export interface DemoWindows {
  daily: DemoTotals;
  monthly: DemoTotals;
  total: DemoTotals;
}

export interface DemoKeyFigures {
  apiKeyId: string;
  apiKeyName: string;
  usage: DemoWindows;
  /** Model of the key's latest event in each window (null: no event in it). */
  lastModel: { daily: string | null; monthly: string | null; total: string | null };
  lastUsedAt: string | null;
}

export interface DemoAccountFigures extends DemoAccount {
  keys: number;
  lastUsedAt: string | null;
  usage: DemoWindows;
}

export interface DemoFigures {
  seed: string;
  options: DemoOptions;
  generatedAt: string;
  timezone: string;
  today: string;
  month: string;
  events: number;
  accounts: DemoAccountFigures[];
  /** Per key of the first account (the one the e2e specs open). */
  firstAccount: { id: string; name: string; keys: DemoKeyFigures[] };
  totals: DemoWindows;
}

export interface DemoPlan {
  accounts: DemoAccount[];
  keys: DemoKey[];
  events: UsageEvent[];
  figures: DemoFigures;
}

/** mulberry32 seeded by a string hash (xmur3): small, fast and the same on every platform. */
export function seededRandom(seed: string): () => number {
  let h = 1779033703 ^ seed.length;
  for (let i = 0; i < seed.length; i++) {
    h = Math.imul(h ^ seed.charCodeAt(i), 3432918353);
    h = (h << 13) | (h >>> 19);
  }
  h = Math.imul(h ^ (h >>> 16), 2246822507);
  h = Math.imul(h ^ (h >>> 13), 3266489909);
  let a = (h ^= h >>> 16) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Price {
  /** micro-USD per token = USD per million tokens. */
  input: number;
  output: number;
  cacheCreate: number;
  cacheRead: number;
}

const CLAUDE = [
  { model: "claude-sonnet-4-5-20250929", price: { input: 3, output: 15, cacheCreate: 3.75, cacheRead: 0.3 } },
  { model: "claude-opus-4-1-20250805", price: { input: 15, output: 75, cacheCreate: 18.75, cacheRead: 1.5 } },
  { model: "claude-3-5-haiku-20241022", price: { input: 0.8, output: 4, cacheCreate: 1, cacheRead: 0.08 } },
];
const GEMINI = [
  { model: "gemini-2.5-pro", price: { input: 1.25, output: 10, cacheCreate: 0, cacheRead: 0.31 } },
  { model: "gemini-2.5-flash", price: { input: 0.3, output: 2.5, cacheCreate: 0, cacheRead: 0.075 } },
];
const OPENAI = [
  { model: "gpt-5", price: { input: 1.25, output: 10, cacheCreate: 0, cacheRead: 0.125 } },
  { model: "gpt-4.1", price: { input: 2, output: 8, cacheCreate: 0, cacheRead: 0.5 } },
  { model: "gpt-4o-mini", price: { input: 0.15, output: 0.6, cacheCreate: 0, cacheRead: 0.075 } },
];

const PLATFORMS: { platform: string; type: string; name: string; models: { model: string; price: Price }[] }[] = [
  { platform: "claude", type: "shared", name: "演示 Claude 主账号", models: CLAUDE },
  { platform: "gemini", type: "shared", name: "Demo Gemini Pro", models: GEMINI },
  { platform: "openai", type: "group", name: "演示 OpenAI 组织", models: OPENAI },
  { platform: "bedrock", type: "dedicated", name: "Demo Bedrock us-west-2", models: CLAUDE },
  { platform: "claude-console", type: "shared", name: "演示 Claude Console", models: CLAUDE },
  { platform: "azure-openai", type: "dedicated", name: "Demo Azure OpenAI", models: OPENAI },
];
const STATUSES = ["active", "active", "active", "paused", "active", "error"];
const TEAMS = ["生产", "测试", "CI", "移动端", "数据组", "客服", "翻译", "内部工具", "实验", "报表", "Search", "Batch"];

const pad2 = (n: number) => String(n).padStart(2, "0");

function zero(): DemoTotals {
  return { ...(Object.fromEntries(FIGURES.map((f) => [f, 0])) as UsageTotals), costMicros: 0, ratedCostMicros: 0 };
}

function zeroWindows(): DemoWindows {
  return { daily: zero(), monthly: zero(), total: zero() };
}

/**
 * Rates of the demo keys by their index in the account, as a relay applies them to the real cost
 * (CRS: the service's rate × the key's rate): most keys at cost, some marked up, one discounted.
 */
const KEY_RATES = [1, 1.2, 1, 0.8, 1.5];

/** The count figures an event adds (as the ledger counts them: normalize.ts), and both costs. */
const COUNT_FIGURES = FIGURE_MEASURES.filter((m) => m.kind === "count");

function add(t: DemoTotals, counters: NormalizedEvent["counters"], costMicros: number, ratedMicros: number) {
  for (const m of COUNT_FIGURES) t[m.name] += counters[m.field];
  t.costMicros += costMicros;
  t.cost = t.costMicros / 1e6;
  t.ratedCostMicros += ratedMicros;
  t.ratedCost = t.ratedCostMicros / 1e6;
}

export function demoAccountId(i: number): string {
  return `${DEMO_PREFIX}acc-${pad2(i + 1)}`;
}

export function buildDemoPlan(options: DemoOptions, timezone: string, now = new Date()): DemoPlan {
  const rand = seededRandom(options.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  const nowMs = now.getTime() - 1_000;
  const cal = localCalendar(timezone);
  const { date: today, month } = cal.at(nowMs);
  const startMs = nowMs - options.days * 86_400_000;
  const midnightMs = localMidnight(today, timezone);
  // Just after midnight, today's window is tiny: let it reach a minute ahead (the recording API
  // accepts up to five minutes of clock skew) so that distinct instants always fit.
  const todayEndMs = Math.max(nowMs, midnightMs + 60_000);

  const accounts: DemoAccount[] = [];
  const keys: DemoKey[] = [];
  const keysOf: DemoKey[][] = [];
  for (let i = 0; i < options.accounts; i++) {
    const p = PLATFORMS[i % PLATFORMS.length]!;
    const id = demoAccountId(i);
    accounts.push({ id, name: `${p.name} ${pad2(i + 1)}`, platform: p.platform, type: p.type, status: STATUSES[i % STATUSES.length]!, priority: 10 * (i + 1) });
    const n = i === 0 ? Math.max(options.keysPerAccount, FIRST_ACCOUNT_MIN_KEYS) : options.keysPerAccount;
    const own: DemoKey[] = [];
    for (let k = 0; k < n; k++) {
      own.push({ id: `${DEMO_PREFIX}key-${pad2(i + 1)}-${pad2(k + 1)}`, name: `${TEAMS[k % TEAMS.length]} ${pad2(i + 1)}-${pad2(k + 1)}`, accountId: id });
    }
    keysOf.push(own);
    keys.push(...own);
  }

  // Weighted picks: the first account and the first keys of each account are busier, so the
  // list and the breakdown have a clear order.
  const accountWeights = accounts.map((_, i) => (i === 0 ? 3 : 1 / (1 + i * 0.3)));
  const keyWeights = keysOf.map((own) => own.map((_, k) => 1 / (k + 1) ** 0.7));
  const pick = (weights: number[]) => {
    const sum = weights.reduce((a, b) => a + b, 0);
    let r = rand() * sum;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    return weights.length - 1;
  };

  // Distinct instants, so that "the latest event of a key" (last model) is never a tie.
  const usedMs = new Set<number>();
  const instant = (lo: number, hi: number) => {
    let ms = lo + Math.floor(rand() * Math.max(1, hi - lo));
    while (usedMs.has(ms)) ms = ms + 1 >= hi ? lo : ms + 1;
    usedMs.add(ms);
    return ms;
  };

  const planned: { account: number; key: number; ms: number }[] = [];
  // Guarantees first: every key of the first account has usage, a dozen of them today.
  const first = keysOf[0] ?? [];
  first.forEach((_, k) => planned.push({ account: 0, key: k, ms: instant(startMs, nowMs) }));
  for (let k = 0; k < Math.min(FIRST_ACCOUNT_KEYS_TODAY, first.length); k++) planned.push({ account: 0, key: k, ms: instant(midnightMs, todayEndMs) });
  while (planned.length < options.events) {
    const a = pick(accountWeights);
    const k = pick(keyWeights[a]!);
    // A quarter of the events fall today, so that today is never thin.
    const ms = rand() < 0.25 ? instant(midnightMs, todayEndMs) : instant(startMs, nowMs);
    planned.push({ account: a, key: k, ms });
  }

  const events: UsageEvent[] = [];
  const accountWin = accounts.map(() => zeroWindows());
  const accountLast = accounts.map(() => 0);
  const firstKeys = first.map(() => ({ usage: zeroWindows(), last: { daily: [0, null], monthly: [0, null], total: [0, null] } as Record<"daily" | "monthly" | "total", [number, string | null]> }));
  const totals = zeroWindows();

  planned.forEach((p, n) => {
    const platform = PLATFORMS[p.account % PLATFORMS.length]!;
    const m = platform.models[int(0, platform.models.length - 1)]!;
    const inputTokens = int(200, 20_000);
    const outputTokens = int(50, 4_000);
    const cacheCreateTokens = m.price.cacheCreate > 0 && rand() < 0.3 ? int(1_000, 10_000) : 0;
    const cacheReadTokens = rand() < 0.5 ? int(2_000, 50_000) : 0;
    const costMicros = Math.round(
      inputTokens * m.price.input + outputTokens * m.price.output + cacheCreateTokens * m.price.cacheCreate + cacheReadTokens * m.price.cacheRead,
    );
    const key = keysOf[p.account]![p.key]!;
    const rate = KEY_RATES[p.key % KEY_RATES.length]!;
    const ratedMicros = Math.round(costMicros * rate);
    const event: UsageEvent = {
      requestId: `${DEMO_PREFIX}req-${options.seed}-${n}`,
      occurredAt: new Date(p.ms).toISOString(),
      accountId: accounts[p.account]!.id,
      apiKeyId: key.id,
      model: m.model,
      inputTokens,
      outputTokens,
      cacheCreateTokens,
      cacheReadTokens,
      requests: 1,
      cost: (costMicros / 1e6).toFixed(6),
      ...(rate === 1 ? {} : { ratedCost: (ratedMicros / 1e6).toFixed(6) }),
      metadata: { demo: true },
    };
    events.push(event);

    const at = cal.at(p.ms);
    const counters = normalizeEvent(event, timezone).counters;
    const windows: ("daily" | "monthly" | "total")[] = ["total"];
    if (at.month === month) windows.push("monthly");
    if (at.date === today) windows.push("daily");
    for (const w of windows) {
      add(accountWin[p.account]![w], counters, costMicros, ratedMicros);
      add(totals[w], counters, costMicros, ratedMicros);
    }
    accountLast[p.account] = Math.max(accountLast[p.account]!, p.ms);
    if (p.account === 0) {
      const fk = firstKeys[p.key]!;
      for (const w of windows) {
        add(fk.usage[w], counters, costMicros, ratedMicros);
        if (p.ms > fk.last[w][0]) fk.last[w] = [p.ms, m.model];
      }
    }
  });

  const iso = (ms: number) => (ms > 0 ? new Date(ms).toISOString() : null);
  const figures: DemoFigures = {
    seed: options.seed,
    options,
    generatedAt: now.toISOString(),
    timezone,
    today,
    month,
    events: events.length,
    accounts: accounts.map((a, i) => ({ ...a, keys: keysOf[i]!.length, lastUsedAt: iso(accountLast[i]!), usage: accountWin[i]! })),
    firstAccount: {
      id: accounts[0]?.id ?? "",
      name: accounts[0]?.name ?? "",
      keys: first.map((k, i) => ({
        apiKeyId: k.id,
        apiKeyName: k.name,
        usage: firstKeys[i]!.usage,
        lastModel: { daily: firstKeys[i]!.last.daily[1], monthly: firstKeys[i]!.last.monthly[1], total: firstKeys[i]!.last.total[1] },
        lastUsedAt: iso(firstKeys[i]!.last.total[0]),
      })),
    },
    totals,
  };
  return { accounts, keys, events, figures };
}
