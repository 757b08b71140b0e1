import { EventEmitter } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { NextRequest } from "next/server";
import { afterAll, describe, expect, it } from "vitest";
import type { z } from "zod";
import { createSchema } from "zod-openapi";
import { GET } from "@/app/admin/openapi.json/route";
import { ROUTE_OPTIONS } from "../rest/route";
import { ROUTES, routeEntries, type RouteKey } from "../rest/routes";
import { setRuntime, systemClock } from "../runtime";
import { testConfig } from "../testing/stores";
import { NUMBER_COST_RULE } from "../usage/schemas";
import { createOpenApiDocument } from "./document";
import { DedupeSeeds } from "../usage/dedupe-seeds";

/**
 * The document is valid OpenAPI 3.1 in structure, lists exactly the route handlers on disk, and
 * says of each what its declaration (server/rest/routes.ts) makes route() do: the scope, and the
 * schemas of the path, query, body and answer.
 */

const METHODS = ["get", "post", "put", "delete", "patch"] as const;
const appDir = path.resolve(import.meta.dirname, "../../app");

/** Every route.ts under app/admin, with its URL path in OpenAPI form (/admin/accounts/{id}). */
function routeFiles(): { file: string; urlPath: string }[] {
  const out: { file: string; urlPath: string }[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === "route.ts") {
        out.push({ file: full, urlPath: "/" + path.relative(appDir, dir).split(path.sep).map((seg) => seg.replace(/^\[(\w+)\]$/, "{$1}")).join("/") });
      }
    }
  };
  walk(path.join(appDir, "admin"));
  return out;
}

/** Every (METHOD, /admin/… path) a route.ts under app/admin exports. */
function routesOnDisk(): string[] {
  const out: string[] = [];
  for (const { file, urlPath } of routeFiles()) {
    const text = fs.readFileSync(file, "utf8");
    for (const m of text.matchAll(/export\s+(?:const|async\s+function|function)\s+(GET|POST|PUT|DELETE|PATCH)\b/g)) out.push(`${m[1]} ${urlPath}`);
    for (const m of text.matchAll(/\bas\s+(GET|POST|PUT|DELETE|PATCH)\b/g)) out.push(`${m[1]} ${urlPath}`);
  }
  return out.sort();
}

type Json = Record<string, unknown>;

function resolveRef(doc: Json, ref: string): unknown {
  expect(ref.startsWith("#/")).toBe(true);
  return ref
    .slice(2)
    .split("/")
    .reduce<unknown>((node, key) => (node as Json | undefined)?.[key.replace(/~1/g, "/").replace(/~0/g, "~")], doc);
}

/** A schema with every $ref replaced by what it points to, so that two can be compared whole. */
function inline(node: unknown, components: Record<string, unknown>): unknown {
  if (Array.isArray(node)) return node.map((x) => inline(x, components));
  if (!node || typeof node !== "object") return node;
  const ref = (node as Json).$ref;
  if (typeof ref === "string") {
    const name = ref.replace(/^#\/components\/schemas\//, "");
    expect(components[name], ref).toBeDefined();
    return inline(components[name], components);
  }
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, inline(v, components)]));
}

/** The JSON schema zod-openapi derives from a zod schema on its own, outside any document. */
function derived(schema: z.ZodType, io: "input" | "output"): unknown {
  const { schema: json, components } = createSchema(schema, { io });
  return inline(json, components);
}

function collectRefs(node: unknown, out: string[] = []): string[] {
  if (Array.isArray(node)) for (const x of node) collectRefs(x, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") out.push(v);
      else collectRefs(v, out);
    }
  }
  return out;
}

