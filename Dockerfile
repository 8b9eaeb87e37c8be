FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src src
COPY workers workers
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY schemas schemas
COPY migrations migrations
# The dashboard pages, built by `npm run build:ui` and committed (README "Dashboard").
COPY dist-ui dist-ui
USER node
EXPOSE 2525
CMD ["node", "dist/src/cli/main.js", "serve"]
