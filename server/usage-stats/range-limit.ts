import { addYears } from "../calendar";

/**
 * The longest custom range, shared by the API's schema (schemas.ts) and the console's date-range
 * picker, which refuses a longer one before any request. A module of pure calendar arithmetic, so
 * that the browser may import it.
 */

/** A custom range may span at most this many years (both ends inclusive). */
export const MAX_RANGE_YEARS = 3;

/** The first end date a custom range starting on `start` may no longer have. */
export function firstEndPastLimit(start: string): string {
  return addYears(start, MAX_RANGE_YEARS);
}

export function isRangeTooLong(start: string, end: string): boolean {
  return end >= firstEndPastLimit(start);
}
