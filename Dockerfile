# syntax=docker/dockerfile:1
#
# Roster container image.
#
#   docker build -t roster .
#   docker run --rm -p 8080:8080 \
#     -e ROSTER_DATABASE_URL=postgres://roster@db:5432/roster \
#     -e ROSTER_DATABASE_PASSWORD_FILE=/run/secrets/postgres_password \
#     -e ROSTER_SECRET_KEY_FILE=/run/secrets/roster_secret_key \
#     -e ROSTER_ADMIN_KEY=radm_... roster
#
# The binary and its resources belong to root and are read-only: the user
# `roster` that runs them cannot change them. The health check is
# `roster healthcheck` (no curl in the image).
#
# `serve` creates the first admin user (an owner) on a fresh database when
# ROSTER_BOOTSTRAP_OWNER_EMAIL and ROSTER_BOOTSTRAP_OWNER_PASSWORD (or
# ROSTER_BOOTSTRAP_OWNER_PASSWORD_FILE, e.g. a mounted secret) are set, and
# does nothing on later starts: no entrypoint script is needed.
#
# Or use compose.yaml, which also starts PostgreSQL.

# ================================
# Build image
# ================================
FROM swift:6.3-bookworm AS build

RUN export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    && apt-get -q update \
    && apt-get -q dist-upgrade -y \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /build

# Resolve dependencies first: this layer is reused as long as the manifest
# does not change.
COPY ./Package.swift ./
RUN swift package resolve

COPY . .

# Optimised build of the server executable, with the Swift runtime and
# Foundation linked in statically (the binary then needs only libc, libm,
# libstdc++ and libgcc_s at run time).
RUN swift build -c release --product roster --static-swift-stdlib

# Stage what the runtime image needs in /staging:
#  - the executable;
#  - the SwiftPM resource bundles, which Bundle.module looks up beside the
#    executable: RosterStore's (the SQL migrations) and RosterServer's (the
#    built-in SCIM schema documents);
#  - Swift's static crash backtracer, when the toolchain ships it.
WORKDIR /staging
RUN set -eu; \
    bin="$(swift build --package-path /build -c release --show-bin-path)"; \
    cp "$bin/roster" ./roster; \
    cp -RL "$bin/roster_RosterStore.resources" ./roster_RosterStore.resources; \
    cp -RL "$bin/roster_RosterServer.resources" ./roster_RosterServer.resources; \
    if [ -x /usr/libexec/swift/linux/swift-backtrace-static ]; then \
        cp /usr/libexec/swift/linux/swift-backtrace-static ./; \
    fi; \
    chmod -R a-w ./roster_RosterStore.resources ./roster_RosterServer.resources

# ================================
# Run image
# ================================
FROM debian:bookworm-slim

# ca-certificates: TLS to PostgreSQL; tzdata: time zones for Foundation;
# libstdc++6: the C++ runtime the binary links. No curl: the health check is `roster healthcheck`.
RUN export DEBIAN_FRONTEND=noninteractive DEBCONF_NONINTERACTIVE_SEEN=true \
    && apt-get -q update \
    && apt-get -q dist-upgrade -y \
    && apt-get -q install -y --no-install-recommends \
        ca-certificates \
        tzdata \
        libstdc++6 \
    && rm -rf /var/lib/apt/lists/*

# Unprivileged user that runs Roster; it owns nothing in the image (no home directory either).
RUN useradd --user-group --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin roster

# Owned by root and read-only for everyone: code the server runs cannot be rewritten by the server.
WORKDIR /app
COPY --from=build /staging /app
RUN chown -R root:root /app && chmod -R a-w /app

# Custom schema extensions can be mounted in a folder named by ROSTER_SCHEMAS_DIR.
ENV ROSTER_HOST=0.0.0.0 \
    ROSTER_PORT=8080 \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static

USER roster:roster

EXPOSE 8080

# GET /api/health/live on ROSTER_PORT; exit 0 on 2xx, 1 otherwise.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["/app/roster", "healthcheck"]

ENTRYPOINT ["/app/roster"]
CMD ["serve"]
