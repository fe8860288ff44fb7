# drbot production image. The base is overridable so the image can be built offline from a
# locally imported Node.js base: docker build --build-arg NODE_IMAGE=my/node:22 .
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
RUN npm run build && npm prune --omit=dev

FROM ${NODE_IMAGE}
ENV NODE_ENV=production DRBOT_CONFIG=/etc/drbot/drbot.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json manifest.json ./
COPY bin ./bin
# State and local backups live in volumes; the Docker socket is mounted by the operator.
RUN mkdir -p /var/lib/drbot /backups /etc/drbot && chown -R node:node /var/lib/drbot /backups
VOLUME ["/var/lib/drbot", "/backups"]
USER node
ENTRYPOINT ["node", "/app/dist/src/main.js"]