describe("OpenAPI document", () => {
  const doc = createOpenApiDocument() as unknown as Json & { paths: Record<string, Record<string, Json>> };

  it("is OpenAPI 3.1 with info, and every path has operations with described responses", () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const ids = new Set<string>();
    for (const [p, item] of Object.entries(doc.paths)) {
      expect(p.startsWith("/admin/")).toBe(true);
      const ops = Object.entries(item).filter(([m]) => (METHODS as readonly string[]).includes(m));
      expect(ops.length, p).toBeGreaterThan(0);
      for (const [m, op] of ops) {
        const responses = op.responses as Record<string, Json>;
        expect(Object.keys(responses).length, `${m} ${p}`).toBeGreaterThan(0);
        expect(Object.keys(responses).some((s) => /^2\d\d$/.test(s)), `${m} ${p}`).toBe(true);
        for (const [status, r] of Object.entries(responses)) {
          expect(status).toMatch(/^[1-5]\d\d$/);
          expect(typeof r.description, `${m} ${p} ${status}`).toBe("string");
        }
        expect(ids.has(op.operationId as string)).toBe(false);
        ids.add(op.operationId as string);
        const params = (op.parameters ?? []) as { name: string; in: string; required?: boolean }[];
        for (const name of p.match(/\{(\w+)\}/g) ?? []) {
          expect(params.find((x) => x.in === "path" && `{${x.name}}` === name)?.required, `${m} ${p} ${name}`).toBe(true);
        }
      }
    }
    for (const ref of collectRefs(doc)) expect(resolveRef(doc, ref), ref).toBeDefined();
  });

  it("documents the usage-stats parameters and answers from the shared schemas", () => {
    const list = doc.paths["/admin/accounts/usage-stats"]!.get!;
    const names = (list.parameters as { name: string }[]).map((x) => x.name).sort();
    expect(names).toEqual(["format", "headers", "limit", "offset", "order", "platform", "search", "sort", "source", "status", "tz"]);
    const breakdown = doc.paths["/admin/accounts/{id}/usage-breakdown"]!.get!;
    const ok = (breakdown.responses as Record<string, Json>)["200"]!.content as Json;
    expect(Object.keys(ok).sort()).toEqual(["application/json", "text/csv"]);
    expect(JSON.stringify(ok)).toContain("nextOffset");
    expect((breakdown.responses as Json)["404"]).toBeDefined();
  });

  it("states how a JSON number cost is rounded", () => {
    expect(JSON.stringify(doc)).toContain(NUMBER_COST_RULE.slice(0, 60));
  });

  it("documents both costs: ratedCost on the event (optional) and on every figure, and as a breakdown sort", () => {
    const schemas = (doc.components as { schemas: Record<string, { properties: Record<string, Json>; required?: string[] }> }).schemas;
    const totals = schemas.UsageTotals!;
    expect(totals.required).toEqual(expect.arrayContaining(["cost", "ratedCost"]));
    expect(String(totals.properties.cost!.description)).toMatch(/^Real cost/);
    expect(String(totals.properties.ratedCost!.description)).toMatch(/^Rated cost: what the API keys' holders are charged/);
    const record = JSON.stringify(doc.paths["/admin/usage"]!.post);
    expect(record).toContain("absent: equal to cost");
    const sort = (doc.paths["/admin/accounts/{id}/usage-breakdown"]!.get!.parameters as { name: string; schema: { enum?: string[] } }[]).find((x) => x.name === "sort")!;
    expect(sort.schema.enum).toContain("ratedCost");
  });

  it("documents the generic alert webhook: its signed headers and its body", () => {
    const w = (doc as unknown as { webhooks: Record<string, Record<string, Json>> }).webhooks.alert!.post as unknown as {
      parameters: { in: string; name: string }[];
      requestBody: { content: Record<string, { schema: { $ref: string } }> };
    };
    expect(w.parameters.filter((p) => p.in === "header").map((p) => p.name)).toEqual(
      expect.arrayContaining(["x-usage-alert-signature", "x-usage-alert-timestamp", "x-usage-alert-id"]),
    );
    expect(w.requestBody.content["application/json"]!.schema.$ref).toBe("#/components/schemas/AlertWebhookBody");
    const body = (doc as unknown as { components: { schemas: Record<string, { description: string }> } }).components.schemas.AlertWebhookBody!;
    expect(body.description).toContain("HMAC-SHA256");
  });

  it("lists every route handler under app/admin, and nothing else", () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([p, item]) => Object.keys(item).filter((m) => (METHODS as readonly string[]).includes(m)).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(documented).toEqual(routesOnDisk());
  });
});

