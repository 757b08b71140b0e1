import { isFormRequest, readForm, readJson, route } from "@/server/http/route";
import { safeNextPath } from "@/server/auth/http";
import { loginInput } from "@/server/auth/schemas";
import { signIn } from "@/server/auth/web";
import { badRequestFromZod, toAppError } from "@/server/errors";

const MAX_BODY_BYTES = 4096;

/**
 * The one public route: it is how a session starts. Rate-limited per address and username.
 * Scripts and the console send JSON; a browser without JavaScript posts the form, and is sent on
 * with 303 (to `next`, or back to /login with the reason).
 */
export const POST = route({ scope: "public" }, async ({ runtime, req, requestId }) => {
  const form = isFormRequest(req);
  const fields = form ? await readForm(req, MAX_BODY_BYTES) : await readJson(req, MAX_BODY_BYTES);
  const next = form ? safeNextPath((fields as Record<string, string>).next) : "/";
  try {
    const parsed = loginInput.safeParse(form ? { username: (fields as Record<string, string>).username, password: (fields as Record<string, string>).password } : fields);
    if (!parsed.success) throw badRequestFromZod(parsed.error, "request body");
    const { setCookies, data } = await signIn(runtime, req, parsed.data, requestId);
    const headers = new Headers({ "cache-control": "no-store" });
    for (const c of setCookies) headers.append("set-cookie", c);
    if (form) {
      headers.set("location", next);
      return new Response(null, { status: 303, headers });
    }
    headers.set("content-type", "application/json");
    return new Response(JSON.stringify({ success: true, data }), { headers });
  } catch (err) {
    const appErr = toAppError(err);
    if (!form || appErr.code === "INTERNAL" || appErr.code === "FORBIDDEN") throw err;
    const reason = appErr.code === "TOO_MANY_REQUESTS" ? "too-many" : appErr.code === "UNAUTHORIZED" ? "invalid" : "failed";
    const q = new URLSearchParams({ error: reason, ...(appErr.extra.retryAfterSeconds ? { retry: String(appErr.extra.retryAfterSeconds) } : {}), ...(next !== "/" ? { next } : {}) });
    return new Response(null, { status: 303, headers: { location: `/login?${q}`, "cache-control": "no-store" } });
  }
});
