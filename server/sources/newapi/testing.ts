import { rng } from "../../usage/usage.fixtures";
import type { LogRow, NewapiDatabase, NewapiVariant } from "./newapi.fixtures";

/**
 * Tests only: `logs` rows written as new-api / one-api write them, and the figures they must give,
 * worked out here from the rows (exact BigInt arithmetic), never read back from the ledger.
 */

export { zero, type Figures } from "../sub2api/testing";
import { zero, type Figures } from "../sub2api/testing";

export interface GenerateOptions {
  endMs: number;
  spreadHours: number;
  channels: number[];
  tokens: { id: number; userId: number; name: string }[];
  variant?: NewapiVariant;
}

const CHANNEL_TEST = "模型测试";
const MODELS = ["claude-sonnet-4-5", "claude-opus-4-1", "gpt-5", "gpt-4o-mini", "gemini-2.5-pro", "deepseek-chat"];

/**
 * `n` rows over the `spreadHours` before `endMs`, in created_at order (so id order ≈ time order,
 * as a relay writes). new-api: ~80 % consume rows (Claude semantic with `usage_semantic` or the
 * older `claude: true`, OpenAI semantic, no/empty/invalid `other`, odd values in `other`, channel
 * tests, negative re-consume deltas, zero-usage rows), refunds (type 6, some from Midjourney with
 * token_id 0), errors (5), top-ups (1), manage (3) and system (4) rows. one-api: consume (2),
 * channel tests (5), top-ups, manage and system rows.
 */
