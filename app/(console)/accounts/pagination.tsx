"use client";

import { useTranslations } from "next-intl";
import { useNumbers } from "@/app/_i18n/format";

/** Page numbers to offer: the first, the last, and one either side of the current page. */
export function pageList(page: number, pages: number): (number | "gap")[] {
  const wanted = new Set([1, pages, page - 1, page, page + 1].filter((p) => p >= 1 && p <= pages));
  const sorted = [...wanted].sort((a, b) => a - b);
  const out: (number | "gap")[] = [];
  for (const p of sorted) {
    const prev = out[out.length - 1];
    if (typeof prev === "number" && p - prev > 1) out.push("gap");
    out.push(p);
  }
  return out;
}

const BTN = "min-w-10 h-10 sm:h-9 rounded-md border px-2.5 text-sm tabular-nums focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-brand-500";
// One set of colours per state, never both (two bg- utilities on one element: the later rule in
// the stylesheet wins, which is how the current page once became white on white).
const IDLE = "border-slate-300 bg-white text-slate-700 hover:bg-slate-50 disabled:cursor-not-allowed disabled:opacity-40";
const CURRENT = "border-brand-700 bg-brand-700 font-semibold text-white";

export function Pagination({ total, page, pageSize, onPage }: { total: number; page: number; pageSize: number; onPage: (page: number) => void }) {
  const t = useTranslations("pager");
  const n = useNumbers();
  const pages = Math.max(1, Math.ceil(total / pageSize));
  const from = total === 0 ? 0 : (page - 1) * pageSize + 1;
  const to = Math.min(total, page * pageSize);
  return (
    <nav aria-label={t("label")} className="flex flex-wrap items-center justify-between gap-3 text-sm text-slate-600" data-testid="pagination">
      <p data-testid="pagination-summary" data-total={total}>
        {t("summary", { from: n.int(from), to: n.int(to), total: n.int(total) })}
      </p>
      {pages > 1 && (
        <div className="flex flex-wrap items-center gap-1">
          <button type="button" className={`${BTN} ${IDLE}`} disabled={page <= 1} onClick={() => onPage(page - 1)} data-testid="page-prev">
            {t("prev")}
          </button>
          {pageList(page, pages).map((p, i) =>
            p === "gap" ? (
              <span key={`gap-${i}`} aria-hidden className="px-1 text-slate-500">
                …
              </span>
            ) : (
              <button
                key={p}
                type="button"
                className={`${BTN} ${p === page ? CURRENT : IDLE}`}
                aria-current={p === page ? "page" : undefined}
                aria-label={t("page", { page: p, pages })}
                data-testid={p === page ? "page-current" : undefined}
                onClick={() => onPage(p)}
              >
                {n.int(p)}
              </button>
            ),
          )}
          <button type="button" className={`${BTN} ${IDLE}`} disabled={page >= pages} onClick={() => onPage(page + 1)} data-testid="page-next">
            {t("next")}
          </button>
        </div>
      )}
    </nav>
  );
}
