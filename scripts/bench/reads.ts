import type pg from "pg";
import type { Runtime } from "../../server/runtime";
import { addDays } from "../../server/calendar";
import { localCalendar } from "../../server/usage/local-time";
import { addFig, ZERO_FIG } from "../../server/usage-stats/figures";
import { ACCOUNT_SORTS, accountBreakdownInput, accountSummaryInput, accountUsageListInput, type UsageTotals } from "../../server/usage-stats/schemas";
import { nanosToUsd } from "../../server/usage-stats/figures";
import { getAccountBreakdown, getAccountSummary, listAccountUsage } from "../../server/usage-stats/stats.service";
import { baselineAccountList, baselineByDay, baselineByModel, baselineKeyBreakdown, type BaseFig } from "./baseline";
import { request, requestOk, timeRuns, type Latency } from "./measure";

export interface Calendar {
  today: string;
  month: string;
  monthStart: string;
  nextMonthStart: string;
  start90: string;
}

export function calendarNow(timezone: string): Calendar {
  const { date, month } = localCalendar(timezone).at(Date.now());
  const [y, m] = month.split("-").map(Number) as [number, number];
  const next = m === 12 ? `${y + 1}-01-01` : `${y}-${String(m + 1).padStart(2, "0")}-01`;
  return { today: date, month, monthStart: `${month}-01`, nextMonthStart: next, start90: addDays(date, -89) };
}

export type BreakdownRange = "today" | "month" | "total" | "custom90";
export const BREAKDOWN_RANGES: BreakdownRange[] = ["today", "month", "total", "custom90"];

function rangeInput(r: BreakdownRange, cal: Calendar): Record<string, string> {
  if (r === "today") return { range: "daily" };
  if (r === "month") return { range: "monthly" };
  if (r === "total") return { range: "total" };
  return { range: "custom", start: cal.start90, end: cal.today };
}

function rangeBounds(r: BreakdownRange, cal: Calendar): [string | null, string | null] {
  if (r === "today") return [cal.today, cal.today];
  if (r === "month") return [cal.monthStart, addDays(cal.nextMonthStart, -1)];
  if (r === "total") return [null, null];
  return [cal.start90, cal.today];
}

export interface ReadFigures {
  accountsList: { service: Latency; http: Latency; rows: number };
  breakdown: Record<BreakdownRange, { service: Latency; http: Latency; keys: number }>;
  summary: { service: Latency; http: Latency; seriesPoints: number; models: number };
  baseline: { accountsList: Latency; breakdown: Record<BreakdownRange, Latency> };
  /** A request refused before any work (no token → 401): what Next.js and the route wrapper cost alone. */
  httpFloor?: Latency;
  busiestAccount: string;
  /** Issue 26 (absent in older runs): every sort of the list, a name search, pages deep in the lists. */
  entity?: EntityFigures;
}

export interface EntityFigures {
  accounts: number;
  /** Every sort the list allows, in its default order, a page of 100. */
  sorts: { sort: string; service: Latency; http: Latency }[];
  /** A case-insensitive substring of the name. */
  search: { query: string; rows: number; service: Latency; http: Latency };
  /** The list's last page of 100 (by total cost). */
  accountsDeep: { offset: number; service: Latency; http: Latency };
  /** The busiest account's breakdown: its last page of 100, per range. */
  breakdownDeep: Record<BreakdownRange, { offset: number; service: Latency; http: Latency }>;
}

export interface ReadOptions {
  runs: number;
  baselineRuns: number;
  /** Time budget per baseline query (ms); at least 5 runs are made. */
  baselineBudgetMs: number;
  baseUrl: string;
  readToken: string;
}

export async function busiestAccount(pool: pg.Pool): Promise<string> {
  const r = await pool.query(`SELECT account_id FROM usage_account_totals ORDER BY requests DESC, account_id LIMIT 1`);
  return String(r.rows[0].account_id);
}

