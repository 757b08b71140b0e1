import { route } from "@/server/http/route";
import { loginInput } from "@/server/auth/schemas";
import { signIn } from "@/server/auth/web";

// The one public route: it is how a session starts. Rate-limited per address and username.
export const POST = route({ scope: "public", body: loginInput, maxBodyBytes: 4096 }, async ({ runtime, req, body, requestId }) => {
  const { setCookie, data } = await signIn(runtime, req, body, requestId);
  return Response.json({ success: true, data }, { headers: { "set-cookie": setCookie, "cache-control": "no-store" } });
});
