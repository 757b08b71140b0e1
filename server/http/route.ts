import type { NextRequest } from "next/server";
import type { z } from "zod";
import { pastDeadline } from "../deadline";
import { AppError, HTTP_STATUS, badRequestFromZod } from "../errors";
import { DEFAULT_MAX_BODY_BYTES } from "./limits";

/**
 * The HTTP plumbing of the REST wrapper (server/rest/route.ts) and the tRPC endpoint: reading and
 * parsing bodies, query strings and path parameters, the error envelope, no-store, deadlines.
 * Pure: no stores and no authentication, so every layer above may use it.
 */

export { DEFAULT_MAX_BODY_BYTES };

/** Marks a handler built with route() (server/rest/route.ts); its value is the required scope. */
export const ROUTE_MARK = Symbol.for("usage-breakdown.route");

type Schema = z.ZodType;

export function errorResponse(err: AppError, requestId: string): Response {
  const message = err.code === "INTERNAL" ? `Internal server error (request id ${requestId})` : err.message;
  const headers: Record<string, string> = { "x-request-id": requestId, "cache-control": NO_STORE };
  if (err.extra.retryAfterSeconds !== undefined) headers["retry-after"] = String(err.extra.retryAfterSeconds);
  return Response.json(
    {
      success: false,
      error: { code: err.code, message, ...(err.extra.issues ? { issues: err.extra.issues } : {}), requestId },
    },
    { status: HTTP_STATUS[err.code], headers },
  );
}

/** Query string → object; a repeated parameter is refused rather than silently picking one. */
export function parseQuery<S extends Schema>(req: NextRequest, schema: S): z.output<S> {
  const obj: Record<string, string> = {};
  for (const [k, v] of req.nextUrl.searchParams) {
    if (k in obj) throw new AppError("BAD_REQUEST", `Query parameter "${k}" is given more than once`, { issues: [{ path: k, message: "repeated" }] });
    obj[k] = v;
  }
  const parsed = schema.safeParse(obj);
  if (!parsed.success) throw badRequestFromZod(parsed.error, "query parameters");
  return parsed.data;
}

export function parseBody<S extends Schema>(value: unknown, schema: S): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw badRequestFromZod(parsed.error, "request body");
  return parsed.data;
}

/** Next.js's dynamic segments → the declared path parameters; a catch-all's parts are joined with "/". */
export function parseParams<S extends Schema>(raw: Record<string, string | string[]>, schema: S): z.output<S> {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(raw)) values[k] = Array.isArray(v) ? v.join("/") : v;
  const parsed = schema.safeParse(values);
  if (!parsed.success) throw badRequestFromZod(parsed.error, "path");
  return parsed.data;
}

/**
 * Reads a body of at most maxBytes (413 past it, checked as it streams in, before any parsing) and
 * decodes it as UTF-8. Shared by the REST wrapper, the login form and the tRPC endpoint.
 */
export async function readLimitedBody(req: Request, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > maxBytes) {
    throw new AppError("PAYLOAD_TOO_LARGE", `Request body is ${declared} bytes; the limit is ${maxBytes}`);
  }
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => {});
      throw new AppError("PAYLOAD_TOO_LARGE", `Request body exceeds the limit of ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

async function readText(req: Request, maxBytes: number, what: string): Promise<string> {
  const bytes = await readLimitedBody(req, maxBytes);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new AppError("BAD_REQUEST", "Request body is not valid UTF-8");
  }
  if (!text.trim()) throw new AppError("BAD_REQUEST", `Request body is empty; expected ${what}`);
  return text;
}

const JSON_TYPE = /^application\/([a-z.+-]*\+)?json\b/i;
const FORM_TYPE = /^application\/x-www-form-urlencoded\b/i;

export function isFormRequest(req: Request): boolean {
  return FORM_TYPE.test(req.headers.get("content-type") ?? "");
}

/** Reads a JSON body, refusing more than maxBytes (413) and anything that is not JSON (400/415). */
export async function readJson(req: Request, maxBytes: number): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!JSON_TYPE.test(type)) {
    throw new AppError("UNSUPPORTED_MEDIA_TYPE", `Content-Type must be application/json, got "${type || "none"}"`);
  }
  return parseJsonText(await readText(req, maxBytes, "JSON"));
}

class ProtoKeyError extends Error {}

/**
 * JSON.parse, refusing a "__proto__" key anywhere: a schema would silently drop it at the top of
 * an object (data lost without a word) and keep it deeper down (a prototype-pollution hazard for
 * whoever reads the stored JSON). The reviver runs only when the text could spell the key.
 */
export function parseJsonText(text: string): unknown {
  try {
    if (!/proto|\\u/.test(text)) return JSON.parse(text);
    return JSON.parse(text, (key, value: unknown) => {
      if (key === "__proto__") throw new ProtoKeyError();
      return value;
    });
  } catch (err) {
    if (err instanceof ProtoKeyError) throw new AppError("BAD_REQUEST", 'Request body has a "__proto__" key, which is not accepted anywhere');
    // Not JSON.parse's message: V8 quotes the text around the error, which may be a password.
    throw new AppError("BAD_REQUEST", "Request body is not valid JSON");
  }
}

/** A form-encoded body (a browser without JavaScript) as an object of its fields; a repeated field is refused. */
export async function readForm(req: Request, maxBytes: number): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const [k, v] of new URLSearchParams(await readText(req, maxBytes, "form fields"))) {
    if (Object.hasOwn(fields, k)) throw new AppError("BAD_REQUEST", `Form field "${k}" is given more than once`);
    fields[k] = v;
  }
  return fields;
}

export const NO_STORE = "no-store";

/** Answers about a signed-in caller must never sit in a shared or browser cache. */
export function noStore(headers: Headers): void {
  if (!headers.has("cache-control")) headers.set("cache-control", NO_STORE);
}

/**
 * Every request has a deadline: past it the client gets 503 and this handler stops waiting (the
 * database's own statement timeout ends the query; a CSV export's cursor is given the time left,
 * see db/cursor.ts). A synchronous loop cannot be preempted in Node.js: those are prevented by
 * bounding every iteration (server/calendar.ts). `totalMs` is what the message names.
 */
export async function withDeadline<T>(work: Promise<T>, ms: number, totalMs = ms): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(pastDeadline(totalMs)), ms);
    timer.unref?.();
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** A client that closed the connection mid-body: nothing went wrong on our side. */
export function isClientAbort(err: unknown, req: Request): boolean {
  if (req.signal?.aborted) return true;
  const e = err as { name?: string; code?: string; message?: string } | null;
  return !!e && !(err instanceof AppError) && (e.name === "AbortError" || e.code === "ECONNRESET" || e.code === "UND_ERR_ABORTED" || /aborted|terminated/i.test(e.message ?? ""));
}
