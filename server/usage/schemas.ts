import { z } from "zod";
import { isStorableText, storableText } from "../text";
import { MAX_REQUESTS_PER_EVENT, MAX_TOKENS_PER_FIELD, MEASURES, type MeasureSpec } from "../../db/measures";

/**
 * Input of usage recording, shared by REST (POST /admin/usage), tRPC (usage.record) and the
 * OpenAPI generator. The envelope is validated as a whole (400 when it is wrong); each event is
 * validated on its own by the service so that one bad event is rejected by index while the rest
 * of the batch is recorded.
 */

export const MAX_EVENTS_PER_BATCH = 1000;
export { MAX_REQUESTS_PER_EVENT, MAX_TOKENS_PER_FIELD };
export const MAX_COST_USD = 1_000_000;
export const MAX_JSON_OBJECT_BYTES = 4096;
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;
/** Nothing older: keeps a typo like year 0202 from creating partitions for ancient months. */
export const MIN_OCCURRED_AT = "2000-01-01T00:00:00Z";

export { isStorableText, storableText };

const count = (max: number) =>
  z.int({ error: "must be a non-negative integer" }).min(0, { error: "must be a non-negative integer" }).max(max, { error: `must be at most ${max}` });

/** Keys that reach an object's prototype in JavaScript: refused at any depth of stored JSON. */
export const RESERVED_JSON_KEYS = new Set(["__proto__", "constructor", "prototype"]);

/** Walks a JSON value: every string (keys too) storable, no reserved keys, depth bounded. */
function jsonProblem(value: unknown, depth: number): string | undefined {
  if (depth > 16) return "is nested too deeply (more than 16 levels)";
  if (typeof value === "string") return isStorableText(value) || value === "" ? undefined : "contains NUL bytes or unpaired surrogates";
  if (value === null || typeof value !== "object") return undefined;
  for (const [k, v] of Object.entries(value)) {
    if (RESERVED_JSON_KEYS.has(k)) return `has the reserved key "${k}"`;
    if (!isStorableText(k) && k !== "") return "has a key with NUL bytes or unpaired surrogates";
    const p = jsonProblem(v, depth + 1);
    if (p) return p;
  }
  return undefined;
}

/** A small JSON object (cost breakdown, metadata); null is taken as absent. */
export const smallJsonObject = z
  .record(z.string(), z.unknown(), { error: "must be a JSON object" })
  .superRefine((obj, ctx) => {
    const problem = jsonProblem(obj, 0);
    if (problem) {
      ctx.addIssue({ code: "custom", message: problem });
      return;
    }
    const bytes = Buffer.byteLength(JSON.stringify(obj));
    if (bytes > MAX_JSON_OBJECT_BYTES) ctx.addIssue({ code: "custom", message: `must be at most ${MAX_JSON_OBJECT_BYTES} bytes as JSON, got ${bytes}` });
  })
  .nullish();

const COST_TEXT = /^(0|[1-9]\d{0,6})(\.\d{1,8})?$/;

/** How a JSON number cost is read; stated in the OpenAPI description of `cost`. */
export const NUMBER_COST_RULE =
  "A JSON number is rounded to 8 decimal places by its exact binary value, to the nearest multiple of 0.00000001 " +
  "(what JavaScript's toFixed(8) gives: 0.05907780000000001 becomes 0.0590778, and 0.021640125, whose double is " +
  "0.0216401249999…, becomes 0.02164012); a string is taken as written and refused with more than 8 decimals, never rounded.";

/** Rounds a plain decimal string half up to 8 decimals with string arithmetic (sums CRS stores as text). */
export function roundHalfUp8(text: string): string {
  const [int = "0", frac = ""] = text.split(".");
  if (frac.length <= 8) return frac ? `${int}.${frac}` : int;
  const digits = (int + frac.slice(0, 8)).split("").map(Number);
  if (Number(frac[8]) >= 5) {
    let i = digits.length - 1;
    while (i >= 0 && digits[i] === 9) digits[i--] = 0;
    if (i < 0) digits.unshift(1);
    else digits[i]! += 1;
  }
  const all = digits.join("");
  const intPart = all.slice(0, all.length - 8).replace(/^0+(?=\d)/, "");
  return `${intPart || "0"}.${all.slice(-8)}`;
}

/**
 * USD as a canonical decimal string ("0.00012345", "-0.5"), or a message saying what is wrong.
 * Numbers are doubles from real clients (CRS sends 0.05907780000000001): rounded, see
 * NUMBER_COST_RULE. Negative amounts only with `signed` (an event's money: only a correction,
 * requests = 0, may carry one, which usageEventSchema checks on the whole event; see
 * CORRECTION_RULE); a limit or a price is never negative.
 */
