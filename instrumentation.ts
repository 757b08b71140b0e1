/** Runs once when a Next.js server process starts; see server/startup.ts. */
export async function register() {
  // NEXT_RUNTIME is a build-time constant of Next.js, not configuration: this test keeps the
  // Node-only start-up (pg, PGlite, ioredis, argon2) out of the edge bundle.
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { startServer } = await import("./server/startup");
    await startServer();
  }
}