describe("the document is the route declarations", () => {
  type Param = { name: string; in: string; required?: boolean; schema: unknown };
  type Operation = Json & { parameters?: Param[]; security: unknown; requestBody?: { content: Record<string, { schema: unknown }> }; responses: Record<string, Json> };
  const doc = createOpenApiDocument() as unknown as Json & { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
  const fromDoc = (schema: unknown) => inline(schema, doc.components.schemas);
  const shapeOf = (schema: unknown) => (schema as z.ZodObject).shape as Record<string, z.ZodType>;

  it("every route file's handlers are built with the declaration of their method and path", async () => {
    const built: string[] = [];
    for (const { file, urlPath } of routeFiles()) {
      const mod = (await import(pathToFileURL(file).href)) as Record<string, { [ROUTE_OPTIONS]?: unknown }>;
      for (const [method, handler] of Object.entries(mod)) {
        const key = `${method} ${urlPath}` as RouteKey;
        expect(handler[ROUTE_OPTIONS], `${key} is not built from ROUTES["${key}"]`).toBe(ROUTES[key as keyof typeof ROUTES]);
        built.push(key);
      }
    }
    expect(built.sort()).toEqual(Object.keys(ROUTES).sort());
  });

  it("states each route's scope, and asks public routes for no credentials", () => {
    for (const [method, p, decl] of routeEntries()) {
      const op = doc.paths[p]![method.toLowerCase()]!;
      expect(op["x-required-scope"], `${method} ${p}`).toBe(decl.scope);
      expect(op.security, `${method} ${p}`).toEqual(decl.scope === "public" ? [] : [{ bearerToken: [] }, { sessionCookie: [] }]);
      expect(Object.keys(op.responses).includes("401"), `${method} ${p}`).toBe(decl.scope !== "public");
      expect(Object.keys(op.responses).includes("403"), `${method} ${p}`).toBe(decl.scope !== "public");
    }
  });

  it("documents each route's path parameters, query, body and answer with the schemas route() parses and the handler answers with", () => {
    for (const [method, p, decl] of routeEntries()) {
      const what = `${method} ${p}`;
      const op = doc.paths[p]![method.toLowerCase()]!;
      const params = op.parameters ?? [];

      // Path parameters: exactly the path's {segments}, required, each the declared schema.
      const segments = [...p.matchAll(/\{(\w+)\}/g)].map((m) => m[1]!).sort();
      const pathShape = decl.params ? shapeOf(decl.params) : {};
      expect(Object.keys(pathShape).sort(), what).toEqual(segments);
      for (const [name, field] of Object.entries(pathShape)) {
        const param = params.find((x) => x.in === "path" && x.name === name);
        expect(param?.required, `${what} {${name}}`).toBe(true);
        expect(fromDoc(param?.schema), `${what} {${name}}`).toEqual(derived(field, "input"));
      }

      // Query parameters: one per field of the declared query schema, required unless it may be left out.
      const queryShape = decl.query ? shapeOf(decl.query) : {};
      expect(params.filter((x) => x.in === "query").map((x) => x.name).sort(), what).toEqual(Object.keys(queryShape).sort());
      for (const [name, field] of Object.entries(queryShape)) {
        const param = params.find((x) => x.in === "query" && x.name === name)!;
        expect(param.required ?? false, `${what} ?${name}`).toBe(!field.safeParse(undefined).success);
        expect(fromDoc(param.schema), `${what} ?${name}`).toEqual(derived(field, "input"));
      }
      expect(params.every((x) => x.in === "path" || x.in === "query"), what).toBe(true);

      const body = decl.bodyDoc ?? decl.body;
      expect(op.requestBody !== undefined, what).toBe(body !== undefined);
      if (body) expect(fromDoc(op.requestBody!.content["application/json"]!.schema), what).toEqual(derived(body, "input"));

      const success = op.responses[String(decl.status ?? 200)] as { content: Record<string, { schema: unknown }>; headers?: Record<string, unknown> } | undefined;
      expect(success, what).toBeDefined();
      expect(fromDoc(success!.content["application/json"]!.schema), what).toEqual(derived(decl.response, "output"));
      expect(Object.keys(success!.headers ?? {}), what).toEqual(Object.keys(decl.responseHeaders?.shape ?? {}));
    }
  });

  it("bounds the ids in paths as the routes do", () => {
    const accountParam = doc.paths["/admin/accounts/{id}/usage-stats"]!.get!.parameters!.find((x) => x.in === "path")!;
    expect(accountParam.schema).toMatchObject({ type: "string", minLength: 1, maxLength: 128 });
    const tokenParam = doc.paths["/admin/tokens/{id}"]!.delete!.parameters!.find((x) => x.in === "path")!;
    expect(tokenParam.schema).toMatchObject({ type: "string", format: "uuid" });
  });
});

describe("GET /admin/openapi.json", () => {
  afterAll(() => setRuntime(undefined));

  it("needs credentials", async () => {
    setRuntime({ config: testConfig({ POSTGRES_ENABLED: "false" }), db: undefined, redis: undefined, clock: systemClock, events: new EventEmitter(), bypassedIds: new DedupeSeeds(), close: async () => {} });
    const res = await GET(new NextRequest("http://localhost/admin/openapi.json"), { params: Promise.resolve({}) });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ success: false, error: { code: "UNAUTHORIZED" } });
  });
});
