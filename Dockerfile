# syntax=docker/dockerfile:1
# The kmaint images from one file: `docker build --target service -t kmaint/service .`,
# `docker build --target operator -t kmaint/operator .`, `docker build --target agent -t kmaint/agent .` and
# the example consumer on @kmaint/consumer, `docker build --target orders-ledger -t kmaint/orders-ledger .`.
# Each runtime image holds Node 24, the compiled
# JavaScript of its package and the shared @kmaint/common workspace, and only production dependencies.
# The base is pinned to the exact Node release the repo develops and tests on (package.json "node");
# pin it by digest as well (NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:...) when your registry policy
# asks for it.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- build: all dependencies (TypeScript included) and the tsc output of every workspace -------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Manifests first so the dependency layer is reused until a lockfile or package.json changes.
COPY package.json package-lock.json tsconfig.base.json ./
COPY common/package.json common/
COPY consumer/package.json consumer/tsconfig.build.json consumer/tsconfig.common.json consumer/
COPY service/package.json service/tsconfig.build.json service/
COPY operator/package.json operator/tsconfig.build.json operator/
COPY examples/orders-ledger/package.json examples/orders-ledger/tsconfig.build.json examples/orders-ledger/
COPY agent/package.json agent/tsconfig.build.json agent/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY common/ common/
COPY consumer/src consumer/src
COPY consumer/scripts consumer/scripts
COPY service/src service/src
COPY operator/src operator/src
COPY examples/orders-ledger/src examples/orders-ledger/src
COPY agent/src agent/src
RUN npm run build --workspaces --if-present

# --- production dependencies of one workspace, resolved from the same lockfile -----------------------
FROM ${NODE_IMAGE} AS service-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY consumer/package.json consumer/
COPY service/package.json service/
COPY operator/package.json operator/
COPY agent/package.json agent/
COPY examples/orders-ledger/package.json examples/orders-ledger/
RUN npm ci --omit=dev --workspace=@kmaint/service --no-audit --no-fund --ignore-scripts \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS operator-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY consumer/package.json consumer/
COPY service/package.json service/
COPY operator/package.json operator/
COPY agent/package.json agent/
COPY examples/orders-ledger/package.json examples/orders-ledger/
RUN npm ci --omit=dev --workspace=@kmaint/operator --no-audit --no-fund --ignore-scripts \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS orders-ledger-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY consumer/package.json consumer/
COPY service/package.json service/
COPY operator/package.json operator/
COPY agent/package.json agent/
COPY examples/orders-ledger/package.json examples/orders-ledger/
RUN npm ci --omit=dev --workspace=@kmaint/example-orders-ledger --no-audit --no-fund --ignore-scripts \
  && npm cache clean --force

FROM ${NODE_IMAGE} AS agent-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY consumer/package.json consumer/
COPY service/package.json service/
COPY operator/package.json operator/
COPY agent/package.json agent/
COPY examples/orders-ledger/package.json examples/orders-ledger/
RUN npm ci --omit=dev --workspace=@kmaint/agent --no-audit --no-fund --ignore-scripts \
  && npm cache clean --force

# --- runtime images --------------------------------------------------------------------------------
# Files stay owned by root and the process runs as the image's unprivileged `node` user (uid 1000), so
# the program cannot change its own code; nothing is written to the root filesystem at run time, so
# the containers run with readOnlyRootFilesystem / `read_only: true`.
FROM ${NODE_IMAGE} AS service
ENV NODE_ENV=production
WORKDIR /app
# The workspace layout is kept (node_modules/@kmaint/common is a link to ../../common), so the
# compiled code resolves @kmaint/common exactly as it does in the repo.
COPY --from=service-deps /app/node_modules node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/common common
COPY --from=build /src/consumer/package.json consumer/
COPY --from=build /src/consumer/dist consumer/dist
COPY --from=build /src/service/package.json service/
COPY --from=build /src/service/dist service/dist
USER 1000:1000
EXPOSE 8083
# No curl in the slim image: Node's own fetch asks the liveness endpoint on the configured port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8083)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "service/dist/main.js"]

FROM ${NODE_IMAGE} AS operator
ENV NODE_ENV=production
WORKDIR /app
COPY --from=operator-deps /app/node_modules node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/common common
COPY --from=build /src/operator/package.json operator/
COPY --from=build /src/operator/dist operator/dist
USER 1000:1000
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8080)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# --optimize-for-size (NODE_OPTIONS may not carry it, hence here): V8 gives memory back sooner and grows its
# heap more slowly, which keeps the operator's peaks inside its memory limit for a little more CPU in a
# burst; the operator mostly waits on round trips (bench/operator/README.md).
ENTRYPOINT ["node", "--optimize-for-size", "operator/dist/main.js"]

# The example: the compiled library (which carries its own copy of @kmaint/common) and the example's
# JavaScript. Its SQLite ledger goes to LEDGER_DIR, a volume, since the root filesystem is read-only.
FROM ${NODE_IMAGE} AS orders-ledger
ENV NODE_ENV=production LEDGER_DIR=/app/data
WORKDIR /app
COPY --from=orders-ledger-deps /app/node_modules node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/consumer/package.json consumer/
COPY --from=build /src/consumer/dist consumer/dist
COPY --from=build /src/examples/orders-ledger/package.json examples/orders-ledger/
COPY --from=build /src/examples/orders-ledger/dist examples/orders-ledger/dist
# Relative to WORKDIR: the one directory the unprivileged user may write, mounted as a volume.
RUN mkdir data && chown 1000:1000 data
VOLUME /app/data
USER 1000:1000
EXPOSE 8083
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||8083)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "examples/orders-ledger/dist/main.js"]
# The maintenance sidecar of consumers in any language (docs/protocol.md); runs as a native sidecar.
FROM ${NODE_IMAGE} AS agent
ENV NODE_ENV=production
WORKDIR /app
COPY --from=agent-deps /app/node_modules node_modules
COPY --from=build /src/package.json ./
COPY --from=build /src/common common
COPY --from=build /src/agent/package.json agent/
COPY --from=build /src/agent/dist agent/dist
USER 1000:1000
EXPOSE 8089
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.AGENT_PORT||8089)+'/livez').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "agent/dist/main.js"]
