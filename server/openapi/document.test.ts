import { EventEmitter } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { NextRequest } from "next/server";
import { afterAll, describe, expect, it } from "vitest";
import { GET } from "@/app/admin/openapi.json/route";
import { setRuntime, systemClock } from "../runtime";
import { testConfig } from "../testing/stores";
import { NUMBER_COST_RULE } from "../usage/schemas";
import { createOpenApiDocument } from "./document";
import { DedupeSeeds } from "../usage/dedupe-seeds";

/** The document is valid OpenAPI 3.1 in structure and lists exactly the route handlers on disk. */

const METHODS = ["get", "post", "put", "delete", "patch"] as const;
const appDir = path.resolve(import.meta.dirname, "../../app");

/** Every (METHOD, /admin/… path) a route.ts under app/admin exports. */
function routesOnDisk(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name === "route.ts") {
        const urlPath = "/" + path.relative(appDir, dir).split(path.sep).map((seg) => seg.replace(/^\[(\w+)\]$/, "{$1}")).join("/");
        const text = fs.readFileSync(full, "utf8");
        for (const m of text.matchAll(/export\s+(?:const|async\s+function|function)\s+(GET|POST|PUT|DELETE|PATCH)\b/g)) out.push(`${m[1]} ${urlPath}`);
        for (const m of text.matchAll(/\bas\s+(GET|POST|PUT|DELETE|PATCH)\b/g)) out.push(`${m[1]} ${urlPath}`);
      }
    }
  };
  walk(path.join(appDir, "admin"));
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
    expect(names).toEqual(["format", "limit", "offset", "order", "platform", "search", "sort", "status", "tz"]);
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

  it("lists every route handler under app/admin, and nothing else", () => {
    const documented = Object.entries(doc.paths)
      .flatMap(([p, item]) => Object.keys(item).filter((m) => (METHODS as readonly string[]).includes(m)).map((m) => `${m.toUpperCase()} ${p}`))
      .sort();
    expect(documented).toEqual(routesOnDisk());
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
