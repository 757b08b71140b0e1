# syntax=docker/dockerfile:1
# The image relay operators run with `docker compose up -d` (compose.yaml). Three stages:
#   deps     npm ci (dev dependencies too: the build needs them)
#   build    next build (output: "standalone"), then scripts/standalone-pack.sh assembles /runtime:
#            server.js with the node_modules files it needs, the static assets, the bundled worker
#   runtime  /runtime alone on a slim Node, as the unprivileged `node` user: no dev dependencies,
#            no sources, no npm run
# .ci/run and `npm run test:standalone` run the same build and pack steps and start the result.
ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /src
# For native modules without a prebuilt binary for this platform (better-sqlite3, @node-rs/argon2
# normally download one).
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM ${NODE_IMAGE} AS build
WORKDIR /src
ENV NEXT_TELEMETRY_DISABLED=1
COPY --from=deps /src/node_modules ./node_modules
COPY . .
RUN npm run build && npm run pack:standalone -- /runtime

FROM ${NODE_IMAGE} AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    NEXT_TELEMETRY_DISABLED=1 \
    HOSTNAME=0.0.0.0 \
    PORT=3000 \
    USAGE_TIMEZONE=Asia/Shanghai \
    LOG_LEVEL=info
# The code stays root's and read-only to the app; only .data (the embedded database, used when
# DATABASE_URL is unset) belongs to `node`.
COPY --from=build /runtime ./
RUN mkdir -p /app/.data && chown node:node /app/.data
USER node
EXPOSE 3000
# Liveness only (the process serves requests): a database outage must not get the container
# restarted. Orchestrators route traffic on GET /readyz.
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The worker is the same image: `node worker.mjs` (compose.yaml's worker service).
CMD ["node", "server.js"]
