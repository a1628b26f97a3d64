# Roster: SCIM 2.0 provisioning server. Multi-stage: build with the Rust toolchain, run on a
# slim Debian (same glibc as the build) as an unprivileged user.
#
#   docker build -t roster .
#   docker run -d -p 8080:8080 -v roster-data:/var/lib/roster \
#     -e ROSTER_PUBLIC_URL=https://scim.example.com roster
#
# Needs BuildKit (the default since Docker 23) for the cache mounts. rust-toolchain.toml
# makes rustup fetch the current stable toolchain during the build.
# docs/operations.md covers health checks, metrics, logs and backups.

FROM rust:1-slim-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches speed up rebuilds; the binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p roster \
 && cp target/release/roster /usr/local/bin/roster

FROM debian:bookworm-slim
RUN groupadd --system --gid 10001 roster \
 && useradd --system --uid 10001 --gid roster --home-dir /var/lib/roster --shell /usr/sbin/nologin roster \
 && install -d -o roster -g roster -m 0700 /var/lib/roster
COPY --from=build /usr/local/bin/roster /usr/local/bin/roster

# Listen on every interface inside the container; keep the data in the volume; JSON logs.
ENV ROSTER_DATA_DIR=/var/lib/roster \
    ROSTER_LISTEN=0.0.0.0:8080 \
    ROSTER_LOG_FORMAT=json
VOLUME ["/var/lib/roster"]
EXPOSE 8080
USER roster:roster
WORKDIR /var/lib/roster

# GET /readyz on the configured address (ROSTER_METRICS_LISTEN, if set, else ROSTER_LISTEN);
# exit 0 when ready. Exec form: no shell is involved.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/roster", "healthcheck", "--timeout", "5"]

ENTRYPOINT ["/usr/local/bin/roster"]
CMD ["serve"]
