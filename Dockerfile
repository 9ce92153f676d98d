# syntax=docker/dockerfile:1
#
# mizan's container image: the poller and the reconciler as static Go binaries on distroless (no shell, no
# package manager, CA certificates included for the providers' and Slack's HTTPS). It runs as user 65532 and
# writes nothing outside /tmp, so Kubernetes can give it a read-only root filesystem. Kubernetes and compose
# choose the binary: `poller once --source NAME`, `reconciler run`, …
#
#   docker build --build-arg VERSION=v0.1.0 --build-arg COMMIT=$(git rev-parse HEAD) -t ghcr.io/mizanhq/mizan:v0.1.0 .
#   docker build --target debug -t mizan:dev .     # the same beside busybox and the simulator (deploy/compose.yaml)
#
# VERSION and COMMIT are what `poller version` and `reconciler version` print, set as the Makefile sets them;
# a release sets them from its tag (docs/release.md).
#
# No Docker engine runs on the machines that develop mizan, so deploy/dockerfile_test.go checks this file
# instead: the go build below is the one that test runs (keep them identical), the binaries it produces are
# static and print the version given, and the final stage runs as 65532 with no RUN step and no simulator.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
WORKDIR /src
# Modules first: this layer (and the cache mount) survives source changes.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
# .dockerignore sends only go.mod, go.sum, cmd/, internal/, migrations/ and schemas/.
COPY . .
ARG TARGETOS TARGETARCH
ARG VERSION COMMIT
# Cross-compiles for the target platform (no cgo, so no cross toolchain). The same command as CI's static
# build, with the Makefile's -X flags; deploy/dockerfile_test.go runs it and fails if this line drifts from it.
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=$TARGETOS GOARCH=$TARGETARCH CGO_ENABLED=0 go build -trimpath -ldflags="-s -w -X github.com/mizanhq/mizan/internal/cli.version=${VERSION} -X github.com/mizanhq/mizan/internal/cli.commit=${COMMIT}" -o /out/ ./cmd/... \
 && mkdir -p /out/state

# debug: the binaries and the provider simulator with busybox at /busybox, for deploy/compose.yaml, where the
# poller reads the token pair the simulator printed into a shared volume (/var/lib/mizan). Not for production.
FROM gcr.io/distroless/static-debian12:debug-nonroot AS debug
ENV PATH=/usr/local/bin:/busybox:/usr/bin:/bin
COPY --from=build /out/poller /out/reconciler /out/simulator /usr/local/bin/
COPY --from=build --chown=65532:65532 /out/state /var/lib/mizan
USER 65532:65532
ENTRYPOINT []
CMD ["reconciler"]

# The production image: the default target, so it must stay the last stage.
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
ARG VERSION COMMIT
LABEL org.opencontainers.image.title=mizan \
      org.opencontainers.image.source=https://github.com/mizanhq/mizan \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.revision=${COMMIT}
ENV PATH=/usr/local/bin:/usr/bin:/bin
# What production runs, and nothing else: no simulator of the providers.
COPY --from=build /out/poller /out/reconciler /usr/local/bin/
USER 65532:65532
# No ENTRYPOINT: the command names the binary (`docker run IMAGE reconciler migrate`); without one the
# reconciler prints its usage.
CMD ["reconciler"]
