import { changeOwnPassword } from "@/server/auth/web";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

export const POST = route(ROUTES["POST /admin/auth/password"], async ({ runtime, req, body, principal, requestId }) => {
  const { setCookie, data } = await changeOwnPassword(runtime, req, principal, body, requestId);
  return { data, headers: { "set-cookie": setCookie } };
});
