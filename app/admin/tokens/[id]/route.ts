import { route } from "@/server/http/route";
import { tokenIdInput } from "@/server/auth/schemas";
import { revokeApiToken } from "@/server/auth/token.service";
import { badRequestFromZod } from "@/server/errors";

export const DELETE = route({ scope: "admin" }, async ({ runtime, params }) => {
  const parsed = tokenIdInput.safeParse({ id: params.id });
  if (!parsed.success) throw badRequestFromZod(parsed.error, "path");
  return { data: await revokeApiToken(runtime, parsed.data.id) };
});
