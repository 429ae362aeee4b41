# One image for every service and the Meta simulator. Node 24 runs the TypeScript sources
# directly (type stripping), so there is no build step: the image is the sources plus the
# production dependencies. Choose what runs with SERVICE (a folder of services/):
#   docker build -t parley .
#   docker run -e SERVICE=ingress -e KAFKA_BROKERS=... parley
# The simulator (dev and test only) runs with: node tools/meta-simulator/src/main.ts
FROM node:24-slim AS dependencies
WORKDIR /app
COPY . .
# Production dependencies only: not the dev tools nor the local stack's (testcontainers, embedded
# PostgreSQL, which are its devDependencies). No install scripts: nothing here needs one at run time.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
ENV NODE_ENV=production
# As SERVICE_NODE_OPTIONS in tools/local-stack/src/services.ts: a small young generation keeps each
# service near 130–200 MiB resident under load (V8 would size it from the node's memory).
# docker-compose.yml and deploy/ add each service's heap cap (nodeOptionsFor: --max-old-space-size=160; none for the projection).
ENV NODE_OPTIONS="--max-semi-space-size=4"
WORKDIR /app
COPY --from=dependencies --chown=node:node /app /app
USER node
ENV SERVICE=ingress
# Every service listens on PORT and answers /healthz (alive) and /readyz (dependencies reachable).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec: the service is PID 1's direct replacement, so SIGTERM reaches its graceful shutdown.
CMD ["sh", "-c", "exec node services/$SERVICE/src/main.ts"]
