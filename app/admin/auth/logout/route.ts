import { route } from "@/server/http/route";
import { signOut } from "@/server/auth/web";

// Public so that a browser holding an expired session can still clear its cookie; it only ever
// ends the session whose cookie it is sent with.
export const POST = route({ scope: "public" }, async ({ runtime, req }) => {
  const { setCookie, data } = await signOut(runtime, req);
  return Response.json({ success: true, data }, { headers: { "set-cookie": setCookie } });
});
