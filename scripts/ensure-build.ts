import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * The production build the bench and the fault suite run (`next start`), shared: built under
 * /tmp/next-build.lock unless .next holds a build newer than every source file, so that neither
 * ever measures or tests old code.
 */

/** Newest modification time (ms) of the files under dirs that the production build compiles. */
function newestSource(dirs: string[]): number {
  let newest = 0;
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(tsx?|sql|css|mjs)$/.test(e.name) && !/\.test\.tsx?$/.test(e.name)) newest = Math.max(newest, fs.statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) if (fs.existsSync(d)) walk(d);
  return newest;
}

export function ensureBuild(root: string, log: (s: string) => void): void {
  const id = path.join(root, ".next", "BUILD_ID");
  const built = fs.existsSync(id) ? fs.statSync(id).mtimeMs : 0;
  if (built && built > newestSource(["app", "server", "db"].map((d) => path.join(root, d)))) return;
  log(`${built ? "the build in .next is older than the sources" : ".next/BUILD_ID is missing"}: building under /tmp/next-build.lock …`);
  const r = spawnSync("flock", ["/tmp/next-build.lock", "npm", "run", "build"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) throw new Error(`next build failed (exit ${r.status})`);
}
