import { route } from "@/server/http/route";
import { createTokenInput } from "@/server/auth/schemas";
import { createApiToken, listApiTokens, revokeAllApiTokens } from "@/server/auth/token.service";

export const GET = route({ scope: "admin" }, async ({ runtime }) => ({ data: await listApiTokens(runtime) }));

/** The response is the only place the token ever appears. */
export const POST = route({ scope: "admin", body: createTokenInput, maxBodyBytes: 4096 }, async ({ runtime, body }) => {
  const { token, info } = await createApiToken(runtime, body);
  return Response.json({ success: true, data: { ...info, token } }, { status: 201, headers: { "cache-control": "no-store" } });
});

/** Revokes every API token at once (a password change does not: it ends sessions only). */
export const DELETE = route({ scope: "admin" }, async ({ runtime }) => ({ data: await revokeAllApiTokens(runtime) }));
