import { revokeApiToken } from "@/server/auth/token.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const DELETE = route(ROUTES["DELETE /admin/tokens/{id}"], async ({ runtime, params }) => ({ data: await revokeApiToken(runtime, params.id) }));
