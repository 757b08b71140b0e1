/**
 * The in-memory twin of the lists' SQL ORDER BY, so that a fallback sorting in memory pages the
 * way PostgreSQL does: text in the "C" collation (code point order), the key in the given
 * direction with nulls last, ties by id ascending in "C".
 */

export type SortValue = string | number | bigint | null;

// In code point order a surrogate (half of a code point past U+FFFF) comes after U+E000–U+FFFF;
// JavaScript's < compares UTF-16 code units, which puts it before them.
const codePointRank = (unit: number) => (unit >= 0xd800 ? (unit >= 0xe000 ? unit - 0x800 : unit + 0x2000) : unit);

/** Code point order: what COLLATE "C" gives on a UTF-8 database. */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function compareValues(a: NonNullable<SortValue>, b: NonNullable<SortValue>): number {
  if (typeof a === "string" && typeof b === "string") return compareText(a, b);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `key` in `order`, nulls last either way, then `id` ascending in code point order. */
export function compareBy<T>(key: (x: T) => SortValue, id: (x: T) => string, order: "asc" | "desc"): (a: T, b: T) => number {
  const dir = order === "asc" ? 1 : -1;
  return (a, b) => {
    const ka = key(a);
    const kb = key(b);
    if (ka !== kb) {
      if (ka === null) return 1;
      if (kb === null) return -1;
      const d = compareValues(ka, kb);
      if (d !== 0) return dir * d;
    }
    return compareText(id(a), id(b));
  };
}
