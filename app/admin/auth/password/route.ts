import { route } from "@/server/http/route";
import { changePasswordInput } from "@/server/auth/schemas";
import { changeOwnPassword } from "@/server/auth/web";

export const POST = route({ scope: "admin", body: changePasswordInput, maxBodyBytes: 4096 }, async ({ runtime, req, body, principal, requestId }) => {
  const { setCookie, data } = await changeOwnPassword(runtime, req, principal, body, requestId);
  return Response.json({ success: true, data }, { headers: { "set-cookie": setCookie } });
});
