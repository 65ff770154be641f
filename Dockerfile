# Build: docker build -t sigv4-sidecar .   (not built in CI: no Docker engine on the CI machines)
FROM debian:12 AS build
WORKDIR /src
COPY scripts/install-deps.sh scripts/
RUN scripts/install-deps.sh
COPY . .
RUN cmake --preset release -DSIGV4_BUILD_TESTS=OFF -DSIGV4_BUILD_BENCH=OFF \
 && cmake --build --preset release --target sigv4-sidecar \
 && strip build/release/proxy/sigv4-sidecar

FROM debian:12-slim
RUN apt-get update && apt-get install -y --no-install-recommends libssl3 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/build/release/proxy/sigv4-sidecar /usr/local/bin/sigv4-sidecar
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/sigv4-sidecar"]
