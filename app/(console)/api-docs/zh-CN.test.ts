import type { ZodType } from "zod";
import { describe, expect, it } from "vitest";
import { ROUTES } from "@/server/rest/routes";
import { createOpenApiDocument } from "@/server/openapi/document";
import { curlOf, EXAMPLES } from "./examples";
import { paramText, ZH_ERRORS, ZH_OPERATIONS, ZH_PARAMS, ZH_TAGS } from "./zh-CN";

type Op = { operationId: string; tags: string[]; responses: Record<string, unknown> };

describe("the API docs in Chinese", () => {
  const doc = createOpenApiDocument() as unknown as { paths: Record<string, Record<string, Op>> };
  const ops = Object.values(doc.paths).flatMap((item) => Object.values(item));

  it("translate every route, tag and error status of the document, and nothing that is gone", () => {
    expect(ops.length).toBeGreaterThan(15);
    expect(Object.keys(ZH_OPERATIONS).sort()).toEqual(ops.map((o) => o.operationId).sort());
    expect(Object.keys(ZH_TAGS).sort()).toEqual([...new Set(ops.flatMap((o) => o.tags))].sort());
    const errorStatuses = new Set(ops.flatMap((o) => Object.keys(o.responses).filter((s) => !s.startsWith("2"))));
    for (const status of errorStatuses) expect(ZH_ERRORS[status], `status ${status}`).toBeTruthy();
  });

  it("say it in Chinese (every summary has Chinese characters)", () => {
    for (const [id, t] of Object.entries(ZH_OPERATIONS)) expect(t.summary, id).toMatch(/[\u4e00-\u9fff]/);
  });

  it("keep summaries plain text: the page renders `code` spans in descriptions only", () => {
    for (const [id, t] of Object.entries(ZH_OPERATIONS)) expect(t.summary, id).not.toContain("`");
    for (const [key, r] of Object.entries(ROUTES)) expect((r as { summary: string }).summary, key).not.toContain("`");
  });
});

describe("the API docs' parameters and examples", () => {
  const doc = createOpenApiDocument() as unknown as { paths: Record<string, Record<string, Op & { parameters?: { name: string }[] }>> };
  const ops = Object.values(doc.paths).flatMap((item) => Object.values(item));

  it("describe every parameter in Chinese (说明 is never empty)", () => {
    for (const op of ops) for (const p of op.parameters ?? []) expect(paramText(ZH_PARAMS, op.operationId, p.name), `${op.operationId} ${p.name}`).toMatch(/[\u4e00-\u9fff]/);
  });

  it("have a curl example for every route, and nothing that is gone", () => {
    expect(Object.keys(EXAMPLES).sort()).toEqual(ops.map((o) => o.operationId).sort());
    const curl = curlOf("get", "/admin/accounts/{id}/usage-stats", "usage:read", EXAMPLES.getAccountsIdUsageStats!, "https://usage.example.com");
    expect(curl).toBe(`curl -sS 'https://usage.example.com/admin/accounts/acc-1/usage-stats?range=monthly&month=2026-12' \\\n  -H "Authorization: Bearer $TOKEN"`);
    expect(curlOf("post", "/admin/tokens", "admin", EXAMPLES.postTokens!, "http://h")).toContain(`-d '{\n  "name": "relay writer",\n  "scope": "usage:write"\n}'`);
    expect(curlOf("post", "/admin/auth/login", "public", EXAMPLES.postAuthLogin!, "http://h")).toContain(`-H 'Origin: http://h' -c cookies.txt -b cookies.txt`);
  });
});

describe("the curl examples", () => {
  it("pass each route's own schemas (path, query and body)", () => {
    for (const [key, route] of Object.entries(ROUTES)) {
      const [method, path] = key.split(" ") as [string, string];
      const id = method.toLowerCase() + path.replace(/^\/admin\//, "").split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join("");
      const ex = EXAMPLES[id];
      expect(ex, id).toBeDefined();
      const r = route as { params?: ZodType; query?: ZodType; body?: ZodType };
      if (r.params) expect(r.params.safeParse(ex!.params ?? {}).success, `${id} params`).toBe(true);
      if (r.query) expect(r.query.safeParse(Object.fromEntries(new URLSearchParams(ex!.query ?? ""))).error, `${id} query`).toBeUndefined();
      if (r.body) expect(r.body.safeParse(ex!.body).error, `${id} body`).toBeUndefined();
    }
  });
});
