import type { AccountSort } from "./schemas";

/**
 * The order of an account list sort when none is given: names and priorities ascending, figures
 * descending. Shared by the service and the console's URL state (no runtime imports: it is
 * bundled for the browser), so a URL without `order` means what the API means.
 */
export function defaultAccountOrder(sort: AccountSort): "asc" | "desc" {
  return sort === "name" || sort === "priority" ? "asc" : "desc";
}
