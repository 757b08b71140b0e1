import { signOut } from "@/server/auth/web";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

// Public so that a browser holding an expired session can still clear its cookie; it only ever
// ends the session whose cookie it is sent with.
export const POST = route(ROUTES["POST /admin/auth/logout"], async ({ runtime, req }) => {
  const { setCookie, data } = await signOut(runtime, req);
  return { data, headers: { "set-cookie": setCookie } };
});
