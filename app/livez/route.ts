import { probe } from "@/server/health/probes";

/** GET /livez: the process serves requests (no store is touched). */
export const GET = probe(async () => ({ ok: true, reason: "serving" }));
