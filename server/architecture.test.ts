import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

/**
 * Imports point one way (issue #21, and README "Architecture"): every import of db/, server/, app/
 * and scripts/ resolved with the compiler's own module resolution (tsconfig paths, type-only
 * imports, re-exports and import() included), then checked against the layer order below.
 *
 * TypeScript's API rather than madge or dependency-cruiser: it is installed already, resolves
 * `@/…` exactly as tsc does, and sees `import type`, which madge skips by default.
 */

const ROOT = path.resolve(import.meta.dirname, "..");
const DIRS = ["db", "server", "app", "scripts"];

/** Lowest first. A module may import its own layer and the ones below it, never one above. */
const LAYERS: { name: string; match: RegExp }[] = [
  { name: "db", match: /^db\// },
  {
    name: "server foundation",
    match: /^server\/((config|password-policy|trusted-proxies|calendar|errors|deadline|logger|redis|text|ids|sort-order)\.ts|metrics\/)/,
  },
  { name: "runtime", match: /^server\/runtime\.ts$/ },
  { name: "http, auth", match: /^server\/(http|auth)\// },
  { name: "usage, maintenance", match: /^server\/(usage|maintenance)\// },
  { name: "usage-stats", match: /^server\/usage-stats\// },
  { name: "accounts", match: /^server\/accounts\// },
  { name: "sources, demo", match: /^server\/(sources|demo)\// },
  { name: "alerts", match: /^server\/alerts\// },
  { name: "health", match: /^server\/health\// },
  { name: "trpc, rest, openapi, startup", match: /^server\/((trpc|rest|openapi)\/|startup\.ts$)/ },
  { name: "app", match: /^app\// },
  { name: "scripts", match: /^scripts\// },
];

/**
 * Upward imports that stay, each with its reason. runtime.ts builds the Runtime every service takes,
 * and that carries usage's set of ids written while Redis was bypassed (dedupe-seeds.ts).
 */
const KNOWN_UPWARD = new Set(["server/runtime.ts -> server/usage/dedupe-seeds.ts"]);

/** Tests and what only tests use: they may reach any layer (an integration test reads what it wrote). */
const isTestCode = (f: string) =>
  /\.(test|spec)\.tsx?$/.test(f) || /\.fixtures\.ts$/.test(f) || /\/testing\.ts$/.test(f) || f.startsWith("server/testing/");
const isTest = (f: string) => /\.(test|spec)\.tsx?$/.test(f);

function sourceFiles(): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of fs.readdirSync(path.join(ROOT, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.tsx?$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
    }
  };
  for (const d of DIRS) walk(d);
  return out.sort();
}

function importGraph(files: string[]): Map<string, Set<string>> {
  const tsconfig = ts.readConfigFile(path.join(ROOT, "tsconfig.json"), ts.sys.readFile).config as unknown;
  const { options } = ts.parseJsonConfigFileContent(tsconfig, ts.sys, ROOT);
  const graph = new Map<string, Set<string>>();
  for (const file of files) {
    const abs = path.join(ROOT, file);
    const deps = new Set<string>();
    // preProcessFile lists import/export … from, `import type`, import() and require() specifiers.
    for (const ref of ts.preProcessFile(fs.readFileSync(abs, "utf8"), true, true).importedFiles) {
      const resolved = ts.resolveModuleName(ref.fileName, abs, options, ts.sys).resolvedModule;
      if (!resolved || resolved.isExternalLibraryImport) continue;
      const rel = path.relative(ROOT, resolved.resolvedFileName).split(path.sep).join("/");
      if (!rel.startsWith("..") && !rel.includes("node_modules/")) deps.add(rel);
    }
    graph.set(file, deps);
  }
  return graph;
}

const files = sourceFiles();
const graph = importGraph(files);
const edges = [...graph].flatMap(([from, deps]) => [...deps].map((to) => ({ from, to })));
const productionEdges = edges.filter((e) => !isTestCode(e.from));
const show = (list: { from: string; to: string }[]) => list.map((e) => `${e.from} -> ${e.to}`);
const layerOf = (f: string) => LAYERS.findIndex((l) => l.match.test(f));

/** Strongly connected components with more than one member (Tarjan). */
function cycles(nodes: Iterable<string>, next: (n: string) => Iterable<string>): string[][] {
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const n of nodes) if (!index.has(n)) visit(n);
  return found;
}

describe("imports point one way", () => {
  it("reads a real graph", () => {
    expect(files.length).toBeGreaterThan(200);
    expect(graph.get("server/runtime.ts")).toContain("server/config.ts");
    // `@/` paths and type-only imports resolve too.
    expect(graph.get("app/admin/usage/route.ts")).toContain("server/usage/usage.service.ts");
    expect(graph.get("server/usage-stats/store-choice.ts")).toContain("server/runtime.ts");
  });

  it("db/ imports nothing from server/, app/ or scripts/", () => {
    expect(show(productionEdges.filter((e) => e.from.startsWith("db/") && !e.to.startsWith("db/")))).toEqual([]);
  });

  it("server/ imports nothing from app/ or scripts/ (test helpers included)", () => {
    const bad = edges.filter((e) => e.from.startsWith("server/") && !isTest(e.from) && /^(app|scripts)\//.test(e.to));
    expect(show(bad)).toEqual([]);
  });

  it("app/ and scripts/ import nothing from each other", () => {
    const bad = edges.filter((e) => (e.from.startsWith("app/") && e.to.startsWith("scripts/")) || (e.from.startsWith("scripts/") && e.to.startsWith("app/")));
    expect(show(bad)).toEqual([]);
  });

  it("no production module imports test code", () => {
    const bad = productionEdges.filter((e) => /^(db|server|app)\//.test(e.from) && isTestCode(e.to));
    expect(show(bad)).toEqual([]);
  });

  it("server/config.ts is the bottom of server/: it imports only modules that import nothing of the app", () => {
    const deps = [...graph.get("server/config.ts")!];
    expect(deps.filter((d) => /^server\/(auth|http)\//.test(d))).toEqual([]);
    expect(deps.filter((d) => graph.get(d)!.size > 0)).toEqual([]);
  });

  it("server/usage never imports server/usage-stats", () => {
    const bad = productionEdges.filter((e) => e.from.startsWith("server/usage/") && e.to.startsWith("server/usage-stats/"));
    expect(show(bad)).toEqual([]);
  });

  it("every module has a layer, and no import runs up the layers", () => {
    expect(files.filter((f) => !isTestCode(f) && layerOf(f) < 0)).toEqual([]);
    const upward = productionEdges
      .filter((e) => layerOf(e.to) > layerOf(e.from) && !KNOWN_UPWARD.has(`${e.from} -> ${e.to}`))
      .map((e) => `${e.from} (${LAYERS[layerOf(e.from)]!.name}) -> ${e.to} (${LAYERS[layerOf(e.to)]!.name})`);
    expect(upward).toEqual([]);
    // An allowance that is no longer needed goes.
    expect([...KNOWN_UPWARD].filter((k) => !show(productionEdges).includes(k))).toEqual([]);
  });

  it("no cycle among server/'s folders (and its top-level modules)", () => {
    const unit = (f: string) => (f.startsWith("server/") ? f.split("/").slice(0, 2).join("/") : f.split("/")[0]!);
    const between = productionEdges.filter(
      (e) => e.from.startsWith("server/") && e.to.startsWith("server/") && unit(e.from) !== unit(e.to) && !KNOWN_UPWARD.has(`${e.from} -> ${e.to}`),
    );
    const folderEdges = new Map<string, Set<string>>();
    for (const e of between) folderEdges.set(unit(e.from), (folderEdges.get(unit(e.from)) ?? new Set()).add(unit(e.to)));
    const found = cycles(folderEdges.keys(), (n) => folderEdges.get(n) ?? []).map((c) => {
      // Name the imports inside each circle.
      const inside = new Set(c);
      return show(between.filter((e) => inside.has(unit(e.from)) && inside.has(unit(e.to))));
    });
    expect(found).toEqual([]);
  });

  it("no file-level cycle, type-only imports and tests included", () => {
    expect(cycles(graph.keys(), (n) => graph.get(n) ?? [])).toEqual([]);
  });
});
