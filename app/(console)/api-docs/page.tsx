import type { Metadata } from "next";
import { headers } from "next/headers";
import { getLocale, getTranslations } from "next-intl/server";
import { requireAdminSession } from "@/server/auth/server-session";
import { getConfig } from "@/server/config";
import { getOpenApiDocument } from "@/server/openapi/document";
import { curlOf, EXAMPLES } from "./examples";
import { EN_PARAMS, ZH_ERRORS, ZH_INFO, ZH_OPERATIONS, ZH_PARAMS, ZH_TAGS, paramText } from "./zh-CN";

export async function generateMetadata(): Promise<Metadata> {
  return { title: (await getTranslations())("apiDocs.title") };
}

type T = Awaited<ReturnType<typeof getTranslations<"apiDocs">>>;

/**
 * The OpenAPI document rendered as plain HTML on the server: routes, parameters, bodies and
 * responses. No client script and no CDN (the CSP allows neither); the raw document is
 * GET /admin/openapi.json.
 */

type Schema = {
  $ref?: string;
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
  additionalProperties?: boolean | Schema;
  description?: string;
  default?: unknown;
  format?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
};
type Parameter = { name: string; in: string; required?: boolean; description?: string; schema?: Schema };
type Media = Record<string, { schema?: Schema }>;
type Operation = {
  operationId: string;
  summary?: string;
  description?: string;
  tags?: string[];
  "x-required-scope"?: string;
  parameters?: Parameter[];
  requestBody?: { content: Media };
  responses: Record<string, { description: string; content?: Media }>;
};

const METHODS = ["get", "post", "put", "delete", "patch"] as const;
const METHOD_STYLE: Record<string, string> = {
  get: "bg-sky-100 text-sky-800",
  post: "bg-emerald-100 text-emerald-800",
  put: "bg-amber-100 text-amber-800",
  delete: "bg-rose-100 text-rose-800",
  patch: "bg-violet-100 text-violet-800",
};

const refName = (ref: string) => ref.split("/").pop() ?? ref;

/** Safe integer bounds zod adds to every int are noise to a reader. */
const bound = (n: number | undefined) => (n !== undefined && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);

function typeLabel(s: Schema): string {
  if (s.$ref) return refName(s.$ref);
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  if (s.anyOf ?? s.oneOf) return (s.anyOf ?? s.oneOf)!.map(typeLabel).join(" | ");
  if (s.type === "array" && s.items) return `${typeLabel(s.items)}[]`;
  const t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type ?? "any");
  return s.format ? `${t} (${s.format})` : t;
}

/** A pattern longer than this is a machine's concern: the page points to openapi.json instead. */
const READABLE_PATTERN = 40;

function constraints(s: Schema, t: T): string {
  const parts: string[] = [];
  if (s.default !== undefined) parts.push(t("default", { value: JSON.stringify(s.default) }));
  const min = bound(s.minimum);
  const max = bound(s.maximum);
  if (min !== undefined || max !== undefined) parts.push(`${min ?? "…"}–${max ?? "…"}`);
  if (s.maxLength !== undefined) parts.push(t("maxChars", { max: s.maxLength }));
  if (s.pattern) parts.push(s.pattern.length <= READABLE_PATTERN ? s.pattern : t("pattern"));
  return parts.join(", ");
}

/** Descriptions are Markdown-ish: `code` spans become <code>, not literal backticks. */
function Prose({ text }: { text: string }) {
  return text.split(/`([^`]+)`/).map((part, i) =>
    i % 2 === 1 ? (
      <code key={i} className="rounded bg-slate-100 px-1 font-mono text-[0.9em]">
        {part}
      </code>
    ) : (
      part
    ),
  );
}

function SchemaView({ schema, t, depth = 0 }: { schema: Schema; t: T; depth?: number }) {
  if (schema.$ref) {
    return (
      <a className="font-mono text-sky-700 underline" href={`#schema-${refName(schema.$ref)}`}>
        {refName(schema.$ref)}
      </a>
    );
  }
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && depth < 6) {
    const nonNull = alternatives.filter((a) => a.type !== "null");
    const nullable = nonNull.length < alternatives.length ? " | null" : "";
    if (nonNull.length === 1) {
      return (
        <span>
          <SchemaView schema={nonNull[0]!} t={t} depth={depth + 1} />
          <span className="font-mono text-slate-500">{nullable}</span>
        </span>
      );
    }
  }
  if (schema.type === "array" && schema.items && depth < 6) {
    return (
      <span>
        <span className="text-slate-500">{t("arrayOf")} </span>
        <SchemaView schema={schema.items} t={t} depth={depth + 1} />
      </span>
    );
  }
  if (schema.properties && depth < 6) {
    const required = new Set(schema.required ?? []);
    return (
      <ul className="ml-4 list-none border-l border-slate-200 pl-3">
        {Object.entries(schema.properties).map(([name, prop]) => (
          <li key={name} className="py-0.5">
            <span className="font-mono text-slate-900">{name}</span>
            {required.has(name) ? null : <span className="text-slate-500">?</span>}{" "}
            {prop.properties || prop.$ref || (prop.type === "array" && prop.items) || prop.anyOf ? (
              <SchemaView schema={prop} t={t} depth={depth + 1} />
            ) : (
              <span className="font-mono text-slate-500">{typeLabel(prop)}</span>
            )}
            {constraints(prop, t) ? <span className="ml-2 text-xs text-slate-500">{constraints(prop, t)}</span> : null}
            {prop.description ? (
              <span className="ml-2 text-slate-600">
                — <Prose text={prop.description} />
              </span>
            ) : null}
          </li>
        ))}
      </ul>
    );
  }
  return <span className="font-mono text-slate-500">{typeLabel(schema)}</span>;
}