export async function measureReads(runtime: Runtime, pool: pg.Pool, o: ReadOptions, log: (s: string) => void): Promise<ReadFigures> {
  const tz = runtime.config.usageTimezone;
  const cal = calendarNow(tz);
  const busiest = await busiestAccount(pool);
  const auth = { authorization: `Bearer ${o.readToken}` };
  const get = (path: string) => requestOk(`${o.baseUrl}${path}`, { headers: auth });

  const httpFloor = await timeRuns(
    async () => {
      const r = await request(`${o.baseUrl}/admin/accounts/usage-stats`);
      if (r.status !== 401) throw new Error(`expected 401 without a token, got ${r.status}`);
    },
    { runs: o.runs },
  );
  log(`  a. accounts list (limit 500): service, HTTP …`);
  const listInput = accountUsageListInput.parse({ limit: 500 });
  let rows = 0;
  const aService = await timeRuns(async () => (rows = (await listAccountUsage(runtime, listInput)).data.length), { runs: o.runs });
  const aHttp = await timeRuns(() => get(`/admin/accounts/usage-stats?limit=500`), { runs: o.runs });

  const breakdown = {} as ReadFigures["breakdown"];
  for (const r of BREAKDOWN_RANGES) {
    log(`  b. per-key breakdown of ${busiest}, ${r} …`);
    const input = accountBreakdownInput.parse({ id: busiest, limit: 100, ...rangeInput(r, cal) });
    let keys = 0;
    const service = await timeRuns(async () => (keys = (await getAccountBreakdown(runtime, input)).data.total), { runs: o.runs });
    const qs = new URLSearchParams({ limit: "100", ...rangeInput(r, cal) }).toString();
    const httpLat = await timeRuns(() => get(`/admin/accounts/${encodeURIComponent(busiest)}/usage-breakdown?${qs}`), { runs: o.runs });
    breakdown[r] = { service, http: httpLat, keys };
  }

  log(`  c. summary of ${busiest}, 90 days, by model and series …`);
  const sInput = accountSummaryInput.parse({ id: busiest, ...rangeInput("custom90", cal) });
  let seriesPoints = 0;
  let models = 0;
  const cService = await timeRuns(
    async () => {
      const d = (await getAccountSummary(runtime, sInput)).data;
      seriesPoints = d.series?.length ?? 0;
      models = d.byModel?.length ?? 0;
    },
    { runs: o.runs },
  );
  const cQs = new URLSearchParams(rangeInput("custom90", cal)).toString();
  const cHttp = await timeRuns(() => get(`/admin/accounts/${encodeURIComponent(busiest)}/usage-stats?${cQs}`), { runs: o.runs });

  const entity = await measureEntityReads(runtime, o, busiest, breakdown, log);

  log(`  d. baseline: single statement over raw records (up to ${o.baselineRuns} runs, ${Math.round(o.baselineBudgetMs / 1000)} s budget each) …`);
  const bo = { runs: o.baselineRuns, warmup: 1, budgetMs: o.baselineBudgetMs, minRuns: Math.min(5, o.baselineRuns) };
  const dList = await timeRuns(() => baselineAccountList(pool, cal.today, cal.monthStart, cal.nextMonthStart), bo);
  const dBreakdown = {} as Record<BreakdownRange, Latency>;
  for (const r of BREAKDOWN_RANGES) {
    const [s, e] = rangeBounds(r, cal);
    dBreakdown[r] = await timeRuns(() => baselineKeyBreakdown(pool, busiest, s, e), bo);
  }
  return {
    accountsList: { service: aService, http: aHttp, rows },
    breakdown,
    summary: { service: cService, http: cHttp, seriesPoints, models },
    baseline: { accountsList: dList, breakdown: dBreakdown },
    httpFloor,
    busiestAccount: busiest,
    entity,
  };
}

/**
 * The questions that grow with entities rather than history (issue 26): every sort order of the
 * list, a search by name, and pages deep in the list and in the busiest account's breakdown.
 */
async function measureEntityReads(
  runtime: Runtime,
  o: ReadOptions,
  busiest: string,
  breakdown: ReadFigures["breakdown"],
  log: (s: string) => void,
): Promise<EntityFigures> {
  const cal = calendarNow(runtime.config.usageTimezone);
  const auth = { authorization: `Bearer ${o.readToken}` };
  const get = (path: string) => requestOk(`${o.baseUrl}${path}`, { headers: auth });
  const runs = Math.max(10, Math.round(o.runs / 2));
  const both = async (query: Record<string, string | number>, http: string) => ({
    service: await timeRuns(() => listAccountUsage(runtime, accountUsageListInput.parse(query)), { runs }),
    http: await timeRuns(() => get(http), { runs }),
  });
  log(`  e. accounts list: every sort (${ACCOUNT_SORTS.length}), ${runs} runs each …`);
  const sorts: EntityFigures["sorts"] = [];
  for (const sort of ACCOUNT_SORTS) sorts.push({ sort, ...(await both({ sort, limit: 100 }, `/admin/accounts/usage-stats?sort=${encodeURIComponent(sort)}&limit=100`)) });
  const accounts = (await listAccountUsage(runtime, accountUsageListInput.parse({ limit: 1 }))).pagination.total;
  // "account 1": a substring of every tenth name or so, as an admin types it.
  const query = "account 1";
  const rows = (await listAccountUsage(runtime, accountUsageListInput.parse({ search: query, limit: 100 }))).data.length;
  log(`  e. accounts list: search "${query}" …`);
  const search = { query, rows, ...(await both({ search: query, limit: 100 }, `/admin/accounts/usage-stats?search=${encodeURIComponent(query)}&limit=100`)) };
  const deepOffset = Math.max(0, accounts - 100);
  log(`  e. accounts list: the last page (offset ${deepOffset}) …`);
  const accountsDeep = { offset: deepOffset, ...(await both({ sort: "total.cost", offset: deepOffset, limit: 100 }, `/admin/accounts/usage-stats?sort=total.cost&offset=${deepOffset}&limit=100`)) };
  const breakdownDeep = {} as EntityFigures["breakdownDeep"];
  for (const r of BREAKDOWN_RANGES) {
    const offset = Math.max(0, breakdown[r].keys - 100);
    log(`  e. per-key breakdown of ${busiest}, ${r}, the last page (offset ${offset}) …`);
    const input = accountBreakdownInput.parse({ id: busiest, limit: 100, offset, ...rangeInput(r, cal) });
    const qs = new URLSearchParams({ limit: "100", offset: String(offset), ...rangeInput(r, cal) }).toString();
    breakdownDeep[r] = {
      offset,
      service: await timeRuns(() => getAccountBreakdown(runtime, input), { runs }),
      http: await timeRuns(() => get(`/admin/accounts/${encodeURIComponent(busiest)}/usage-breakdown?${qs}`), { runs }),
    };
  }
  return { accounts, sorts, search, accountsDeep, breakdownDeep };
}

