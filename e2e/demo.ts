import { spawn } from "node:child_process";
import fs from "node:fs";
import type { Locator, Page } from "@playwright/test";
import type { DemoFigures, DemoKeyFigures, DemoTotals } from "../server/demo/demo-plan";
import { getTestStores } from "../server/config";

export type { DemoFigures, DemoKeyFigures, DemoTotals };

/** The stores of the e2e server (set by playwright.config.ts for the run). */
export function e2eStoresEnv(): Record<string, string> {
  const env = process.env as Record<string, string | undefined>;
  if (!env.E2E_DATABASE_URL || !env.E2E_REDIS_PREFIX) throw new Error("E2E_DATABASE_URL / E2E_REDIS_PREFIX are unset: run through playwright.config.ts");
  return {
    DATABASE_URL: env.E2E_DATABASE_URL,
    REDIS_URL: getTestStores().redisUrl,
    REDIS_KEY_PREFIX: env.E2E_REDIS_PREFIX,
    USAGE_TIMEZONE: "Asia/Shanghai",
  };
}

/**
 * Runs `scripts/generate-breakdown-demo.ts` against the e2e server's stores (through the recording
 * services, so Redis and PostgreSQL both get the data) and returns the figures it reports.
 */
export async function generateDemo(outPath: string, args: string[] = []): Promise<DemoFigures> {
  await runGenerator(["--out", outPath, ...args]);
  return JSON.parse(fs.readFileSync(outPath, "utf8")) as DemoFigures;
}

/** Removes the demo data (`--clean`). */
export async function cleanDemo(): Promise<void> {
  await runGenerator(["--clean"]);
}

async function runGenerator(args: string[]): Promise<string> {
  return runScript("scripts/generate-breakdown-demo.ts", args);
}

/** Runs one of our CLIs (`scripts/*.ts`) against the e2e server's stores; its output, or an error with it. */
export async function runScript(script: string, args: string[]): Promise<string> {
  const child = spawn("node_modules/.bin/tsx", [script, ...args], {
    env: { ...process.env, ...e2eStoresEnv(), LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) throw new Error(`${script} exited with ${code}:\n${output}`);
  return output;
}

export type Window = "daily" | "monthly" | "total";

/** The breakdown order of the API: allTokens desc, ties by API key id (byte order). */
export function expectedKeyOrder(keys: DemoKeyFigures[], window: Window, sort: "allTokens" | "cost" | "ratedCost" | "requests" = "allTokens"): DemoKeyFigures[] {
  const value = (k: DemoKeyFigures) => (sort === "cost" ? k.usage[window].costMicros : sort === "ratedCost" ? k.usage[window].ratedCostMicros : k.usage[window][sort]);
  return keys
    .filter((k) => k.usage[window].requests > 0)
    .sort((a, b) => value(b) - value(a) || (a.apiKeyId < b.apiKeyId ? -1 : a.apiKeyId > b.apiKeyId ? 1 : 0));
}

/** The first number in a text: "$1,234.567891（精确值）" → 1234.567891. */
export function firstNumber(text: string | null): number {
  const m = (text ?? "").replace(/,/g, "").match(/-?\d+(?:\.\d+)?/);
  if (!m) throw new Error(`no number in "${text}"`);
  return Number(m[0]);
}

export interface ShownFigures {
  cost: number;
  tokens: number;
  requests: number;
  /** Parsed from the title attributes people see on hover. */
  costTitle: number;
  tokensTitle: number;
  requestsTitle: number;
}

/** The exact figures a UsageFigures cell shows (data-value and title) under `<prefix>-cost|tokens|requests`. */
export async function shownFigures(scope: Locator | Page, prefix: string): Promise<ShownFigures> {
  const read = async (id: string) => {
    const el = scope.getByTestId(`${prefix}-${id}`).first();
    return { value: Number(await el.getAttribute("data-value")), title: firstNumber(await el.getAttribute("title")) };
  };
  const [cost, tokens, requests] = await Promise.all([read("cost"), read("tokens"), read("requests")]);
  return { cost: cost.value, tokens: tokens.value, requests: requests.value, costTitle: cost.title, tokensTitle: tokens.title, requestsTitle: requests.title };
}

export function expectedFigures(t: DemoTotals): ShownFigures {
  return { cost: t.cost, tokens: t.allTokens, requests: t.requests, costTitle: t.cost, tokensTitle: t.allTokens, requestsTitle: t.requests };
}

export interface ShownKeyRow {
  apiKeyId: string;
  name: string;
  requests: number;
  tokens: number;
  input: number;
  output: number;
  cacheCreate: number;
  cacheRead: number;
  cost: number;
  ratedCost: number;
  lastModel: string;
}

/** Every breakdown row in the drawer, in page order. */
export async function shownKeyRows(page: Page): Promise<ShownKeyRow[]> {
  return page.getByRole("dialog").locator('[data-testid^="breakdown-row-"]').evaluateAll((rows) =>
    rows.map((r) => {
      const v = (id: string) => Number(r.querySelector(`[data-testid="${id}"]`)?.getAttribute("data-value"));
      return {
        apiKeyId: r.getAttribute("data-key-id") ?? "",
        name: r.querySelector('[data-testid="key-name"]')?.textContent ?? "",
        requests: v("key-requests"),
        tokens: v("key-tokens"),
        input: v("key-input"),
        output: v("key-output"),
        cacheCreate: v("key-cache-create"),
        cacheRead: v("key-cache-read"),
        cost: v("key-cost"),
        ratedCost: v("key-rated-cost"),
        lastModel: r.querySelector('[data-testid="key-last-model"]')?.textContent ?? "",
      };
    }),
  );
}

export function expectedKeyRows(keys: DemoKeyFigures[], window: Window): ShownKeyRow[] {
  return keys.map((k) => ({
    apiKeyId: k.apiKeyId,
    name: k.apiKeyName,
    requests: k.usage[window].requests,
    tokens: k.usage[window].allTokens,
    input: k.usage[window].inputTokens,
    output: k.usage[window].outputTokens,
    cacheCreate: k.usage[window].cacheCreateTokens,
    cacheRead: k.usage[window].cacheReadTokens,
    cost: k.usage[window].cost,
    ratedCost: k.usage[window].ratedCost,
    lastModel: k.lastModel[window] ?? "—",
  }));
}

/** Account rows in page order (ids). */
export async function shownAccountIds(page: Page): Promise<string[]> {
  return page.locator('[data-testid^="account-row-"]').evaluateAll((rows) => rows.map((r) => r.getAttribute("data-account-id") ?? ""));
}
