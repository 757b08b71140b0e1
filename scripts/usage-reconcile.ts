/**
 * npm run usage:reconcile [-- --days N]
 *
 * Rebuilds the Redis live counters (the last N local days, default 2, their months and all time)
 * from the PostgreSQL rollups, after draining the outbox. Safe while the app is running: each
 * account is locked for the moment of its swap and no event is lost or counted twice.
 */
import { reconcileHotCounters } from "../server/usage/reconcile";
import { openCliRuntime } from "./cli-runtime";

function parseArgs(argv: string[]): { days: number } {
  let days = 2;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = a.startsWith("--days=") ? a.slice(7) : a === "--days" ? argv[++i] : undefined;
    if (value === undefined) throw new Error(`Unknown option ${a}; usage: npm run usage:reconcile [-- --days N]`);
    days = Number(value);
    if (!Number.isInteger(days) || days < 1 || days > 35) throw new Error("--days must be an integer from 1 to 35");
  }
  return { days };
}

async function main() {
  const { days } = parseArgs(process.argv.slice(2));
  const runtime = await openCliRuntime();
  try {
    const r = await reconcileHotCounters(runtime, { days });
    console.log(
      `Rebuilt the Redis counters of ${r.accounts} account(s) from PostgreSQL: days ${r.dates.join(", ")}, months ${r.months.join(", ")}, all time ` +
        `(${r.drainedEvents} outbox event(s) drained first, ${r.durationMs} ms).`,
    );
    if (r.skipped.length) {
      console.warn(`Skipped ${r.skipped.length} account(s) locked by another reconcile or whose lock expired: ${r.skipped.join(", ")}`);
      process.exitCode = 2;
    }
  } finally {
    await runtime.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
