import { createApiToken, listApiTokens, revokeAllApiTokens } from "@/server/auth/token.service";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const GET = route(ROUTES["GET /admin/tokens"], async ({ runtime }) => ({ data: await listApiTokens(runtime) }));

/** The response is the only place the token ever appears. */
export const POST = route(ROUTES["POST /admin/tokens"], async ({ runtime, body }) => {
  const { token, info } = await createApiToken(runtime, body);
  return { data: { ...info, token }, status: 201 };
});

/** Revokes every API token at once (a password change does not: it ends sessions only). */
export const DELETE = route(ROUTES["DELETE /admin/tokens"], async ({ runtime }) => ({ data: await revokeAllApiTokens(runtime) }));
