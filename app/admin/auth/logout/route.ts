import { route } from "@/server/http/route";
import { signOut } from "@/server/auth/web";

export const POST = route({ scope: "admin" }, async ({ runtime, req }) => {
  const { setCookie, data } = await signOut(runtime, req);
  return Response.json({ success: true, data }, { headers: { "set-cookie": setCookie } });
});
