import { health } from "@/server/health/health.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/health"], async ({ runtime }) => {
  const data = await health(runtime);
  return { data, status: data.status === "down" ? 503 : 200 };
});
