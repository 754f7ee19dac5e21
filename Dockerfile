# syntax=docker/dockerfile:1

# Production image of perkflow: one static binary that runs `migrate`, `api` or `worker`
# (see docker-compose.yml). Built with the `nodev` tag, so the embedded Temporal server and UI used only by
# `perkflow dev`, and `perkflow bench` with its load generator, are left out.

# Redoc, the renderer of GET /docs, from the npm registry at the version and integrity the script pins.
FROM node:20.20-bookworm-slim AS docs
COPY api/docsui/fetch-redoc.sh /fetch-redoc.sh
RUN sh /fetch-redoc.sh /out

# Exactly the Go that go.mod asks for (go 1.26.8); GOTOOLCHAIN=local forbids a silent toolchain download.
FROM golang:1.26.8-bookworm AS build
ENV CGO_ENABLED=0 GOTOOLCHAIN=local
WORKDIR /src

# Dependencies first, in their own layer, so source edits do not download modules again.
COPY go.mod go.sum ./
RUN go mod download

COPY . .
COPY --from=docs /out/ api/docsui/
ARG VERSION=dev
RUN --mount=type=cache,target=/root/.cache/go-build \
    go build -tags nodev -trimpath \
        -ldflags "-s -w -X github.com/perkflow/perkflow/internal/version.Version=${VERSION}" \
        -o /out/perkflow ./cmd/perkflow

# Static binary (CGO_ENABLED=0, pure-Go dependencies): distroless/static carries only CA certificates, tzdata
# and a passwd file with the unprivileged `nonroot` user (uid 65532). It has no shell, so the compose file
# does not healthcheck from inside the container.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/perkflow /usr/local/bin/perkflow
USER nonroot:nonroot
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/perkflow"]
