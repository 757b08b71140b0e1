"use client";

import { formatInt } from "@/app/_i18n/format";
import { useI18n } from "@/app/_i18n/i18n-provider";

/** Page numbers to offer: the first, the last, and two either side of the current page. */
function pageList(page: number, pages: number): (number | "gap")[] {
  const wanted = new Set([1, pages, page - 2, page - 1, page, page + 1, page + 2].filter((p) => p >= 1 && p <= pages));
  const sorted = [...wanted].sort((a, b) => a - b);
  const out: (number | "gap")[] = [];
  for (const p of sorted) {
    const prev = out[out.length - 1];
    if (typeof prev === "number" && p - prev > 1) out.push("gap");
    out.push(p);
  }
  return out;
}

export function Pagination({ total, page, pageSize, onPage }: { total: number; page: number; pageSize: number; onPage: (page: number) => void }) {
  const { t, locale } = useI18n();
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  const btn =
    "min-w-9 rounded-md border border-slate-300 bg-white px-2.5 py-1 text-sm tabular-nums hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-40 focus-visible:outline-2 focus-visible:outline-brand-500";
  return (
    <nav aria-label={t("pager.label")} className="flex flex-wrap items-center justify-between gap-3 text-sm text-slate-600" data-testid="pagination">
      <p data-testid="pagination-summary" data-total={total}>
        {t("pager.summary", { from: formatInt(locale, from), to: formatInt(locale, to), total: formatInt(locale, total) })}
      </p>
      <div className="flex flex-wrap items-center gap-1">
        <button type="button" className={btn} disabled={page <= 1} onClick={() => onPage(page - 1)} data-testid="page-prev">
          {t("pager.prev")}
        </button>
        {pageList(page, pages).map((p, i) =>
          p === "gap" ? (
            <span key={`gap-${i}`} aria-hidden className="px-1 text-slate-400">
              …
            </span>
          ) : (
            <button
              key={p}
              type="button"
              className={`${btn} ${p === page ? "border-brand-600 bg-brand-600 text-white hover:bg-brand-600" : ""}`}
              aria-current={p === page ? "page" : undefined}
              aria-label={t("pager.page", { page: p, pages })}
              onClick={() => onPage(p)}
            >
              {formatInt(locale, p)}
            </button>
          ),
        )}
        <button type="button" className={btn} disabled={page >= pages} onClick={() => onPage(page + 1)} data-testid="page-next">
          {t("pager.next")}
        </button>
      </div>
    </nav>
  );
}
