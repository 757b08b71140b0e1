import { route } from "@/server/http/route";
import { recordUsageInput } from "@/server/usage/schemas";
import { recordUsage } from "@/server/usage/usage.service";

/** 202: every accepted event is in the Redis outbox or committed to PostgreSQL. */
export const POST = route({ scope: "usage:write", body: recordUsageInput }, async ({ runtime, body }) => ({
  data: await recordUsage(runtime, body),
  status: 202,
}));
