import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * The production build that the tests on `next start` (vitest, Playwright), the bench and the fault
 * suite run, shared: built under /tmp/next-build.lock unless .next holds a build newer than every
 * source file and build input, so that none of them ever measures or tests old code and `npm test`
 * builds once.
 */

/** Files outside app/, server/ and db/ that change what the build contains. */
const BUILD_INPUTS = ["proxy.ts", "instrumentation.ts", "next.config.mjs", "postcss.config.mjs", "tsconfig.json", "package-lock.json", "public"];

/** Newest modification time (ms) of the files under dirs that the production build compiles. */
function newestSource(root: string): number {
  let newest = 0;
  const walk = (p: string, any: boolean) => {
    if (!fs.existsSync(p)) return;
    const st = fs.statSync(p);
    if (!st.isDirectory()) {
      if (any || (/\.(tsx?|sql|css|mjs)$/.test(p) && !/\.test\.tsx?$/.test(p))) newest = Math.max(newest, st.mtimeMs);
      return;
    }
    for (const e of fs.readdirSync(p)) walk(path.join(p, e), any);
  };
  for (const d of ["app", "server", "db"]) walk(path.join(root, d), false);
  for (const f of BUILD_INPUTS) walk(path.join(root, f), true);
  return newest;
}

export function ensureBuild(root: string, log: (s: string) => void): void {
  const id = path.join(root, ".next", "BUILD_ID");
  const built = fs.existsSync(id) ? fs.statSync(id).mtimeMs : 0;
  if (built && built > newestSource(root)) return;
  log(`${built ? "the build in .next is older than the sources" : ".next/BUILD_ID is missing"}: building under /tmp/next-build.lock …`);
  const r = spawnSync("flock", ["/tmp/next-build.lock", "npm", "run", "build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`next build failed (exit ${r.status})`);
}
