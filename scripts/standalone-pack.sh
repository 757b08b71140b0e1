#!/bin/sh
# npm run pack:standalone -- <folder>: assembles, from a finished `next build` (output: "standalone"),
# the folder the Docker image runs — the one step the Dockerfile, .ci/run and the standalone test
# share, so that what is tested is what ships. The folder holds:
#   server.js, .next/, node_modules/   Next.js's standalone output (only the files the server needs,
#                                      db/migrations, db/seed.sql and server/usage/lua included:
#                                      outputFileTracingIncludes in next.config.mjs)
#   .next/static/, public/             the browser's assets (Next.js leaves them out of standalone)
#   worker.mjs                         scripts/worker.ts bundled into one file (no tsx, no sources)
# Run both from inside it: `node server.js`, `node worker.mjs` (they read db/ and server/usage/lua
# relative to the working folder).
set -eu
out=${1:?usage: scripts/standalone-pack.sh <empty or new folder>}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ ! -f .next/standalone/server.js ]; then
  echo "standalone-pack: .next/standalone/server.js is missing: run \`npm run build\` first" >&2
  exit 1
fi
mkdir -p "$out"
if [ -n "$(ls -A "$out")" ]; then
  echo "standalone-pack: $out is not empty" >&2
  exit 1
fi

cp -a .next/standalone/. "$out/"
cp -a .next/static "$out/.next/static"
cp -a public "$out/public"

# Native and WASM packages stay outside the bundle (their binaries are found next to their code);
# the server's trace already put them in node_modules/, checked below.
externals="better-sqlite3 @electric-sql/pglite"
set -- --bundle --platform=node --format=esm --target=node20 --log-level=warning --legal-comments=none
for p in $externals; do set -- "$@" "--external:$p"; done
# The bundled CommonJS packages call require(); an ES module has none of its own.
node_modules/.bin/esbuild scripts/worker.ts "$@" --outfile="$out/worker.mjs" \
  --banner:js="import { createRequire as __ubCreateRequire } from 'node:module'; const require = __ubCreateRequire(import.meta.url);"

missing=""
for f in server.js worker.mjs .next/BUILD_ID .next/static public db/seed.sql server/usage/lua/record-usage.lua; do
  [ -e "$out/$f" ] || missing="$missing $f"
done
ls "$out"/db/migrations/0001_*.sql >/dev/null 2>&1 || missing="$missing db/migrations"
for p in $externals; do
  [ -f "$out/node_modules/$p/package.json" ] || missing="$missing node_modules/$p"
done
if [ -n "$missing" ]; then
  echo "standalone-pack: the runtime folder lacks:$missing" >&2
  exit 1
fi
echo "standalone-pack: $out ready ($(du -sh "$out" | cut -f1)): node server.js, node worker.mjs"