// ---- equality of our answers and the baseline's

function sameFig(where: string, ours: UsageTotals | undefined, base: BaseFig | undefined, problems: string[]) {
  const b = base ?? ZERO_FIG;
  const o = ours ?? { requests: 0, inputTokens: 0, outputTokens: 0, cacheCreateTokens: 0, cacheReadTokens: 0, allTokens: 0, cost: 0 };
  const want = { ...b, cost: nanosToUsd(b.costNanos) };
  for (const k of ["requests", "inputTokens", "outputTokens", "cacheCreateTokens", "cacheReadTokens", "cost"] as const) {
    if (o[k] !== want[k]) problems.push(`${where}: ${k} ours=${o[k]} baseline=${want[k]}`);
  }
}

export interface CheckResult {
  comparisons: number;
  mismatches: string[];
}

/**
 * Every account's today / month / all time from the list, every key of the busiest account (and
 * of a mid-sized one) in each breakdown range, and the 90-day summary's total, by-model and daily
 * series: the service (rollups) must equal the baseline (raw records) exactly.
 */
export async function checkAgainstBaseline(runtime: Runtime, pool: pg.Pool): Promise<CheckResult> {
  const cal = calendarNow(runtime.config.usageTimezone);
  const problems: string[] = [];
  let comparisons = 0;
  const list = await listAccountUsage(runtime, accountUsageListInput.parse({ limit: 500 }));
  const base = await baselineAccountList(pool, cal.today, cal.monthStart, cal.nextMonthStart);
  const ours = new Map(list.data.map((r) => [r.id, r]));
  if (list.data.length !== base.length) problems.push(`accounts list: ${list.data.length} rows, baseline ${base.length}`);
  for (const b of base) {
    const o = ours.get(b.id);
    if (!o) problems.push(`accounts list: ${b.id} missing`);
    for (const w of ["daily", "monthly", "total"] as const) {
      sameFig(`account ${b.id} ${w}`, o?.usage[w], b[w], problems);
      comparisons++;
    }
  }
  const busiest = await busiestAccount(pool);
  const mid = (await pool.query(`SELECT account_id FROM usage_account_totals ORDER BY requests DESC, account_id OFFSET 20 LIMIT 1`)).rows[0]?.account_id as string | undefined;
  for (const id of [busiest, ...(mid ? [mid] : [])]) {
    for (const r of BREAKDOWN_RANGES) {
      const [s, e] = rangeBounds(r, cal);
      const baseKeys = await baselineKeyBreakdown(pool, id, s, e);
      const seen = new Set<string>();
      let offset: number | null = 0;
      while (offset !== null) {
        const page = await getAccountBreakdown(runtime, accountBreakdownInput.parse({ id, limit: 100, offset, ...rangeInput(r, cal) }));
        for (const item of page.data.items) {
          seen.add(item.apiKeyId);
          sameFig(`breakdown ${id} ${r} ${item.apiKeyId}`, item, baseKeys.get(item.apiKeyId), problems);
          comparisons++;
        }
        offset = page.data.nextOffset;
      }
      for (const k of baseKeys.keys()) if (!seen.has(k)) problems.push(`breakdown ${id} ${r}: key ${k} missing`);
    }
    const summary = (await getAccountSummary(runtime, accountSummaryInput.parse({ id, ...rangeInput("custom90", cal) }))).data;
    const byModel = await baselineByModel(pool, id, cal.start90, cal.today);
    const byDay = await baselineByDay(pool, id, cal.start90, cal.today);
    const sum = [...byModel.values()].reduce(addFig, ZERO_FIG);
    sameFig(`summary ${id} 90 days`, summary.usage, sum, problems);
    comparisons++;
    for (const m of summary.byModel ?? []) {
      sameFig(`summary ${id} model ${m.model}`, m, byModel.get(m.model), problems);
      comparisons++;
    }
    if ((summary.byModel?.length ?? 0) !== byModel.size) problems.push(`summary ${id}: ${summary.byModel?.length} models, baseline ${byModel.size}`);
    for (const p of summary.series ?? []) {
      sameFig(`summary ${id} day ${p.date}`, p, byDay.get(p.date), problems);
      comparisons++;
    }
    if ((summary.series?.length ?? 0) !== 90) problems.push(`summary ${id}: ${summary.series?.length} series points, expected 90`);
  }
  return { comparisons, mismatches: problems };
}
