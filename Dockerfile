# infergate on Node 20: `docker build -t infergate .` (see docs/kubernetes.md; not built in this
# repository's CI, which has no Docker). One image for every command: gateway (default), agent, sim.
ARG NODE_IMAGE=node:20-slim

# Build: the WASM kernel (AssemblyScript) and the generated Connect code (buf), which need the dev tools.
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The workspace packages (packages/http1) are part of the install.
COPY packages ./packages
RUN npm ci --no-audit --no-fund
COPY tsconfig.json asconfig.json buf.yaml buf.gen.yaml ./
COPY assembly ./assembly
COPY proto ./proto
COPY src ./src
RUN npm run build

# Run: production dependencies only (esbuild, through src/runtime/node/typescript.mjs, loads the TypeScript sources), the built kernel, as `node` (uid 1000).
FROM ${NODE_IMAGE}
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY examples ./examples
COPY --from=build /app/src ./src
COPY --from=build /app/build ./build
USER node
EXPOSE 8080 8081 9090
ENTRYPOINT ["node", "bin/infergate.js"]
CMD ["gateway", "--host", "0.0.0.0"]
