# The sigv4-sidecar image: a build stage, then debian:12-slim with the stripped binary, running as
# 65534:65534 (nobody), with a HEALTHCHECK on the admin /-/ready.
#   docker build -t sigv4-sidecar .
#   docker buildx build --platform linux/amd64,linux/arm64 -t REGISTRY/sigv4-sidecar:0.1.0 --push .
# No architecture is named here: each platform builds natively (or under emulation) from the same steps.
# The build stage runs scripts/build-image-steps.sh, the script CI runs too (there is no container engine on
# the CI machines); tests/deploy checks this file's USER, HEALTHCHECK and libraries.
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh
COPY . .
RUN scripts/build-image-steps.sh /out -DSIGV4_BUILD_TESTS=OFF -DSIGV4_BUILD_BENCH=OFF

FROM debian:12-slim
# The binary's shared libraries beyond the base image (libstdc++, libgcc, zlib and libc are in it): OpenSSL;
# and the CA bundle for upstream TLS.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/ /
USER 65534:65534
# 8005: the proxy (listens on 127.0.0.1 unless --listen says otherwise); 8006: admin (/-/healthy, /-/ready,
# /metrics). Docker's healthcheck runs inside the container, so the default 127.0.0.1:8006 reaches it.
EXPOSE 8005 8006
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/sigv4-sidecar", "healthcheck", "--timeout", "3s"]
ENTRYPOINT ["/usr/local/bin/sigv4-sidecar"]
