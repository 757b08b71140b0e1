import { logger } from "../logger";
import type { Runtime } from "../runtime";
import { FIGURES, type AccountBreakdownInput, type AccountUsageListInput, type ResolvedRangeOut, type UsageTotals } from "./schemas";
import { getAccountBreakdown, listAccountUsage } from "./stats.service";
import { localDate } from "./time";

/**
 * CSV exports of the account list and of one account's breakdown: every row (the service paged
 * through as the client reads), RFC 4180 quoting, a UTF-8 BOM so Excel shows Chinese names, plain
 * numbers, and text cells that cannot start a formula.
 */

export type Cell = string | number | null;

export interface CsvExport {
  filename: string;
  header: string[];
  /** Batches of rows; the first is already fetched, so bad input fails before streaming starts. */
  rows: AsyncIterable<Cell[][]>;
  source: string;
  timezone: string;
}

/** A number as plain digits with '.' and no exponent; at most 6 decimals, trailing zeros dropped. */
function plainNumber(n: number): string {
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(6).replace(/0+$/, "").replace(/\.$/, "");
}

export function csvCell(v: Cell): string {
  if (v === null) return "";
  if (typeof v === "number") return plainNumber(v);
  // OWASP: a leading = + - @ (or tab / CR) makes spreadsheets evaluate the cell as a formula;
  // some also skip leading spaces, and read the full-width forms ＝＋－＠ as the ASCII ones.
  const s = /^[\s=+\-@\uFF1D\uFF0B\uFF0D\uFF20]/.test(v) ? `'${v}` : v;
  // ";" is the field separator where the decimal mark is a comma (Excel in many locales).
  return /[",;\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function csvLine(cells: Cell[]): string {
  return cells.map(csvCell).join(",") + "\r\n";
}

/** The figures in their API names and order (cost is the real cost, ratedCost the charged one). */
const FIGURE_HEADERS = FIGURES;

function figureCells(t: UsageTotals): Cell[] {
  return FIGURE_HEADERS.map((f) => t[f]);
}

function safeFilePart(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 80) || "_";
}

export function rangeLabel(r: ResolvedRangeOut): string {
  if (r.name === "daily") return `daily-${r.start}`;
  if (r.name === "monthly") return `monthly-${r.start!.slice(0, 7)}`;
  if (r.name === "custom") return `custom-${r.start}-to-${r.end}`;
  return "total";
}

async function* pages<T>(first: T, next: (previous: T) => Promise<T | undefined>, rows: (page: T) => Cell[][]): AsyncGenerator<Cell[][]> {
  let page: T | undefined = first;
  while (page !== undefined) {
    yield rows(page);
    page = await next(page);
  }
}

export async function exportAccountUsage(runtime: Runtime, input: AccountUsageListInput, now = new Date()): Promise<CsvExport> {
  const limit = 500;
  const fetch = (offset: number) => listAccountUsage(runtime, { ...input, format: "json", limit, offset }, now);
  const first = await fetch(0);
  const windows = ["daily", "monthly", "total"] as const;
  return {
    filename: `accounts-usage-${localDate(now, first.timezone)}.csv`,
    header: [
      "id",
      "name",
      "platform",
      "type",
      "status",
      "priority",
      "lastUsedAt",
      ...windows.flatMap((w) => FIGURE_HEADERS.map((f) => `${w}.${f}`)),
    ],
    rows: pages(
      first,
      async (prev) => (prev.pagination.hasMore ? fetch(prev.pagination.offset + prev.data.length) : undefined),
      (page) =>
        page.data.map((a) => [
          a.id,
          a.name,
          a.platform,
          a.type,
          a.status,
          a.priority,
          a.lastUsedAt,
          ...windows.flatMap((w) => figureCells(a.usage[w])),
        ]),
    ),
    source: first.source,
    timezone: first.timezone,
  };
}

export async function exportBreakdown(runtime: Runtime, input: AccountBreakdownInput, now = new Date()): Promise<CsvExport> {
  const limit = 100;
  const fetch = (offset: number) => getAccountBreakdown(runtime, { ...input, format: "json", limit, offset }, now);
  const first = await fetch(0);
  return {
    filename: `breakdown-${safeFilePart(input.id)}-${rangeLabel(first.range)}.csv`,
    header: ["apiKeyId", "apiKeyName", ...FIGURE_HEADERS, "share.tokens", "share.cost", "lastModel", "lastUsedAt"],
    rows: pages(
      first,
      async (prev) => (prev.data.nextOffset !== null ? fetch(prev.data.nextOffset) : undefined),
      (page) =>
        page.data.items.map((k) => [k.apiKeyId, k.apiKeyName, ...figureCells(k), k.share.tokens, k.share.cost, k.lastModel, k.lastUsedAt]),
    ),
    source: first.source,
    timezone: first.timezone,
  };
}

export function csvResponse(exp: CsvExport): Response {
  const encoder = new TextEncoder();
  const iterator = exp.rows[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("\uFEFF" + csvLine(exp.header)));
    },
    async pull(controller) {
      try {
        const { value, done } = await iterator.next();
        if (done) controller.close();
        else controller.enqueue(encoder.encode(value.map(csvLine).join("")));
      } catch (err) {
        logger.error(`[usage-stats] CSV export ${exp.filename} failed mid-stream: ${(err as Error).message}`);
        controller.error(err);
      }
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
  return new Response(body, {
    headers: {
      "content-type": "text/csv; charset=utf-8",
      "content-disposition": `attachment; filename="${exp.filename}"; filename*=UTF-8''${encodeURIComponent(exp.filename)}`,
      "cache-control": "no-store",
      "x-usage-source": exp.source,
      "x-usage-timezone": exp.timezone,
    },
  });
}