export function generateNewapiLogs(n: number, seed: number, opts: GenerateOptions): LogRow[] {
  const variant = opts.variant ?? "new-api";
  const r = rng(seed);
  const int = (max: number) => Math.floor(r() * max);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
  const out: LogRow[] = [];
  for (let i = 0; i < n; i++) {
    const tok = pick(opts.tokens);
    const channel = pick(opts.channels);
    const createdAt = Math.floor((opts.endMs - int(opts.spreadHours * 3_600_000)) / 1000);
    const model = pick(MODELS);
    const stream = r() < 0.5;
    out.push(variant === "new-api" ? newapiRow(i) : oneapiRow());

    function newapiRow(i: number): LogRow {
      const base: LogRow = {
        user_id: tok.userId, username: `user${tok.userId}`, created_at: createdAt, type: 2, content: "", token_name: tok.name,
        token_id: tok.id, channel_id: channel, model_name: model, quota: 0, prompt_tokens: 0, completion_tokens: 0,
        use_time: int(60), is_stream: stream, group: pick(["default", "vip", "svip"]), other: null, request_id: `req-${seed}-${i}`,
      };
      const p = r();
      if (p < 0.8) {
        const q = r();
        if (q < 0.04) return { ...consume(base), user_id: 1, username: "root", token_id: 0, token_name: CHANNEL_TEST, content: CHANNEL_TEST };
        if (q < 0.07) {
          const pre = 1 + int(100_000);
          const delta = -(1 + int(pre));
          return {
            ...base, quota: delta, content: "异步任务重算", use_time: 0,
            other: JSON.stringify({ task_id: `task_${seed}_${i}`, pre_consumed_quota: pre, actual_quota: pre + delta, group_ratio: pick([1, 0.8, 1.5]), model_price: 0.2 }),
          };
        }
        if (q < 0.13) {
          const row = consume(base);
          return { ...row, other: [null, "", "{bad"][i % 3]! };
        }
        if (q < 0.15) return { ...base, content: "上游没有返回计费信息", other: JSON.stringify({ model_ratio: 1, group_ratio: 1, model_price: -1 }) };
        return consume(base);
      }
      if (p < 0.86) {
        const mj = r() < 0.3;
        const g = pick([1, 0.8, 1.5, 2.5]);
        return {
          ...base, type: 6, quota: 1 + int(200_000), content: "", use_time: 0, is_stream: false, request_id: "",
          ...(mj ? { token_id: 0, token_name: "", group: "", model_name: "mj_imagine" } : {}),
          other: JSON.stringify(mj ? { task_id: `mj_${seed}_${i}`, reason: "构图失败" } : { task_id: `task_${seed}_${i}`, reason: "task failed", model_price: 0.2, group_ratio: g }),
        };
      }
      if (p < 0.9) {
        return {
          ...base, type: 5, content: "upstream error: status 429", use_time: 0,
          other: JSON.stringify({ request_path: "/v1/chat/completions", error_type: "upstream_error", status_code: 429, channel_id: channel }),
        };
      }
      if (p < 0.94) return { ...base, type: 1, quota: 500_000 * (1 + int(20)), content: "通过兑换码充值 $10", token_id: 0, token_name: "", channel_id: 0, model_name: "", group: "", use_time: 0 };
      return { ...base, type: pick([3, 4]), quota: 0, content: "管理员操作", token_id: 0, token_name: "", channel_id: 0, model_name: "", group: "", use_time: 0 };
    }

    function consume(base: LogRow): LogRow {
      const claude = model.startsWith("claude");
      const semantic = claude ? (r() < 0.5 ? "usage_semantic" : "claude") : undefined;
      const cacheRead = r() < 0.6 ? int(40_000) : 0;
      const cc = r() < 0.4 ? int(6_000) : 0;
      const split = claude && cc > 0 && r() < 0.4;
      const c5 = split ? int(cc + 1) : 0;
      const fresh = int(20_000);
      const completion = int(8_000);
      const g = pick([1, 0.8, 1.5, 2.5, 0.3, 1.25]);
      const modelRatio = pick([1.5, 2.5, 0.075, 15]);
      const completionRatio = pick([4, 5, 8]);
      const quota = Math.round((fresh + cacheRead * 0.1 + cc * 1.25 + completion * completionRatio) * modelRatio * g);
      const other: Record<string, unknown> = {
        model_ratio: modelRatio, group_ratio: g, completion_ratio: completionRatio, cache_tokens: cacheRead, cache_ratio: 0.1,
        model_price: -1, user_group_ratio: -1, frt: stream ? int(3_000) : -1000,
      };
      if (semantic === "usage_semantic") other.usage_semantic = "anthropic";
      if (semantic === "claude") other.claude = true;
      if (cc > 0 || claude) {
        // With a 5m/1h split, the total is sometimes left out: the reader must add the parts.
        if (!split || r() < 0.5) other.cache_creation_tokens = cc;
        other.cache_creation_ratio = 1.25;
      }
      if (split) {
        if (c5 > 0) other.cache_creation_tokens_5m = c5;
        if (cc - c5 > 0) other.cache_creation_tokens_1h = cc - c5;
      }
      // Values a reader must not trust: not a non-negative integer / not a positive number.
      if (r() < 0.02) other.cache_tokens = pick(["50", 12.5, -3]);
      if (r() < 0.02) other.group_ratio = pick([0, -1, "2"]);
      return {
        ...base, content: "", quota, prompt_tokens: semantic ? fresh : fresh + cacheRead + cc, completion_tokens: completion,
        other: JSON.stringify(other),
      };
    }

    function oneapiRow(): LogRow {
      const base: LogRow = {
        user_id: tok.userId, username: `user${tok.userId}`, created_at: createdAt, type: 2, content: "", token_name: tok.name,
        channel_id: channel, model_name: model, quota: 0, prompt_tokens: 0, completion_tokens: 0, elapsed_time: int(60_000),
        is_stream: stream, request_id: "",
      };
      const p = r();
      if (p < 0.85) {
        const m = pick([1.5, 2.5, 0.075, 15]);
        const g = pick([1, 0.8, 1.5]);
        const c = pick([1, 3, 4]);
        if (r() < 0.05) {
          // billing.PostConsumeQuota (audio): the quota is stored in prompt_tokens.
          const quota = 1 + int(50_000);
          return { ...base, quota, prompt_tokens: quota, content: `倍率：${m} × ${g} × ${c}` };
        }
        const prompt = int(20_000);
        const completion = int(8_000);
        const raw = Math.ceil((prompt + completion * c) * m * g);
        const quota = prompt + completion === 0 ? 0 : Math.max(1, raw);
        return { ...base, quota, prompt_tokens: prompt, completion_tokens: completion, content: `倍率：${m} × ${g} × ${c}` };
      }
      if (p < 0.9) return { ...base, type: 5, user_id: 0, username: "", token_name: "", content: `通道 ${channel} 测试成功，耗时 1.2 秒`, elapsed_time: 0 };
      if (p < 0.94) return { ...base, type: 1, quota: 500_000 * (1 + int(20)), content: "通过兑换码充值 $10", token_name: "", channel_id: 0, model_name: "" };
      return { ...base, type: pick([3, 4]), content: "管理员操作", token_name: "", channel_id: 0, model_name: "" };
    }
  }
  return out.sort((a, b) => a.created_at - b.created_at);
}

