/**
 * Runs once when a Next.js server process starts: validates the configuration (a bad value stops
 * start-up with a message naming the variable), opens the stores, applies migrations (seeding an
 * empty embedded database) and starts background work.
 */
export async function register() {
  if ("EdgeRuntime" in globalThis) return;
  const { getConfig, ConfigError } = await import("./server/config");
  const { getRuntime, StartupError } = await import("./server/runtime");
  try {
    getConfig();
    await getRuntime();
  } catch (err) {
    if (err instanceof ConfigError || err instanceof StartupError || (err as Error)?.name === "EmbeddedDatabaseBusyError") {
      console.error(`\n[startup] ${(err as Error).message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
