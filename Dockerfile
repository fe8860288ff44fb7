# drbot production image: the bot (`npm start`) and the one-shot CLI, as a non-root user.
#
#   docker build -t drbot .                                                 # normal build
#   docker build --build-arg NODE_IMAGE=drbot-test/node:latest -t drbot .   # offline build
#
# NODE_IMAGE is the base of both stages: by default the official Node.js 22 image on Debian
# bookworm-slim. Any Debian-based image with node and npm on PATH works (sh, groupadd, useradd).
#
# Where the dependencies come from (plain Dockerfile, no `# syntax=` line: it builds with the
# classic builder of Debian's docker.io 20.10 as well as with BuildKit):
#  * Normal build: `npm ci` in the build stage, which needs the npm registry; better-sqlite3
#    fetches its prebuilt binary for the base image's Node there.
#  * Offline build (nothing reachable from inside `docker build`): the dependencies the host
#    installed with `npm ci` go into the build context as .docker-deps/node_modules,
#        mkdir -p .docker-deps && cp -al node_modules .docker-deps/     (hard links: instant)
#    and the build stage uses them instead of running npm ci. better-sqlite3 in them is a native
#    addon compiled for the host's Node, so the base image must run the host's Node version:
#    scripts/test-env/node-image.sh builds drbot-test/node:latest from Debian packages and the
#    host's own node and npm. The build checks that better-sqlite3 loads and stops with a message
#    if it does not. Remove .docker-deps/ afterwards (rm -rf .docker-deps).
# Either way TypeScript is compiled in the build stage, dev dependencies are pruned, and the
# final stage gets package.json, dist/, bin/ and the production node_modules only.
ARG NODE_IMAGE=node:22-bookworm-slim

FROM ${NODE_IMAGE} AS build
# Lets a build script find (and clean up) this stage's untagged image.
LABEL drbot.stage=build
WORKDIR /app
# `.docker-dep[s]` is a wildcard, so this COPY also works when there is no .docker-deps/ (a
# normal build); when there is one, its content (node_modules/) lands in /app.
COPY package.json package-lock.json .docker-dep[s] ./
RUN set -e; \
    if [ -d node_modules ]; then \
      echo "drbot: using node_modules from the build context (.docker-deps/), not npm ci"; \
    else \
      npm ci --no-audit --no-fund; \
    fi; \
    node -e "new (require('better-sqlite3'))(':memory:').close()" || { \
      echo "drbot: better-sqlite3 does not load with the base image's node $(node -v); node_modules in .docker-deps/ must come from the same Node version (see the top of this Dockerfile)" >&2; \
      exit 1; }
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY commands ./commands
COPY bin ./bin
# After the prune, better-sqlite3 keeps only its compiled addon (not the SQLite sources and
# object files it was built from).
RUN npm run build \
 && npm prune --omit=dev --offline --no-audit --no-fund \
 && find node_modules/better-sqlite3/build -mindepth 1 -maxdepth 1 ! -name Release -exec rm -rf {} + \
 && find node_modules/better-sqlite3/build/Release -mindepth 1 -maxdepth 1 ! -name better_sqlite3.node -exec rm -rf {} + \
 && rm -rf node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
 && find node_modules -mindepth 1 -maxdepth 1 -type d -empty -delete \
 && node -e "new (require('better-sqlite3'))(':memory:').close()"
# The CLI must start on the production dependencies alone (`drbot help`, in a scratch
# directory): a module the code imports but package.json lists under devDependencies stops the
# build here instead of every `docker run`.
RUN cd "$(mktemp -d)" && node /app/bin/drbot.js help >/dev/null || { \
      echo "drbot: the built CLI does not start with the production dependencies only (see the error above): is a module it imports listed under devDependencies in package.json?" >&2; \
      exit 1; }

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="drbot" \
      org.opencontainers.image.description="Backup and disaster recovery for services that run in Docker"