export function parseCostUsd(value: string | number, opts: { signed?: boolean } = {}): { ok: true; text: string } | { ok: false; message: string } {
  let text: string;
  if (typeof value === "number") {
    if (!Number.isFinite(value)) return { ok: false, message: "must be a finite number" };
    if (value < 0 && !opts.signed) return { ok: false, message: "must not be negative" };
    if (Math.abs(value) > MAX_COST_USD) return { ok: false, message: `must be at most ${MAX_COST_USD} USD` };
    // toFixed rounds the double's exact value (ECMA-262 Number.prototype.toFixed; exact below 1e21).
    text = value.toFixed(8);
  } else {
    text = value;
  }
  const negative = text.startsWith("-");
  if (negative && !opts.signed) return { ok: false, message: "must not be negative" };
  if (negative) text = text.slice(1);
  if (!COST_TEXT.test(text)) {
    if (/^\d+\.\d{9,}$/.test(text)) return { ok: false, message: "must have at most 8 decimal places" };
    if (/^0\d/.test(text)) return { ok: false, message: `must not have leading zeros (got "${text.slice(0, 32)}")` };
    if (/^\d+(\.\d+)?$/.test(text)) return { ok: false, message: `must be at most ${MAX_COST_USD} USD` };
    return { ok: false, message: 'must be a decimal number of USD such as "0.0123" (at most 8 decimal places)' };
  }
  if (text.includes(".")) text = text.replace(/\.?0+$/, "");
  if (Number(text) > MAX_COST_USD) return { ok: false, message: `must be at most ${MAX_COST_USD} USD` };
  return { ok: true, text: negative && text !== "0" ? `-${text}` : text };
}

export const NEGATIVE_IN_REQUEST = "must not be negative in a request (only a correction, requests: 0, gives money back)";

/** Stated in the OpenAPI description of the money measures and in the error of a refused event. */
export const CORRECTION_RULE =
  "A negative amount records a correction (money the relay gave back: a refund, a negative re-charge) and is accepted " +
  "only with requests: 0 — a request never costs less than nothing.";

/** An event's money measure: negative only in a correction (checked on the whole event). */
export const costUsd = z
  .union([z.string(), z.number()], { error: "must be a decimal string or a number of USD" })
  .meta({ description: `USD. ${NUMBER_COST_RULE} ${CORRECTION_RULE}` })
  .superRefine((v, ctx) => {
    const r = parseCostUsd(v, { signed: true });
    if (!r.ok) ctx.addIssue({ code: "custom", message: r.message });
  });

const occurredAt = z
  .iso.datetime({ offset: true, error: "must be an ISO-8601 date-time with an offset, e.g. 2026-01-31T23:59:59.999+08:00 or …Z" })
  .superRefine((v, ctx) => {
    const ms = Date.parse(v);
    if (!Number.isFinite(ms)) ctx.addIssue({ code: "custom", message: "is not a valid date-time" });
    else if (ms > Date.now() + MAX_FUTURE_SKEW_MS) ctx.addIssue({ code: "custom", message: "is more than 5 minutes in the future" });
    else if (ms < Date.parse(MIN_OCCURRED_AT)) ctx.addIssue({ code: "custom", message: `must not be before ${MIN_OCCURRED_AT}` });
  });

/** The measures an event gives (db/measures.ts), each required or optional. */
const INPUT_MEASURES = MEASURES.filter((m): m is typeof m & { input: NonNullable<MeasureSpec["input"]> } => "input" in m);

function measureField(m: (typeof INPUT_MEASURES)[number]) {
  const input: MeasureSpec["input"] = m.input;
  const base =
    m.kind === "money"
      ? input.description
        ? costUsd.meta({ description: `${input.description} ${NUMBER_COST_RULE}` })
        : costUsd
      : count(input.max ?? MAX_TOKENS_PER_FIELD);
  return input.required ? base : base.optional();
}

const MONEY_INPUTS = INPUT_MEASURES.filter((m) => m.kind === "money");
const isNegativeCost = (v: string | number) => (typeof v === "number" ? v < 0 : v.startsWith("-"));

type InputMeasure = (typeof INPUT_MEASURES)[number];
type FieldOf<K extends InputMeasure, T extends z.ZodType> = K["input"] extends { required: true } ? T : z.ZodOptional<T>;
const measureFields = Object.fromEntries(INPUT_MEASURES.map((m) => [m.name, measureField(m)])) as {
  [K in InputMeasure as K["name"]]: FieldOf<K, K["kind"] extends "money" ? typeof costUsd : ReturnType<typeof count>>;
};

