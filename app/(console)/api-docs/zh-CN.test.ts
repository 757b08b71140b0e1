import { describe, expect, it } from "vitest";
import { createOpenApiDocument } from "@/server/openapi/document";
import { ZH_ERRORS, ZH_OPERATIONS, ZH_TAGS } from "./zh-CN";

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
});
