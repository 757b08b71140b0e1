import { route } from "@/server/http/route";
import { health } from "@/server/health/health.service";

export const GET = route({ scope: "usage:read" }, async ({ runtime }) => {
  const data = await health(runtime);
  return { data, status: data.status === "down" ? 503 : 200 };
});
