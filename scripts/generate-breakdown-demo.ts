/**
 * Demo data for the account usage breakdown, written through the recording services (so Redis
 * and PostgreSQL both receive it) and deterministic for a seed:
 *
 *   npm run demo:generate -- [--accounts N] [--keys-per-account N] [--days N] [--events N]
 *                            [--seed S] [--out figures.json]
 *   npm run demo:generate -- --clean
 *
 * Every id it creates starts with "demo-"; a run first removes the previous demo data, and
 * --clean removes it and nothing else. Prints the figures it wrote (per account, and per key of
 * the first account) and, with --out, saves them as JSON for the e2e specs.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import cliProgress from "cli-progress";
import { DEFAULT_DEMO_OPTIONS, type DemoFigures, type DemoOptions, type DemoTotals } from "../server/demo/demo-plan";
import { cleanDemoData, generateDemoData, type GenerateProgress } from "../server/demo/demo.service";
import { openCliRuntime } from "./cli-runtime";

const USAGE = `Usage: npm run demo:generate -- [--accounts N] [--keys-per-account N] [--days N] [--events N] [--seed S] [--out path] | --clean`;

function positiveInt(name: string, value: string | undefined, dflt: number, max: number): number {
  if (value === undefined) return dflt;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`--${name} must be an integer from 1 to ${max}, got "${value}"`);
  return n;
}

function parseCli(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      accounts: { type: "string" },
      "keys-per-account": { type: "string" },
      days: { type: "string" },
      events: { type: "string" },
      seed: { type: "string" },
      out: { type: "string" },
      clean: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
    allowPositionals: false,
  });
  const d = DEFAULT_DEMO_OPTIONS;
  const options: DemoOptions = {
    accounts: positiveInt("accounts", values.accounts, d.accounts, 5000),
    keysPerAccount: positiveInt("keys-per-account", values["keys-per-account"], d.keysPerAccount, 1000),
    days: positiveInt("days", values.days, d.days, 365),
    events: positiveInt("events", values.events, d.events, 10_000_000),
    seed: values.seed ?? d.seed,
  };
  if (!/^[A-Za-z0-9_.-]{1,40}$/.test(options.seed)) throw new Error(`--seed must be 1-40 letters, digits, '.', '_' or '-', got "${options.seed}"`);
  return { options, out: values.out, clean: values.clean, help: values.help };
}

const usd = (n: number) => `$${n.toFixed(6)}`;
const int = (n: number) => n.toLocaleString("en-US");

function printFigures(f: DemoFigures) {
  const row = (label: string, t: DemoTotals) => `${label.padEnd(10)} ${int(t.requests).padStart(9)} req  ${int(t.allTokens).padStart(14)} tokens  ${usd(t.cost).padStart(16)}`;
  console.log(`\nDemo data (seed ${f.seed}, ${int(f.events)} events, ${f.options.days} days up to now, days counted in ${f.timezone}; today ${f.today})`);
  for (const a of f.accounts) {
    console.log(`\n${a.id}  ${a.name}  [${a.platform}, ${a.status}, ${a.keys} keys]`);
    console.log(`  ${row("today", a.usage.daily)}`);
    console.log(`  ${row("month", a.usage.monthly)}`);
    console.log(`  ${row("total", a.usage.total)}`);
  }
  console.log(`\nPer API key of ${f.firstAccount.id} (all time):`);
  for (const k of f.firstAccount.keys) console.log(`  ${k.apiKeyId.padEnd(18)} ${row(k.apiKeyName, k.usage.total)}  last model ${k.lastModel.total ?? "-"}`);
  console.log(`\n${row("ALL today", f.totals.daily)}\n${row("ALL month", f.totals.monthly)}\n${row("ALL total", f.totals.total)}`);
}

async function main() {
  let cli: ReturnType<typeof parseCli>;
  try {
    cli = parseCli(process.argv.slice(2));
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
  if (cli.help) {
    console.log(USAGE);
    return;
  }

  const runtime = await openCliRuntime();
  try {
    if (cli.clean) {
      const r = await cleanDemoData(runtime);
      console.log(
        `Removed demo data: ${r.db ? `${r.db.accounts} accounts, ${r.db.apiKeys} API keys, ${r.db.usageRecords} usage records, ${r.db.rollupRows} rollup rows` : "no PostgreSQL"}; ` +
          `${r.redis ? `${r.redis.keys} Redis keys, ${r.redis.indexEntries} index entries` : "no Redis"}.`,
      );
      return;
    }

    const bar = new cliProgress.SingleBar(
      { format: "{phase} [{bar}] {value}/{total}", hideCursor: true, clearOnComplete: false, noTTYOutput: true, notTTYSchedule: 2000 },
      cliProgress.Presets.shades_classic,
    );
    const labels: Record<GenerateProgress["phase"], string> = {
      clean: "cleaning  ",
      accounts: "accounts  ",
      events: "events    ",
      drain: "postgres  ",
    };
    let phase: GenerateProgress["phase"] | undefined;
    const started = Date.now();
    const result = await generateDemoData(runtime, cli.options, (p) => {
      if (p.phase !== phase) {
        if (phase) bar.stop();
        phase = p.phase;
        bar.start(p.total, p.done, { phase: labels[p.phase] });
      } else {
        bar.update(p.done);
      }
    });
    bar.stop();
    console.log(
      `Wrote ${int(result.accepted)} events (${int(result.duplicates)} duplicates) in ${((Date.now() - started) / 1000).toFixed(1)} s` +
        (result.drained ? `; moved ${int(result.drained)} from the Redis outbox into PostgreSQL` : ""),
    );
    printFigures(result.figures);
    if (cli.out) {
      fs.mkdirSync(path.dirname(path.resolve(cli.out)), { recursive: true });
      fs.writeFileSync(cli.out, `${JSON.stringify(result.figures, null, 2)}\n`);
      console.log(`\nFigures written to ${cli.out}`);
    }
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