function OperationView({ method, path, op, t, zh, origin }: { method: string; path: string; op: Operation; t: T; zh: boolean; origin: string }) {
  const example = EXAMPLES[op.operationId];
  return (
    <section id={op.operationId} className="rounded-lg border border-slate-200 bg-white p-4 shadow-sm">
      <h3 className="flex flex-wrap items-center gap-2 text-base">
        <span className={`rounded px-2 py-0.5 font-mono text-xs font-bold uppercase ${METHOD_STYLE[method] ?? ""}`}>{method}</span>
        <span className="font-mono font-semibold wrap-anywhere">{path}</span>
        <span className="text-slate-600">{op.summary}</span>
        <span className="ml-auto rounded bg-slate-100 px-2 py-0.5 text-xs text-slate-600">
          {op["x-required-scope"] === "public" ? t("public") : t("scope", { scope: op["x-required-scope"] ?? "" })}
        </span>
      </h3>
      {op.description ? (
        <p className="mt-2 text-sm text-slate-700">
          <Prose text={op.description} />
        </p>
      ) : null}
      {op.parameters?.length ? (
        <div className="mt-3 overflow-x-auto">
        <table className="w-full min-w-[560px] text-left text-sm">
          <thead className="text-xs text-slate-500">
            <tr>
              <th className="py-1 pr-3">{t("parameter")}</th>
              <th className="py-1 pr-3">{t("in")}</th>
              <th className="py-1 pr-3">{t("type")}</th>
              <th className="py-1">{t("description")}</th>
            </tr>
          </thead>
          <tbody>
            {op.parameters.map((p) => (
              <tr key={`${p.in}:${p.name}`} className="border-t border-slate-100 align-top">
                <td className="py-1 pr-3 font-mono">
                  {p.name}
                  {p.required ? <span className="text-rose-600">*</span> : null}
                </td>
                <td className="py-1 pr-3 text-slate-500">{p.in}</td>
                <td className="py-1 pr-3 font-mono text-slate-600">
                  {p.schema ? typeLabel(p.schema) : ""}
                  {p.schema && constraints(p.schema, t) ? <div className="text-xs text-slate-500">{constraints(p.schema, t)}</div> : null}
                </td>
                <td className="py-1 text-slate-700">
                  <Prose text={paramText(zh ? ZH_PARAMS : EN_PARAMS, op.operationId, p.name) ?? p.description ?? p.schema?.description ?? ""} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      ) : null}
      {example ? (
        <div className="mt-3 text-sm">
          <h4 className="font-semibold text-slate-700">{t("example")}</h4>
          <pre className="mt-1 overflow-x-auto rounded-md bg-slate-100 p-3 font-mono text-xs text-slate-800" data-testid={`curl-${op.operationId}`}>
            <code>{curlOf(method, path, op["x-required-scope"], example, origin)}</code>
          </pre>
        </div>
      ) : null}
      {op.requestBody ? (
        <div className="mt-3 text-sm">
          <h4 className="font-semibold text-slate-700">{t("body")}</h4>
          {op.requestBody.content["application/json"]?.schema ? <SchemaView schema={op.requestBody.content["application/json"].schema} t={t} /> : null}
        </div>
      ) : null}
      <div className="mt-3 text-sm">
        <h4 className="font-semibold text-slate-700">{t("responses")}</h4>
        <ul>
          {Object.entries(op.responses).map(([status, r]) => (
            <li key={status} className="py-0.5">
              <span className={`font-mono font-semibold ${status.startsWith("2") ? "text-emerald-700" : "text-rose-700"}`}>{status}</span>{" "}
              <span className="text-slate-700">
                <Prose text={r.description} />
              </span>
              {r.content ? <span className="ml-2 text-xs text-slate-500">{Object.keys(r.content).join(", ")}</span> : null}
              {status.startsWith("2") && r.content?.["application/json"]?.schema ? (
                <details className="mt-1">
                  <summary className="cursor-pointer text-slate-500">{t("responseBody")}</summary>
                  <SchemaView schema={r.content["application/json"].schema} t={t} />
                </details>
              ) : null}
            </li>
          ))}
        </ul>
      </div>
    </section>
  );
}

/** The operation's own texts in Chinese (zh-CN.ts); the schemas' field descriptions stay English. */
function inChinese(op: Operation): Operation {
  const zh = ZH_OPERATIONS[op.operationId];
  if (!zh) return op;
  const responses = Object.fromEntries(
    Object.entries(op.responses).map(([status, r]) => [status, { ...r, description: status.startsWith("2") ? zh.summary : (ZH_ERRORS[status] ?? r.description) }]),
  );
  return { ...op, summary: zh.summary, description: zh.description ?? op.description, responses };
}

export default async function ApiDocsPage() {
  await requireAdminSession();
  const t = await getTranslations("apiDocs");
  const doc = getOpenApiDocument() as unknown as {
    info: { title: string; version: string; description?: string };
    paths: Record<string, Record<string, Operation>>;
    components?: { schemas?: Record<string, Schema> };
  };
  const zh = (await getLocale()) === "zh-CN";
  const h = await headers();
  const origin = getConfig().publicUrl?.replace(/\/+$/, "") ?? `${h.get("x-forwarded-proto") === "https" ? "https" : "http"}://${h.get("host") ?? "localhost:3000"}`;
  const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: zh ? inChinese(item[method]!) : item[method]! })),
  );
  const tagLabel = (tag: string) => (zh ? (ZH_TAGS[tag] ?? tag) : tag);
  const infoText = zh ? ZH_INFO : doc.info.description;
  const tags = [...new Set(ops.map((o) => o.op.tags?.[0] ?? "Other"))];
  return (
    <div className="space-y-6">
      <header>
        <h1 className="text-2xl font-semibold">{t("title")}</h1>
        <p className="text-sm text-slate-500">
          {doc.info.title} · {t("version", { version: doc.info.version })} · {t("machineReadable")}{" "}
          <a className="text-sky-700 underline" href="/admin/openapi.json">
            /admin/openapi.json
          </a>
        </p>
        <p className="mt-2 max-w-3xl text-sm text-slate-700">{t("intro")}</p>
        <p className="mt-2 max-w-3xl text-sm text-slate-700">
          <Prose text={t("curlIntro")} />
        </p>
        {infoText ? (
          <p className="mt-2 max-w-3xl text-sm text-slate-700">
            <Prose text={infoText} />
          </p>
        ) : null}
        <nav aria-label={t("contents")} className="mt-3 flex flex-wrap gap-x-4 gap-y-1 text-sm">
          {tags.map((t) => (
            <a key={t} href={`#tag-${t}`} className="text-sky-700 underline">
              {tagLabel(t)}
            </a>
          ))}
          <a href="#schemas" className="text-sky-700 underline">
            {t("schemas")}
          </a>
        </nav>
      </header>
      {tags.map((tag) => (
        <section key={tag} id={`tag-${tag}`} className="space-y-3">
          <h2 className="text-xl font-semibold">{tagLabel(tag)}</h2>
          {ops
            .filter((o) => (o.op.tags?.[0] ?? "Other") === tag)
            .map((o) => (
              <OperationView key={`${o.method} ${o.path}`} {...o} t={t} zh={zh} origin={origin} />
            ))}
        </section>
      ))}
      <section id="schemas" className="space-y-3">
        <h2 className="text-xl font-semibold">{t("schemas")}</h2>
        {Object.entries(doc.components?.schemas ?? {}).map(([name, schema]) => (
          <div key={name} id={`schema-${name}`} className="rounded-lg border border-slate-200 bg-white p-4 text-sm shadow-sm">
            <h3 className="font-mono font-semibold">{name}</h3>
            {schema.description ? (
              <p className="text-slate-600">
                <Prose text={schema.description} />
              </p>
            ) : null}
            <SchemaView schema={schema} t={t} />
          </div>
        ))}
      </section>
    </div>
  );
}
