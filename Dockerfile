# Pulse Ledger: one image with ledger-ingest, ledger-projector and ledger-tool (docker-compose.yaml runs each
# service from it with a different command).
#
# Build stage and runtime stage are the same Debian release (12, bookworm), so the C libraries the binaries link
# dynamically are the same versions at build and at run time: librdkafka 2.0.2, libpq 15, SQLite 3.40, lz4 1.9.4.
#
# The Swift runtime is linked statically (--static-swift-stdlib) rather than copying /usr/lib/swift/linux/*.so
# out of the toolchain image: the runtime image then carries no toolchain files whose version must match the
# compiler's, and each binary starts with nothing but the Debian packages below. The cost is a few tens of MB per
# binary. The static backtracer is copied so that a failed precondition (a broken invariant, by design a crash)
# still prints a symbolicated backtrace in `docker logs`.

# ---- build -------------------------------------------------------------------------------------------------------
# Swift 6.2.1: the manifest needs tools 6.0+, and current releases of the dependencies (swift-log, swift-metrics,
# swift-service-lifecycle, swift-collections, console-kit) declare tools 6.1–6.2; SwiftPM skips versions whose
# manifest is newer than the compiler, so an older toolchain would build older dependencies than the tests use.
FROM swift:6.2.1-bookworm AS build

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka-dev liblz4-dev libsqlite3-dev libpq-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src

# Dependencies first, in their own layer: editing Sources/ does not fetch them again. Package.resolved, when the
# checkout has one, pins them (the glob matches Package.swift alone otherwise).
COPY Package.* ./
RUN swift package resolve

# Tests/ is copied because SwiftPM checks every target's directory when it loads the manifest; nothing in it is built.
COPY Sources ./Sources
COPY Tests ./Tests

# `swift build` takes one --product per run; the three runs share the build directory, so the modules the
# products have in common are compiled once.
RUN set -eu; \
    for product in ledger-ingest ledger-projector ledger-tool; do \
        swift build -c release --static-swift-stdlib --product "$product"; \
    done; \
    bin="$(swift build -c release --static-swift-stdlib --show-bin-path)"; \
    mkdir -p /staging; \
    for product in ledger-ingest ledger-projector ledger-tool; do \
        install -m 0755 "$bin/$product" /staging/; \
    done; \
    cp /usr/libexec/swift/linux/swift-backtrace-static /staging/

# ---- runtime -----------------------------------------------------------------------------------------------------
FROM debian:12.11-slim

RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        librdkafka1 liblz4-1 libsqlite3-0 libpq5 ca-certificates curl \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so the ledger volume's ownership means the same thing in every container that mounts it.
RUN groupadd --system --gid 10001 pulse \
    && useradd --system --uid 10001 --gid pulse --home-dir /var/lib/pulse-ledger --shell /usr/sbin/nologin pulse \
    && install -d -o pulse -g pulse -m 0750 /var/lib/pulse-ledger

COPY --from=build /staging/ledger-ingest /staging/ledger-projector /staging/ledger-tool /usr/local/bin/
COPY --from=build /staging/swift-backtrace-static /usr/local/libexec/swift-backtrace-static

# Fail the image build, not the first start, if a shared library is missing.
RUN ledger-ingest --help >/dev/null && ledger-projector --help >/dev/null && ledger-tool --help >/dev/null

ENV SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/usr/local/libexec/swift-backtrace-static \
    LEDGER_WAL_DIR=/var/lib/pulse-ledger \
    LOG_FORMAT=json

USER pulse:pulse
WORKDIR /var/lib/pulse-ledger
# The ledger (segments + index.sqlite). An empty named volume mounted here starts with this directory's owner (pulse).
VOLUME /var/lib/pulse-ledger

# No ENTRYPOINT: the compose file names the binary (ledger-ingest, ledger-projector, ledger-tool …).
CMD ["ledger-tool", "--help"]
