# Builds the single opsflow binary (the builder UI is already built and embedded from builder-ui/dist).
# One image for every role: serve (API), worker and migrate (docker-compose.yml builds it once).
# Checked without Docker by deploy/containers_test.go; see docs/containers.md.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/opsflow ./cmd/opsflow
# The data directory (SQLite database, secret key), made here because the runtime image has no shell.
RUN mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/opsflow /usr/local/bin/opsflow
# Owned by distroless's non-root user, so a plain "docker run" can write its SQLite database there.
COPY --from=build --chown=65532:65532 /out/data /data
USER 65532:65532
ENV OPSFLOW_ADDR=:8080 OPSFLOW_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8080
# No curl in a distroless image: the binary asks /readyz itself (OPSFLOW_HEALTH_ADDR for a worker,
# else OPSFLOW_ADDR). start-period covers OPSFLOW_START_TIMEOUT, the retrying of Postgres and Redis.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["opsflow", "healthcheck"]
ENTRYPOINT ["opsflow"]
CMD ["serve"]
