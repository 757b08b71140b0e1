import { createLoader, parseAsString, parseAsStringLiteral, type inferParserType } from "nuqs/server";
import type { EventView } from "@/server/alerts/schemas";

/**
 * The alerts page's state in the URL (nuqs): the tab, and the history's filters. The server page
 * (createLoader) and the client view (useQueryStates) build the same query inputs from it, so the
 * browser finds the server's prefetched answers under the same keys.
 */

export const ALERT_TABS = ["rules", "budgets", "channels", "silences", "history"] as const;
export type AlertTab = (typeof ALERT_TABS)[number];
export const EVENT_KINDS = ["pending", "firing", "repeat", "resolved", "inactive"] as const satisfies readonly EventView["kind"][];
export const HISTORY_PAGE = 50;

export const alertsParsers = {
  tab: parseAsStringLiteral(ALERT_TABS).withDefault("rules"),
  rule: parseAsString,
  kind: parseAsStringLiteral(EVENT_KINDS),
  /** An account to open the budget form for (the accounts drawer's "set a budget" link). */
  account: parseAsString,
};
export type RawAlertsParams = inferParserType<typeof alertsParsers>;
export const loadAlertsParams = createLoader(alertsParsers);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The input of alerts.history (tRPC adds the cursor); a rule id that is not a UUID is ignored, not sent. */
export function historyInput(raw: Pick<RawAlertsParams, "rule" | "kind">) {
  return {
    ...(raw.rule && UUID.test(raw.rule) ? { ruleId: raw.rule } : {}),
    ...(raw.kind ? { kind: raw.kind } : {}),
    limit: HISTORY_PAGE,
  };
}