/** One request served by the relay. `requestId` is the idempotency key. */
export const usageEventSchema = z
  .object({
    requestId: storableText(128),
    occurredAt,
    accountId: storableText(128),
    apiKeyId: storableText(128),
    model: storableText(128),
    ...measureFields,
    costBreakdown: smallJsonObject,
    metadata: smallJsonObject,
  })
  .strict()
  .superRefine((e, ctx) => {
    if ((e.requests ?? 1) === 0) return;
    for (const m of MONEY_INPUTS) {
      const v = (e as Record<string, unknown>)[m.name];
      if (v !== undefined && isNegativeCost(v as string | number)) ctx.addIssue({ code: "custom", path: [m.name], message: NEGATIVE_IN_REQUEST });
    }
  });
export type UsageEvent = z.infer<typeof usageEventSchema>;

const EVENT_KEYS = new Set(Object.keys(usageEventSchema.shape));
const PLAIN_ID = /^[\x20-\x7e]{1,128}$/;
const isCount = (v: unknown, max: number) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= max;
/** Negative amounts (corrections) are not "plain": they go through the schema, which checks requests. */
const isCost = (v: unknown) => (typeof v === "string" || typeof v === "number") && !isNegativeCost(v) && parseCostUsd(v).ok;

/**
 * A fast check of the common case, for throughput: true only for events usageEventSchema
 * certainly accepts (the property test in schemas.test.ts holds it to that). Anything unusual
 * (non-ASCII ids, a cost breakdown, metadata other than a small flat object, bad values) returns
 * false and goes through the schema, which also writes the messages.
 */
export function isPlainValidEvent(v: unknown): v is UsageEvent {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  for (const k in e) if (!EVENT_KEYS.has(k) || !Object.hasOwn(e, k)) return false;
  if (!(typeof e.requestId === "string" && PLAIN_ID.test(e.requestId))) return false;
  if (!(typeof e.accountId === "string" && PLAIN_ID.test(e.accountId))) return false;
  if (!(typeof e.apiKeyId === "string" && PLAIN_ID.test(e.apiKeyId))) return false;
  if (!(typeof e.model === "string" && PLAIN_ID.test(e.model))) return false;
  for (const m of INPUT_MEASURES) {
    const value = e[m.name];
    const input: MeasureSpec["input"] = m.input;
    if (value === undefined && !input.required) continue;
    if (!(m.kind === "money" ? isCost(value) : isCount(value, input.max ?? MAX_TOKENS_PER_FIELD))) return false;
  }
  if (e.costBreakdown != null) return false;
  if (e.metadata != null && !isPlainSmallObject(e.metadata)) return false;
  return occurredAt.safeParse(e.occurredAt).success;
}

const PLAIN_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const PLAIN_STRING = /^[\x20-\x7e]{0,512}$/;

/**
 * The common metadata of a relay's event (a flat object of short ASCII strings, finite numbers,
 * booleans and nulls), which smallJsonObject certainly accepts: its JSON is at most
 * MAX_JSON_OBJECT_BYTES even with every character escaped. Anything else goes to the schema.
 */
function isPlainSmallObject(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Object.getPrototypeOf(v) !== Object.prototype) return false;
  let bytes = 2;
  for (const k in v) {
    if (!Object.hasOwn(v, k) || !PLAIN_KEY.test(k) || RESERVED_JSON_KEYS.has(k)) return false;
    const x = (v as Record<string, unknown>)[k];
    if (typeof x === "string") {
      if (!PLAIN_STRING.test(x)) return false;
      bytes += 2 + 2 * x.length;
    } else if (typeof x === "number") {
      if (!Number.isFinite(x)) return false;
      bytes += 24;
    } else if (typeof x === "boolean" || x === null) bytes += 5;
    else return false;
    bytes += k.length + 4;
    if (bytes > MAX_JSON_OBJECT_BYTES) return false;
  }
  return true;
}

/** The envelope. Items are checked one by one by the service (see usageEventSchema). */
export const recordUsageInput = z
  .object({
    events: z
      .array(z.unknown())
      .min(1, { error: "must contain at least 1 event" })
      .max(MAX_EVENTS_PER_BATCH, { error: `must contain at most ${MAX_EVENTS_PER_BATCH} events per request` }),
  })
  .strict();
export type RecordUsageInput = z.infer<typeof recordUsageInput>;

/** The same envelope with typed items, for documentation (OpenAPI) only. */
export const recordUsageBodyDoc = z
  .object({ events: z.array(usageEventSchema).min(1).max(MAX_EVENTS_PER_BATCH) })
  .strict();

export const rejectedEventSchema = z.object({
  index: z.int(),
  code: z.enum(["INVALID_EVENT", "MISSING_FIELD", "UNKNOWN_FIELD", "INVALID_FIELD", "RAW_RECORDS_EXPIRED"]),
  message: z.string(),
});
export type RejectedEvent = z.infer<typeof rejectedEventSchema>;

export const recordUsageResult = z.object({
  accepted: z.int(),
  duplicates: z.int(),
  rejected: z.array(rejectedEventSchema),
});
export type RecordUsageResult = z.infer<typeof recordUsageResult>;