# The user drbot runs as (uid/gid 10001). It owns the state and backup directories only; the
# code is root's and read-only to it. To use the Docker socket it needs the socket's group:
# `docker run --group-add "$(stat -c %g /var/run/docker.sock)" …` (compose: group_add).
# The default config keeps state and local backups on the two volumes; mount your own file over
# /etc/drbot/drbot.yaml for databases, services, S3 and Slack (use absolute paths in it).
# The entrypoint runs the bot without arguments and the CLI with them (`docker run … status`).
# igzip (Intel ISA-L, Debian package isal) is the fast gzip drbot compresses with, and age
# (Debian package age) the fast implementation of the age format it encrypts with (without it,
# the JavaScript one: about 20 times slower). The offline test base already has both; the
# official image gets them from Debian here.
RUN if ! command -v igzip >/dev/null 2>&1 || ! command -v age >/dev/null 2>&1; then \
      apt-get update \
      && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends isal age \
      && rm -rf /var/lib/apt/lists/*; \
    fi \
 && igzip --version >/dev/null \
 && age --version >/dev/null
RUN groupadd --system --gid 10001 drbot \
 && useradd --system --uid 10001 --gid drbot --home-dir /var/lib/drbot --no-create-home \
      --shell /usr/sbin/nologin drbot \
 && mkdir -p /var/lib/drbot /backups /etc/drbot \
 && chown drbot:drbot /var/lib/drbot /backups \
 && chmod 0750 /var/lib/drbot /backups \
 && printf '%s\n' \
      '# drbot in a container: the defaults, with state and local backups on the image volumes.' \
      '# Mount your own file here (-v ./drbot.yaml:/etc/drbot/drbot.yaml:ro) for databases,' \
      '# services, S3 and Slack; keep state and storage.local.dir at these absolute paths.' \
      'state: /var/lib/drbot/drbot.sqlite' \
      'docker: { host: unix:///var/run/docker.sock }' \
      'storage:' \
      '  local: { dir: /backups }' \
      >/etc/drbot/drbot.yaml \
 && printf '%s\n' \
      '#!/bin/sh' \
      '# No arguments: the bot (Slack when the SLACK_* secrets are set, else a terminal session).' \
      '# Arguments: one CLI subcommand, e.g. `docker run … status` or `docker run … backup all`.' \
      'if [ "$#" -eq 0 ]; then exec node --max-semi-space-size=2 /app/dist/src/main.js; fi' \
      'exec /app/bin/drbot.js "$@"' \
      >/usr/local/bin/drbot-entrypoint \
 && chmod 0755 /usr/local/bin/drbot-entrypoint \
 && ln -s /app/bin/drbot.js /usr/local/bin/drbot
# PORT is Slack's HTTP receiver (POST /slack/events) only. /healthz and /metrics listen on
# DRBOT_METRICS_LISTEN in every mode (Slack HTTP, Socket Mode, terminal session): loopback, so
# the health check below reaches them and nothing outside the container does. To scrape
# metrics from outside, set DRBOT_METRICS_LISTEN=0.0.0.0:9464 and publish the port.
ENV NODE_ENV=production DRBOT_CONFIG=/etc/drbot/drbot.yaml PORT=3000 DRBOT_METRICS_LISTEN=127.0.0.1:9464
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
VOLUME ["/var/lib/drbot", "/backups"]
EXPOSE 3000
USER 10001:10001
# /healthz answers 200 only when the bot is up and the Docker engine answers it (a ping through
# the mounted socket): without the socket's group, the container reports unhealthy.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://${process.env.DRBOT_METRICS_LISTEN || '127.0.0.1:9464'}/healthz`).then(async (r) => { process.stdout.write(`${r.status} ${await r.text()}`); process.exit(r.ok ? 0 : 1); }, (e) => { console.log(e.cause?.message ?? e.message); process.exit(1); })"]
ENTRYPOINT ["/usr/local/bin/drbot-entrypoint"]
