import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";
import { recordUsage } from "@/server/usage/usage.service";

/** 202: every accepted event is in the Redis outbox or committed to PostgreSQL. */
export const POST = route(ROUTES["POST /admin/usage"], async ({ runtime, body }) => ({
  data: await recordUsage(runtime, body),
  status: 202,
}));
