# One image for both processes:
#   docker run IMAGE                        -> ingester (default)
#   docker run IMAGE dist/cli/appender.js   -> appender
#   docker run IMAGE dist/cli/query-server.js -> query service (POST /v1/query, the page at /)
#   docker run IMAGE dist/cli/query.js "SELECT count(*) FROM logs"
# and, with a Java runtime and Apache Iceberg's Java libraries added, the maintainer:
#   docker build --target maintainer -t otel-lakehouse-maintainer .
#   docker run otel-lakehouse-maintainer    (or dist/cli/maintain.js --once)
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# The DuckDB extensions, from the PyPI wheels whose version matches the DuckDB embedded in the
# pinned @duckdb/node-api ('1.5.5-r.5' embeds DuckDB 1.5.5), read from package.json.
FROM python:3.11-slim AS duckdb-extensions
ARG TARGETARCH
COPY package.json /tmp/package.json
RUN set -eu; \
    ver=$(python -c "import json; print(json.load(open('/tmp/package.json'))['dependencies']['@duckdb/node-api'].split('-')[0])"); \
    case "${TARGETARCH:-amd64}" in amd64) plat=linux_amd64; wheel=manylinux2014_x86_64 ;; arm64) plat=linux_arm64; wheel=manylinux2014_aarch64 ;; *) echo "unsupported arch"; exit 1 ;; esac; \
    pip download --no-deps --only-binary=:all: --platform "$wheel" -d /wheels \
      "duckdb-extension-iceberg==$ver" "duckdb-extension-httpfs==$ver" "duckdb-extension-avro==$ver"; \
    mkdir -p "/ext/v$ver/$plat" /tmp/x; \
    for w in /wheels/*.whl; do python -m zipfile -e "$w" /tmp/x; done; \
    find /tmp/x -name '*.duckdb_extension' -exec cp {} "/ext/v$ver/$plat/" \;

# The maintainer's Iceberg operations: Apache Iceberg's Java libraries and the one class using them.
FROM maven:3.9-eclipse-temurin-17 AS maintainer-java
WORKDIR /build
COPY src/maintainer/java/pom.xml ./pom.xml
RUN mvn -B -q dependency:copy-dependencies -DoutputDirectory=/opt/maintainer/lib -DincludeScope=runtime
COPY src/maintainer/java/IcebergMaintenance.java ./
RUN javac -nowarn -cp '/opt/maintainer/lib/*' -d /opt/maintainer/classes IcebergMaintenance.java

FROM node:24-bookworm-slim AS runtime
WORKDIR /app
ENV NODE_ENV=production \
    DUCKDB_EXTENSION_DIRECTORY=/opt/duckdb/extensions \
    INGESTER_HOST=0.0.0.0
COPY package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY sql ./sql
COPY --from=duckdb-extensions /ext /opt/duckdb/extensions
USER node
EXPOSE 4318 4317 9464
ENTRYPOINT ["node"]
CMD ["dist/cli/ingester.js"]

FROM runtime AS maintainer
COPY --from=eclipse-temurin:17-jre /opt/java/openjdk /opt/java/openjdk
COPY --from=maintainer-java /opt/maintainer/lib ./dist/maintainer/lib
COPY --from=maintainer-java /opt/maintainer/classes ./dist/maintainer/classes
ENV PATH=/opt/java/openjdk/bin:$PATH \
    MAINTAINER_HOST=0.0.0.0
EXPOSE 9466
CMD ["dist/cli/maintain.js"]

# The default image: ingester, appender, query.
FROM runtime
