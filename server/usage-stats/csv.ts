import { deadlineAfter, pastDeadline, type Deadline } from "../deadline";
import { AppError } from "../errors";
import { logger } from "../logger";
import type { Runtime } from "../runtime";
import { takeExportSlot } from "./export-slots";
import { FIGURES, type AccountBreakdownInput, type AccountUsageListInput, type AccountUsageListResult, type ResolvedRangeOut, type UsageTotals } from "./schemas";
import { exportAccountBreakdown, listAccountUsage } from "./stats.service";
import { exportKeyUsage } from "./keys.service";
import type { KeyUsageInput } from "./schemas";
import { localDate, utcOffsetMinutes } from "../calendar";
import { localizedHeader } from "./csv-headers";

export { columnLabel, localizedHeader, type CsvHeaderLanguage } from "./csv-headers";

/**
 * CSV exports of the account list and of one account's breakdown: every row, read from the
 * service as the client reads, within the request's deadline and the process's export slots;
 * RFC 4180 quoting, a UTF-8 BOM so Excel shows Chinese names, plain numbers, and text cells that
 * cannot start a formula.
 */

export type Cell = string | number | null;

export interface CsvExport {
  filename: string;
  header: string[];
  /** Batches of rows; the first is already fetched, so bad input fails before streaming starts. */
  rows: AsyncIterable<Cell[][]>;
  /** Gives the export's slot and connection back (the client went away); safe to call twice. */
  close(): Promise<void>;
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

/** USD (at most 6 decimals, as the API answers) → integer micro-USD, exactly. */
const toMicros = (usd: number): bigint => BigInt(Math.round(usd * 1e6));

/**
 * 毛利: ratedCost − cost, and its rate (margin / ratedCost, six decimals; empty when nothing was
 * charged). Both from the figures as exported, in integer micro-USD, so the columns of a row add
 * up exactly in a sheet.
 */
export function marginCells(t: Pick<UsageTotals, "cost" | "ratedCost">): Cell[] {
  const rated = toMicros(t.ratedCost);
  const margin = rated - toMicros(t.cost);
  return [Number(margin) / 1e6, rated === 0n ? null : Math.round((Number(margin) / Number(rated)) * 1e6) / 1e6];
}

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

const DAY_MS = 86_400_000;
const dayOffsets = new Map<string, Map<number, number | null>>();

/**
 * The zone's UTC offset at an instant, cached per UTC day: a day whose first and last millisecond
 * have the same offset has it throughout (no zone changes its offset twice in a day). Asking Intl
 * for every row cost 8 µs, 0.4 s of a 50,000-key export on the event loop that the list shares.
 */
function offsetAt(timeZone: string, ms: number): number {
  let days = dayOffsets.get(timeZone);
  if (!days) dayOffsets.set(timeZone, (days = new Map()));
  const day = Math.floor(ms / DAY_MS);
  let offset = days.get(day);
  if (offset === undefined) {
    const first = utcOffsetMinutes(timeZone, day * DAY_MS);
    offset = first === utcOffsetMinutes(timeZone, day * DAY_MS + DAY_MS - 1) ? first : null;
    if (days.size > 20_000) days.clear();
    days.set(day, offset);
  }
  return offset ?? utcOffsetMinutes(timeZone, ms);
}

/**
 * An instant in the usage time zone with its offset (2026-12-07T11:30:00+08:00), as the console
 * shows it; milliseconds only when there are any. Empty for null.
 */
export function zonedIso(iso: string | null, timeZone: string): string | null {
  if (iso === null) return null;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const offset = offsetAt(timeZone, ms);
  const local = new Date(ms + offset * 60_000);
  const frac = local.getUTCMilliseconds() ? `.${pad(local.getUTCMilliseconds(), 3)}` : "";
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  return `${local.getUTCFullYear()}-${pad(local.getUTCMonth() + 1)}-${pad(local.getUTCDate())}T${pad(local.getUTCHours())}:${pad(local.getUTCMinutes())}:${pad(local.getUTCSeconds())}${frac}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
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

export interface ExportOptions {
  now?: Date;
  /** Default: REQUEST_TIMEOUT_MS from now (the REST wrapper passes the request's own). */
  deadline?: Deadline;
  /** Whose export slot it takes: the principal (token or session); default "internal". */
  caller?: string;
}

interface OpenedExport<H> {
  head: H;
  next(): Promise<Cell[][] | undefined>;
  close(): Promise<void>;
}

/**
 * Opens an export holding one of the process's export slots (export-slots.ts): its rows are read
 * as the client reads them, and the slot and the source go back when the rows end, fail or are
 * cancelled — or when the deadline passes, read or not.
 */
async function withExportSlot<H>(
  runtime: Runtime,
  o: ExportOptions,
  open: (deadline: Deadline) => Promise<OpenedExport<H>>,
): Promise<{ head: H; rows: AsyncIterable<Cell[][]>; close(): Promise<void> }> {
  const deadline = o.deadline ?? deadlineAfter(runtime.config.requestTimeoutMs);
  const release = takeExportSlot(o.caller ?? "internal", { perProcess: runtime.config.csvMaxConcurrentExports, perCaller: runtime.config.csvMaxConcurrentExportsPerToken });
  let opened: OpenedExport<H>;
  try {
    opened = await open(deadline);
  } catch (err) {
    release();
    throw err;
  }
  let finished = false;
  const finish = async () => {
    if (finished) return;
    finished = true;
    deadline.signal.removeEventListener("abort", onAbort);
    release();
    await opened.close().catch(() => {});
  };
  function onAbort() {
    void finish();
  }
  if (deadline.signal.aborted) {
    await finish();
    throw pastDeadline(deadline.ms);
  }
  deadline.signal.addEventListener("abort", onAbort, { once: true });
  async function* rows(): AsyncGenerator<Cell[][]> {
    try {
      for (let batch = await opened.next(); batch; batch = await opened.next()) yield batch;
    } finally {
      await finish();
    }
  }
  return { head: opened.head, rows: rows(), close: finish };
}

export async function exportAccountUsage(runtime: Runtime, input: AccountUsageListInput, o: ExportOptions = {}): Promise<CsvExport> {
  const now = o.now ?? new Date();
  const limit = 500;
  const windows = ["daily", "monthly", "total"] as const;
  const cells = (page: AccountUsageListResult) =>
    page.data.map((a): Cell[] => [
      a.id,
      a.name,
      a.platform,
      a.type,
      a.status,
      a.priority,
      zonedIso(a.lastUsedAt, page.timezone),
      ...windows.flatMap((w) => figureCells(a.usage[w])),
      a.sources.join(" "),
      ...windows.flatMap((w) => marginCells(a.usage[w])),
    ]);
  const { head, rows, close } = await withExportSlot(runtime, o, async (deadline) => {
    const fetch = (offset: number) => {
      if (deadline.signal.aborted) throw pastDeadline(deadline.ms);
      return listAccountUsage(runtime, { ...input, format: "json", limit, offset }, now);
    };
    const first = await fetch(0);
    let page: AccountUsageListResult | undefined = first;
    let served = false;
    return {
      head: first,
      async next() {
        if (page && served) page = page.pagination.hasMore ? await fetch(page.pagination.offset + page.data.length) : undefined;
        served = true;
        return page && cells(page);
      },
      close: async () => {},
    };
  });
  return {
    filename: `accounts-usage-${localDate(now, head.timezone)}.csv`,
    // New columns go last, so that a sheet or script reading columns by position keeps working.
    header: localizedHeader(
      ["id", "name", "platform", "type", "status", "priority", "lastUsedAt", ...windows.flatMap((w) => FIGURE_HEADERS.map((f) => `${w}.${f}`)), "sources", ...windows.flatMap((w) => [`${w}.margin`, `${w}.marginRate`])],
      input.headers,
    ),
    rows,
    close,
    source: head.source,
    timezone: head.timezone,
  };
}

/** Every key of one account's breakdown, aggregated once and streamed (stats.service.ts). */
export async function exportBreakdown(runtime: Runtime, input: AccountBreakdownInput, o: ExportOptions = {}): Promise<CsvExport> {
  const { head, rows, close } = await withExportSlot(runtime, o, async (deadline) => {
    const keys = await exportAccountBreakdown(runtime, input, { now: o.now ?? new Date(), deadline });
    return {
      head: keys,
      next: async () =>
        (await keys.next())?.map((k): Cell[] => [k.apiKeyId, k.apiKeyName, ...figureCells(k), k.share.tokens, k.share.cost, k.lastModel, zonedIso(k.lastUsedAt, keys.timezone), k.source, ...marginCells(k)]),
      close: () => keys.close(),
    };
  });
  return {
    filename: `breakdown-${safeFilePart(input.id)}-${rangeLabel(head.range)}.csv`,
    header: localizedHeader(["apiKeyId", "apiKeyName", ...FIGURE_HEADERS, "share.tokens", "share.cost", "lastModel", "lastUsedAt", "source", "margin", "marginRate"], input.headers),
    rows,
    close,
    source: head.source,
    timezone: head.timezone,
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
        // The headers are out: all that is left is to end the body early, which the client sees.
        if (err instanceof AppError) logger.warn(`[usage-stats] CSV export ${exp.filename} stopped mid-stream: ${err.message}`);
        else logger.error(`[usage-stats] CSV export ${exp.filename} failed mid-stream: ${(err as Error).message}`);
        controller.error(err);
      }
    },
    async cancel() {
      // A generator that never started does not run its `finally` on return(): close explicitly.
      await Promise.all([iterator.return?.(undefined), exp.close()]);
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

/** Every API key across accounts that matches (keys.service.ts), aggregated once and streamed in the requested order. */
export async function exportKeyUsageCsv(runtime: Runtime, input: KeyUsageInput, o: ExportOptions = {}): Promise<CsvExport> {
  const { head, rows, close } = await withExportSlot(runtime, o, async (deadline) => {
    const keys = await exportKeyUsage(runtime, input, { now: o.now ?? new Date(), deadline });
    return {
      head: keys,
      next: async () =>
        (await keys.next())?.map((k): Cell[] => [
          k.apiKeyId,
          k.apiKeyName,
          k.status,
          k.source,
          k.deleted ? "true" : "false",
          ...figureCells(k),
          k.lastModel,
          zonedIso(k.lastUsedAt, keys.timezone),
          k.accountCount,
          k.accounts.map((a) => a.id).join(" "),
          ...marginCells(k),
        ]),
      close: () => keys.close(),
    };
  });
  return {
    filename: `api-keys-usage-${rangeLabel(head.range)}.csv`,
    header: localizedHeader(["apiKeyId", "apiKeyName", "status", "source", "deleted", ...FIGURE_HEADERS, "lastModel", "lastUsedAt", "accountCount", "accounts", "margin", "marginRate"], input.headers),
    rows,
    close,
    source: head.source,
    timezone: head.timezone,
  };
}
