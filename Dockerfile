# Build: the Swift toolchain image; run: a slim Debian with only the runtime libraries.
# The Swift standard library is linked statically, so the runtime image needs no Swift.
FROM swift:6.1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libssl-dev libsasl2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Package.swift ./
COPY Sources ./Sources
RUN swift build -c release --static-swift-stdlib --product kafka-proxy \
 && install -D "$(swift build -c release --show-bin-path)/kafka-proxy" /out/kafka-proxy

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libsasl2-2 libsasl2-modules \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin kafka-proxy
COPY --from=build /out/kafka-proxy /usr/local/bin/kafka-proxy
COPY config/kafka-proxy.yaml /etc/kafka-proxy/config.yaml
USER 10001
# bootstrap, per-broker listeners, admin (metrics, health)
EXPOSE 9092 9100-9163 9080
ENTRYPOINT ["/usr/local/bin/kafka-proxy"]
CMD ["--config", "/etc/kafka-proxy/config.yaml"]
