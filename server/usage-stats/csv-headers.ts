import { MEASURES } from "../../db/measures";
import type { CSV_HEADER_LANGUAGES } from "./schemas";

/**
 * The CSV exports' header rows: by default the stable English column names (README, "CSV
 * columns"); with ?headers=zh-CN|en, labels in that language. A module of its own (no stores) so
 * that the e2e suite can read the labels too.
 */

export type CsvHeaderLanguage = (typeof CSV_HEADER_LANGUAGES)[number];

const MEASURE_LABEL = new Map<string, { "zh-CN": string; en: string }>(MEASURES.map((m) => [m.name, m.label]));
const WINDOW_LABEL = { daily: { "zh-CN": "今日", en: "Today" }, monthly: { "zh-CN": "本月", en: "This month" }, total: { "zh-CN": "总用量", en: "Total" } } as const;

/** Labels of the columns that are not figures, in each language (the stable names are the keys). */
const COLUMN_LABEL: Record<string, { "zh-CN": string; en: string }> = {
  id: { "zh-CN": "账号 ID", en: "Account ID" },
  name: { "zh-CN": "名称", en: "Name" },
  platform: { "zh-CN": "平台", en: "Platform" },
  type: { "zh-CN": "类型", en: "Type" },
  status: { "zh-CN": "状态", en: "Status" },
  priority: { "zh-CN": "优先级", en: "Priority" },
  lastUsedAt: { "zh-CN": "最近使用", en: "Last used" },
  sources: { "zh-CN": "来源", en: "Sources" },
  source: { "zh-CN": "来源", en: "Source" },
  apiKeyId: { "zh-CN": "API Key ID", en: "API key ID" },
  apiKeyName: { "zh-CN": "API Key 名称", en: "API key name" },
  "share.tokens": { "zh-CN": "Tokens 占比", en: "Token share" },
  "share.cost": { "zh-CN": "费用占比", en: "Cost share" },
  lastModel: { "zh-CN": "最后模型", en: "Last model" },
  cost: { "zh-CN": "实际成本 (USD)", en: "Real cost (USD)" },
  ratedCost: { "zh-CN": "计费成本 (USD)", en: "Rated cost (USD)" },
  margin: { "zh-CN": "毛利 (USD)", en: "Margin (USD)" },
  marginRate: { "zh-CN": "毛利率", en: "Margin rate" },
  deleted: { "zh-CN": "已删除", en: "Deleted" },
  accountCount: { "zh-CN": "账号数", en: "Accounts" },
  accounts: { "zh-CN": "使用的账号", en: "Accounts used" },
};

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** One stable column name (`total.cost`, `lastUsedAt` …) as a label in a language. */
export function columnLabel(name: string, lang: CsvHeaderLanguage): string {
  const [w, f] = name.split(".") as [string, string | undefined];
  if (f !== undefined && w in WINDOW_LABEL) return `${WINDOW_LABEL[w as keyof typeof WINDOW_LABEL][lang]} · ${columnLabel(f, lang)}`;
  const label = COLUMN_LABEL[name] ?? MEASURE_LABEL.get(name);
  if (!label) return name;
  return lang === "en" ? capitalize(label.en) : label["zh-CN"];
}

export function localizedHeader(header: string[], lang: CsvHeaderLanguage | undefined): string[] {
  return lang ? header.map((h) => columnLabel(h, lang)) : header;
}
