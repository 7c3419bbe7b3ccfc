# Multi-stage build: a static binary (migrations and templates are embedded)
# on a distroless base, running as a non-root user.
FROM golang:1.27.3-bookworm AS build
# The approved Go, named as everywhere else (go1.26.8 has known vulnerabilities).
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# What `breachnotify version` and the breachnotify_build_info metric report.
# .dockerignore keeps .git out of the build context (its history and any
# secret ever committed stay out of the build cache), so the Go VCS stamp
# cannot work here: the revision comes in as build arguments instead
# (`make image` passes them from git; -buildvcs=false says so explicitly).
ARG VERSION=""
ARG REVISION=""
ARG BUILD_TIME=""
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=false \
    -ldflags="-s -w \
      -X github.com/breachnotify/breachnotify/notifier/buildinfo.version=${VERSION} \
      -X github.com/breachnotify/breachnotify/notifier/buildinfo.revision=${REVISION} \
      -X github.com/breachnotify/breachnotify/notifier/buildinfo.buildTime=${BUILD_TIME}" \
    -o /out/breachnotify ./cmd/breachnotify

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=""
ARG REVISION=""
ARG BUILD_TIME=""
LABEL org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${BUILD_TIME}"
COPY --from=build /out/breachnotify /usr/local/bin/breachnotify
USER nonroot:nonroot
ENV BREACHNOTIFY_HTTP_ADDR=0.0.0.0:8080 \
    BREACHNOTIFY_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/breachnotify"]
CMD ["serve"]
