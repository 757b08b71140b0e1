import { listDeliveries } from "@/server/alerts/delivery.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/alerts/deliveries"], async ({ runtime, query }) => ({ data: await listDeliveries(runtime, query) }));