/** Generates `n` rows and inserts them in batches; the rows come back with their ids. */
export async function addNewapiLogs(
  db: Pick<NewapiDatabase, "insertLogs" | "variant">,
  n: number,
  opts: Omit<GenerateOptions, "variant"> & { seed: number; batch?: number },
): Promise<LogRow[]> {
  const rows = generateNewapiLogs(n, opts.seed, { ...opts, variant: db.variant });
  const batch = opts.batch ?? 500;
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const ids = await db.insertLogs(chunk);
    chunk.forEach((r, j) => (r.id = ids[j]));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// The product's definition of a new-api / one-api row as usage, exact.

/** A decimal's text (JSON number text, possibly with an exponent) as n × 10^-scale. */
function decimal(text: string): { n: bigint; scale: number } {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text.trim());
  if (!m || (m[2] === "" && !m[3])) throw new Error(`not a decimal: ${text}`);
  const frac = m[3] ?? "";
  let n = BigInt(`${m[2] || "0"}${frac}`);
  let scale = frac.length - Number(m[4] ?? 0);
  if (scale < 0) {
    n *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { n: m[1] === "-" ? -n : n, scale };
}

/** num / den rounded half away from zero (den > 0). */
const roundDiv = (num: bigint, den: bigint) => {
  const abs = num < 0n ? -num : num;
  const q = (2n * abs + den) / (2n * den);
  return num < 0n ? -q : q;
};

const count = (v: unknown) => (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 ? v : 0);

function otherOf(row: LogRow, variant: NewapiVariant): Record<string, unknown> {
  if (variant === "one-api" || !row.other) return {};
  try {
    const o: unknown = JSON.parse(row.other);
    return o !== null && typeof o === "object" && !Array.isArray(o) ? (o as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export interface TruthOptions {
  /** The options row's text; "500000" when absent. Must divide 10^8 so rated USD is exact. */
  quotaPerUnit?: string;
  timeZone: string;
  variant?: NewapiVariant;
  /** The ledger's source name: keys are `${source}-${channel}` and `${source}-key-${token}` (as sub2api's mapping), unless given. */
  source: string;
  channelKey?: (row: LogRow) => string;
  tokenKey?: (row: LogRow) => string;
}

/** One row's figures, or undefined when the row is not usage. */
export function newapiRowFigures(row: LogRow, opts: Pick<TruthOptions, "quotaPerUnit" | "variant">): Figures | undefined {
  const variant = opts.variant ?? "new-api";
  const refund = variant === "new-api" && row.type === 6;
  if (row.type !== 2 && !refund) return undefined;
  const qpu = decimal(opts.quotaPerUnit ?? "500000");
  const ratedDen = qpu.n; // rated in 1e-8 USD = quota × 10^(8+scale) / n
  const ratedMul = 10n ** BigInt(8 + qpu.scale);
  if (ratedDen <= 0n || ratedMul % ratedDen !== 0n) throw new Error(`newapiTruth: QuotaPerUnit ${opts.quotaPerUnit} must divide 10^8`);
  const o = otherOf(row, variant);
  const signed = BigInt(refund ? -row.quota : row.quota);
  const rated = (signed * ratedMul) / ratedDen;
  const g = typeof o.group_ratio === "number" && Number.isFinite(o.group_ratio) && o.group_ratio > 0 ? decimal(String(o.group_ratio)) : { n: 1n, scale: 0 };
  const real = roundDiv(rated * 10n ** BigInt(g.scale), g.n);
  if (refund) return { ...zero(), costNanos: real * 10n, ratedCostNanos: rated * 10n };
  const cacheRead = count(o.cache_tokens);
  const cc = count(o.cache_creation_tokens);
  const cacheCreate = cc > 0 ? cc : count(o.cache_creation_tokens_5m) + count(o.cache_creation_tokens_1h);
  const anthropic = o.usage_semantic === "anthropic" || o.claude === true;
  return {
    requests: row.quota >= 0 ? 1 : 0,
    inputTokens: anthropic ? row.prompt_tokens : Math.max(0, row.prompt_tokens - cacheRead - cacheCreate),
    outputTokens: row.completion_tokens,
    cacheCreateTokens: cacheCreate,
    cacheReadTokens: cacheRead,
    costNanos: real * 10n,
    ratedCostNanos: rated * 10n,
  };
}

export function addFigures(f: Figures, x: Figures): void {
  f.requests += x.requests;
  f.inputTokens += x.inputTokens;
  f.outputTokens += x.outputTokens;
  f.cacheCreateTokens += x.cacheCreateTokens;
  f.cacheReadTokens += x.cacheReadTokens;
  f.costNanos += x.costNanos;
  f.ratedCostNanos += x.ratedCostNanos;
}

export interface NewapiTruth {
  total: Figures;
  byChannel: Map<string, Figures>;
  byToken: Map<string, Figures>;
  byModel: Map<string, Figures>;
  /** `${channel}|${token}` */
  byChannelToken: Map<string, Figures>;
  /** `${channel}|YYYY-MM-DD`, `${token}|YYYY-MM-DD`, `YYYY-MM-DD` (local dates in timeZone). */
  byChannelDay: Map<string, Figures>;
  byTokenDay: Map<string, Figures>;
  byDay: Map<string, Figures>;
  /** `${channel}|YYYY-MM`, `${token}|YYYY-MM`, `YYYY-MM`. */
  byChannelMonth: Map<string, Figures>;
  byTokenMonth: Map<string, Figures>;
  byMonth: Map<string, Figures>;
}

export function newapiTruth(rows: LogRow[], opts: TruthOptions): NewapiTruth {
  const variant = opts.variant ?? "new-api";
  const channelKey = opts.channelKey ?? ((r: LogRow) => `${opts.source}-${r.channel_id}`);
  const tokenKey =
    opts.tokenKey ?? ((r: LogRow) => (variant === "new-api" ? `${opts.source}-key-${r.token_id ?? 0}` : `${opts.source}-key-${r.user_id}-${r.token_name}`));
  const dayOf = new Intl.DateTimeFormat("en-CA", { timeZone: opts.timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  const t: NewapiTruth = {
    total: zero(), byChannel: new Map(), byToken: new Map(), byModel: new Map(), byChannelToken: new Map(),
    byChannelDay: new Map(), byTokenDay: new Map(), byDay: new Map(), byChannelMonth: new Map(), byTokenMonth: new Map(), byMonth: new Map(),
  };
  const into = (m: Map<string, Figures>, k: string, f: Figures) => {
    if (!m.has(k)) m.set(k, zero());
    addFigures(m.get(k)!, f);
  };
  for (const row of rows) {
    const f = newapiRowFigures(row, { quotaPerUnit: opts.quotaPerUnit, variant });
    if (!f) continue;
    const ch = channelKey(row);
    const tk = tokenKey(row);
    const day = dayOf.format(new Date(row.created_at * 1000));
    const month = day.slice(0, 7);
    addFigures(t.total, f);
    into(t.byChannel, ch, f);
    into(t.byToken, tk, f);
    into(t.byModel, row.model_name, f);
    into(t.byChannelToken, `${ch}|${tk}`, f);
    into(t.byChannelDay, `${ch}|${day}`, f);
    into(t.byTokenDay, `${tk}|${day}`, f);
    into(t.byDay, day, f);
    into(t.byChannelMonth, `${ch}|${month}`, f);
    into(t.byTokenMonth, `${tk}|${month}`, f);
    into(t.byMonth, month, f);
  }
  return t;
}
