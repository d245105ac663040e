# syntax=docker/dockerfile:1
#
# The blog API with its frontend built in. Three stages: the frontend with
# Node, a static Go binary, and a distroless runtime that runs as non-root and
# has no shell (its healthcheck is the binary itself: `app healthcheck`).

# --- frontend: npm ci from the lockfile, then vite build -> frontend/dist
FROM node:22.20.0-alpine AS frontend
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY frontend/ ./
# The browser's Sentry DSN is public by design; it is baked in at build time.
ARG VITE_SENTRY_DSN=""
ENV VITE_SENTRY_DSN=${VITE_SENTRY_DSN}
RUN npm run build

# --- backend: a static binary (the SQLite driver is pure Go, so no cgo)
FROM golang:1.26.8-alpine AS backend
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/app ./app

# --- runtime: distroless static, uid 65532
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=backend /out/app /app
COPY --from=frontend /src/frontend/dist /srv/frontend
ENV FRONTEND_DIR=/srv/frontend \
    HTTP_ADDR=:8080 \
    ADMIN_ADDR=0.0.0.0:9464
USER nonroot:nonroot
EXPOSE 8080 9464
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 CMD ["/app", "healthcheck"]
ENTRYPOINT ["/app"]
