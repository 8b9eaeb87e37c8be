# Node 26: the Active LTS line (October 2026 to October 2027, then maintenance until April 2029); Debian 13
# (trixie), the current Debian stable. The test suite runs on Node 26 and on Node 20 (README "Development").
FROM node:26-trixie-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workers workers
RUN npm run build && npm prune --omit=dev

FROM node:26-trixie-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY schemas schemas
COPY migrations migrations
# The dashboard pages, built by `npm run build:ui` and committed (README "Dashboard").
COPY dist-ui dist-ui
# `tlsrpt` on the PATH, for the compose commands, health checks and `docker compose exec http tlsrpt ...`.
RUN chmod 0755 dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/tlsrpt
USER node
# SMTP (2525), HTTP(S) (8443), plain-HTTP metrics and health for Prometheus (9464); docker-compose.yml maps them.
EXPOSE 2525 8443 9464
HEALTHCHECK --interval=30s --timeout=20s --start-period=60s --retries=3 CMD ["tlsrpt", "health"]
CMD ["tlsrpt", "serve"]
