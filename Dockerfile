# kafka-proxy container image.
#   build:  docker build -t kafka-proxy .
#   run:    docker run --rm -v "$PWD/my.yaml:/etc/kafka-proxy/kafka-proxy.yaml:ro" kafka-proxy
# Stage 1 builds the release binary the way scripts/build-release does (Swift standard library linked
# statically, lld with packed relocations; no Foundation in the binary); stage 2 is Debian slim with
# only the C libraries the binary loads (config/image/runtime-packages.txt): OpenSSL 3, Cyrus SASL and its
# mechanism plugins, libyaml, libstdc++. scripts/check-image builds this stage without Docker and runs it.
# The default config is config/kafka-proxy.yaml (listeners on 127.0.0.1, as a sidecar sharing the
# pod's network namespace); mount your own at /etc/kafka-proxy/kafka-proxy.yaml, or the whole
# directory /etc/kafka-proxy (a Kubernetes ConfigMap volume) so edits are hot-reloaded.

FROM swift:6.1-bookworm AS build
# Debian security updates replace the exact versions, so apt packages are not pinned.
# hadolint ignore=DL3008
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev libsasl2-dev libyaml-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so source edits do not re-fetch them.
COPY Package.swift Package.resolved* ./
RUN swift package resolve
COPY Sources ./Sources
# Package.swift declares the unit-test targets too: SwiftPM wants their directories present.
COPY Tests ./Tests
COPY scripts/build-release ./scripts/build-release
# The context has no .git: pass the commit (docker build --build-arg KAFKA_PROXY_COMMIT=$(git rev-parse --short=12 HEAD)).
ARG KAFKA_PROXY_COMMIT=unknown
RUN scripts/build-release --out /out/kafka-proxy \
 && /out/kafka-proxy --version

FROM debian:bookworm-slim
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# The binary is stripped; its symbols stay in the build stage as /out/kafka-proxy.debug.
# The package list is a file that scripts/check-image reads too: it installs the same packages into a
# debootstrap root and runs the shipped binary there (no Docker engine needed), so a missing library fails CI.
COPY config/image/runtime-packages.txt /tmp/runtime-packages.txt
# hadolint ignore=DL3008
RUN apt-get update \
 && sed -e 's/#.*//' /tmp/runtime-packages.txt | xargs apt-get install -y --no-install-recommends \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt \
 && groupadd --system --gid 10001 kafka-proxy \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin kafka-proxy
COPY --from=build /out/kafka-proxy /usr/local/bin/kafka-proxy
COPY config/kafka-proxy.yaml /etc/kafka-proxy/kafka-proxy.yaml
USER 10001:10001
# 9092: bootstrap; 9100-9163: one listener per upstream broker (listener.brokerPorts);
# 9080: admin HTTP (/healthz, /readyz, /status, /metrics).
EXPOSE 9092 9100-9163 9080
# SIGTERM: stop accepting, let in-flight requests finish (--shutdown-timeout, default 10 s), exit 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/kafka-proxy", "--config", "/etc/kafka-proxy/kafka-proxy.yaml"]
