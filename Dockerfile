# syntax=docker/dockerfile:1
# Container image of zoho-cadences-exporter: built with the Rust toolchain, run from a distroless
# base as an unprivileged user. Build:
#   docker build --build-arg REVISION=$(git rev-parse --short=12 HEAD) \
#     --build-arg BRANCH=$(git rev-parse --abbrev-ref HEAD) -t zoho-cadences-exporter .

FROM rust:1-bookworm AS builder
# .git is not in the build context: the revision and branch for --version and
# zoho_crm_exporter_build_info come from --build-arg REVISION=... and BRANCH=..., read by build.rs
# as ZCE_REVISION and ZCE_BRANCH.
ARG REVISION=unknown
ARG BRANCH=unknown
ENV ZCE_REVISION=${REVISION} ZCE_BRANCH=${BRANCH}
WORKDIR /src
COPY . .
# The cache mounts keep the registry and build directory between builds (BuildKit); the binary is
# copied out because the cached target directory is not part of the layer.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin zoho-cadences-exporter \
    && install -D -m 0755 target/release/zoho-cadences-exporter /out/zoho-cadences-exporter

# distroless/cc: glibc, libgcc and CA certificates, no shell, no package manager.
FROM gcr.io/distroless/cc-debian12:nonroot
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="zoho-cadences-exporter" \
      org.opencontainers.image.description="Prometheus exporter for Zoho CRM cadences" \
      org.opencontainers.image.source="https://github.com/zoho-cadences-exporter/zoho-cadences-exporter" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
COPY --from=builder /out/zoho-cadences-exporter /usr/local/bin/zoho-cadences-exporter
USER 65532:65532
EXPOSE 10263
ENTRYPOINT ["/usr/local/bin/zoho-cadences-exporter"]
