import { safeNextPath } from "@/server/auth/http";
import { loginInput } from "@/server/auth/schemas";
import { signIn } from "@/server/auth/web";
import { badRequestFromZod, toAppError } from "@/server/errors";
import { isFormRequest, readForm, readJson } from "@/server/http/route";
import { route } from "@/server/rest/route";
import { ROUTES } from "@/server/rest/routes";

const MAX_BODY_BYTES = 4096;

/**
 * The one public route: it is how a session starts. Rate-limited per address and username.
 * Scripts send JSON; a browser without JavaScript posts the form (the console's form otherwise
 * signs in through tRPC's auth.login), and is sent on with 303 (to `next`, or back to /login with
 * the reason). Two media types, so this handler reads the body itself.
 */
export const POST = route(ROUTES["POST /admin/auth/login"], async ({ runtime, req, requestId }) => {
  const form = isFormRequest(req);
  const fields = form ? await readForm(req, MAX_BODY_BYTES) : await readJson(req, MAX_BODY_BYTES);
  const next = form ? safeNextPath((fields as Record<string, string>).next) : "/";
  try {
    const parsed = loginInput.safeParse(form ? { username: (fields as Record<string, string>).username, password: (fields as Record<string, string>).password } : fields);
    if (!parsed.success) throw badRequestFromZod(parsed.error, "request body");
    const { setCookies, data } = await signIn(runtime, req, parsed.data, requestId);
    const cookies = setCookies.map((c): [string, string] => ["set-cookie", c]);
    if (form) return new Response(null, { status: 303, headers: [...cookies, ["location", next]] });
    return { data, headers: cookies };
  } catch (err) {
    const appErr = toAppError(err);
    if (!form || appErr.code === "INTERNAL" || appErr.code === "FORBIDDEN") throw err;
    const reason = appErr.code === "TOO_MANY_REQUESTS" ? "too-many" : appErr.code === "UNAUTHORIZED" ? "invalid" : "failed";
    const q = new URLSearchParams({ error: reason, ...(appErr.extra.retryAfterSeconds ? { retry: String(appErr.extra.retryAfterSeconds) } : {}), ...(next !== "/" ? { next } : {}) });
    return new Response(null, { status: 303, headers: { location: `/login?${q}` } });
  }
});
