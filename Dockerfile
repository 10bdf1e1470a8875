# The sync service image: `docker build -t mlflow2seldon:0.1.0 .` (here: `make image`).
# Runs as a non-root user and writes nothing to its filesystem (logs go to stdout), so it works
# with readOnlyRootFilesystem.
FROM node:24-bookworm-slim AS build
# Behind a TLS-intercepting proxy, the proxy's CA for npm (a file mounted into the build); it is
# not declared in the final stage, so the image does not carry it.
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY . .
# The service only (engine and service): no Pulumi program, tests, bench or testbed.
RUN npx tsc -p tsconfig.service.json

# Only the service's production dependencies (the Pulumi and test packages are dev dependencies).
FROM node:24-bookworm-slim AS dependencies
ARG NODE_EXTRA_CA_CERTS
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER 10001:10001
EXPOSE 8080
# A cycle allocates in bursts. A 1 MiB young generation and an old-space ceiling of half the
# container's memory limit (128 MB under the Deployment's default 256Mi) make V8 collect instead of
# growing: peak RSS at 5,000 models drops from ~155 to ~115 MiB for no measurable CPU. The ceiling
# follows the limit, so a larger registry needs only a larger limit (bench/RESULTS.md: 20,000
# models need more than 128 MB of heap).
ENTRYPOINT ["node", "--max-semi-space-size=1", "--max-old-space-size-percentage=50", "bin/mlflow2seldon.js"]
CMD ["sync"]
