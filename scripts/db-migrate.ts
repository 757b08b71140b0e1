/**
 * npm run db:migrate [-- --dry-run | --list | --seed]   and   npm run db:seed
 */
import { getConfig } from "../server/config";
import { createDatabase } from "../db/client";
import { migrate, migrationStatus, seed } from "../db/migrator";

async function main() {
  const args = new Set(process.argv.slice(2));
  const known = ["--dry-run", "--list", "--seed", "--seed-only"];
  for (const a of args) if (!known.includes(a)) throw new Error(`Unknown option ${a}; expected one of ${known.join(", ")}`);
  const config = getConfig();
  const handle = await createDatabase({
    databaseUrl: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    statementTimeoutMs: 10 * 60_000,
    poolMax: 2,
  });
  try {
    if (args.has("--list") || args.has("--dry-run")) {
      const st = await migrationStatus(handle);
      if (args.has("--list")) {
        for (const a of st.applied) console.log(`applied  ${a.name}  ${a.appliedAt.toISOString()}  ${a.checksum.slice(0, 12)}`);
        for (const p of st.pending) console.log(`pending  ${p.name}`);
        if (!st.applied.length && !st.pending.length) console.log("no migrations");
      } else {
        if (!st.pending.length) console.log("-- nothing pending: the database is up to date");
        for (const p of st.pending) console.log(`-- ${p.name} (would be applied; nothing was changed)\n${p.sql}`);
      }
      return;
    }
    if (!args.has("--seed-only")) {
      const applied = await migrate(handle, { log: (l) => console.log(l) });
      console.log(applied.length ? `applied ${applied.length} migration(s)` : "up to date");
    }
    if (args.has("--seed") || args.has("--seed-only")) {
      await seed(handle, config.usageTimezone);
      console.log(`seeded demo data (time zone ${config.usageTimezone})`);
    }
  } finally {
    await handle.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
