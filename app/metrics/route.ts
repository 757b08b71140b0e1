import { route } from "@/server/rest/route";
import { scrapeMetrics } from "@/server/health/scrape";

/** GET /metrics: Prometheus text format, for a token with the `metrics` scope (or admin). */
export const GET = route({ scope: "metrics" }, async ({ runtime }) => {
  const { body, contentType } = await scrapeMetrics(runtime);
  return new Response(body, { status: 200, headers: { "content-type": contentType } });
});
