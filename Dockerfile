# Multi-stage build: a static binary (migrations and templates are embedded)
# on a distroless base, running as a non-root user.
FROM golang:1.27.3-bookworm AS build
# The approved Go, named as everywhere else (go1.26.8 has known vulnerabilities).
ENV GOTOOLCHAIN=go1.27.3
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/breachnotify ./cmd/breachnotify

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/breachnotify /usr/local/bin/breachnotify
USER nonroot:nonroot
ENV BREACHNOTIFY_HTTP_ADDR=0.0.0.0:8080 \
    BREACHNOTIFY_LOG_FORMAT=json
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/breachnotify"]
CMD ["serve"]
