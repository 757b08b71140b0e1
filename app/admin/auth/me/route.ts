import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/auth/me"], async ({ principal }) => ({
  data: { kind: principal.kind, name: principal.name, scopes: principal.scopes },
}));
